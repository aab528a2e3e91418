// Byte-level tokenizer: token = byte value, vocabulary 256. Any file is
// valid input and decoding is exact, which suits a reference trainer;
// decoding an id outside 0..255 is a UsageError naming it. Behind the
// Tokenizer interface as --tokenizer-type ByteTokenizer (tokenizer.h).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace trident::data {

struct ByteTokenizer {
  static constexpr int kVocabSize = 256;
  static std::vector<int32_t> encode(std::string_view text);
  static std::string decode(const std::vector<int32_t>& tokens);
};

}  // namespace trident::data
