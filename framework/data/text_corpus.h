// TextCorpus: the training data as one token sequence. `path` is
//  - a text file, or a directory whose regular files are read in name order
//    (how Debian's fortunes package ships: /usr/share/games/fortunes holds
//    one text file per topic beside its .dat indexes and .u8 links, which
//    are skipped): tokens are bytes (vocabulary 256);
//  - or the prefix of a Megatron-LM indexed dataset (PREFIX.bin and
//    PREFIX.idx; PREFIX.bin or PREFIX.idx mean the same): token ids of any
//    vocabulary, memory-mapped. A directory holding an .idx is refused:
//    binary data is never read as text.
// `split` ("98,2,0", Megatron's --split) keeps the first share of the data
// (documents, or bytes of text) for training and the second for
// validation; the third (test) is held out.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "framework/data/indexed_dataset.h"
#include "framework/data/token_view.h"

namespace trident::data {

class TextCorpus {
 public:
  // Throws UsageError naming the path when it is missing, unreadable,
  // malformed, holds a token id ≥ vocab_size, or its training share holds
  // fewer than `min_tokens` tokens.
  // `flag` is the one a user fixes (--data-path, --valid-data-path).
  static TextCorpus load(const std::string& path, size_t min_tokens, int64_t vocab_size = 256,
                         const std::string& split = "100,0,0", const char* flag = "--data-path");

  // The files a text path stands for: itself, or a directory's regular files
  // in name order without .dat indexes and .u8 links.
  static std::vector<std::string> text_files(const std::string& path);

  const std::vector<uint8_t>& bytes() const { return bytes_; }  // text only
  // All tokens, and the training share.
  TokenView tokens() const;
  TokenView train_tokens() const { return tokens().slice(0, train_end_); }
  TokenView valid_tokens() const { return tokens().slice(train_end_, valid_end_); }
  size_t size() const { return size_t(tokens().size); }
  const std::vector<std::string>& files() const { return files_; }
  bool indexed() const { return indexed_ != nullptr; }

 private:
  std::vector<uint8_t> bytes_;
  std::vector<std::string> files_;
  std::shared_ptr<IndexedDataset> indexed_;
  int64_t train_end_ = 0;  // tokens [0, train_end_) are for training,
  int64_t valid_end_ = 0;  // [train_end_, valid_end_) for validation
};

}  // namespace trident::data
