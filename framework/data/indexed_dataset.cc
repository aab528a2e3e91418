#include "framework/data/indexed_dataset.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>
#include <fstream>
#include <iterator>

#include "framework/core/error.h"

namespace trident::data {
namespace {

// Reads little-endian fields with bounds checks (arrays start unaligned: memcpy).
class Reader {
 public:
  Reader(const std::string& name, const uint8_t* data, size_t size) : name_(name), data_(data), size_(size) {}
  template <typename T>
  T read(const char* field) {
    need(sizeof(T), field);
    T v;
    std::memcpy(&v, data_ + at_, sizeof(T));
    at_ += sizeof(T);
    return v;
  }
  template <typename T>
  std::vector<T> read_array(uint64_t n, const char* field) {
    TRIDENT_USAGE_CHECK(n <= (size_ - at_) / sizeof(T), name_, " is truncated or malformed: its ", field, " (", n,
                        " entries) runs past the end of the file (", size_, " bytes)");
    std::vector<T> v(n);
    if (n) std::memcpy(v.data(), data_ + at_, n * sizeof(T));
    at_ += n * sizeof(T);
    return v;
  }
  void need(size_t bytes, const char* field) {
    TRIDENT_USAGE_CHECK(size_ - at_ >= bytes, name_, " is truncated: it ends before its ", field);
  }

 private:
  const std::string& name_;
  const uint8_t* data_;
  size_t size_, at_ = 0;
};

}  // namespace

MegatronIndex parse_megatron_index(const std::string& name, const uint8_t* data, size_t size, uint64_t bin_bytes) {
  Reader r(name, data, size);
  r.need(9, "magic");
  TRIDENT_USAGE_CHECK(std::memcmp(data, "MMIDIDX\0\0", 9) == 0, name,
                      " is not a Megatron-LM index (no MMIDIDX magic): give --data-path the prefix of a .bin/.idx pair");
  (void)r.read_array<uint8_t>(9, "magic");
  const uint64_t version = r.read<uint64_t>("version");
  TRIDENT_USAGE_CHECK(version == 1, name, " has index version ", version, "; trident reads version 1");
  const uint8_t code = r.read<uint8_t>("dtype code");
  MegatronIndex index;
  switch (code) {
    case 1: index.width = 1; break;  // uint8
    case 8: index.width = 2; break;  // uint16
    case 4: index.width = 4; break;  // int32
    default:
      throw UsageError(name + " stores tokens with dtype code " + std::to_string(code) +
                       ": trident reads uint8 (1), uint16 (8) and int32 (4) tokens");
  }
  const uint64_t n = r.read<uint64_t>("sequence count");
  const uint64_t d = r.read<uint64_t>("document count");
  std::vector<int32_t> sizes = r.read_array<int32_t>(n, "sequence lengths");
  std::vector<int64_t> pointers = r.read_array<int64_t>(n, "sequence offsets");
  std::vector<int64_t> documents = r.read_array<int64_t>(d, "document index");
  // Sequences back to back from byte 0, inside the .bin.
  int64_t expected = 0;
  for (uint64_t i = 0; i < n; ++i) {
    TRIDENT_USAGE_CHECK(sizes[i] >= 0, name, ": sequence ", i, " has a negative length ", sizes[i]);
    TRIDENT_USAGE_CHECK(pointers[i] == expected, name, ": sequence ", i, " starts at byte ", pointers[i],
                        " of the .bin, expected ", expected, " (sequences are stored back to back)");
    expected += int64_t(sizes[i]) * index.width;
    TRIDENT_USAGE_CHECK(uint64_t(expected) <= bin_bytes, name, ": sequence ", i, " ends at byte ", expected,
                        ", past the end of the .bin (", bin_bytes, " bytes): the .bin is truncated or another file's");
  }
  TRIDENT_USAGE_CHECK(d >= 1 && documents.front() == 0 && uint64_t(documents.back()) == n, name,
                      ": its document index must run from 0 to the sequence count ", n);
  for (uint64_t i = 1; i < d; ++i)
    TRIDENT_USAGE_CHECK(documents[i] >= documents[i - 1], name, ": document index entry ", i, " goes backwards");
  index.total_tokens = expected / index.width;
  index.sizes = std::move(sizes);
  index.pointers = std::move(pointers);
  index.documents = std::move(documents);
  return index;
}

std::unique_ptr<IndexedDataset> IndexedDataset::open(const std::string& prefix) {
  const std::string idx = prefix + ".idx", bin = prefix + ".bin";
  std::ifstream in(idx, std::ios::binary);
  TRIDENT_USAGE_CHECK(in.good(), "cannot read ", idx, ": --data-path must be a text file, a directory of them, or "
                      "the prefix of a Megatron .bin/.idx pair");
  const std::vector<uint8_t> image((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  struct stat st {};
  TRIDENT_USAGE_CHECK(::stat(bin.c_str(), &st) == 0, "cannot read ", bin, " (the tokens beside ", idx, ")");
  std::unique_ptr<IndexedDataset> ds(new IndexedDataset());
  ds->index_ = parse_megatron_index(idx, image.data(), image.size(), uint64_t(st.st_size));
  ds->bin_bytes_ = int64_t(st.st_size);
  if (ds->bin_bytes_ > 0) {
    const int fd = ::open(bin.c_str(), O_RDONLY);
    TRIDENT_USAGE_CHECK(fd >= 0, "cannot open ", bin);
    void* map = ::mmap(nullptr, size_t(ds->bin_bytes_), PROT_READ, MAP_PRIVATE, fd, 0);
    ::close(fd);
    TRIDENT_USAGE_CHECK(map != MAP_FAILED, "cannot map ", bin, " into memory");
    ds->bin_ = static_cast<const uint8_t*>(map);
  }
  return ds;
}

IndexedDataset::~IndexedDataset() {
  if (bin_) ::munmap(const_cast<uint8_t*>(bin_), size_t(bin_bytes_));
}

int64_t IndexedDataset::document_start(int64_t d) const {
  const int64_t sequence = index_.documents[size_t(d)];
  return sequence == int64_t(index_.sizes.size()) ? tokens().size
                                                  : index_.pointers[size_t(sequence)] / index_.width;
}

}  // namespace trident::data
