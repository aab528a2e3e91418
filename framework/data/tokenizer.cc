#include "framework/data/tokenizer.h"

#include "framework/core/error.h"
#include "framework/data/byte_tokenizer.h"
#include "framework/data/gpt2_bpe_tokenizer.h"

namespace trident::data {
namespace {

// ByteTokenizer's static functions behind the interface.
class BytesAsTokens final : public Tokenizer {
 public:
  std::vector<int32_t> encode(std::string_view text) const override { return ByteTokenizer::encode(text); }
  std::string decode(const std::vector<int32_t>& ids) const override { return ByteTokenizer::decode(ids); }
  int64_t vocab_size() const override { return ByteTokenizer::kVocabSize; }
  int32_t eod() const override { return -1; }
  nlohmann::json describe() const override {
    return {{"type", "ByteTokenizer"}, {"vocab_file", ""}, {"merge_file", ""}};
  }
};

}  // namespace

Tokenizer::~Tokenizer() = default;

std::unique_ptr<Tokenizer> make_tokenizer(const std::string& type, const std::string& vocab_file,
                                          const std::string& merge_file) {
  if (type == "ByteTokenizer") return std::make_unique<BytesAsTokens>();
  if (type == "GPT2BPETokenizer") return std::make_unique<Gpt2BpeTokenizer>(vocab_file, merge_file);
  throw UsageError("unknown --tokenizer-type '" + type + "': choose ByteTokenizer or GPT2BPETokenizer");
}

}  // namespace trident::data
