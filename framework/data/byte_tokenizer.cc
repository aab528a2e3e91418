#include "framework/data/byte_tokenizer.h"

#include "framework/core/error.h"

namespace trident::data {

std::vector<int32_t> ByteTokenizer::encode(std::string_view text) {
  std::vector<int32_t> out(text.size());
  for (size_t i = 0; i < text.size(); ++i) out[i] = int32_t(static_cast<unsigned char>(text[i]));
  return out;
}

std::string ByteTokenizer::decode(const std::vector<int32_t>& tokens) {
  std::string out(tokens.size(), '\0');
  for (size_t i = 0; i < tokens.size(); ++i) {
    TRIDENT_USAGE_CHECK(tokens[i] >= 0 && tokens[i] < kVocabSize, "token id ", tokens[i],
                        " is outside the byte tokenizer's vocabulary (0..255)");
    out[i] = char(tokens[i]);
  }
  return out;
}

}  // namespace trident::data
