// Text <-> token ids, behind one interface, chosen by Megatron's
// --tokenizer-type: "ByteTokenizer" (ids are bytes, vocabulary 256, no
// end-of-document token) or "GPT2BPETokenizer" (GPT-2's byte-level BPE from
// --vocab-file vocab.json and --merge-file merges.txt; gpt2_bpe_tokenizer.h).
// describe() is what a checkpoint records to build the same tokenizer again
// with make_tokenizer.
#pragma once

#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

namespace trident::data {

class Tokenizer {
 public:
  virtual ~Tokenizer();
  virtual std::vector<int32_t> encode(std::string_view text) const = 0;
  // UsageError naming the id for an id outside the vocabulary.
  virtual std::string decode(const std::vector<int32_t>& ids) const = 0;
  virtual int64_t vocab_size() const = 0;
  // The end-of-document id (--append-eod), -1 if the tokenizer has none.
  virtual int32_t eod() const = 0;
  // {"type": ..., "vocab_file": ..., "merge_file": ...}: make_tokenizer's arguments
  // (files as absolute paths, "" where the type needs none).
  virtual nlohmann::json describe() const = 0;
};

// The tokenizer of --tokenizer-type `type`; UsageError (one line, naming the
// file and its flag) for an unknown type or a missing or malformed file.
std::unique_ptr<Tokenizer> make_tokenizer(const std::string& type, const std::string& vocab_file,
                                          const std::string& merge_file);

}  // namespace trident::data
