#include "framework/data/text_corpus.h"

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>

#include "framework/core/error.h"

namespace trident::data {
namespace fs = std::filesystem;

namespace {

// The end of the training and of the validation share of "a,b,c" (Megatron's
// --split: weights, normalised), as fractions of the data.
std::pair<double, double> split_ends(const std::string& split) {
  double w[3] = {0, 0, 0};
  char extra;
  const int n = std::sscanf(split.c_str(), "%lf,%lf,%lf%c", &w[0], &w[1], &w[2], &extra);
  TRIDENT_USAGE_CHECK((n == 1 || n == 2 || n == 3) && w[0] > 0 && w[1] >= 0 && w[2] >= 0, "bad --split '", split,
                      "': give train,validation,test weights such as 98,2,0");
  const double sum = w[0] + w[1] + w[2];
  return {w[0] / sum, (w[0] + w[1]) / sum};
}

// The prefix of the Megatron indexed dataset `path` names, or "" for text.
// A path ending in .bin or .idx means its prefix; a directory holding an
// .idx is refused, naming the prefix to give: binary data is never text.
std::string indexed_prefix(const std::string& path, const char* flag) {
  std::error_code ec;
  if (!fs::exists(path, ec) && fs::exists(path + ".idx", ec)) return path;
  const fs::path p(path);
  if (p.extension() == ".bin" || p.extension() == ".idx") {
    const std::string prefix = (p.parent_path() / p.stem()).string();
    for (const char* ext : {".bin", ".idx"})
      TRIDENT_USAGE_CHECK(fs::exists(prefix + ext, ec), flag, " ", path, " names half of a Megatron indexed dataset, ",
                          "but ", prefix, ext, " is missing: give the prefix of a complete .bin/.idx pair");
    return prefix;
  }
  if (fs::is_directory(p, ec)) {
    std::string found;
    for (const auto& entry : fs::directory_iterator(p, ec))
      if (entry.path().extension() == ".idx") found += (found.empty() ? "" : ", ") + (p / entry.path().stem()).string();
    TRIDENT_USAGE_CHECK(found.empty(), flag, " ", path, " is a directory holding the Megatron indexed dataset(s) ",
                        found, ": give the prefix of one, e.g. ", flag, " ", found.substr(0, found.find(',')));
  }
  return "";
}

}  // namespace

std::vector<std::string> TextCorpus::text_files(const std::string& path) {
  std::error_code ec;
  if (!fs::is_directory(path, ec)) return {path};
  std::vector<std::string> files;
  for (const auto& entry : fs::directory_iterator(path)) {
    const std::string ext = entry.path().extension().string();
    if (entry.is_symlink() || !entry.is_regular_file() || ext == ".dat" || ext == ".u8") continue;
    files.push_back(entry.path().string());
  }
  std::sort(files.begin(), files.end());
  return files;
}

TokenView TextCorpus::tokens() const {
  return indexed_ ? indexed_->tokens() : TokenView{bytes_.data(), int64_t(bytes_.size()), 1};
}

TextCorpus TextCorpus::load(const std::string& path, size_t min_bytes, int64_t vocab_size, const std::string& split,
                            const char* flag) {
  TextCorpus corpus;
  std::error_code ec;
  const auto [train_share, valid_share] = split_ends(split);
  if (const std::string prefix = indexed_prefix(path, flag); !prefix.empty()) {
    const std::string& path = prefix;  // the messages below name the prefix
    corpus.indexed_ = IndexedDataset::open(path);
    corpus.files_ = {path + ".bin", path + ".idx"};
    const TokenView all = corpus.tokens();
    // Every token id must be an embedding row: one pass over the mapped tokens.
    int32_t largest = 0;
    for (int64_t i = 0; i < all.size; ++i) largest = std::max(largest, all.at(i));
    TRIDENT_USAGE_CHECK(largest < vocab_size, path, ".bin holds token id ", largest, " but --vocab-size is ",
                        vocab_size, ": give the vocabulary size of the tokenizer that made it");
    const int64_t docs = corpus.indexed_->num_documents();
    corpus.train_end_ = corpus.indexed_->document_start(int64_t(double(docs) * train_share + 0.5));
    corpus.valid_end_ = corpus.indexed_->document_start(int64_t(double(docs) * valid_share + 0.5));
    TRIDENT_USAGE_CHECK(corpus.train_end_ >= int64_t(min_bytes), path, ": the training share (--split ", split,
                        ") holds ", corpus.train_end_, " tokens but one training sequence needs ", min_bytes);
    return corpus;
  }
  TRIDENT_USAGE_CHECK(fs::exists(path, ec), "data path '", path,
                      "' does not exist: pass a text file, a directory of text files, or the prefix of a Megatron "
                      ".bin/.idx pair with ", flag);
  TRIDENT_USAGE_CHECK(vocab_size >= 256, "text data is read as bytes: --vocab-size must be at least 256, got ",
                      vocab_size);
  corpus.files_ = text_files(path);
  for (const std::string& file : corpus.files_) {
    std::ifstream in(file, std::ios::binary);
    TRIDENT_USAGE_CHECK(in.good(), "cannot read data file '", file, "': check its permissions");
    corpus.bytes_.insert(corpus.bytes_.end(), std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }
  corpus.train_end_ = int64_t(double(corpus.bytes_.size()) * train_share);
  corpus.valid_end_ = int64_t(double(corpus.bytes_.size()) * valid_share);
  TRIDENT_USAGE_CHECK(corpus.bytes_.size() >= min_bytes, "data path '", path, "' holds ", corpus.bytes_.size(),
                      " bytes but one training sequence needs ", min_bytes,
                      ": use a larger text or a shorter --seq-length");
  TRIDENT_USAGE_CHECK(corpus.train_end_ >= int64_t(min_bytes), "data path '", path, "': the training share (--split ",
                      split, ") holds ", corpus.train_end_, " bytes but one training sequence needs ", min_bytes);
  return corpus;
}

}  // namespace trident::data
