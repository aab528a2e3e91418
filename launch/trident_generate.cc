// trident-generate: samples text from a checkpoint, in one process or under
// mpirun in any (tp, pp) layout (data-parallel replicas sample the same
// text). Each new byte: the window of the last seq-length bytes runs
// through the pipeline stages in turn (no KV cache: the models here are
// small), the last stage gathers the logits of the last position over
// tensor-parallel ranks, and the token is drawn from them — temperature,
// top-k, and a counter-based uniform keyed by (seed, step) — then
// broadcast to every stage. Deterministic for a seed, and the same in every
// layout up to the float rounding of the logits.
//
// Exit status: 0 done, 2 bad flags or checkpoint (one line), 1 a failure.
#include <CLI/CLI.hpp>
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <memory>
#include <numeric>

#include "checkpoint/checkpoint.h"
#include "framework/core/log.h"
#include "framework/core/rng.h"
#include "framework/data/tokenizer.h"
#include "framework/dist/agreement.h"
#include "framework/dist/process_groups.h"
#include "framework/dist/world.h"
#include "launch/checkpoint_slices.h"
#include "models/gpt/gpt_model.h"

namespace {

using namespace trident;

struct GenerateConfig {
  std::string load;
  int64_t load_iteration = -1;
  std::string prompt = "The ";
  std::vector<int64_t> prompt_tokens;  // instead of --prompt: token ids
  bool print_tokens = false;           // ids instead of text
  std::string tokenizer_type, vocab_file, merge_file;  // instead of the checkpoint's tokenizer
  int64_t max_tokens = 200;
  float temperature = 0.8f;
  int64_t top_k = 40;
  uint64_t seed = 1234;
  int tp = 1, pp = 1;
  int threads = 1;
};

// Index of the token drawn from `logits` (vocabulary order): softmax of
// logits / temperature over the top_k largest (all when 0); greedy at temperature 0.
int32_t sample(const std::vector<float>& logits, float temperature, int64_t top_k, float uniform) {
  std::vector<int32_t> order(logits.size());
  std::iota(order.begin(), order.end(), 0);
  // Largest first; ties by index, so every layout orders alike.
  std::stable_sort(order.begin(), order.end(), [&](int32_t a, int32_t b) { return logits[size_t(a)] > logits[size_t(b)]; });
  if (temperature <= 0.f) return order[0];
  const size_t k = top_k > 0 ? std::min(size_t(top_k), order.size()) : order.size();
  std::vector<double> p(k);
  const double top = logits[size_t(order[0])];
  double sum = 0.0;
  for (size_t i = 0; i < k; ++i) sum += p[i] = std::exp((double(logits[size_t(order[i])]) - top) / temperature);
  double cumulative = 0.0;
  for (size_t i = 0; i < k; ++i) {
    cumulative += p[i] / sum;
    if (double(uniform) < cumulative) return order[i];
  }
  return order[k - 1];
}

// Each new byte: the window of the last seq-length tokens through the
// pipeline stages in turn; the last stage draws the token, every stage gets it.
// `vocabulary`: the ids that may be drawn (the bytes, for a model of text).
std::vector<int32_t> sample_text(const GenerateConfig& g, gpt::GptModel& model, dist::ProcessGroups& groups,
                                 std::vector<int32_t> tokens, int64_t vocabulary) {
  const gpt::GptConfig& model_cfg = model.config();
  const dist::Layout& layout = groups.layout();
  const int pp_rank = groups.coord().pp, last = layout.pp - 1;
  auto be = backend::make_cpu_backend(g.threads);
  const Philox rng(g.seed, "generate");
  for (int64_t step = 0; step < g.max_tokens; ++step) {
    const int64_t T = std::min<int64_t>(int64_t(tokens.size()), model_cfg.seq_length);
    Tensor input = pp_rank == 0 ? Tensor::empty({1, T}, DType::i32) : Tensor::empty({1, T, model_cfg.hidden_size});
    if (pp_rank == 0) std::copy(tokens.end() - T, tokens.end(), input.data<int32_t>());
    else groups.pp().recv(input, pp_rank - 1, 0);
    const Tensor out = model.infer(*be, 0, input);
    Tensor next = Tensor::empty({1}, DType::i32);
    if (pp_rank < last) {
      groups.pp().send(out, pp_rank + 1, 0);
    } else {
      // The last position's logits, whole: every TP rank holds a vocabulary slice.
      const int64_t shard = out.size(1);
      Tensor row = out.slice(T - 1, T).view({shard}).clone(), full = Tensor::empty({shard * layout.tp});
      groups.tp().all_gather(row, full);
      std::vector<float> logits = full.to_vector();
      logits.resize(size_t(vocabulary));  // vocabulary padding is never a token
      next.data<int32_t>()[0] = sample(logits, g.temperature, g.top_k, rng.uniform(uint64_t(step)));
    }
    if (layout.pp > 1) groups.pp().broadcast(next, last);
    tokens.push_back(next.data<int32_t>()[0]);
  }
  return tokens;
}

// The checkpoint's tokenizer (its state's "tokenizer", or --tokenizer-type
// and its files given here): bytes, GPT-2 BPE, or none — token ids of a
// tokenizer trident does not know (a model trained on a Megatron dataset).
// Checkpoints older than the entry: a vocabulary of 256 is bytes.
std::unique_ptr<data::Tokenizer> checkpoint_tokenizer(const GenerateConfig& g, const nlohmann::json& state,
                                                      int64_t vocab_size) {
  if (!g.tokenizer_type.empty()) return data::make_tokenizer(g.tokenizer_type, g.vocab_file, g.merge_file);
  const nlohmann::json t = state.value("tokenizer", nlohmann::json{{"type", vocab_size == 256 ? "bytes" : "ids"}});
  const std::string type = t.value("type", "");
  if (type == "ids") return nullptr;
  if (type == "bytes") return data::make_tokenizer("ByteTokenizer", "", "");
  try {
    return data::make_tokenizer(type, t.value("vocab_file", ""), t.value("merge_file", ""));
  } catch (const UsageError& e) {
    throw UsageError(std::string(e.what()) + " (the checkpoint's tokenizer; give --tokenizer-type, --vocab-file and "
                     "--merge-file if its files moved)");
  }
}

// The prompt as token ids, checked against what the model reads.
std::vector<int32_t> prompt_ids(const GenerateConfig& g, const data::Tokenizer* tokenizer, int64_t vocab_size) {
  TRIDENT_USAGE_CHECK(!tokenizer || tokenizer->vocab_size() <= vocab_size, "the tokenizer has ",
                      tokenizer ? tokenizer->vocab_size() : 0, " tokens but the checkpoint's model only ", vocab_size,
                      ": give the tokenizer the model was trained with");
  TRIDENT_USAGE_CHECK(tokenizer || !g.prompt_tokens.empty(), "this checkpoint's model reads token ids (vocabulary ",
                      vocab_size, ") of a tokenizer it does not record: give the prompt as --prompt-tokens "
                      "ID,ID,... and add --print-tokens, or name the tokenizer (--tokenizer-type, --vocab-file, "
                      "--merge-file)");
  TRIDENT_USAGE_CHECK(tokenizer || g.print_tokens, "this checkpoint's model writes token ids (vocabulary ", vocab_size,
                      ") of a tokenizer it does not record: add --print-tokens, or name the tokenizer");
  if (g.prompt_tokens.empty()) return tokenizer->encode(g.prompt);
  const int64_t limit = tokenizer ? std::min(tokenizer->vocab_size(), vocab_size) : vocab_size;
  std::vector<int32_t> ids;
  for (const int64_t id : g.prompt_tokens) {
    TRIDENT_USAGE_CHECK(id >= 0 && id < limit, "--prompt-tokens: token id ", id, " is outside the model's ",
                        "vocabulary (0..", limit - 1, ")");
    ids.push_back(int32_t(id));
  }
  return ids;
}

int run(const GenerateConfig& g, const dist::World& world) {
  // 1. The checkpoint and this rank's part of the model; any failure is agreed on first.
  std::string error;
  std::unique_ptr<checkpoint::CheckpointReader> reader;
  gpt::GptConfig model_cfg;
  dist::Layout layout;
  std::vector<int32_t> prompt;
  std::unique_ptr<data::Tokenizer> tokenizer;
  try {
    TRIDENT_USAGE_CHECK(!g.load.empty(), "--load DIR is required: the --save directory of a training run");
    TRIDENT_USAGE_CHECK(g.max_tokens >= 0, "--max-tokens must not be negative, got ", g.max_tokens);
    TRIDENT_USAGE_CHECK(g.temperature >= 0.f, "--temperature must not be negative, got ", g.temperature);
    TRIDENT_USAGE_CHECK(g.top_k >= 0, "--top-k must not be negative, got ", g.top_k);
    TRIDENT_USAGE_CHECK(!g.prompt.empty(), "--prompt must not be empty");
    layout = dist::resolve_layout(world.size, g.tp, g.pp, 0);
    reader = std::make_unique<checkpoint::CheckpointReader>(checkpoint::find_checkpoint(g.load, g.load_iteration));
    model_cfg = gpt::GptConfig::from_json(reader->state().at("model"));
    model_cfg.dtype = DType::f32;  // sampling reads the FP32 master weights and computes in f32
    model_cfg.validate(layout.tp);
    (void)gpt::PipelineStages::even(model_cfg.num_layers, layout.pp);
    tokenizer = checkpoint_tokenizer(g, reader->state(), model_cfg.vocab_size);
    prompt = prompt_ids(g, tokenizer.get(), model_cfg.vocab_size);
  } catch (const UsageError& e) {
    error = e.what();
  }
  dist::agree_all_ranks_ok(error);
  dist::ProcessGroups groups(world, layout);
  gpt::GptModel model(model_cfg, g.seed, parallel::TpGroup{&groups.tp()},
                      gpt::PipelineStages::even(model_cfg.num_layers, layout.pp), groups.coord().pp);
  try {
    for (Param* p : model.params()) {
      Tensor buffer = p->value.to(DType::f32);
      reader->read(launch::checkpoint_slice(*p, launch::kCheckpointModel), buffer);
      p->value.copy_from(buffer);
    }
  } catch (const UsageError& e) {
    error = e.what();
  }
  dist::agree_all_ranks_ok(error);
  spdlog::info("{} from {} (iteration {}), layout tp {} x pp {} x dp {}", model_cfg.summary(), reader->dir(),
               reader->state().at("iteration").get<int64_t>(), layout.tp, layout.pp, layout.dp);

  // 2. Sampling, one byte at a time.
  // Only the tokenizer's ids are drawn (vocabulary padding and unused rows never are).
  const int64_t vocabulary = tokenizer ? std::min(tokenizer->vocab_size(), model_cfg.vocab_size) : model_cfg.vocab_size;
  const std::vector<int32_t> tokens = sample_text(g, model, groups, prompt, vocabulary);
  if (world.rank != 0) return 0;
  if (g.print_tokens) {
    for (size_t i = 0; i < tokens.size(); ++i) std::printf("%s%d", i ? " " : "", tokens[i]);
  } else {
    const std::string text = tokenizer->decode(tokens);
    std::fwrite(text.data(), 1, text.size(), stdout);
  }
  std::fputc('\n', stdout);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  GenerateConfig g;
  CLI::App app{"trident-generate: sample text from a trident checkpoint"};
  app.option_defaults()->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);
  app.add_option("--load", g.load, "the --save directory of a training run (its latest checkpoint)");
  app.add_option("--load-iteration", g.load_iteration, "this iteration instead of the latest");
  app.add_option("--prompt", g.prompt, "text to continue")->capture_default_str();
  app.add_option("--prompt-tokens", g.prompt_tokens, "token ids to continue, e.g. 13,7,42 (instead of --prompt)")
      ->delimiter(',');
  app.add_flag("--print-tokens", g.print_tokens, "print token ids, not text");
  app.add_option("--tokenizer-type", g.tokenizer_type,
                 "ByteTokenizer or GPT2BPETokenizer (default: the checkpoint's tokenizer)");
  app.add_option("--vocab-file", g.vocab_file, "GPT2BPETokenizer: vocab.json");
  app.add_option("--merge-file", g.merge_file, "GPT2BPETokenizer: merges.txt");
  app.add_option("--max-tokens", g.max_tokens, "bytes to generate")->capture_default_str();
  app.add_option("--temperature", g.temperature, "softmax temperature (0: greedy)")->capture_default_str();
  app.add_option("--top-k", g.top_k, "sample among the k most likely (0: all)")->capture_default_str();
  app.add_option("--seed", g.seed, "seed of the sampling")->capture_default_str();
  app.add_option("--tensor-model-parallel-size,--tp", g.tp, "tensor-parallel degree")->capture_default_str();
  app.add_option("--pipeline-model-parallel-size,--pp", g.pp, "pipeline-parallel degree")->capture_default_str();
  app.add_option("--threads", g.threads, "CPU threads per process")->capture_default_str();
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  const dist::World& world = dist::World::init(&argc, &argv);
  init_logging(world.rank, world.rank == 0, /*to_stderr=*/true);  // stdout is the text
  int status = 0;
  try {
    status = run(g, world);
  } catch (const dist::AgreementFailed&) {
    status = 2;  // the failing rank says why
  } catch (const UsageError& e) {
    std::fprintf(stderr, "trident-generate: error: %s\n", e.what());
    status = 2;
  } catch (const std::exception& e) {
    dist::World::abort(std::string("trident-generate: error: ") + e.what(), 1);
  }
  dist::World::finalize();
  return status;
}
