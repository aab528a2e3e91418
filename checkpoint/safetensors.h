// safetensors files (REFERENCE.md): an 8-byte little-endian header length,
// a JSON header {name: {dtype, shape, data_offsets}, "__metadata__": {…}},
// then the raw data. Used to exchange tensors with PyTorch (the reference
// tests) and for export (--export-safetensors, --export-hf). Tensors are
// written in their own dtype (F32, F16, BF16, I32).
#pragma once

#include <cstdint>
#include <fstream>
#include <map>
#include <string>

#include "framework/core/tensor.h"

namespace trident::checkpoint {

using TensorMap = std::map<std::string, Tensor>;

// Writes to `path` through a temporary name and a rename, so a reader never
// sees a half-written file. `metadata` becomes the header's "__metadata__"
// (string values only, as the format asks), omitted when empty.
void save_safetensors(const std::string& path, const TensorMap& tensors,
                      const std::map<std::string, std::string>& metadata = {});
// Throws UsageError naming the file on a malformed header or short data.
TensorMap load_safetensors(const std::string& path);

// One file's header, read at once, and its tensors read one at a time (a
// rank loading its shard of a large model reads only what it needs).
class SafetensorsFile {
 public:
  struct Entry {
    std::string dtype;  // the file's name for it: "F32", "BF16", … (read() refuses those trident lacks)
    Shape shape;
    uint64_t begin = 0, end = 0;  // bytes, relative to the data
  };
  // UsageError naming the file on a malformed header or offsets past its end.
  explicit SafetensorsFile(const std::string& path);
  const std::string& path() const { return path_; }
  const std::map<std::string, Entry>& entries() const { return entries_; }
  const std::map<std::string, std::string>& metadata() const { return metadata_; }
  // The tensor in the file's dtype; UsageError for a dtype trident lacks.
  Tensor read(const std::string& name) const;

 private:
  std::string path_;
  uint64_t data_start_ = 0;
  std::map<std::string, Entry> entries_;
  std::map<std::string, std::string> metadata_;
  mutable std::ifstream in_;
};

}  // namespace trident::checkpoint
