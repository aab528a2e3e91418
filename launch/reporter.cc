#include "launch/reporter.h"

#include <utility>

#include <sys/resource.h>
#include <unistd.h>

#include <cmath>
#include <cstdlib>
#include <limits>
#include <spdlog/fmt/ranges.h>

#include "framework/backend/gemm_peak.h"
#include "framework/core/host_allocator.h"
#include "framework/core/log.h"
#include "framework/pipeline/simulator.h"

namespace trident::launch {

double peak_tflops_per_rank(const TrainingParts& parts) {
  const TrainConfig& cfg = parts.cfg;
  if (cfg.peak_tflops > 0.0) return cfg.peak_tflops;
  return backend::measure_gemm_peak_gflops(*parts.backend, cfg.model.device == Device::cpu ? 512 : 8192,
                                           cfg.model.dtype) * 1e-3;
}

Reporter::Reporter(const TrainingParts& parts, double peak_tflops)
    : parts_(parts), peak_tflops_(peak_tflops),
      memory_predicted_(predict_memory(memory_model_input(parts.cfg, parts.groups->layout().dp))),
      plan_(predict_this_run(parts)) {
  // A terminal: a single process's own, or trident-run's (it knows; under mpirun a rank's stdout is a pipe or pty).
  const char* progress = std::getenv("TRIDENT_PROGRESS");
  terminal_ = parts.world->rank == 0 && (progress ? std::string_view(progress) == "1"
                                                  : parts.world->size == 1 && ::isatty(STDOUT_FILENO) == 1);
}

void Reporter::open_metrics(int64_t start_iteration) {
  plan_.start(start_iteration);
  // A resumed run continues the metrics of the run it resumes.
  if (parts_.world->rank != 0 || parts_.cfg.metrics_file.empty()) return;
  const bool append = start_iteration > 0;
  bool cut = false;  // a killed run may have left half a line: start on a fresh one
  if (std::ifstream old(parts_.cfg.metrics_file, std::ios::binary | std::ios::ate); append && old && old.tellg() > 0) {
    old.seekg(-1, std::ios::end);
    cut = old.get() != '\n';
  }
  metrics_.open(parts_.cfg.metrics_file, append ? std::ios::app : std::ios::trunc);
  if (cut) metrics_ << '\n';
  // Marks where this run's timeline starts (a resume appends after records it replaces).
  event({{"event", "start"}, {"iteration", start_iteration},
         {"loss_unit", parts_.indexed() ? "nats/token" : "nats/byte"},
         {"memory_predicted", predicted_memory_record(memory_predicted_)}, {"plan", prediction_record(plan_.prediction())}});
}

void Reporter::start_up(const TrainStep& step) {
  const TrainConfig& cfg = parts_.cfg;
  const dist::Layout& l = parts_.groups->layout();
  spdlog::info("{}; loss scaling {}", cfg.model.summary(),
               cfg.loss_scaler.dynamic ? "dynamic" : (cfg.fp16 ? "static " + std::to_string(cfg.loss_scaler.static_scale) : "none"));
  spdlog::info("config: {}", cfg.to_json().dump());
  spdlog::info("peak per rank for MFU: {:.3f} TFLOP/s ({})", peak_tflops_,
               cfg.peak_tflops > 0.0 ? "--peak-tflops" : "measured GEMM peak in " + std::string(dtype_name(cfg.model.dtype)));
  memory("at start");
  spdlog::info("{}", predicted_memory_line(memory_predicted_, cfg));
  spdlog::info("{}", prediction_line(plan_.prediction()));
  data_report();
  spdlog::info("layout: {} ranks = tp {} x pp {} x dp {}; {} gradient bucket(s), overlap {}", parts_.world->size, l.tp,
               l.pp, l.dp, step.num_buckets(), cfg.overlap_grad_reduce ? "on" : "off");
  spdlog::info("batch: global {} = micro-batch {} x {} micro-batches x dp {}; {} iterations; backend {}",
               cfg.global_batch_size, cfg.micro_batch_size, cfg.num_micro_batches(l.dp), l.dp, cfg.train_iters,
               parts_.backend->name());
  // How the backend computes (on the CPU: which kernels, and whether 16-bit GEMMs are widened and why).
  if (const std::string details = parts_.backend->details(); !details.empty()) spdlog::info("backend: {}", details);
  if (l.pp > 1) {
    const pipeline::ScheduleShape shape = cfg.schedule_shape(l.dp);
    const pipeline::Simulation sim = pipeline::simulate(step.schedule(), shape, {1.0 / shape.chunks, 2.0 / shape.chunks, 0});
    spdlog::info("pipeline: {} schedule, {} stages x {} chunk(s), layers per stage {}; simulated bubble {:.1f}% "
                 "(backward = 2 x forward), at most {} activation sets on pipeline rank 0; recompute {}",
                 cfg.pipeline_schedule, l.pp, shape.chunks, fmt::join(cfg.pipeline_stages().layers, ","),
                 100.0 * sim.bubble_fraction(), sim.peak_live[0],
                 cfg.recompute_granularity.empty() ? "none" : cfg.recompute_granularity);
  }
}

void Reporter::data_report() const {
  const TrainConfig& cfg = parts_.cfg;
  const auto sources = cfg.data_sources();
  int64_t valid = 0;
  for (const data::TokenView& v : parts_.validation_views()) valid += v.size;
  for (size_t d = 0; d < parts_.corpora.size(); ++d) {
    const data::TextCorpus& c = parts_.corpora[d];
    const std::string share = parts_.corpora.size() > 1 ? fmt::format("weight {:.3g} ", sources[d].first) : "";
    spdlog::info("data: {}{} {} from {} file(s) under {}; {} for training (--split {})", share, c.size(),
                 c.indexed() ? "tokens" : "bytes", c.files().size(), sources[d].second, c.train_tokens().size, cfg.split);
  }
  spdlog::info("data: {} for validation{}", valid, cfg.valid_data_path.empty() ? "" : " from --valid-data-path");
}

void Reporter::iteration(const IterationStats& s, const RunState& state) {
  if (parts_.world->rank != 0) return;
  const TrainConfig& cfg = parts_.cfg;
  if (!std::isfinite(s.loss)) ++nan_iterations_;
  const double tflops_per_rank = s.tflops / parts_.world->size;
  const double mfu = peak_tflops_ > 0.0 ? tflops_per_rank / peak_tflops_ : 0.0;
  const int64_t consumed = state.consumed_samples;
  nlohmann::json line = {{"iteration", s.iteration},   {"loss", s.loss}, {"data_batch", s.data_batch},
                         {"lr", s.lr},                 {"grad_norm", s.grad_norm},
                         {"tokens_per_s", s.tokens_per_s}, {"ms_per_iter", s.seconds * 1e3},
                         {"tflops", s.tflops},         {"tflops_per_rank", tflops_per_rank}, {"mfu", mfu},
                         {"consumed_samples", consumed}, {"loss_scale", s.loss_scale}, {"skipped", s.skipped},
                         {"skipped_iterations", state.skipped_iterations}, {"nan_iterations", nan_iterations_}};
  if (s.skipped) line["grad_norm"] = nullptr;  // JSON has no NaN
  if (!measured_memory_.is_null()) line["memory_peak"] = std::exchange(measured_memory_, nullptr);
  const bool logs = s.iteration % cfg.log_interval == 0 || s.iteration == cfg.train_iters || s.stop_requested();
  const nlohmann::json check = plan_.after_iteration(s.iteration, s.seconds, logs);
  if (!check.is_null()) line["plan_check"] = check;
  event(line);
  Interval& in = interval_;
  if (in.iterations++ == 0) in.first = s.iteration;
  in.seconds += s.seconds;
  if (s.skipped) ++in.skipped, in.last_skipped = s.iteration;
  if (!s.skipped && std::isfinite(s.loss)) in.loss_sum += s.loss, ++in.losses;
  const double eta = in.seconds / double(in.iterations) * double(cfg.train_iters - s.iteration);
  if (logs) log_line(s, state, eta);
  if (!check.is_null()) spdlog::info("{}", PlanCheck::line(check));
  progress_bar(s, eta);
}


// Megatron's line: the loss is the mean over the interval's updated
// iterations (the metrics file keeps each one); skipped steps are summed up.
void Reporter::log_line(const IterationStats& s, const RunState& state, double eta_s) {
  const TrainConfig& cfg = parts_.cfg;
  Interval& in = interval_;
  if (terminal_) std::fputs("\r\033[K", stdout);  // clear the progress bar before a log line
  if (in.skipped > 0)
    spdlog::warn("non-finite gradients: {} step(s) skipped in iterations {}..{} (the last at iteration {}); "
                 "loss scale now {:.0f}", in.skipped, in.first, s.iteration, in.last_skipped, s.loss_scale);
  const double tflops_per_rank = s.tflops / parts_.world->size;
  const double mfu = peak_tflops_ > 0.0 ? tflops_per_rank / peak_tflops_ : 0.0;
  const double loss = in.losses > 0 ? in.loss_sum / double(in.losses) : std::numeric_limits<double>::quiet_NaN();
  spdlog::info("iteration {:>6}/{:<6} | consumed samples {:>8} | ms/iter {:8.1f} | lr {:.3E} | loss {:.4f} | "
               "grad norm {:.3f} | loss scale {:.0f} | skipped {} | nan {} | tokens/s {:8.0f} | "
               "TFLOP/s per rank {:.3f} | MFU {:.3f} | ETA {:.0f}:{:02.0f}",
               s.iteration, cfg.train_iters, state.consumed_samples,
               in.seconds / double(in.iterations) * 1e3, s.lr, loss, s.grad_norm, s.loss_scale,
               state.skipped_iterations, nan_iterations_, s.tokens_per_s, tflops_per_rank, mfu,
               std::floor(eta_s / 60.0), std::fmod(eta_s, 60.0));
  in = Interval{};
}

void Reporter::progress_bar(const IterationStats& s, double eta_s) const {
  if (!terminal_) return;  // one line, redrawn in place: only on a terminal, never into a log file
  const int64_t total = parts_.cfg.train_iters;
  const int width = 30, done = int(width * s.iteration / std::max<int64_t>(1, total));
  std::printf("[%s%s] %lld/%lld loss %.3f ETA %.0f s", std::string(size_t(done), '=').c_str(),
              std::string(size_t(width - done), ' ').c_str(), static_cast<long long>(s.iteration),
              static_cast<long long>(total), s.loss, eta_s);
  std::fflush(stdout);
}

void Reporter::evaluation(int64_t iteration, double loss) {
  if (parts_.world->rank != 0) return;
  // exp of a large loss overflows to inf; JSON has no inf, so the record says null.
  const double ppl = std::exp(std::min(loss, 700.0));
  if (terminal_) std::fputs("\r\033[K", stdout);
  spdlog::info("validation loss at iteration {} | lm loss value: {:.6E} | lm loss PPL: {:.6E} |", iteration, loss, ppl);
  nlohmann::json record = {{"event", "eval"}, {"iteration", iteration}, {"loss", loss}, {"ppl", ppl}};
  if (!std::isfinite(loss)) record["loss"] = record["ppl"] = nullptr;
  event(record);
}

void Reporter::event(const nlohmann::json& record) {
  if (parts_.world->rank != 0 || !metrics_.is_open()) return;
  metrics_ << record.dump() << '\n';
  metrics_.flush();
}

void Reporter::memory(const char* when) const {
  // Host tensors (the caching allocator's high-water mark) and the process's peak resident size.
  struct rusage usage {};
  getrusage(RUSAGE_SELF, &usage);
  Tensor mb = Tensor::from_vector({float(host_allocator().stats().peak_bytes / 1e6), float(usage.ru_maxrss / 1e3)}, {2});
  Tensor max_mb = mb.clone();
  parts_.groups->world().all_reduce(max_mb, dist::ReduceOp::max);
  spdlog::info("memory {}: host tensors peak {:.1f} MB on rank 0 ({:.1f} MB max over ranks); peak resident {:.1f} MB "
               "on rank 0 ({:.1f} MB max)", when, mb.item(0), max_mb.item(0), mb.item(1), max_mb.item(1));
}

void Reporter::memory_by_category() {
  const std::vector<MemoryByCategory> peaks = gather_memory_peaks(*parts_.groups, parts_.cfg.model.device);
  if (parts_.world->rank != 0) return;
  spdlog::info("{}", measured_memory_line(peaks, memory_predicted_, parts_.groups->layout()));
  measured_memory_ = measured_memory_record(peaks, parts_.groups->layout());
}

}  // namespace trident::launch
