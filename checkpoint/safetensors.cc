#include "checkpoint/safetensors.h"

#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "framework/core/error.h"

namespace trident::checkpoint {
namespace {

const char* st_dtype(DType t) {
  switch (t) {
    case DType::f32: return "F32";
    case DType::f16: return "F16";
    case DType::bf16: return "BF16";
    case DType::i32: return "I32";
  }
  return "?";
}

DType from_st_dtype(const std::string& s, const std::string& path) {
  if (s == "F32") return DType::f32;
  if (s == "F16") return DType::f16;
  if (s == "BF16") return DType::bf16;
  if (s == "I32") return DType::i32;
  throw UsageError("safetensors file '" + path + "' holds dtype " + s + ", which trident does not read");
}

}  // namespace

void save_safetensors(const std::string& path, const TensorMap& tensors) {
  nlohmann::json header = nlohmann::json::object();
  size_t offset = 0;
  for (const auto& [name, t] : tensors) {
    header[name] = {{"dtype", st_dtype(t.dtype())}, {"shape", t.shape()}, {"data_offsets", {offset, offset + t.bytes()}}};
    offset += t.bytes();
  }
  std::string text = header.dump();
  text.append((8 - text.size() % 8) % 8, ' ');  // keep the data 8-byte aligned
  const std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    TRIDENT_USAGE_CHECK(out.good(), "cannot write '", tmp, "': check the directory exists and is writable");
    const uint64_t n = text.size();  // little-endian on every platform trident supports
    out.write(reinterpret_cast<const char*>(&n), 8);
    out.write(text.data(), std::streamsize(text.size()));
    for (const auto& [name, t] : tensors) out.write(static_cast<const char*>(t.raw()), std::streamsize(t.bytes()));
    TRIDENT_USAGE_CHECK(out.good(), "writing '", tmp, "' failed: is the disk full?");
  }
  std::filesystem::rename(tmp, path);
}

TensorMap load_safetensors(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  TRIDENT_USAGE_CHECK(in.good(), "cannot open safetensors file '", path, "'");
  const auto file_size = std::filesystem::file_size(path);
  uint64_t n = 0;
  in.read(reinterpret_cast<char*>(&n), 8);
  TRIDENT_USAGE_CHECK(in.good() && 8 + n <= file_size, "'", path, "' is not a safetensors file: bad header length");
  std::string text(n, '\0');
  in.read(text.data(), std::streamsize(n));
  nlohmann::json header;
  try {
    header = nlohmann::json::parse(text);
  } catch (const nlohmann::json::exception& e) {
    throw UsageError("'" + path + "' has a malformed safetensors header: " + e.what());
  }
  const uint64_t data_start = 8 + n;
  TensorMap out;
  for (const auto& [name, info] : header.items()) {
    if (name == "__metadata__") continue;
    const DType dt = from_st_dtype(info.at("dtype").get<std::string>(), path);
    Tensor t = Tensor::empty(info.at("shape").get<Shape>(), dt);
    const auto range = info.at("data_offsets").get<std::vector<uint64_t>>();
    TRIDENT_USAGE_CHECK(range.size() == 2 && range[1] - range[0] == t.bytes() && data_start + range[1] <= file_size,
                        "'", path, "': tensor '", name, "' has data offsets that do not match its shape");
    in.seekg(std::streamoff(data_start + range[0]));
    in.read(static_cast<char*>(t.raw()), std::streamsize(t.bytes()));
    TRIDENT_USAGE_CHECK(in.good(), "'", path, "' ends inside tensor '", name, "'");
    out.emplace(name, std::move(t));
  }
  return out;
}

}  // namespace trident::checkpoint
