// trident-plan: ranks the layouts of a model on a cluster by predicted
// memory per device and time per iteration (launch/planner.h), prints the
// best as a table and the exact command that runs the first. Takes
// trident-train's flags (and --config) for the model, the batch and any
// layout choice to fix, and a cluster: a preset (--cluster A100-80GB or
// H100-80GB, DGX nodes from their datasheets) or its figures by flag.
//
// Exit status: 0 a plan printed; 2 bad input, or no layout fits (one line
// saying what would).
#include <CLI/CLI.hpp>
#include <algorithm>
#include <cstdio>
#include <string>

#include "launch/config_file.h"
#include "launch/local_cluster.h"
#include "launch/memory_report.h"
#include "launch/planner.h"
#include "launch/resume_flags.h"
#include "launch/train_flags.h"

namespace {

using namespace trident;
using namespace trident::launch;

struct PlanFlags {
  std::string cluster = "H100-80GB";
  int gpus = 8;
  ClusterSpec custom;  // figures given by flag override the preset's
  int top = 10;
  bool explain = false;
  bool json = false;
};

// The flags trident-plan adds to trident-train's.
void add_plan_flags(CLI::App& app, PlanFlags& f) {
  const std::string g = "cluster (trident-plan)";
  app.add_option("--cluster", f.cluster,
                 "A100-80GB or H100-80GB (DGX nodes of 8), local (this machine, measured: --gpus ranks), or custom "
                 "(--peak-tflops, --device-memory-gb, --gpus-per-node and the link speeds)")
      ->capture_default_str()->group(g);
  app.add_option("--gpus", f.gpus, "devices in all")->capture_default_str()->group(g);
  app.add_option("--gpus-per-node", f.custom.gpus_per_node, "devices per node (tensor parallelism stays inside one)")
      ->group(g);
  app.add_option("--device-memory-gb", f.custom.device_memory_gb, "memory per device, GB")->group(g);
  app.add_option("--intra-node-gbps", f.custom.intra_node_gbps, "per-device bandwidth inside a node, GB/s")->group(g);
  app.add_option("--inter-node-gbps", f.custom.inter_node_gbps, "per-device bandwidth between nodes, GB/s")->group(g);
  app.add_option("--top", f.top, "layouts shown")->capture_default_str()->group(g);
  app.add_flag("--explain", f.explain, "break the best layout's memory and time down")->group(g);
  app.add_flag("--json", f.json, "print the --top layouts as JSON lines instead of the table")->group(g);
}

// The preset, with the figures given by flag in its place (--peak-tflops is trident-train's).
ClusterSpec resolve_cluster(const CLI::App& app, const PlanFlags& f, const TrainConfig& cfg,
                            const std::string& self_path) {
  TRIDENT_USAGE_CHECK(f.gpus > 0, "--gpus must be positive, got ", f.gpus);
  const bool custom = f.cluster == "custom";
  ClusterSpec c = custom                  ? f.custom
                  : f.cluster == "local" ? measure_local_cluster(f.gpus, self_path)
                                          : cluster_preset(f.cluster, f.gpus);
  c.gpus = f.gpus;
  auto given = [&](const char* name) { return app.get_option(name)->count() > 0; };
  if (given("--gpus-per-node")) c.gpus_per_node = f.custom.gpus_per_node;
  if (given("--device-memory-gb")) c.device_memory_gb = f.custom.device_memory_gb;
  if (given("--intra-node-gbps")) c.intra_node_gbps = f.custom.intra_node_gbps;
  if (given("--inter-node-gbps")) c.inter_node_gbps = f.custom.inter_node_gbps;
  // --peak-tflops replaces a datasheet's peak; this machine's is measured (as trident-train measures it).
  if (cfg.peak_tflops > 0.0 && f.cluster != "local") c.peak_tflops = cfg.peak_tflops;
  TRIDENT_USAGE_CHECK(!custom || (cfg.peak_tflops > 0.0 && given("--device-memory-gb") && given("--gpus-per-node")),
                      "--cluster custom needs --peak-tflops, --device-memory-gb and --gpus-per-node (and the link "
                      "speeds)");
  if (custom) {
    c.name = "custom";
    c.source = detail::concat("given by flag: ", c.peak_tflops, " TFLOP/s, ", c.device_memory_gb, " GB, ",
                              c.gpus_per_node, " per node, links ", c.intra_node_gbps, " / ", c.inter_node_gbps,
                              " GB/s; memory bandwidth, GEMM curve and latencies the defaults of ClusterSpec "
                              "(launch/time_model.h)");
  }
  TRIDENT_USAGE_CHECK(c.gpus_per_node > 0 && (c.gpus % c.gpus_per_node == 0 || c.gpus < c.gpus_per_node),
                      "--gpus ", c.gpus, " is not a whole number of nodes of --gpus-per-node ", c.gpus_per_node);
  if (c.gpus < c.gpus_per_node) c.gpus_per_node = c.gpus;
  return c;
}

// The model and batch flags the user gave, as trident-train would take them (layout choices left out).
std::string model_flags(const TrainConfig& cfg) {
  static const std::set<std::string> layout = {
      "tensor_model_parallel_size", "pipeline_model_parallel_size", "data_parallel_size",
      "num_virtual_stages_per_pipeline_rank", "micro_batch_size", "recompute_granularity",
      "use_distributed_optimizer", "sequence_parallel", "peak_tflops"};
  const nlohmann::json all = cfg.to_json();
  std::string out;
  for (const std::string& key : cfg.flags_given) {
    if (layout.count(key) || !all.contains(key)) continue;
    const nlohmann::json& v = all.at(key);
    if (v.is_boolean() && !v.get<bool>()) continue;
    out += " " + flag_setting(key, v);
  }
  return out;
}

void print_table(const std::vector<PlannedLayout>& plans, const ClusterSpec& c, int top) {
  std::printf("%4s %3s %3s %4s %2s %3s %-9s %2s %2s %10s %9s %8s %6s %7s\n", "#", "tp", "pp", "dp", "v", "mb",
              "recompute", "DO", "SP", "memory GB", "ms/iter", "TFLOP/s", "MFU", "bubble");
  for (int i = 0; i < std::min<int>(top, int(plans.size())); ++i) {
    const PlannedLayout& p = plans[size_t(i)];
    const LayoutChoice& l = p.layout;
    std::printf("%4d %3d %3d %4d %2d %3lld %-9s %2s %2s %10.3f %9.1f %8.3g %5.1f%% %6.1f%%%s\n", i + 1, l.tp, l.pp,
                l.dp, l.virtual_stages, static_cast<long long>(l.micro_batch_size), recompute_name(l.recompute),
                l.distributed_optimizer ? "y" : "-", l.sequence_parallel ? "y" : "-", double(p.memory_bytes) / 1e9,
                p.time.iteration * 1e3, p.time.model_tflops, 100.0 * p.time.model_tflops / c.peak_tflops,
                100.0 * p.time.bubble_fraction, p.fits ? "" : "  (does not fit)");
  }
}

// One JSON line per layout, at full precision (for scripts: bench/plan_local.py).
void print_json(const std::vector<PlannedLayout>& plans, int top) {
  for (int i = 0; i < std::min<int>(top, int(plans.size())); ++i) {
    const PlannedLayout& p = plans[size_t(i)];
    const LayoutChoice& l = p.layout;
    const nlohmann::json memory = memory_by_name(p.memory);
    const nlohmann::json j = {
        {"tp", l.tp}, {"pp", l.pp}, {"dp", l.dp}, {"virtual_stages", l.virtual_stages},
        {"micro_batch_size", l.micro_batch_size}, {"recompute", recompute_name(l.recompute)},
        {"distributed_optimizer", l.distributed_optimizer}, {"sequence_parallel", l.sequence_parallel},
        {"fits", p.fits}, {"memory_bytes", p.memory_bytes}, {"memory", memory}, {"ms_per_iter", p.time.iteration * 1e3},
        {"model_tflops", p.time.model_tflops}, {"bubble", p.time.bubble_fraction}, {"flags", layout_flags(l)}};
    std::printf("%s\n", j.dump().c_str());
  }
}

void explain(const PlannedLayout& p) {
  const TimePrediction& t = p.time;
  std::printf("\ntime per iteration %.1f ms: compute %.1f, tensor-parallel %.1f, pipeline %.1f, data-parallel "
              "(exposed) %.1f, optimizer %.1f; pipeline bubble %.1f%%; model %.1f TFLOP/s per device (%.1f with "
              "recompute)\n",
              t.iteration * 1e3, t.compute * 1e3, t.tensor_parallel * 1e3, t.pipeline * 1e3, t.data_parallel * 1e3,
              t.optimizer * 1e3, 100.0 * t.bubble_fraction, t.model_tflops, t.hardware_tflops);
  std::printf("memory on the rank with the most, %.2f GB:", double(p.memory_bytes) / 1e9);
  using enum MemoryCategory;
  for (MemoryCategory c : {weights, gradients, optimizer, activations, communication})
    std::printf(" %s %.2f GB%s", memory_category_name(c), double(p.memory[c]) / 1e9, c == communication ? "\n" : ",");
}

// One line for a plan with nothing to run: what would fit (on more devices of the same kind), or why nothing is valid.
std::string nothing_fits(const std::vector<PlannedLayout>& plans, const TrainConfig& cfg, const ClusterSpec& c) {
  if (plans.empty())
    return detail::concat("no layout of ", c.gpus, " devices splits ", cfg.model.summary(), " and --global-batch-size ",
                          cfg.global_batch_size, ": tp must divide the heads (and query groups), pp x virtual stages "
                          "the layers, and micro-batch x dp the global batch; change --gpus or the batch");
  const std::string head =
      detail::concat("no layout fits ", double(usable_device_bytes(c)) / 1e9, " GB per device (90% of ",
                     c.device_memory_gb, ") on ", c.gpus, c.gpus == 1 ? " device: " : " devices: ", "the smallest, ",
                     layout_flags(plans.front().layout), ", needs ", double(plans.front().memory_bytes) / 1e9, " GB");
  for (int more = 2 * c.gpus; more <= 64 * c.gpus; more *= 2) {
    ClusterSpec bigger = c;
    bigger.gpus = more;
    const std::vector<PlannedLayout> larger = plan_layouts(cfg, cfg.flags_given, bigger);
    if (!larger.empty() && larger.front().fits)
      return detail::concat(head, "; on --gpus ", more, " ", layout_flags(larger.front().layout), " fits (",
                            double(larger.front().memory_bytes) / 1e9, " GB)");
  }
  return head + "; nothing fits on up to 64 times as many devices either";
}

int run(const CLI::App& app, const PlanFlags& f, TrainConfig& cfg, const std::string& self_path) {
  // The flags first, then the cluster: --cluster local measures this machine, seconds not worth a typo.
  cfg.resolve_precision();
  TRIDENT_USAGE_CHECK(!cfg.flags_given.count("pipeline_layers_per_stage"),
                      "trident-plan splits the layers evenly over the pipeline stages it tries: leave "
                      "--pipeline-layers-per-stage out");
  TRIDENT_USAGE_CHECK(!cfg.flags_given.count("pipeline_schedule"),
                      "trident-plan chooses the schedule (1f1b, or interleaved with more than one virtual stage): "
                      "leave --pipeline-schedule out; --num-virtual-stages-per-pipeline-rank fixes it");
  cfg.model.device = f.cluster == "local" ? Device::cpu : Device::cuda;
  cfg.model.validate(1);
  const ClusterSpec cluster = resolve_cluster(app, f, cfg, self_path);
  const std::vector<PlannedLayout> plans = plan_layouts(cfg, cfg.flags_given, cluster);
  if (plans.empty() || !plans.front().fits) throw UsageError(nothing_fits(plans, cfg, cluster));
  if (f.json) {
    print_json(plans, f.top);
    return 0;
  }
  const auto fitting = std::count_if(plans.begin(), plans.end(), [](const PlannedLayout& p) { return p.fits; });
  std::printf("%s, global batch %lld, on %d x %s (%d per node, %.3g TFLOP/s, %.3g GB): %zu valid layouts, %ld fit\n\n",
              cfg.model.summary().c_str(), static_cast<long long>(cfg.global_batch_size), cluster.gpus,
              cluster.name.c_str(), cluster.gpus_per_node, cluster.peak_tflops, cluster.device_memory_gb, plans.size(),
              long(fitting));
  print_table(plans, cluster, f.top);
  std::printf("\nbest: ./launch/trident run -n %d --%s %s\n", cluster.gpus, model_flags(cfg).c_str(),
              layout_flags(plans.front().layout).c_str());
  if (f.explain) explain(plans.front());
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc == 2 && std::string(argv[1]) == "--measure-allreduce") return measure_allreduce_main();
  CLI::App app{"trident-plan: rank the layouts of a model on a cluster by predicted memory and speed"};
  TrainConfig cfg;
  add_train_flags(app, cfg);
  PlanFlags f;
  add_plan_flags(app, f);
  std::string config_file;
  app.add_option("--config", config_file, "JSON file of trident-train flags; command-line flags override it");
  try {
    std::vector<std::string> args = expand_config_file(app, std::vector<std::string>(argv + 1, argv + argc));
    std::reverse(args.begin(), args.end());  // CLI11 takes a vector last-first
    app.parse(args);
    record_flags_given(app, cfg);  // the layout choices given are fixed
    return run(app, f, cfg, argv[0]);
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == 0) return app.exit(e);
    std::fprintf(stderr, "trident-plan: error: %s (see trident-plan --help)\n", e.what());
    return 2;
  } catch (const UsageError& e) {
    std::fprintf(stderr, "trident-plan: error: %s\n", e.what());
    return 2;
  }
}
