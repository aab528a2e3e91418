// safetensors files (REFERENCE.md): an 8-byte little-endian header length,
// a JSON header {name: {dtype, shape, data_offsets}}, then the raw data.
// Used to exchange tensors with PyTorch (the reference tests) and, later,
// for export. Tensors are written in their own dtype (F32, F16, BF16, I32).
#pragma once

#include <map>
#include <string>

#include "framework/core/tensor.h"

namespace trident::checkpoint {

using TensorMap = std::map<std::string, Tensor>;

// Writes to `path` through a temporary name and a rename, so a reader never
// sees a half-written file.
void save_safetensors(const std::string& path, const TensorMap& tensors);
// Throws UsageError naming the file on a malformed header or short data.
TensorMap load_safetensors(const std::string& path);

}  // namespace trident::checkpoint
