// trident-preprocess: text -> a Megatron indexed dataset (.bin + .idx) that
// trident-train (and Megatron-LM) reads with --data-path, as Megatron-LM's
// tools/preprocess_data.py makes it: one document per line of a .jsonl/.json
// file (the string under each --json-keys key), per text file, or per file
// of a directory (name order; .dat/.u8 index files and symlinks skipped,
// as trident-train reads a directory). Each document is tokenized whole into
// one sequence, --append-eod adds the end-of-document token, and key K
// goes to OUTPUT-PREFIX_K_document.{bin,idx}.
//
// Exit status: 0 done; 2 bad flags or input (one line, nothing written); 1 a failure.
#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <exception>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <thread>

#include "framework/core/error.h"
#include "framework/data/indexed_dataset_writer.h"
#include "framework/data/tokenizer.h"

namespace {

using namespace trident;
namespace fs = std::filesystem;

struct PreprocessConfig {
  std::string input;
  std::string output_prefix;
  std::vector<std::string> json_keys{"text"};
  std::string tokenizer_type;
  std::string vocab_file, merge_file;
  bool append_eod = false;
  int workers = 1;
  int64_t log_interval = 10000;  // documents between progress lines (0: none)
};

// A document: its text under each --json-keys key, in that order.
using Document = std::vector<std::string>;

// The documents of --input, one at a time.
class DocumentReader {
 public:
  DocumentReader(const std::string& input, const std::vector<std::string>& keys) : input_(input), keys_(keys) {
    std::error_code ec;
    TRIDENT_USAGE_CHECK(fs::exists(input, ec), "--input ", input,
                        " does not exist: give a .jsonl file, a text file or a directory of text files");
    const std::string ext = fs::path(input).extension().string();
    json_ = !fs::is_directory(input, ec) && (ext == ".jsonl" || ext == ".json");
    TRIDENT_USAGE_CHECK(json_ || keys.size() == 1, "--json-keys names ", keys.size(), " keys but --input ", input,
                        " is text, not JSON lines (.jsonl or .json): give one key");
    if (fs::is_directory(input, ec)) {
      for (const auto& entry : fs::directory_iterator(input, ec)) {
        const std::string e = entry.path().extension().string();
        if (!entry.is_symlink() && entry.is_regular_file() && e != ".dat" && e != ".u8") files_.push_back(entry.path());
      }
      std::sort(files_.begin(), files_.end());
      TRIDENT_USAGE_CHECK(!files_.empty(), "--input ", input, " is a directory without text files");
    } else {
      files_.push_back(input);
    }
    if (json_) lines_.open(input, std::ios::binary);
  }

  // The next document into `doc`; false at the end.
  bool next(Document& doc) { return json_ ? next_line(doc) : next_file(doc); }
  const std::vector<std::string>& keys() const { return keys_; }

 private:
  bool next_file(Document& doc) {
    if (next_file_ == files_.size()) return false;
    const fs::path& file = files_[next_file_++];
    std::ifstream in(file, std::ios::binary);
    TRIDENT_USAGE_CHECK(in.good(), "cannot read ", file.string(), " (of --input ", input_, "): check its permissions");
    doc.assign(1, std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()));
    return true;
  }

  bool next_line(Document& doc) {
    TRIDENT_USAGE_CHECK(lines_.good() || lines_.eof(), "cannot read --input ", input_);
    std::string line;
    while (std::getline(lines_, line)) {
      ++line_number_;
      if (line.find_first_not_of(" \t\r") == std::string::npos) continue;  // blank lines are not documents
      nlohmann::json json;
      try {
        json = nlohmann::json::parse(line);
      } catch (const nlohmann::json::exception& e) {
        throw UsageError("--input " + input_ + " line " + std::to_string(line_number_) + " is not JSON: " + e.what());
      }
      doc.clear();
      for (const std::string& key : keys_) {
        TRIDENT_USAGE_CHECK(json.is_object() && json.contains(key) && json[key].is_string(), "--input ", input_,
                            " line ", line_number_, " has no string under \"", key,
                            "\": each line must be a JSON object such as {\"", key, "\": \"...\"} (--json-keys)");
        doc.push_back(json[key].get<std::string>());
      }
      return true;
    }
    return false;
  }

  std::string input_;
  std::vector<std::string> keys_;
  bool json_ = false;
  std::vector<fs::path> files_;  // text files, in name order
  size_t next_file_ = 0;
  std::ifstream lines_;          // JSON lines
  int64_t line_number_ = 0;
};

// The ids of every text of every document, tokenized by `workers` threads.
std::vector<std::vector<std::vector<int32_t>>> encode(const data::Tokenizer& tokenizer,
                                                     const std::vector<Document>& docs, bool append_eod, int workers) {
  std::vector<std::vector<std::vector<int32_t>>> ids(docs.size());
  std::vector<std::exception_ptr> errors(static_cast<size_t>(workers));
  auto work = [&](int worker) {
    try {
      for (size_t d = size_t(worker); d < docs.size(); d += size_t(workers))
        for (const std::string& text : docs[d]) {
          ids[d].push_back(tokenizer.encode(text));
          // As Megatron: a document without tokens gets no end-of-document token either.
          if (append_eod && !ids[d].back().empty()) ids[d].back().push_back(tokenizer.eod());
        }
    } catch (...) {
      errors[size_t(worker)] = std::current_exception();
    }
  };
  std::vector<std::thread> threads;
  for (int w = 1; w < workers; ++w) threads.emplace_back(work, w);
  work(0);
  for (std::thread& t : threads) t.join();
  for (const std::exception_ptr& e : errors)
    if (e) std::rethrow_exception(e);
  return ids;
}

int run(const PreprocessConfig& c) {
  const auto start = std::chrono::steady_clock::now();
  TRIDENT_USAGE_CHECK(!c.input.empty() && !c.output_prefix.empty(), "--input and --output-prefix are required");
  TRIDENT_USAGE_CHECK(!c.tokenizer_type.empty(), "--tokenizer-type is required: GPT2BPETokenizer (with --vocab-file "
                      "and --merge-file) or ByteTokenizer");
  TRIDENT_USAGE_CHECK(c.workers >= 1, "--workers must be at least 1, got ", c.workers);
  std::vector<std::string> keys = c.json_keys;
  std::sort(keys.begin(), keys.end());
  TRIDENT_USAGE_CHECK(!keys.empty() && std::adjacent_find(keys.begin(), keys.end()) == keys.end(),
                      "--json-keys must name one or more different keys");
  const std::unique_ptr<data::Tokenizer> tokenizer = data::make_tokenizer(c.tokenizer_type, c.vocab_file, c.merge_file);
  TRIDENT_USAGE_CHECK(!c.append_eod || tokenizer->eod() >= 0, "--append-eod: --tokenizer-type ", c.tokenizer_type,
                      " has no end-of-document token", c.tokenizer_type == "GPT2BPETokenizer" ?
                      " (--vocab-file has no \"<|endoftext|>\")" : "");
  DocumentReader reader(c.input, c.json_keys);
  std::vector<std::unique_ptr<data::IndexedDatasetWriter>> writers;  // one per key
  for (const std::string& key : c.json_keys)
    writers.push_back(std::make_unique<data::IndexedDatasetWriter>(c.output_prefix + "_" + key + "_document",
                                                                   tokenizer->vocab_size()));
  int64_t documents = 0;
  std::vector<int64_t> bytes(writers.size());  // of text, per key
  const auto seconds = [&] { return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count(); };
  for (bool more = true; more;) {
    std::vector<Document> batch(size_t(64 * c.workers));
    size_t n = 0;
    for (; n < batch.size() && (more = reader.next(batch[n])); ++n)
      for (size_t k = 0; k < bytes.size(); ++k) bytes[k] += int64_t(batch[n][k].size());
    batch.resize(n);
    const auto ids = encode(*tokenizer, batch, c.append_eod, c.workers);
    for (const auto& doc : ids)
      for (size_t k = 0; k < doc.size(); ++k) writers[k]->add_document(doc[k]);
    const int64_t before = documents;
    documents += int64_t(n);
    if (c.log_interval > 0 && documents / c.log_interval > before / c.log_interval)
      std::printf("processed %lld documents (%.1f MB/s)\n", (long long)documents, double(bytes[0]) / 1e6 / seconds());
  }
  for (size_t k = 0; k < writers.size(); ++k) {
    writers[k]->finish();
    const std::string prefix = c.output_prefix + "_" + c.json_keys[k] + "_document";
    std::printf("trident-preprocess: %lld documents, %lld tokens (%s, vocabulary %lld), %lld bytes of text, %.2f s\n",
                (long long)documents, (long long)writers[k]->num_tokens(), writers[k]->width() == 2 ? "uint16" : "int32",
                (long long)tokenizer->vocab_size(), (long long)bytes[k], seconds());
    std::printf("wrote %s.bin and %s.idx: train with --data-path %s --vocab-size %lld\n", prefix.c_str(),
                prefix.c_str(), prefix.c_str(), (long long)tokenizer->vocab_size());
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  PreprocessConfig c;
  CLI::App app{"trident-preprocess: tokenize text into a Megatron indexed dataset (.bin + .idx)"};
  app.option_defaults()->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);
  app.add_option("--input", c.input, "a .jsonl file (one JSON object per line), a text file, or a directory of them");
  app.add_option("--output-prefix", c.output_prefix, "writes OUTPUT-PREFIX_<key>_document.bin and .idx");
  app.add_option("--json-keys", c.json_keys, "keys of the .jsonl objects to tokenize, one dataset each")
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll)->capture_default_str();
  app.add_option("--tokenizer-type", c.tokenizer_type, "GPT2BPETokenizer or ByteTokenizer");
  app.add_option("--vocab-file", c.vocab_file, "GPT2BPETokenizer: GPT-2's vocab.json");
  app.add_option("--merge-file", c.merge_file, "GPT2BPETokenizer: GPT-2's merges.txt");
  app.add_flag("--append-eod", c.append_eod, "end each document with the end-of-document token (<|endoftext|>)");
  app.add_option("--workers", c.workers, "tokenizing threads")->capture_default_str();
  app.add_option("--log-interval", c.log_interval, "documents between progress lines (0: none)")->capture_default_str();
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    std::fprintf(stderr, "trident-preprocess: error: %s (see trident-preprocess --help)\n", e.what());
    return 2;
  }
  try {
    return run(c);
  } catch (const UsageError& e) {
    std::fprintf(stderr, "trident-preprocess: error: %s\n", e.what());
    return 2;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "trident-preprocess: error: %s\n", e.what());
    return 1;
  }
}
