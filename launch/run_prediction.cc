#include "launch/run_prediction.h"

#include <mpi.h>

#include <spdlog/fmt/fmt.h>

#include "framework/backend/backend.h"
#include "framework/core/error.h"
#include "framework/dist/world.h"
#include "launch/local_cluster.h"

namespace trident::launch {
namespace {

// This CPU job's cluster: the device measured by world rank 0 while the others wait in a barrier
// (so that it runs at full speed, as trident-plan's measurement does), the link by an all-reduce
// among all ranks (time_allreduce begins with a barrier).
ClusterSpec measured_cpu_cluster(const TrainingParts& parts) {
  const dist::World& world = *parts.world;
  const bool mpi = dist::World::initialized() && world.size > 1;
  if (mpi) MPI_Barrier(MPI_COMM_WORLD);
  ClusterSpec c;
  if (world.rank == 0) c = measure_local_device(*parts.backend, world.local_size, parts.cfg.threads);
  if (mpi) {
    const auto [small, large] = time_allreduce(MPI_COMM_WORLD);
    set_local_link(c, world.size, small, large);
  }
  c.gpus = world.size;
  c.gpus_per_node = world.local_size;
  return c;
}

// A GPU job's cluster: the preset of its kind, from the backend's name ("cuda(0: NVIDIA H100 80GB HBM3)").
ClusterSpec gpu_cluster(const TrainingParts& parts, std::string& unavailable) {
  const std::string name = parts.backend->name();
  if (parts.cfg.model.dtype == DType::f32 && parts.cfg.peak_tflops <= 0.0) {
    unavailable = "the presets' peaks are 16-bit tensor-core figures and this run is f32; --peak-tflops gives its peak";
    return {};
  }
  const char* preset = name.find("A100") != std::string::npos                                          ? "A100-80GB"
                       : name.find("H100") != std::string::npos || name.find("H200") != std::string::npos ? "H100-80GB"
                                                                                                          : nullptr;
  if (!preset) {
    unavailable = "no cluster preset for " + name + " (A100, H100 and H200 have one); trident-plan --cluster custom "
                  "predicts it from its figures";
    return {};
  }
  if (const int gpus = backend::cuda_device_count(); parts.world->local_size > gpus) {
    unavailable = detail::concat(parts.world->local_size, " ranks share ", gpus, " GPU(s) on this node; the presets cost "
                                 "a GPU per rank");
    return {};
  }
  ClusterSpec c = cluster_preset(preset, parts.world->size);
  c.gpus_per_node = parts.world->local_size;
  if (parts.cfg.peak_tflops > 0.0) c.peak_tflops = parts.cfg.peak_tflops;
  return c;
}

// Why the time model cannot cost this run, or empty: the same answer on every rank, so that a run it
// cannot cost skips the (collective) measurement on all of them.
std::string not_modelled(const TrainConfig& cfg) {
  if (cfg.skip_train) return "--skip-train: no iterations to predict";
  if (!cfg.pipeline_layers_per_stage.empty())
    return "the time model splits the layers evenly over the stages; --pipeline-layers-per-stage does not";
  if (cfg.pipeline_model_parallel_size > 1 && cfg.pipeline_schedule != "1f1b" && cfg.pipeline_schedule != "interleaved")
    return "the time model costs the 1f1b and interleaved schedules, not --pipeline-schedule " + cfg.pipeline_schedule;
  return "";
}

}  // namespace

RunPrediction predict_this_run(const TrainingParts& parts) {
  RunPrediction p;
  const TrainConfig& cfg = parts.cfg;
  p.unavailable = not_modelled(cfg);
  if (!p.unavailable.empty()) return p;
  p.cluster = cfg.model.device == Device::cpu ? measured_cpu_cluster(parts) : gpu_cluster(parts, p.unavailable);
  if (parts.world->rank != 0) p.unavailable = "world rank 0 predicts and reports";
  if (!p.unavailable.empty()) return p;
  try {
    p.plan = evaluate_layout(cfg, layout_of(cfg, parts.groups->layout().dp), p.cluster);
  } catch (const UsageError& e) {
    p.unavailable = e.what();
  }
  return p;
}

std::string prediction_line(const RunPrediction& p) {
  if (!p.unavailable.empty()) return "plan: no time prediction for this run: " + p.unavailable;
  const TimePrediction& t = p.plan.time;
  return fmt::format("plan for this layout (trident-plan's model): {:.1f} ms/iter (compute {:.1f}, tensor-parallel "
                     "{:.1f}, pipeline {:.1f}, data-parallel {:.1f}, optimizer {:.1f}; bubble {:.1f}%), {:.3f} GB on "
                     "the rank with the most; cluster {}: {}",
                     t.iteration * 1e3, t.compute * 1e3, t.tensor_parallel * 1e3, t.pipeline * 1e3,
                     t.data_parallel * 1e3, t.optimizer * 1e3, 100.0 * t.bubble_fraction,
                     double(p.plan.memory_bytes) / 1e9, p.cluster.name, p.cluster.source);
}

nlohmann::json prediction_record(const RunPrediction& p) {
  if (!p.unavailable.empty()) return {{"unavailable", p.unavailable}};
  const TimePrediction& t = p.plan.time;
  return {{"ms_per_iter", t.iteration * 1e3},
          {"compute_ms", t.compute * 1e3},
          {"tensor_parallel_ms", t.tensor_parallel * 1e3},
          {"pipeline_ms", t.pipeline * 1e3},
          {"data_parallel_ms", t.data_parallel * 1e3},
          {"optimizer_ms", t.optimizer * 1e3},
          {"bubble", t.bubble_fraction},
          {"memory_bytes", p.plan.memory_bytes},
          {"cluster", p.cluster.name},
          {"cluster_source", p.cluster.source}};
}

nlohmann::json PlanCheck::after_iteration(int64_t iteration, double seconds, bool logs) {
  if (done_ || !prediction_.unavailable.empty()) return nullptr;
  if (iteration > start_iteration_ + 1) {
    if (iterations_++ == 0) first_ = iteration;
    seconds_ += seconds;
  }
  if (!logs || iterations_ == 0) return nullptr;
  done_ = true;
  const double measured = seconds_ / double(iterations_) * 1e3, predicted = prediction_.plan.time.iteration * 1e3;
  return {{"first_iteration", first_}, {"last_iteration", iteration},
          {"measured_ms_per_iter", measured}, {"predicted_ms_per_iter", predicted},
          {"measured_over_predicted", measured / predicted}};
}

std::string PlanCheck::line(const nlohmann::json& r) {
  return fmt::format("plan check: measured {:.1f} ms/iter over iterations {}..{}, predicted {:.1f}: {:.2f} x the "
                     "prediction", r["measured_ms_per_iter"].get<double>(), r["first_iteration"].get<int64_t>(),
                     r["last_iteration"].get<int64_t>(), r["predicted_ms_per_iter"].get<double>(),
                     r["measured_over_predicted"].get<double>());
}

}  // namespace trident::launch
