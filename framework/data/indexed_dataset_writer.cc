#include "framework/data/indexed_dataset_writer.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <limits>
#include <memory>

#include "framework/core/error.h"

namespace trident::data {
namespace fs = std::filesystem;

namespace {

constexpr int64_t kUint16VocabLimit = 65500;  // Megatron's best_fitting_dtype: uint16 below this

std::FILE* create(const std::string& name) {
  std::FILE* f = std::fopen(name.c_str(), "wb");
  TRIDENT_USAGE_CHECK(f, "cannot create ", name, ": ", std::strerror(errno), " (check --output-prefix)");
  return f;
}

// Flushes, syncs and closes `f`; a UsageError naming `name` if any step fails.
void close_synced(std::FILE*& f, const std::string& name) {
  const bool ok = std::fflush(f) == 0 && ::fsync(::fileno(f)) == 0;
  const int error = errno;
  const bool closed = std::fclose(f) == 0;
  f = nullptr;
  TRIDENT_USAGE_CHECK(ok && closed, "cannot write ", name, ": ", std::strerror(ok ? errno : error));
}

}  // namespace

IndexedDatasetWriter::IndexedDatasetWriter(const std::string& prefix, int64_t vocab_size)
    : prefix_(prefix),
      bin_tmp_(prefix + ".bin.tmp" + std::to_string(::getpid())),
      idx_tmp_(prefix + ".idx.tmp" + std::to_string(::getpid())),
      vocab_size_(vocab_size),
      width_(vocab_size < kUint16VocabLimit ? 2 : 4),
      documents_{0} {
  TRIDENT_CHECK(vocab_size > 0 && vocab_size <= int64_t(std::numeric_limits<int32_t>::max()) + 1,
                "vocabulary size ", vocab_size);
  bin_ = create(bin_tmp_);
}

IndexedDatasetWriter::~IndexedDatasetWriter() {
  if (bin_) std::fclose(bin_);
  if (!finished_) {
    std::error_code ec;
    fs::remove(bin_tmp_, ec);
    fs::remove(idx_tmp_, ec);
  }
}

void IndexedDatasetWriter::write(std::FILE* f, const std::string& name, const void* data, size_t bytes) {
  TRIDENT_USAGE_CHECK(bytes == 0 || std::fwrite(data, 1, bytes, f) == bytes, "cannot write ", name, ": ",
                      std::strerror(errno));
}

void IndexedDatasetWriter::add_document(const std::vector<int32_t>& tokens) {
  TRIDENT_CHECK(!finished_, "add_document after finish");
  TRIDENT_CHECK(tokens.size() <= size_t(std::numeric_limits<int32_t>::max()), "a document of ", tokens.size(),
                " tokens is longer than a Megatron sequence may be");
  if (!tokens.empty()) {
    std::vector<uint16_t> narrow;
    for (const int32_t t : tokens) {
      TRIDENT_CHECK(t >= 0 && t < vocab_size_, "token id ", t, " is outside the vocabulary (", vocab_size_, ")");
      if (width_ == 2) narrow.push_back(uint16_t(t));
    }
    pointers_.push_back(tokens_ * width_);
    sizes_.push_back(int32_t(tokens.size()));
    if (width_ == 2) write(bin_, bin_tmp_, narrow.data(), narrow.size() * 2);
    else write(bin_, bin_tmp_, tokens.data(), tokens.size() * 4);
    tokens_ += int64_t(tokens.size());
  }
  documents_.push_back(int64_t(sizes_.size()));
}

void IndexedDatasetWriter::finish() {
  TRIDENT_CHECK(!finished_, "finish called twice");
  close_synced(bin_, bin_tmp_);
  std::unique_ptr<std::FILE, int (*)(std::FILE*)> idx(create(idx_tmp_), &std::fclose);
  const auto put = [&](const void* data, size_t bytes) { write(idx.get(), idx_tmp_, data, bytes); };
  const uint64_t version = 1, n = sizes_.size(), d = documents_.size();
  const uint8_t code = width_ == 2 ? 8 : 4;  // uint16 : int32
  put("MMIDIDX\0\0", 9);
  put(&version, 8);
  put(&code, 1);
  put(&n, 8);
  put(&d, 8);
  put(sizes_.data(), n * 4);
  put(pointers_.data(), n * 8);
  put(documents_.data(), d * 8);
  std::FILE* idx_file = idx.release();
  close_synced(idx_file, idx_tmp_);
  // An old .idx goes first, so that the new .bin never meets it.
  const std::string bin = prefix_ + ".bin", index = prefix_ + ".idx";
  std::error_code ec;
  fs::remove(index, ec);
  for (const auto& [from, to] : {std::pair{bin_tmp_, bin}, std::pair{idx_tmp_, index}})
    TRIDENT_USAGE_CHECK(std::rename(from.c_str(), to.c_str()) == 0, "cannot rename ", from, " to ", to, ": ",
                        std::strerror(errno));
  finished_ = true;
  const fs::path dir = fs::absolute(fs::path(prefix_)).parent_path();
  if (const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY); fd >= 0) {
    ::fsync(fd);  // the renames themselves
    ::close(fd);
  }
}

}  // namespace trident::data
