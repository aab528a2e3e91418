#include "launch/training_setup.h"

#include <unistd.h>

#include <chrono>
#include <filesystem>

#include "checkpoint/checkpoint.h"
#include "framework/core/log.h"
#include "framework/core/memory_category.h"
#include "framework/dist/agreement.h"
#include "launch/hf_checkpoint.h"
#include "launch/resume_flags.h"
#include "launch/token_cache.h"

namespace trident::launch {
namespace {

void check_writable_paths(const TrainConfig& cfg) {
  if (!cfg.metrics_file.empty()) {
    // Checked, not created: nothing is written until every rank is known good.
    const std::filesystem::path path(cfg.metrics_file);
    const std::string dir = path.has_parent_path() ? path.parent_path().string() : ".";
    TRIDENT_USAGE_CHECK(!std::filesystem::is_directory(path) && ::access(dir.c_str(), W_OK) == 0,
                        "cannot write --metrics-file '", cfg.metrics_file,
                        "': check that its directory exists and is writable");
  }
  if (!cfg.save.empty()) {
    // Made now (an empty directory is harmless), so a bad path fails before any training.
    std::error_code ec;
    std::filesystem::create_directories(cfg.save, ec);
    TRIDENT_USAGE_CHECK(!ec && std::filesystem::is_directory(cfg.save) && ::access(cfg.save.c_str(), W_OK) == 0,
                        "cannot write --save '", cfg.save, "'", ec ? " (" + ec.message() + ")" : std::string(),
                        ": give a writable directory");
  }
  if (!cfg.export_hf.empty()) check_hf_export_dir(cfg.export_hf);
}

// --load-hf: the model flags from config.json (a checkpoint under --load wins: one job script serves the first
// start and every requeue). Returns the log lines.
std::vector<std::string> take_flags_from_load_hf(TrainConfig& cfg) {
  if (cfg.load_hf.empty()) return {};
  if (!cfg.load.empty()) {
    const std::string ignored = cfg.load_hf;
    cfg.load_hf.clear();
    return {"--load-hf " + ignored + " ignored: --load " + cfg.load + " holds a checkpoint, which this run resumes"};
  }
  const HfCheckpoint hf(cfg.load_hf);
  std::vector<std::string> lines = take_flags_from_hf(cfg, hf.config(), cfg.load_hf);
  hf.check_tensors(cfg.model);
  return lines;
}

// Whether `path` is text (not a Megatron dataset prefix, .bin or .idx).
bool is_text(const std::string& path) {
  std::error_code ec;
  const std::filesystem::path p(path);
  return !(std::filesystem::exists(path + ".idx", ec) || p.extension() == ".bin" || p.extension() == ".idx");
}

// What a data path is read from: text through a tokenizer from its token cache, all else as given.
std::string read_from(const TrainingParts& parts, const std::string& path) {
  if (!parts.tokenizes_text() || !is_text(path)) return path;
  const TrainConfig& cfg = parts.cfg;
  // Beside the run: its --save directory, or the one it resumes from.
  const std::string run_dir = !cfg.save.empty() ? cfg.save : cfg.load;
  const std::string dir = !cfg.data_cache_path.empty() ? cfg.data_cache_path
                          : !run_dir.empty()           ? (std::filesystem::path(run_dir) / "data_cache").string()
                                                       : "trident_data_cache";
  return token_cache_prefix(path, *parts.tokenizer, dir);
}

// World rank 0 tokenizes the text that has no cache entry yet (the others wait to agree).
void build_token_caches(const TrainingParts& parts) {
  const TrainConfig& cfg = parts.cfg;
  std::vector<std::string> paths;
  for (const auto& source : cfg.data_sources()) paths.push_back(source.second);
  if (!cfg.valid_data_path.empty()) paths.push_back(cfg.valid_data_path);
  for (const std::string& path : paths) {
    const std::string prefix = read_from(parts, path);
    if (prefix == path) continue;
    const auto start = std::chrono::steady_clock::now();
    if (build_token_cache(path, *parts.tokenizer, prefix, cfg.model.vocab_size))
      spdlog::info("data: tokenized {} with {} into {} in {:.1f} s", path, cfg.tokenizer_type, prefix,
                   std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  }
}

void load_data(TrainingParts& parts) {
  const TrainConfig& cfg = parts.cfg;
  const size_t window = size_t(cfg.model.seq_length + 1);
  for (const auto& [weight, path] : cfg.data_sources()) {
    parts.corpora.push_back(data::TextCorpus::load(read_from(parts, path), window, cfg.model.vocab_size, cfg.split));
    parts.weights.push_back(weight);
    TRIDENT_USAGE_CHECK(parts.corpora.back().indexed() == parts.corpora.front().indexed(), "--data-path blends ",
                        "text with Megatron token data: every dataset of a blend must be of one kind");
  }
  if (!cfg.valid_data_path.empty())
    parts.valid_data = data::TextCorpus::load(read_from(parts, cfg.valid_data_path), window, cfg.model.vocab_size,
                                              "100,0,0", "--valid-data-path");
  if (!cfg.evaluates()) return;
  const char* asked = cfg.skip_train ? "--skip-train" : "--eval-interval";
  for (const data::TokenView& v : parts.validation_views())
    TRIDENT_USAGE_CHECK(v.size >= int64_t(window), asked, " needs validation data, but the validation share of ",
                        "--split ", cfg.split, " holds ", v.size, " tokens and one sequence needs ", window,
                        ": give a validation weight (--split 98,2,0) or --valid-data-path");
}

// Checks that need no other rank; a UsageError names the problem. Returns
// what the log should say about flags taken from a checkpoint.
std::vector<std::string> check_and_prepare(TrainingParts& parts, const dist::World& world) {
  TrainConfig& cfg = parts.cfg;
  std::vector<std::string> resumed;
  // Megatron's behaviour, so that one job script serves the first start and every restart.
  if (!cfg.load.empty() && cfg.load_iteration < 0 && checkpoint::holds_no_checkpoint(cfg.load)) {
    TRIDENT_USAGE_CHECK(!cfg.finetune, "--finetune needs a checkpoint to start from, and --load ", cfg.load,
                        " holds none yet");
    resumed.push_back("--load " + cfg.load + " holds no checkpoint yet: starting fresh");
    cfg.load.clear();
    cfg.no_load_optim = cfg.no_load_rng = false;
  }
  if (!cfg.load.empty()) {  // the run it resumes: its shape and training flags (resume_flags.h)
    const checkpoint::CheckpointReader reader(checkpoint::find_checkpoint(cfg.load, cfg.load_iteration));
    resumed = take_flags_from_checkpoint(cfg, reader.state(), reader.dir());
  }
  for (const std::string& line : take_flags_from_load_hf(cfg)) resumed.push_back(line);
  for (std::string* file : {&cfg.vocab_file, &cfg.merge_file})  // stored so: a resume from elsewhere finds them
    if (!file->empty()) *file = std::filesystem::absolute(*file).string();
  parts.tokenizer = data::make_tokenizer(cfg.tokenizer_type, cfg.vocab_file, cfg.merge_file);
  TRIDENT_USAGE_CHECK(cfg.load_hf.empty() || !parts.tokenizes_text() || cfg.model.vocab_size >= parts.tokenizer->vocab_size(),
                      "--load-hf ", cfg.load_hf, " holds a vocabulary of ", cfg.model.vocab_size, ", smaller than ",
                      cfg.tokenizer_type, "'s ", parts.tokenizer->vocab_size(), ": tokenize the data with the model's own tokenizer");
  if (parts.tokenizes_text() && cfg.model.vocab_size < parts.tokenizer->vocab_size()) {
    TRIDENT_USAGE_CHECK(!cfg.flags_given.count("vocab_size"), "--vocab-size ", cfg.model.vocab_size, " is smaller than ",
                        cfg.tokenizer_type, "'s vocabulary of ", parts.tokenizer->vocab_size(),
                        " (--vocab-file): leave --vocab-size out, or give at least that");
    cfg.model.vocab_size = parts.tokenizer->vocab_size();
  }
  cfg.validate_and_resolve(world.size, world.local_size);
  // Local rank r takes visible GPU r mod n: ranks beyond the GPUs share them (staged MPI).
  const int gpus = cfg.resolved_device() == Device::cuda ? backend::cuda_device_count() : 0;
  parts.backend = backend::make_backend(cfg.resolved_device(), cfg.threads,
                                        gpus > 0 ? world.local_rank % gpus : 0);  // may refuse: no GPU
  cfg.model.device = cfg.resolved_device();
  if (world.rank == 0) check_writable_paths(cfg);
  return resumed;
}

}  // namespace

std::vector<data::TokenView> TrainingParts::train_views() const {
  std::vector<data::TokenView> out;
  for (const data::TextCorpus& c : corpora) out.push_back(c.train_tokens());
  return out;
}

std::vector<data::TokenView> TrainingParts::validation_views() const {
  if (valid_data) return {valid_data->tokens()};
  std::vector<data::TokenView> out;
  for (const data::TextCorpus& c : corpora) out.push_back(c.valid_tokens());
  return out;
}

std::vector<double> TrainingParts::validation_weights() const {
  return valid_data ? std::vector<double>{1.0} : weights;
}

TrainingParts set_up_training(TrainConfig cfg, const dist::World& world) {
  TrainingParts parts;
  parts.cfg = std::move(cfg);
  parts.world = &world;
  std::string error;
  std::vector<std::string> resumed;
  try {
    resumed = check_and_prepare(parts, world);
  } catch (const std::exception& e) {  // a checkpoint's HDF5 and JSON surprises too: one line, every rank stops
    error = e.what();
  }
  dist::agree_all_ranks_ok(error);  // throws on every rank if any failed
  for (const std::string& line : resumed) spdlog::info("{}", line);
  // The data: text through a tokenizer is tokenized once, by world rank 0; then every rank reads.
  for (const bool tokenize : {true, false}) {
    try {
      if (!tokenize) load_data(parts);
      else if (world.rank == 0) build_token_caches(parts);
    } catch (const std::exception& e) {
      error = e.what();
    }
    dist::agree_all_ranks_ok(error);
  }
  const TrainConfig& c = parts.cfg;
  parts.groups = std::make_unique<dist::ProcessGroups>(
      world, dist::Layout{c.tensor_model_parallel_size, c.pipeline_model_parallel_size, c.data_parallel_size},
      c.comm == "nccl" ? dist::nccl_comm_factory(parts.backend->native_stream()) : dist::CommFactory{});
  // Values and gradients are told apart where they are made (make_param); a
  // device copy of them made here counts as weights until the DP buckets take the gradients.
  const MemoryCategoryScope scope(MemoryCategory::weights);
  parts.model = std::make_unique<gpt::GptModel>(c.model, c.seed, parallel::TpGroup{&parts.groups->tp(), c.sequence_parallel},
                                                c.pipeline_stages(), parts.groups->coord().pp);
  return parts;
}

}  // namespace trident::launch
