#include "framework/core/dtype.h"

#include <bit>
#include <cmath>
#include <cstring>

#include "framework/core/error.h"

namespace trident {

size_t dtype_size(DType t) { return t == DType::f16 || t == DType::bf16 ? 2 : 4; }

std::string_view dtype_name(DType t) {
  switch (t) {
    case DType::f32: return "f32";
    case DType::f16: return "f16";
    case DType::bf16: return "bf16";
    case DType::i32: return "i32";
  }
  return "?";
}

DType dtype_from_name(std::string_view name) {
  if (name == "f32" || name == "fp32" || name == "float32") return DType::f32;
  if (name == "f16" || name == "fp16" || name == "float16") return DType::f16;
  if (name == "bf16" || name == "bfloat16") return DType::bf16;
  throw UsageError(detail::concat("unknown dtype '", name, "': use f32, f16 or bf16"));
}

void convert(const void* src, DType st, void* dst, DType dt, size_t n) {
  if (st == dt) {
    std::memcpy(dst, src, n * dtype_size(st));
    return;
  }
  auto load = [&](size_t i) -> float {
    switch (st) {
      case DType::f32: return static_cast<const float*>(src)[i];
      case DType::f16: return f16_to_f32(static_cast<const uint16_t*>(src)[i]);
      case DType::bf16: return bf16_to_f32(static_cast<const uint16_t*>(src)[i]);
      case DType::i32: return float(static_cast<const int32_t*>(src)[i]);
    }
    return 0.f;
  };
  switch (dt) {
    case DType::f32:
#pragma omp parallel for schedule(static) if (n >= 16384)
      for (size_t i = 0; i < n; ++i) static_cast<float*>(dst)[i] = load(i);
      break;
    case DType::f16:
#pragma omp parallel for schedule(static) if (n >= 16384)
      for (size_t i = 0; i < n; ++i) static_cast<uint16_t*>(dst)[i] = f32_to_f16(load(i));
      break;
    case DType::bf16:
#pragma omp parallel for schedule(static) if (n >= 16384)
      for (size_t i = 0; i < n; ++i) static_cast<uint16_t*>(dst)[i] = f32_to_bf16(load(i));
      break;
    case DType::i32:
      TRIDENT_CHECK(false, "conversion from ", dtype_name(st), " to i32 is not defined");
  }
}

}  // namespace trident
