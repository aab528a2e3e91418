#include "models/gpt/config.h"

#include <cmath>

#include "framework/core/error.h"

namespace trident::gpt {
namespace {

// The architecture, by flag name (with '_'): what a checkpoint's weights fix.
// The one list that serialisation and the load-time comparison read.
constexpr std::pair<const char*, int64_t GptConfig::*> kArchitecture[] = {
    {"num_layers", &GptConfig::num_layers},
    {"hidden_size", &GptConfig::hidden_size},
    {"num_attention_heads", &GptConfig::num_attention_heads},
    {"seq_length", &GptConfig::seq_length},
    {"vocab_size", &GptConfig::vocab_size},
};

std::string flag_name(const char* key) {
  std::string flag = std::string("--") + key;
  for (char& ch : flag)
    if (ch == '_') ch = '-';
  return flag;
}

}  // namespace

float GptConfig::output_init_std() const { return init_method_std / std::sqrt(2.f * float(num_layers)); }

nlohmann::json GptConfig::to_json() const {
  nlohmann::json j;
  for (const auto& [key, field] : kArchitecture) j[key] = this->*field;
  j["dtype"] = std::string(dtype_name(dtype));
  return j;
}

GptConfig GptConfig::from_json(const nlohmann::json& j) {
  GptConfig c;
  for (const auto& [key, field] : kArchitecture) c.*field = j.value(key, c.*field);
  if (j.contains("dtype")) c.dtype = dtype_from_name(j.at("dtype").get<std::string>());
  return c;
}

std::vector<std::pair<std::string, std::string>> GptConfig::architecture_differences(const GptConfig& saved) const {
  std::vector<std::pair<std::string, std::string>> out;
  for (const auto& [key, field] : kArchitecture)
    if (saved.*field != this->*field)
      out.emplace_back(detail::concat(flag_name(key), " ", saved.*field), detail::concat(flag_name(key), " ", this->*field));
  return out;
}

Recompute recompute_from_name(const std::string& name) {
  if (name == "none" || name.empty()) return Recompute::none;
  if (name == "selective") return Recompute::selective;
  if (name == "full") return Recompute::full;
  throw UsageError("unknown --recompute-granularity '" + name + "': use none, selective or full");
}

int64_t GptConfig::num_parameters() const {
  const int64_t h = hidden_size, l = num_layers;
  const int64_t per_layer = 12 * h * h + 13 * h;  // qkv, proj, fc1, fc2 weights and biases, two norms
  return l * per_layer + (vocab_size + seq_length) * h + 2 * h;
}

double GptConfig::flops_per_iteration(int64_t batch) const {
  const double B = double(batch), s = double(seq_length), l = double(num_layers), h = double(hidden_size),
               V = double(vocab_size);
  return 72.0 * B * s * l * h * h * (1.0 + s / (6.0 * h) + V / (12.0 * l * h));
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
}

std::string GptConfig::summary() const {
  return detail::concat("GPT: ", num_layers, " layers, hidden ", hidden_size, ", ", num_attention_heads,
                        " heads, seq ", seq_length, ", vocab ", vocab_size, ", ", num_parameters(),
                        " parameters, ", dtype_name(dtype));
}

}  // namespace trident::gpt
