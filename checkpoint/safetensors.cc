#include "checkpoint/safetensors.h"

#include <cstring>
#include <filesystem>
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

void save_safetensors(const std::string& path, const TensorMap& tensors,
                      const std::map<std::string, std::string>& metadata) {
  nlohmann::json header = nlohmann::json::object();
  if (!metadata.empty()) header["__metadata__"] = metadata;
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

SafetensorsFile::SafetensorsFile(const std::string& path) : path_(path), in_(path, std::ios::binary) {
  TRIDENT_USAGE_CHECK(in_.good(), "cannot open safetensors file '", path, "'");
  const auto file_size = std::filesystem::file_size(path);
  uint64_t n = 0;
  in_.read(reinterpret_cast<char*>(&n), 8);
  TRIDENT_USAGE_CHECK(in_.good() && 8 + n <= file_size, "'", path, "' is not a safetensors file: bad header length");
  std::string text(n, '\0');
  in_.read(text.data(), std::streamsize(n));
  nlohmann::json header;
  try {
    header = nlohmann::json::parse(text);
    data_start_ = 8 + n;
    for (const auto& [name, info] : header.items()) {
      if (name == "__metadata__") {
        for (const auto& [key, value] : info.items())
          if (value.is_string()) metadata_[key] = value.get<std::string>();
        continue;
      }
      const auto range = info.at("data_offsets").get<std::vector<uint64_t>>();
      TRIDENT_USAGE_CHECK(range.size() == 2 && range[0] <= range[1] && data_start_ + range[1] <= file_size, "'",
                          path, "': tensor '", name, "' has data offsets past the end of the file");
      entries_[name] = {info.at("dtype").get<std::string>(), info.at("shape").get<Shape>(), range[0], range[1]};
    }
  } catch (const nlohmann::json::exception& e) {
    throw UsageError("'" + path + "' has a malformed safetensors header: " + e.what());
  }
}

Tensor SafetensorsFile::read(const std::string& name) const {
  const auto it = entries_.find(name);
  TRIDENT_USAGE_CHECK(it != entries_.end(), "'", path_, "' holds no tensor '", name, "'");
  const Entry& e = it->second;
  Tensor t = Tensor::empty(e.shape, from_st_dtype(e.dtype, path_));
  TRIDENT_USAGE_CHECK(e.end - e.begin == t.bytes(), "'", path_, "': tensor '", name,
                      "' has data offsets that do not match its shape");
  in_.clear();
  in_.seekg(std::streamoff(data_start_ + e.begin));
  in_.read(static_cast<char*>(t.raw()), std::streamsize(t.bytes()));
  TRIDENT_USAGE_CHECK(in_.good(), "'", path_, "' ends inside tensor '", name, "'");
  return t;
}

TensorMap load_safetensors(const std::string& path) {
  const SafetensorsFile file(path);
  TensorMap out;
  for (const auto& [name, entry] : file.entries()) out.emplace(name, file.read(name));
  return out;
}

}  // namespace trident::checkpoint
