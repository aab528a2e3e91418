#include "models/gpt/config.h"

#include <cmath>

#include "framework/core/error.h"

namespace trident::gpt {
namespace {

// The integer architecture settings, by flag name (with '_').
constexpr std::pair<const char*, int64_t GptConfig::*> kIntegers[] = {
    {"num_layers", &GptConfig::num_layers},
    {"hidden_size", &GptConfig::hidden_size},
    {"num_attention_heads", &GptConfig::num_attention_heads},
    {"seq_length", &GptConfig::seq_length},
    {"vocab_size", &GptConfig::vocab_size},
    {"num_query_groups", &GptConfig::num_query_groups},
};
constexpr std::pair<const char*, bool GptConfig::*> kBooleans[] = {
    {"swiglu", &GptConfig::swiglu},
    {"group_query_attention", &GptConfig::group_query_attention},
    {"untie_embeddings_and_output_weights", &GptConfig::untie_embeddings_and_output_weights},
    {"disable_bias_linear", &GptConfig::disable_bias_linear},
};
constexpr std::pair<const char*, std::string GptConfig::*> kStrings[] = {
    {"position_embedding_type", &GptConfig::position_embedding_type},
    {"normalization", &GptConfig::normalization},
};
constexpr std::pair<const char*, float GptConfig::*> kFloats[] = {
    {"rotary_base", &GptConfig::rotary_base},
    {"norm_epsilon", &GptConfig::norm_epsilon},
};

std::string flag_name(const std::string& key) {
  std::string flag = "--" + key;
  for (char& ch : flag)
    if (ch == '_') ch = '-';
  return flag;
}

// "--swiglu", "--num-layers 4", "--normalization RMSNorm": one setting as a flag.
std::string as_flag(const std::string& key, const nlohmann::json& v) {
  if (v.is_boolean()) return v.get<bool>() ? flag_name(key) : "no " + flag_name(key);
  if (v.is_string()) return flag_name(key) + " " + v.get<std::string>();
  if (v.is_number_float()) return detail::concat(flag_name(key), " ", v.get<float>());
  return flag_name(key) + " " + v.dump();
}

}  // namespace

float GptConfig::output_init_std() const { return init_method_std / std::sqrt(2.f * float(num_layers)); }

int64_t GptConfig::ffn_hidden() const {
  if (ffn_hidden_size > 0) return ffn_hidden_size;
  if (swiglu) return 8 * hidden_size / 3 / 64 * 64;  // Megatron's default for SwiGLU: ≈ the 4h MLP's parameters
  return 4 * hidden_size;
}

nlohmann::json GptConfig::architecture() const {
  nlohmann::json j;
  for (const auto& [key, field] : kIntegers) j[key] = this->*field;
  for (const auto& [key, field] : kBooleans) j[key] = this->*field;
  for (const auto& [key, field] : kStrings) j[key] = this->*field;
  for (const auto& [key, field] : kFloats) j[key] = this->*field;
  j["ffn_hidden_size"] = ffn_hidden();
  // Only what matters: groups without GQA, a rotary base without RoPE, change nothing.
  if (!group_query_attention) j.erase("num_query_groups");
  if (!rope()) j.erase("rotary_base");
  return j;
}

nlohmann::json GptConfig::to_json() const {
  nlohmann::json j = architecture();
  j["dtype"] = std::string(dtype_name(dtype));
  return j;
}

GptConfig GptConfig::from_json(const nlohmann::json& j) {
  GptConfig c;  // keys a checkpoint lacks were GPT-2's (it predates them)
  for (const auto& [key, field] : kIntegers) c.*field = j.value(key, c.*field);
  for (const auto& [key, field] : kBooleans) c.*field = j.value(key, c.*field);
  for (const auto& [key, field] : kStrings) c.*field = j.value(key, c.*field);
  for (const auto& [key, field] : kFloats) c.*field = j.value(key, c.*field);
  c.ffn_hidden_size = j.value("ffn_hidden_size", int64_t(0));
  if (j.contains("dtype")) c.dtype = dtype_from_name(j.at("dtype").get<std::string>());
  return c;
}

std::vector<std::pair<std::string, std::string>> GptConfig::architecture_differences(const GptConfig& saved) const {
  std::vector<std::pair<std::string, std::string>> out;
  const nlohmann::json theirs = saved.architecture(), ours = architecture();
  for (const auto& [key, value] : ours.items()) {
    const nlohmann::json their = theirs.value(key, nlohmann::json());
    if (their != value)
      out.emplace_back(their.is_null() ? "no " + flag_name(key) : as_flag(key, their), as_flag(key, value));
  }
  for (const auto& [key, value] : theirs.items())
    if (!ours.contains(key)) out.emplace_back(as_flag(key, value), "no " + flag_name(key));
  return out;
}

Recompute recompute_from_name(const std::string& name) {
  if (name == "none" || name.empty()) return Recompute::none;
  if (name == "selective") return Recompute::selective;
  if (name == "full") return Recompute::full;
  throw UsageError("unknown --recompute-granularity '" + name + "': use none, selective or full");
}

int64_t GptConfig::num_parameters() const {
  const int64_t h = hidden_size, l = num_layers, F = ffn_hidden(), fc1_rows = swiglu ? 2 * F : F;
  const int64_t norm = rms_norm() ? h : 2 * h;  // weight, and LayerNorm's bias
  const int64_t bias = bias_linear() ? qkv_rows() + h + fc1_rows + h : 0;
  const int64_t per_layer = qkv_rows() * h + h * h + fc1_rows * h + h * F + bias + 2 * norm;
  const int64_t embeddings = vocab_size * h * (tied_output() ? 1 : 2) + (rope() ? 0 : seq_length * h);
  return l * per_layer + embeddings + norm;
}

double GptConfig::flops_per_iteration(int64_t batch) const {
  const double tokens = double(batch) * double(seq_length), h = double(hidden_size), F = double(ffn_hidden());
  // Forward multiply-adds per token and layer: the four projections and the two attention products.
  const double per_layer = double(qkv_rows()) * h + h * h + (swiglu ? 3.0 : 2.0) * F * h + 2.0 * double(seq_length) * h;
  const double forward = 2.0 * tokens * (double(num_layers) * per_layer + h * double(vocab_size));
  return 3.0 * forward;  // backward: twice the forward
}

int64_t GptConfig::padded_vocab_size(int tp) const {
  const int64_t multiple = make_vocab_size_divisible_by * tp;
  return (vocab_size + multiple - 1) / multiple * multiple;
}

void GptConfig::validate(int tp) const {
  TRIDENT_USAGE_CHECK(num_layers > 0, "--num-layers must be positive, got ", num_layers);
  TRIDENT_USAGE_CHECK(hidden_size > 0, "--hidden-size must be positive, got ", hidden_size);
  TRIDENT_USAGE_CHECK(num_attention_heads > 0, "--num-attention-heads must be positive, got ",
                      num_attention_heads);
  TRIDENT_USAGE_CHECK(hidden_size % num_attention_heads == 0, "--hidden-size ", hidden_size,
                      " is not divisible by --num-attention-heads ", num_attention_heads,
                      ": choose a head count that divides the hidden size");
  TRIDENT_USAGE_CHECK(seq_length > 0, "--seq-length must be positive, got ", seq_length);
  TRIDENT_USAGE_CHECK(vocab_size > 0, "vocabulary size must be positive, got ", vocab_size);
  TRIDENT_USAGE_CHECK(make_vocab_size_divisible_by > 0, "--make-vocab-size-divisible-by must be positive, got ",
                      make_vocab_size_divisible_by);
  TRIDENT_USAGE_CHECK(num_attention_heads % tp == 0, "--num-attention-heads ", num_attention_heads,
                      " is not divisible by --tensor-model-parallel-size ", tp,
                      ": each tensor-parallel rank needs whole heads");
  TRIDENT_USAGE_CHECK(position_embedding_type == "learned_absolute" || position_embedding_type == "rope",
                      "unknown --position-embedding-type '", position_embedding_type, "': use learned_absolute or rope");
  TRIDENT_USAGE_CHECK(normalization == "LayerNorm" || normalization == "RMSNorm", "unknown --normalization '",
                      normalization, "': use LayerNorm or RMSNorm");
  TRIDENT_USAGE_CHECK(norm_epsilon > 0.f, "--norm-epsilon must be positive, got ", norm_epsilon);
  TRIDENT_USAGE_CHECK(rotary_base > 0.f, "--rotary-base must be positive, got ", rotary_base);
  TRIDENT_USAGE_CHECK(!rope() || head_dim() % 2 == 0, "--position-embedding-type rope rotates pairs of dimensions: ",
                      "the head size --hidden-size / --num-attention-heads = ", head_dim(), " must be even");
  TRIDENT_USAGE_CHECK(ffn_hidden_size >= 0, "--ffn-hidden-size must not be negative (0: the default), got ", ffn_hidden_size);
  TRIDENT_USAGE_CHECK(ffn_hidden() > 0, "--ffn-hidden-size resolves to 0 for --hidden-size ", hidden_size,
                      " with --swiglu: give --ffn-hidden-size");
  TRIDENT_USAGE_CHECK(ffn_hidden() % tp == 0, "--ffn-hidden-size ", ffn_hidden(),
                      " is not divisible by --tensor-model-parallel-size ", tp, ": choose a multiple of ", tp);
  if (group_query_attention) {
    TRIDENT_USAGE_CHECK(num_query_groups > 0 && num_attention_heads % num_query_groups == 0, "--num-query-groups ",
                        num_query_groups, " must divide --num-attention-heads ", num_attention_heads,
                        ": each key/value head serves the same number of query heads");
    TRIDENT_USAGE_CHECK(num_query_groups % tp == 0, "--num-query-groups ", num_query_groups,
                        " is not divisible by --tensor-model-parallel-size ", tp,
                        ": each tensor-parallel rank needs whole key/value groups; choose --tp dividing ",
                        num_query_groups, " or more groups");
  }
}

std::string GptConfig::summary() const {
  const bool llama = rope() && rms_norm() && swiglu && !tied_output() && !bias_linear();
  std::string pieces;
  if (!llama && rope()) pieces += ", RoPE";
  if (!llama && rms_norm()) pieces += ", RMSNorm";
  if (!llama && swiglu) pieces += ", SwiGLU";
  if (!llama && !tied_output()) pieces += ", untied output";
  if (!llama && !bias_linear()) pieces += ", no linear biases";
  const std::string groups =
      group_query_attention ? detail::concat(" in ", kv_heads(), kv_heads() == 1 ? " KV group" : " KV groups") : "";
  return detail::concat(llama ? "Llama" : "GPT", ": ", num_layers, " layers, hidden ", hidden_size, ", ",
                        num_attention_heads, " heads", groups,
                        ", FFN ", ffn_hidden(), ", seq ", seq_length, ", vocab ", vocab_size, pieces, ", ",
                        num_parameters(), " parameters, ", dtype_name(dtype));
}

}  // namespace trident::gpt
