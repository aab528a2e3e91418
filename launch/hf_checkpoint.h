// HuggingFace interop (--export-hf, --load-hf): trident's decoder as a
// transformers model directory — model.safetensors with HF's tensor names
// and config.json with the matching config class's fields — and back. Two
// classes fit trident's pieces (docs/llama.md "HuggingFace weights"):
//
//   LlamaForCausalLM  RoPE + RMSNorm + SwiGLU; any query groups, tied or
//                     untied output, linear biases on or off
//   GPT2LMHeadModel   learned positions + LayerNorm + GELU (tanh) + tied
//                     output + linear biases + one key/value head per query head
//
// Everything here is a pure function of a GptConfig and whole (unsharded,
// unpadded) tensors, testable without MPI. The collective export is
// launch/export.h; each rank's read of its shard, TrainingCheckpoint::load_hf.
//
// Note [HF query heads]
// trident's query head t attends with key/value head t mod G (Note [query
// groups] in models/gpt/self_attention.h, so that TP splits the fused
// weight in equal blocks); HF's Llama pairs query head j with key/value
// head j / (H/G). With R = H/G, HF head j is trident head
// t = (j mod R)·G + j / R: both use key/value head j / R. The export orders
// q_proj's rows (and its bias) and o_proj's input columns head by head in
// HF's order, the import puts them back; K and V are not permuted. With
// G = H the permutation is the identity.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

#include "checkpoint/safetensors.h"
#include "launch/train_config.h"
#include "models/gpt/config.h"

namespace trident::launch {

enum class HfModel { llama, gpt2 };

// The HF class a model exports as; UsageError (one line, starting
// "--export-hf:") naming what no HF class has and the flags that would fit one.
HfModel hf_model_of(const gpt::GptConfig& cfg);

// config.json for `cfg`: vocab_size unpadded, max_position_embeddings (or
// n_positions) = seq_length, torch_dtype = cfg.dtype; bos/eos ids = `eod`
// when it is known (>= 0), else left out.
nlohmann::json hf_config_json(const gpt::GptConfig& cfg, int64_t eod = -1);

// The architecture a config.json describes, as trident's settings (the rest
// keep their defaults). UsageError naming the key for a model type or a
// feature trident does not implement (rope_scaling, another activation,
// attention_bias ≠ mlp_bias, sliding windows, head_dim ≠ hidden/heads, …).
// `source` names the file in messages.
gpt::GptConfig gpt_config_from_hf(const nlohmann::json& config, const std::string& source);

// Entry j: trident's query head for HF's query head j (Note [HF query heads]).
std::vector<int64_t> hf_query_heads(int64_t heads, int64_t groups);

// The HF tensors `cfg` corresponds to, name and shape, in model order.
std::vector<std::pair<std::string, Shape>> hf_tensor_shapes(const gpt::GptConfig& cfg);

// Every parameter (trident names, whole, unpadded vocabulary, any dtype) as
// HF's tensors in `dtype`. UsageError naming a parameter that is missing.
checkpoint::TensorMap hf_tensors_from_trident(const gpt::GptConfig& cfg, const checkpoint::TensorMap& params,
                                              DType dtype);

// One trident parameter (whole, unpadded vocabulary, f32) from HF's tensors:
// `read` returns the HF tensor of a name (any float dtype, HF's shape).
Tensor trident_tensor_from_hf(const gpt::GptConfig& cfg, const std::string& name,
                              const std::function<Tensor(const std::string&)>& read);

// --load-hf: takes the architecture flags the command line left out from
// config.json (TrainConfig::flags_given), before validation, as resuming
// from a checkpoint does; a given flag that differs is a UsageError naming
// each one and both values. Returns the log lines saying what was taken.
std::vector<std::string> take_flags_from_hf(TrainConfig& cfg, const nlohmann::json& config, const std::string& dir);

// A transformers model directory opened for reading: config.json and
// model.safetensors, or model.safetensors.index.json and its shards. Only
// headers are read until read() asks for a tensor.
class HfCheckpoint {
 public:
  // UsageError for a missing directory, config.json or weights file.
  explicit HfCheckpoint(const std::string& dir);
  const nlohmann::json& config() const { return config_; }
  // UsageError naming every unknown, missing and mis-shaped tensor (and any
  // dtype trident cannot read) against what `cfg` needs. HF's buffers
  // (GPT-2's attn.bias masks, rotary inv_freq) and a tied model's lm_head
  // (transformers ties it to the token table too) are ignored, and names
  // saved without the "model."/"transformer." prefix are accepted.
  void check_tensors(const gpt::GptConfig& cfg) const;
  // One trident parameter, whole, unpadded, f32 (check_tensors first).
  Tensor read(const gpt::GptConfig& cfg, const std::string& name);
  int64_t bytes_read() const { return bytes_read_; }

 private:
  // The file and the name in it of an HF tensor (names with their prefix).
  std::pair<const checkpoint::SafetensorsFile*, std::string> locate(const gpt::GptConfig& cfg,
                                                                    const std::string& hf_name) const;

  std::string dir_;
  nlohmann::json config_;
  std::vector<std::unique_ptr<checkpoint::SafetensorsFile>> files_;
  int64_t bytes_read_ = 0;
};

// --export-hf DIR at start: UsageError unless DIR is new (in an existing,
// writable directory), empty, or a previous trident export (config.json and
// a model.safetensors that trident wrote, nothing else), which the export replaces.
void check_hf_export_dir(const std::string& dir);
// Writes config.json and model.safetensors (tensors as hf_tensors_from_trident
// in cfg.dtype) into the sibling DIR.tmp, then moves it to DIR in one
// rename (replacing a previous export), so DIR never holds a partial export.
void write_hf_export(const std::string& dir, const gpt::GptConfig& cfg, const checkpoint::TensorMap& params,
                     int64_t eod = -1);

}  // namespace trident::launch
