#include "launch/memory_report.h"

#include <cstring>
#include <spdlog/fmt/fmt.h>

namespace trident::launch {
namespace {

using enum MemoryCategory;

// The categories the model predicts, with the words the log uses for them.
constexpr std::pair<MemoryCategory, const char*> kReported[] = {
    {weights, "weights"},           {gradients, "gradients"},         {optimizer, "master weights and moments"},
    {activations, "activations"},   {communication, "communication"},
};

double mib(int64_t bytes) { return double(bytes) / (1024.0 * 1024.0); }

// The world rank whose category peaks add up to the most.
int rank_with_most(const std::vector<MemoryByCategory>& peaks) {
  int best = 0;
  for (size_t r = 1; r < peaks.size(); ++r)
    if (peaks[r].total() > peaks[size_t(best)].total()) best = int(r);
  return best;
}

}  // namespace

nlohmann::json memory_by_name(const MemoryByCategory& m) {
  nlohmann::json j;
  for (int c = 0; c < kMemoryCategories; ++c) j[memory_category_name(MemoryCategory(c))] = m.bytes[size_t(c)];
  return j;
}

MemoryModelInput memory_model_input(const TrainConfig& cfg, int dp) {
  MemoryModelInput in;
  in.model = cfg.model;
  in.tp = cfg.tensor_model_parallel_size, in.pp = cfg.pipeline_model_parallel_size, in.dp = dp;
  in.virtual_stages = cfg.num_virtual_stages;
  in.layers_per_stage = cfg.pipeline_layers_per_stage;
  in.schedule = cfg.schedule_kind();
  in.micro_batch_size = cfg.micro_batch_size;
  in.micro_batches = cfg.num_micro_batches(dp);
  in.distributed_optimizer = cfg.use_distributed_optimizer;
  in.sequence_parallel = cfg.sequence_parallel;
  in.bucket_elements = cfg.ddp_bucket_size;
  return in;
}

std::string predicted_memory_line(const MemoryPrediction& p, const TrainConfig& cfg) {
  const int r = p.max_rank();
  const MemoryByCategory& m = p.ranks[size_t(r)].bytes;
  const std::string recompute = cfg.recompute_granularity.empty() ? "none" : cfg.recompute_granularity;
  return fmt::format("memory predicted per rank: weights {:.2f} MiB, gradients {:.2f} MiB, master weights and moments "
                     "{:.2f} MiB, activations {:.2f} MiB ({} micro-batches in flight, recompute {}), communication "
                     "{:.2f} MiB, total {:.2f} MiB (pipeline rank {})",
                     mib(m[weights]), mib(m[gradients]), mib(m[optimizer]), mib(m[activations]),
                     p.ranks[size_t(r)].in_flight, recompute, mib(m[communication]), mib(m.total()), r);
}

nlohmann::json predicted_memory_record(const MemoryPrediction& p) {
  nlohmann::json ranks = nlohmann::json::array();
  for (const PipelineRankMemory& r : p.ranks) {
    nlohmann::json j = memory_by_name(r.bytes);
    j["in_flight"] = r.in_flight;
    ranks.push_back(j);
  }
  return {{"pipeline_ranks", ranks}, {"max_pipeline_rank", p.max_rank()}};
}

std::vector<MemoryByCategory> gather_memory_peaks(dist::ProcessGroups& groups, Device device) {
  const MemoryByCategory mine = memory_peak(device);  // before the buffers below count
  constexpr int64_t words = 2 * kMemoryCategories;    // each int64 as two i32 (the Comm has no 64-bit dtype)
  Tensor in = Tensor::empty({words}, DType::i32);
  std::memcpy(in.raw(), mine.bytes.data(), sizeof(mine.bytes));
  dist::Comm& world = groups.world();
  Tensor out = Tensor::empty({words * world.size()}, DType::i32);
  world.all_gather(in, out);
  std::vector<MemoryByCategory> peaks(size_t(world.size()));
  for (size_t r = 0; r < peaks.size(); ++r)
    std::memcpy(peaks[r].bytes.data(), out.data<int32_t>() + r * words, sizeof(peaks[r].bytes));
  return peaks;
}

std::string measured_memory_line(const std::vector<MemoryByCategory>& peaks, const MemoryPrediction& p,
                                 const dist::Layout& layout) {
  const int k = rank_with_most(peaks);
  const MemoryByCategory& m = peaks[size_t(k)];
  const MemoryByCategory& predicted = p.ranks[size_t(dist::coord_of(k, layout).pp)].bytes;
  std::string line = fmt::format("memory measured peak per rank (rank {}, the most):", k);
  for (const auto& [c, words] : kReported) {
    line += fmt::format(" {} {:.2f} MiB", words, mib(m[c]));
    line += predicted[c] > 0 ? fmt::format(" ({:.2f} of predicted),", double(m[c]) / double(predicted[c]))
                             : std::string(" (none predicted),");
  }
  return line + fmt::format(" other {:.2f} MiB, total {:.2f} MiB (the sum of the categories' peaks)",
                            mib(m[other]), mib(m.total()));
}

nlohmann::json measured_memory_record(const std::vector<MemoryByCategory>& peaks, const dist::Layout& layout) {
  nlohmann::json ranks = nlohmann::json::array();
  for (size_t r = 0; r < peaks.size(); ++r) {
    nlohmann::json j = memory_by_name(peaks[r]);
    j["pipeline_rank"] = dist::coord_of(int(r), layout).pp;
    ranks.push_back(j);
  }
  return {{"ranks", ranks}, {"max_rank", rank_with_most(peaks)}};
}

}  // namespace trident::launch
