#include "framework/data/text_corpus.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iterator>

#include "framework/core/error.h"

namespace trident::data {
namespace fs = std::filesystem;

TextCorpus TextCorpus::load(const std::string& path, size_t min_bytes) {
  TextCorpus corpus;
  std::error_code ec;
  TRIDENT_USAGE_CHECK(fs::exists(path, ec), "data path '", path,
                      "' does not exist: pass a text file or a directory of text files with --data-path");
  if (fs::is_directory(path, ec)) {
    for (const auto& entry : fs::directory_iterator(path)) {
      const std::string ext = entry.path().extension().string();
      if (entry.is_symlink() || !entry.is_regular_file() || ext == ".dat" || ext == ".u8") continue;
      corpus.files_.push_back(entry.path().string());
    }
    std::sort(corpus.files_.begin(), corpus.files_.end());
  } else {
    corpus.files_.push_back(path);
  }
  for (const std::string& file : corpus.files_) {
    std::ifstream in(file, std::ios::binary);
    TRIDENT_USAGE_CHECK(in.good(), "cannot read data file '", file, "': check its permissions");
    corpus.bytes_.insert(corpus.bytes_.end(), std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }
  TRIDENT_USAGE_CHECK(corpus.bytes_.size() >= min_bytes, "data path '", path, "' holds ", corpus.bytes_.size(),
                      " bytes but one training sequence needs ", min_bytes,
                      ": use a larger text or a shorter --seq-length");
  return corpus;
}

}  // namespace trident::data
