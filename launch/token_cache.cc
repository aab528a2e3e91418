#include "launch/token_cache.h"

#include <filesystem>
#include <fstream>
#include <iterator>

#include "framework/core/error.h"
#include "framework/data/indexed_dataset_writer.h"
#include "framework/data/text_corpus.h"

namespace trident::launch {
namespace fs = std::filesystem;
namespace {

// What identifies a file's content cheaply: its path, size and modification time.
std::string file_identity(const std::string& path) {
  std::error_code ec;
  const auto size = fs::file_size(path, ec);
  const auto time = fs::last_write_time(path, ec).time_since_epoch().count();
  return path + ":" + std::to_string(ec ? 0 : size) + ":" + std::to_string(ec ? 0 : time) + ";";
}

std::vector<std::string> text_files(const std::string& text_path) {
  // The same files, in the same order, as training on the bytes would read.
  TRIDENT_USAGE_CHECK(fs::exists(text_path), "data path '", text_path, "' does not exist: pass a text file, a ",
                      "directory of text files, or the prefix of a Megatron .bin/.idx pair with --data-path");
  return data::TextCorpus::text_files(text_path);
}

// Documents of about kDocumentBytes, cut after a newline, so that --split can
// hold out a share of even one file (as it holds out a share of its bytes).
constexpr size_t kDocumentBytes = 4096;

}  // namespace

std::string token_cache_prefix(const std::string& text_path, const data::Tokenizer& tokenizer,
                               const std::string& cache_dir) {
  std::string identity = tokenizer.describe().dump();
  for (const char* key : {"vocab_file", "merge_file"})
    if (const std::string f = tokenizer.describe().value(key, ""); !f.empty()) identity += file_identity(f);
  for (const std::string& f : text_files(text_path)) identity += file_identity(fs::absolute(f).string());
  char hash[17];
  std::snprintf(hash, sizeof(hash), "%016zx", std::hash<std::string>{}(identity));
  const std::string stem = fs::path(text_path).filename().empty() ? "data" : fs::path(text_path).filename().string();
  return (fs::path(cache_dir) / (stem + "-" + hash + "_text_document")).string();
}

bool build_token_cache(const std::string& text_path, const data::Tokenizer& tokenizer, const std::string& prefix,
                       int64_t vocab_size) {
  std::error_code ec;
  if (fs::exists(prefix + ".bin", ec) && fs::exists(prefix + ".idx", ec)) return false;
  fs::create_directories(fs::path(prefix).parent_path(), ec);
  TRIDENT_USAGE_CHECK(!ec, "cannot make the token cache directory ", fs::path(prefix).parent_path().string(), " (",
                      ec.message(), "): give a writable --data-cache-path");
  data::IndexedDatasetWriter writer(prefix, vocab_size);
  for (const std::string& file : text_files(text_path)) {
    std::ifstream in(file, std::ios::binary);
    const std::string text{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
    for (size_t begin = 0; begin < text.size();) {
      const size_t cut = text.find('\n', std::min(text.size(), begin + kDocumentBytes));
      const size_t end = cut == std::string::npos ? text.size() : cut + 1;
      std::vector<int32_t> ids = tokenizer.encode(std::string_view(text).substr(begin, end - begin));
      // Megatron's --append-eod after each file: the files stay apart.
      if (end == text.size() && tokenizer.eod() >= 0) ids.push_back(tokenizer.eod());
      writer.add_document(ids);
      begin = end;
    }
  }
  writer.finish();
  return true;
}

}  // namespace trident::launch
