#include "launch/hf_checkpoint.h"

#include <fcntl.h>  // AT_FDCWD
#include <spdlog/fmt/fmt.h>
#include <stdio.h>  // renameat2, RENAME_EXCHANGE
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <tuple>

#include "framework/core/error.h"
#include "launch/config_file.h"
#include "launch/resume_flags.h"
#include "launch/train_flags.h"

namespace trident::launch {
namespace {

namespace fs = std::filesystem;

// The safetensors metadata that marks a directory as trident's own export
// (transformers asks only for "format": "pt").
const std::map<std::string, std::string> kExportMetadata = {{"format", "pt"}, {"producer", "trident-train"}};

// How one trident parameter becomes HF tensors, and back.
enum class Mapping {
  copy,       // the same tensor
  transpose,  // GPT-2's Conv1D stores (in, out), the transpose of trident's (out, in)
  rows,       // trident's rows split among the HF tensors in order; the first one's rows in head blocks, HF's order
  columns,    // the input columns in head blocks, HF's order (o_proj)
};

struct Rule {
  Rule(std::string name, std::vector<std::pair<std::string, Shape>> hf, Mapping mapping = Mapping::copy,
       std::vector<int64_t> heads = {}, int64_t head_dim = 1)
      : name(std::move(name)), hf(std::move(hf)), mapping(mapping), heads(std::move(heads)), head_dim(head_dim) {}
  std::string name;                               // trident's
  std::vector<std::pair<std::string, Shape>> hf;  // HF's tensors
  Mapping mapping;
  std::vector<int64_t> heads;  // Note [HF query heads]: hf_query_heads, or empty for the identity
  int64_t head_dim;
};

std::string joined(const std::vector<std::string>& parts, const char* sep, const char* last) {
  std::string out;
  for (size_t i = 0; i < parts.size(); ++i) out += (i == 0 ? "" : i + 1 == parts.size() ? last : sep) + parts[i];
  return out;
}

// ---- Rules: trident's parameters (gpt::parameter_names' order) as HF's tensors.

std::vector<Rule> llama_rules(const gpt::GptConfig& c) {
  const int64_t C = c.hidden_size, H = c.num_attention_heads, G = c.kv_heads(), D = c.head_dim(),
                F = c.ffn_hidden(), V = c.vocab_size;
  const std::vector<int64_t> heads = G == H ? std::vector<int64_t>{} : hf_query_heads(H, G);
  const bool bias = c.bias_linear();
  std::vector<Rule> out = {Rule("embedding.word_embeddings.weight", {{"model.embed_tokens.weight", {V, C}}})};
  for (int64_t i = 0; i < c.num_layers; ++i) {
    const std::string t = "layers." + std::to_string(i) + ".", h = "model.layers." + std::to_string(i) + ".";
    const std::string q = h + "self_attn.q_proj.", k = h + "self_attn.k_proj.", v = h + "self_attn.v_proj.";
    const std::string o = h + "self_attn.o_proj.", gate = h + "mlp.gate_proj.", up = h + "mlp.up_proj.";
    out.push_back({t + "ln1.weight", {{h + "input_layernorm.weight", {C}}}});
    out.push_back({t + "attn.qkv.weight", {{q + "weight", {H * D, C}}, {k + "weight", {G * D, C}}, {v + "weight", {G * D, C}}},
                   Mapping::rows, heads, D});
    if (bias)
      out.push_back({t + "attn.qkv.bias", {{q + "bias", {H * D}}, {k + "bias", {G * D}}, {v + "bias", {G * D}}},
                     Mapping::rows, heads, D});
    out.push_back({t + "attn.proj.weight", {{o + "weight", {C, H * D}}}, Mapping::columns, heads, D});
    if (bias) out.push_back({t + "attn.proj.bias", {{o + "bias", {C}}}});
    out.push_back({t + "ln2.weight", {{h + "post_attention_layernorm.weight", {C}}}});
    out.push_back({t + "mlp.fc1.weight", {{gate + "weight", {F, C}}, {up + "weight", {F, C}}}, Mapping::rows});
    if (bias) out.push_back({t + "mlp.fc1.bias", {{gate + "bias", {F}}, {up + "bias", {F}}}, Mapping::rows});
    out.push_back({t + "mlp.fc2.weight", {{h + "mlp.down_proj.weight", {C, F}}}});
    if (bias) out.push_back({t + "mlp.fc2.bias", {{h + "mlp.down_proj.bias", {C}}}});
  }
  out.push_back({"final_ln.weight", {{"model.norm.weight", {C}}}});
  if (!c.tied_output()) out.push_back({"output_layer.weight", {{"lm_head.weight", {V, C}}}});
  return out;
}

std::vector<Rule> gpt2_rules(const gpt::GptConfig& c) {
  const int64_t C = c.hidden_size, F = c.ffn_hidden();
  std::vector<Rule> out = {Rule("embedding.word_embeddings.weight", {{"transformer.wte.weight", {c.vocab_size, C}}}),
                           Rule("embedding.position_embeddings.weight", {{"transformer.wpe.weight", {c.seq_length, C}}})};
  for (int64_t i = 0; i < c.num_layers; ++i) {
    const std::string t = "layers." + std::to_string(i) + ".", h = "transformer.h." + std::to_string(i) + ".";
    const std::pair<const char*, const char*> norms[] = {{"ln1", "ln_1"}, {"ln2", "ln_2"}};
    // (trident part, HF part, HF weight shape (in, out), bias length)
    const std::tuple<const char*, const char*, Shape, int64_t> linears[] = {{"attn.qkv", "attn.c_attn", {C, 3 * C}, 3 * C},
                                                                            {"attn.proj", "attn.c_proj", {C, C}, C},
                                                                            {"mlp.fc1", "mlp.c_fc", {C, F}, F},
                                                                            {"mlp.fc2", "mlp.c_proj", {F, C}, C}};
    for (int part = 0; part < 2; ++part) {  // ln1, attention; ln2, MLP
      const auto& [norm, hf_norm] = norms[part];
      for (const char* p : {"weight", "bias"})
        out.push_back({t + norm + "." + p, {{h + hf_norm + "." + p, {C}}}});
      for (int j = 2 * part; j < 2 * part + 2; ++j) {
        const auto& [ours, theirs, shape, bias] = linears[j];
        out.push_back({t + ours + ".weight", {{h + theirs + ".weight", shape}}, Mapping::transpose});
        out.push_back({t + ours + ".bias", {{h + theirs + ".bias", {bias}}}});
      }
    }
  }
  for (const char* p : {"weight", "bias"})
    out.push_back({std::string("final_ln.") + p, {{std::string("transformer.ln_f.") + p, {C}}}});
  return out;
}

std::vector<Rule> rules(const gpt::GptConfig& c) {
  return hf_model_of(c) == HfModel::llama ? llama_rules(c) : gpt2_rules(c);
}

const Rule& rule_of(const std::vector<Rule>& all, const std::string& name) {
  for (const Rule& r : all)
    if (r.name == name) return r;
  throw UsageError("parameter " + name + " has no HuggingFace name");
}

// ---- Whole-tensor moves (f32, host, contiguous).

Tensor host_f32(const Tensor& t) { return (t.device() == Device::cpu ? t : t.to(Device::cpu)).to(DType::f32); }

int64_t row_width(const Tensor& t) { return t.size(0) == 0 ? 0 : t.numel() / t.size(0); }

std::vector<int64_t> inverse(const std::vector<int64_t>& order) {
  std::vector<int64_t> out(order.size());
  for (size_t i = 0; i < order.size(); ++i) out[size_t(order[i])] = int64_t(i);
  return out;
}

// Block i of the result is block order[i] of x (blocks of `block` rows).
Tensor permute_row_blocks(const Tensor& x, const std::vector<int64_t>& order, int64_t block) {
  if (order.empty()) return x;
  Tensor out = Tensor::empty(x.shape());
  const int64_t n = block * row_width(x);
  for (size_t i = 0; i < order.size(); ++i)
    std::copy_n(x.data<float>() + order[i] * n, n, out.data<float>() + int64_t(i) * n);
  return out;
}

// Columns [i·block, (i+1)·block) of the result are x's block order[i].
Tensor permute_column_blocks(const Tensor& x, const std::vector<int64_t>& order, int64_t block) {
  if (order.empty()) return x;
  Tensor out = Tensor::empty(x.shape());
  const int64_t cols = x.size(1);
  for (int64_t r = 0; r < x.size(0); ++r)
    for (size_t i = 0; i < order.size(); ++i)
      std::copy_n(x.data<float>() + r * cols + order[i] * block, block, out.data<float>() + r * cols + int64_t(i) * block);
  return out;
}

Tensor transposed(const Tensor& x) {
  const int64_t rows = x.size(0), cols = x.size(1);
  Tensor out = Tensor::empty({cols, rows});
  const float* in = x.data<float>();
  float* o = out.data<float>();
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < cols; ++c) o[c * rows + r] = in[r * cols + c];
  return out;
}

std::vector<Tensor> split_rows(const Tensor& x, const std::vector<std::pair<std::string, Shape>>& parts) {
  std::vector<Tensor> out;
  int64_t row = 0;
  for (const auto& [name, shape] : parts) {
    out.push_back(x.slice(row, row + shape[0]).clone());
    row += shape[0];
  }
  return out;
}

Tensor concat_rows(const std::vector<Tensor>& parts) {
  Shape shape = parts[0].shape();
  shape[0] = 0;
  for (const Tensor& p : parts) shape[0] += p.size(0);
  Tensor out = Tensor::empty(shape);
  int64_t at = 0;
  for (const Tensor& p : parts) {
    std::copy_n(p.data<float>(), p.numel(), out.data<float>() + at);
    at += p.numel();
  }
  return out;
}

std::vector<Tensor> to_hf(const Rule& r, const Tensor& t) {
  switch (r.mapping) {
    case Mapping::copy: return {t};
    case Mapping::transpose: return {transposed(t)};
    case Mapping::columns: return {permute_column_blocks(t, r.heads, r.head_dim)};
    case Mapping::rows: {
      std::vector<Tensor> parts = split_rows(t, r.hf);
      parts[0] = permute_row_blocks(parts[0], r.heads, r.head_dim);
      return parts;
    }
  }
  return {};
}

Tensor from_hf(const Rule& r, std::vector<Tensor> hf) {
  switch (r.mapping) {
    case Mapping::copy: return hf[0];
    case Mapping::transpose: return transposed(hf[0]);
    case Mapping::columns: return permute_column_blocks(hf[0], inverse(r.heads), r.head_dim);
    case Mapping::rows:
      hf[0] = permute_row_blocks(hf[0], inverse(r.heads), r.head_dim);
      return concat_rows(hf);
  }
  return {};
}

// ---- config.json

// A float as the shortest decimal that reads back as it (1e-05, not 9.99999974e-06).
double decimal(float x) { return std::stod(fmt::format("{}", x)); }

const char* torch_dtype(DType t) { return t == DType::bf16 ? "bfloat16" : t == DType::f16 ? "float16" : "float32"; }

// Typed reads of config.json with HF's class defaults for absent (or null) keys.
class ConfigReader {
 public:
  ConfigReader(const nlohmann::json& j, const std::string& source) : j_(j), source_(source) {}
  template <typename T>
  T get(const char* key, T fallback) const {
    if (!has(key)) return fallback;
    try {
      return j_.at(key).get<T>();
    } catch (const nlohmann::json::exception&) {
      throw UsageError(source_ + ": " + key + " is " + j_.at(key).dump() + ", which is not a " + kind<T>());
    }
  }
  bool has(const char* key) const { return j_.contains(key) && !j_.at(key).is_null(); }
  // UsageError "<source>: <key> <value> is not supported: <why>" unless `ok`.
  void require(bool ok, const char* key, const std::string& why) const {
    TRIDENT_USAGE_CHECK(ok, source_, ": ", key, " ", has(key) ? j_.at(key).dump() : "(default)",
                        " is not supported: ", why);
  }

 private:
  template <typename T>
  static const char* kind() {
    if constexpr (std::is_same_v<T, bool>) return "boolean";
    else if constexpr (std::is_same_v<T, std::string>) return "string";
    else return "number";
  }
  const nlohmann::json& j_;
  const std::string& source_;
};

gpt::GptConfig llama_from_hf(const ConfigReader& r) {
  gpt::GptConfig c;
  c.hidden_size = r.get<int64_t>("hidden_size", 4096);
  c.ffn_hidden_size = r.get<int64_t>("intermediate_size", 11008);
  c.num_layers = r.get<int64_t>("num_hidden_layers", 32);
  c.num_attention_heads = r.get<int64_t>("num_attention_heads", 32);
  const int64_t groups = r.get<int64_t>("num_key_value_heads", c.num_attention_heads);
  c.group_query_attention = groups != c.num_attention_heads;
  if (c.group_query_attention) c.num_query_groups = groups;
  c.seq_length = r.get<int64_t>("max_position_embeddings", 2048);
  c.vocab_size = r.get<int64_t>("vocab_size", 32000);
  c.position_embedding_type = "rope";
  c.rotary_base = float(r.get<double>("rope_theta", 10000.0));
  c.normalization = "RMSNorm";
  c.norm_epsilon = float(r.get<double>("rms_norm_eps", 1e-6));
  c.swiglu = true;
  c.untie_embeddings_and_output_weights = !r.get<bool>("tie_word_embeddings", false);
  const bool attention_bias = r.get<bool>("attention_bias", false), mlp_bias = r.get<bool>("mlp_bias", false);
  c.disable_bias_linear = !attention_bias;
  r.require(r.get<std::string>("hidden_act", "silu") == "silu", "hidden_act", "Llama's MLP in trident is SwiGLU (silu)");
  r.require(!r.has("rope_scaling"), "rope_scaling", "trident's RoPE has no scaling (give a model with rope_scaling null)");
  r.require(attention_bias == mlp_bias, "mlp_bias",
            "trident's linear biases are all on or all off (--disable-bias-linear), and attention_bias differs");
  r.require(!r.get<bool>("use_sliding_window", false) && !r.has("sliding_window"), "sliding_window",
            "trident's attention is over the whole sequence");
  r.require(r.get<double>("partial_rotary_factor", 1.0) == 1.0, "partial_rotary_factor",
            "trident's RoPE rotates the whole head");
  const int64_t head_dim = r.get<int64_t>("head_dim", c.hidden_size / std::max<int64_t>(1, c.num_attention_heads));
  r.require(c.num_attention_heads > 0 && c.hidden_size % c.num_attention_heads == 0 &&
                head_dim == c.hidden_size / c.num_attention_heads,
            "head_dim", "trident's heads are hidden_size / num_attention_heads wide");
  return c;
}

gpt::GptConfig gpt2_from_hf(const ConfigReader& r) {
  gpt::GptConfig c;  // its defaults are GPT-2's pieces: learned positions, LayerNorm, GELU, tied, biases
  c.hidden_size = r.get<int64_t>("n_embd", 768);
  c.num_layers = r.get<int64_t>("n_layer", 12);
  c.num_attention_heads = r.get<int64_t>("n_head", 12);
  c.seq_length = r.get<int64_t>("n_positions", 1024);
  c.vocab_size = r.get<int64_t>("vocab_size", 50257);
  c.ffn_hidden_size = r.get<int64_t>("n_inner", 4 * c.hidden_size);
  c.norm_epsilon = float(r.get<double>("layer_norm_epsilon", 1e-5));
  const std::string act = r.get<std::string>("activation_function", "gelu_new");
  r.require(act == "gelu_new" || act == "gelu_pytorch_tanh", "activation_function",
            "trident's GELU is the tanh approximation (gelu_new)");
  r.require(r.get<bool>("tie_word_embeddings", true), "tie_word_embeddings", "trident's GPT-2 ties its output layer");
  r.require(r.get<bool>("scale_attn_weights", true), "scale_attn_weights", "trident scales attention by 1/sqrt(head size)");
  r.require(!r.get<bool>("scale_attn_by_inverse_layer_idx", false), "scale_attn_by_inverse_layer_idx",
            "trident scales attention by 1/sqrt(head size) only");
  r.require(!r.get<bool>("add_cross_attention", false), "add_cross_attention", "trident's decoder has no cross-attention");
  return c;
}

// ---- --load-hf's flags

// ---- --export-hf's directory

fs::path export_path(const std::string& dir) {
  // Absolute first: "." and "out/.." name a directory too, and the export is renamed onto it.
  fs::path p = fs::absolute(dir).lexically_normal();
  return p.has_filename() ? p : p.parent_path();  // "out/" is "out"
}

bool is_trident_export(const fs::path& dir) {
  for (const fs::directory_entry& e : fs::directory_iterator(dir))
    if (e.path().filename() != "config.json" && e.path().filename() != "model.safetensors") return false;
  try {
    const checkpoint::SafetensorsFile file((dir / "model.safetensors").string());
    const auto producer = file.metadata().find("producer");
    return producer != file.metadata().end() && producer->second == kExportMetadata.at("producer");
  } catch (const UsageError&) {
    return false;  // missing or not safetensors: not ours
  }
}

// Moves the finished `tmp` to `dir`, replacing a previous export there.
void replace_directory(const fs::path& tmp, const fs::path& dir) {
  if (!fs::exists(dir)) return fs::rename(tmp, dir);
  if (::renameat2(AT_FDCWD, tmp.c_str(), AT_FDCWD, dir.c_str(), RENAME_EXCHANGE) == 0) {
    fs::remove_all(tmp);  // now the previous export
    return;
  }
  // A filesystem without RENAME_EXCHANGE: the old one goes aside first (DIR is briefly absent, never partial).
  const fs::path old = dir.string() + ".old";
  fs::remove_all(old);
  fs::rename(dir, old);
  fs::rename(tmp, dir);
  fs::remove_all(old);
}

}  // namespace

HfModel hf_model_of(const gpt::GptConfig& c) {
  if (c.rope() && c.rms_norm() && c.swiglu) return HfModel::llama;
  const bool gqa = c.kv_heads() != c.num_attention_heads;
  if (!c.rope() && !c.rms_norm() && !c.swiglu && c.tied_output() && c.bias_linear() && !gqa) return HfModel::gpt2;
  std::vector<std::string> has = {c.rope() ? "RoPE" : "learned positions", c.rms_norm() ? "RMSNorm" : "LayerNorm",
                                  c.swiglu ? "SwiGLU" : "a GELU MLP"};
  if (!c.tied_output()) has.push_back("an untied output layer");
  if (!c.bias_linear()) has.push_back("no linear biases");
  if (gqa) has.push_back("grouped-query attention");
  std::vector<std::string> llama, gpt2;
  if (!c.rope()) llama.push_back("--position-embedding-type rope");
  if (!c.rms_norm()) llama.push_back("--normalization RMSNorm");
  if (!c.swiglu) llama.push_back("--swiglu");
  if (c.rope()) gpt2.push_back("--position-embedding-type learned_absolute");
  if (c.rms_norm()) gpt2.push_back("--normalization LayerNorm");
  if (c.swiglu) gpt2.push_back("no --swiglu");
  if (!c.tied_output()) gpt2.push_back("no --untie-embeddings-and-output-weights");
  if (!c.bias_linear()) gpt2.push_back("no --disable-bias-linear");
  if (gqa) gpt2.push_back("no --group-query-attention");
  throw UsageError("--export-hf: HuggingFace has no model with " + joined(has, ", ", " and ") +
                   ": for LlamaForCausalLM use " + joined(llama, " ", " ") + ", for GPT2LMHeadModel " +
                   joined(gpt2, ", ", " and "));
}

std::vector<int64_t> hf_query_heads(int64_t heads, int64_t groups) {
  const int64_t per_group = heads / groups;  // R
  std::vector<int64_t> out(size_t(heads), 0);
  for (int64_t j = 0; j < heads; ++j) out[size_t(j)] = (j % per_group) * groups + j / per_group;
  return out;
}

nlohmann::json hf_config_json(const gpt::GptConfig& c, int64_t eod) {
  nlohmann::json j;
  if (hf_model_of(c) == HfModel::llama) {
    j = {{"architectures", nlohmann::json::array({"LlamaForCausalLM"})},
         {"model_type", "llama"},
         {"hidden_size", c.hidden_size},
         {"intermediate_size", c.ffn_hidden()},
         {"num_hidden_layers", c.num_layers},
         {"num_attention_heads", c.num_attention_heads},
         {"num_key_value_heads", c.kv_heads()},
         {"head_dim", c.head_dim()},
         {"hidden_act", "silu"},
         {"max_position_embeddings", c.seq_length},
         {"rms_norm_eps", decimal(c.norm_epsilon)},
         {"rope_theta", decimal(c.rotary_base)},
         {"rope_scaling", nullptr},
         {"vocab_size", c.vocab_size},
         {"tie_word_embeddings", c.tied_output()},
         {"attention_bias", c.bias_linear()},
         {"mlp_bias", c.bias_linear()},
         {"attention_dropout", 0.0},  // trident trains without dropout
         {"initializer_range", decimal(c.init_method_std)},
         {"torch_dtype", torch_dtype(c.dtype)}};
  } else {
    j = {{"architectures", nlohmann::json::array({"GPT2LMHeadModel"})},
         {"model_type", "gpt2"},
         {"vocab_size", c.vocab_size},
         {"n_positions", c.seq_length},
         {"n_embd", c.hidden_size},
         {"n_layer", c.num_layers},
         {"n_head", c.num_attention_heads},
         {"n_inner", c.ffn_hidden() == 4 * c.hidden_size ? nlohmann::json(nullptr) : nlohmann::json(c.ffn_hidden())},
         {"activation_function", "gelu_new"},
         {"layer_norm_epsilon", decimal(c.norm_epsilon)},
         {"tie_word_embeddings", true},
         {"resid_pdrop", 0.0},  // trident trains without dropout (GPT2Config's default is 0.1)
         {"embd_pdrop", 0.0},
         {"attn_pdrop", 0.0},
         {"initializer_range", decimal(c.init_method_std)},
         {"torch_dtype", torch_dtype(c.dtype)}};
  }
  if (eod >= 0) j["bos_token_id"] = j["eos_token_id"] = eod;
  return j;
}

gpt::GptConfig gpt_config_from_hf(const nlohmann::json& config, const std::string& source) {
  TRIDENT_USAGE_CHECK(config.is_object(), source, " is not a JSON object");
  const ConfigReader r(config, source);
  const std::string type = r.get<std::string>("model_type", "");
  if (type == "llama") return llama_from_hf(r);
  if (type == "gpt2") return gpt2_from_hf(r);
  throw UsageError(source + ": model_type '" + type + "' is not one trident reads: use a llama (LlamaForCausalLM) " +
                   "or gpt2 (GPT2LMHeadModel) model");
}

std::vector<std::pair<std::string, Shape>> hf_tensor_shapes(const gpt::GptConfig& cfg) {
  std::vector<std::pair<std::string, Shape>> out;
  for (const Rule& r : rules(cfg)) out.insert(out.end(), r.hf.begin(), r.hf.end());
  return out;
}

checkpoint::TensorMap hf_tensors_from_trident(const gpt::GptConfig& cfg, const checkpoint::TensorMap& params,
                                              DType dtype) {
  const std::vector<Rule> all = rules(cfg);
  for (const auto& [name, t] : params) (void)rule_of(all, name);  // nothing is left behind
  checkpoint::TensorMap out;
  for (const Rule& r : all) {
    const auto it = params.find(r.name);
    TRIDENT_USAGE_CHECK(it != params.end(), "--export-hf: parameter ", r.name, " is missing");
    const std::vector<Tensor> parts = to_hf(r, host_f32(it->second));
    for (size_t k = 0; k < parts.size(); ++k) {
      TRIDENT_CHECK(parts[k].shape() == r.hf[k].second, r.name, " ", shape_str(it->second.shape()), " does not give ",
                    r.hf[k].first, " ", shape_str(r.hf[k].second));
      out.emplace(r.hf[k].first, parts[k].to(dtype));
    }
  }
  return out;
}

Tensor trident_tensor_from_hf(const gpt::GptConfig& cfg, const std::string& name,
                              const std::function<Tensor(const std::string&)>& read) {
  const std::vector<Rule> all = rules(cfg);
  const Rule& r = rule_of(all, name);
  std::vector<Tensor> hf;
  for (const auto& [hf_name, shape] : r.hf) {
    hf.push_back(host_f32(read(hf_name)));
    TRIDENT_USAGE_CHECK(hf.back().shape() == shape, "HuggingFace tensor ", hf_name, " is ",
                        shape_str(hf.back().shape()), ", expected ", shape_str(shape));
  }
  return from_hf(r, std::move(hf));
}

std::vector<std::string> take_flags_from_hf(TrainConfig& cfg, const nlohmann::json& config, const std::string& dir) {
  const std::string source = (fs::path(dir) / "config.json").string();
  const gpt::GptConfig hf = gpt_config_from_hf(config, source);
  const nlohmann::json theirs = hf.architecture();
  // Ours: the model's settings, and the flags it leaves out as unused (--rotary-base without RoPE).
  nlohmann::json ours = cfg.to_json();
  ours.update(cfg.model.architecture());
  auto given = [&](const std::string& key) { return cfg.flags_given.count(key) > 0; };
  nlohmann::json take = nlohmann::json::object();
  std::vector<std::string> conflicts, notes;
  for (const auto& [key, value] : theirs.items()) {
    if (key == "group_query_attention" || key == "num_query_groups") continue;  // below: one fact, G
    if (!given(key)) take[key] = value;
    else if (ours.value(key, nlohmann::json()) == value) continue;
    else if (key == "seq_length" && hf.rope())  // RoPE has no table: any length runs
      notes.push_back("--load-hf: training at " + flag_setting(key, ours[key]) + ", config.json's " +
                      flag_setting(key, value));
    else
      conflicts.push_back(flag_setting(key, value) + " in config.json, " + flag_setting(key, ours[key]) + " given");
  }
  // Key/value heads: G = H is plain multi-head attention, with or without --group-query-attention.
  if (!given("group_query_attention") && !given("num_query_groups")) {
    take["group_query_attention"] = hf.group_query_attention;
    if (hf.group_query_attention) take["num_query_groups"] = hf.num_query_groups;
  } else {
    const int64_t heads = given("num_attention_heads") ? cfg.model.num_attention_heads : hf.num_attention_heads;
    const int64_t groups = cfg.model.group_query_attention ? cfg.model.num_query_groups : heads;
    if (groups != hf.kv_heads())
      conflicts.push_back(detail::concat(hf.kv_heads(), " key/value heads in config.json, ", groups, " given"));
  }
  TRIDENT_USAGE_CHECK(conflicts.empty(), "--load-hf ", dir, " holds a model with ", joined(conflicts, ", ", " and "),
                      ": leave the model flags out (they come from config.json) or give config.json's");
  std::vector<std::string> taken;
  for (const auto& [key, value] : take.items())
    if (value != ours.value(key, nlohmann::json())) taken.push_back(flag_setting(key, value));
  CLI::App app;
  add_train_flags(app, cfg);
  std::vector<std::string> args = flags_from_json(app, take, source);
  std::reverse(args.begin(), args.end());  // CLI11 takes a vector last-first
  app.parse(args);
  if (!taken.empty()) notes.insert(notes.begin(), "--load-hf: from " + source + ": " + joined(taken, ", ", ", "));
  return notes;
}

HfCheckpoint::HfCheckpoint(const std::string& dir) : dir_(dir) {
  TRIDENT_USAGE_CHECK(fs::is_directory(dir), "--load-hf ", dir, " is not a directory");
  const fs::path config = fs::path(dir) / "config.json";
  std::ifstream in(config);
  TRIDENT_USAGE_CHECK(in.good(), "--load-hf ", dir, " holds no config.json: give a transformers model directory");
  try {
    config_ = nlohmann::json::parse(in);
  } catch (const nlohmann::json::exception& e) {
    throw UsageError(config.string() + " is not valid JSON: " + e.what());
  }
  const fs::path single = fs::path(dir) / "model.safetensors", index = fs::path(dir) / "model.safetensors.index.json";
  std::set<std::string> files;
  if (fs::exists(single)) {
    files.insert(single.string());
  } else {
    TRIDENT_USAGE_CHECK(fs::exists(index), "--load-hf ", dir, " holds neither model.safetensors nor ",
                        "model.safetensors.index.json: trident reads safetensors weights (transformers' ",
                        "save_pretrained writes them)");
    try {
      const nlohmann::json map = nlohmann::json::parse(std::ifstream(index));
      for (const auto& [name, file] : map.at("weight_map").items())
        files.insert((fs::path(dir) / file.get<std::string>()).string());
    } catch (const nlohmann::json::exception& e) {
      throw UsageError(index.string() + " has no weight_map of file names: " + e.what());
    }
  }
  for (const std::string& f : files) files_.push_back(std::make_unique<checkpoint::SafetensorsFile>(f));
}

std::pair<const checkpoint::SafetensorsFile*, std::string> HfCheckpoint::locate(const gpt::GptConfig& cfg,
                                                                                const std::string& hf_name) const {
  // A base model (LlamaModel, GPT2Model) saves its names without the prefix.
  const std::string prefix = hf_model_of(cfg) == HfModel::llama ? "model." : "transformer.";
  bool prefixed = false;
  for (const auto& f : files_)
    for (const auto& [name, entry] : f->entries()) prefixed = prefixed || name.starts_with(prefix);
  const std::string in_file = !prefixed && hf_name.starts_with(prefix) ? hf_name.substr(prefix.size()) : hf_name;
  for (const auto& f : files_)
    if (f->entries().count(in_file)) return {f.get(), in_file};
  return {nullptr, in_file};
}

void HfCheckpoint::check_tensors(const gpt::GptConfig& cfg) const {
  std::vector<std::string> missing, misshaped, unreadable, unknown;
  std::set<std::pair<const checkpoint::SafetensorsFile*, std::string>> used;
  for (const auto& [name, shape] : hf_tensor_shapes(cfg)) {
    const auto where = locate(cfg, name);
    if (!where.first) {
      missing.push_back(name);
      continue;
    }
    used.insert(where);
    const checkpoint::SafetensorsFile::Entry& e = where.first->entries().at(where.second);
    if (e.shape != shape) misshaped.push_back(name + " " + shape_str(e.shape) + " (expected " + shape_str(shape) + ")");
    else if (e.dtype != "F32" && e.dtype != "BF16" && e.dtype != "F16") unreadable.push_back(name + " " + e.dtype);
  }
  for (const auto& f : files_)
    for (const auto& [name, entry] : f->entries()) {
      // HF's buffers, and a tied model's lm_head (transformers replaces it by the token table too).
      const bool buffer = name.ends_with(".attn.bias") || name.ends_with(".attn.masked_bias") ||
                          name.ends_with("rotary_emb.inv_freq") || (cfg.tied_output() && name == "lm_head.weight");
      if (!buffer && !used.count({f.get(), name})) unknown.push_back(name);
    }
  auto listed = [](const char* what, std::vector<std::string> names) {
    if (names.empty()) return std::vector<std::string>{};
    const size_t more = names.size() > 4 ? names.size() - 4 : 0;
    names.resize(names.size() - more);
    return std::vector<std::string>{std::string(what) + " " + joined(names, ", ", ", ") +
                                    (more ? detail::concat(" and ", more, " more") : "")};
  };
  std::vector<std::string> problems;
  for (auto [what, names] : {std::pair{"unknown tensors", &unknown}, std::pair{"missing tensors", &missing},
                             std::pair{"mis-shaped tensors", &misshaped}, std::pair{"tensors of a dtype trident does not read", &unreadable}})
    for (const std::string& p : listed(what, *names)) problems.push_back(p);
  TRIDENT_USAGE_CHECK(problems.empty(), "--load-hf ", dir_, " does not hold the model its config.json describes: ",
                      joined(problems, "; ", "; "));
}

Tensor HfCheckpoint::read(const gpt::GptConfig& cfg, const std::string& name) {
  return trident_tensor_from_hf(cfg, name, [&](const std::string& hf_name) {
    const auto [file, in_file] = locate(cfg, hf_name);
    TRIDENT_USAGE_CHECK(file != nullptr, "--load-hf ", dir_, " holds no tensor ", hf_name);
    Tensor t = file->read(in_file);
    bytes_read_ += int64_t(t.bytes());
    return t;
  });
}

void check_hf_export_dir(const std::string& dir) {
  const fs::path p = export_path(dir), parent = p.has_parent_path() ? p.parent_path() : fs::path(".");
  TRIDENT_USAGE_CHECK(fs::is_directory(parent) && ::access(parent.c_str(), W_OK) == 0, "cannot write --export-hf '",
                      dir, "': its parent directory ", parent.string(), " must exist and be writable (the export is ",
                      "written beside it first)");
  if (!fs::exists(p)) return;
  TRIDENT_USAGE_CHECK(fs::is_directory(p), "--export-hf ", dir, " is a file: give a directory");
  TRIDENT_USAGE_CHECK(fs::is_empty(p) || is_trident_export(p), "--export-hf ", dir,
                      " exists and holds something other than a previous trident export: give a new or empty directory");
}

void write_hf_export(const std::string& dir, const gpt::GptConfig& cfg, const checkpoint::TensorMap& params,
                     int64_t eod) {
  check_hf_export_dir(dir);  // again: the directory may have changed since the start
  const fs::path p = export_path(dir), tmp = p.string() + ".tmp";
  fs::remove_all(tmp);  // a crashed export's
  fs::create_directories(tmp);
  checkpoint::save_safetensors((tmp / "model.safetensors").string(), hf_tensors_from_trident(cfg, params, cfg.dtype),
                               kExportMetadata);
  {
    std::ofstream out(tmp / "config.json");
    out << hf_config_json(cfg, eod).dump(2) << "\n";
    TRIDENT_USAGE_CHECK(out.good(), "writing ", (tmp / "config.json").string(), " failed: is the disk full?");
  }
  replace_directory(tmp, p);
}

}  // namespace trident::launch
