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

namespace {

// One loop per (source, destination) pair, over plain pointers, so that GCC
// vectorises it (a dtype switch inside the loop body keeps it scalar).
template <typename S, typename D>
void convert_elements(const void* src, void* dst, size_t n) {
  const S* __restrict s = static_cast<const S*>(src);
  D* __restrict d = static_cast<D*>(dst);
#pragma omp parallel for simd schedule(static) if (n >= 16384)
  for (size_t i = 0; i < n; ++i) d[i] = from_f32<D>(to_f32(s[i]));
}

template <typename S>
void convert_from(const void* src, void* dst, DType dt, size_t n) {
  switch (dt) {
    case DType::f32: return convert_elements<S, float>(src, dst, n);
    case DType::f16: return convert_elements<S, f16>(src, dst, n);
    case DType::bf16: return convert_elements<S, bf16>(src, dst, n);
    case DType::i32: TRIDENT_CHECK(false, "conversion to i32 is not defined");
  }
}

void convert_ids(const int32_t* ids, void* dst, DType dt, size_t n) {
  auto each = [&]<typename D>() {
    for (size_t i = 0; i < n; ++i) static_cast<D*>(dst)[i] = from_f32<D>(float(ids[i]));
  };
  switch (dt) {
    case DType::f32: return each.template operator()<float>();
    case DType::f16: return each.template operator()<f16>();
    case DType::bf16: return each.template operator()<bf16>();
    case DType::i32: TRIDENT_CHECK(false, "conversion to i32 is not defined");
  }
}

}  // namespace

void convert(const void* src, DType st, void* dst, DType dt, size_t n) {
  if (st == dt) {
    std::memcpy(dst, src, n * dtype_size(st));
    return;
  }
  switch (st) {
    case DType::f32: return convert_from<float>(src, dst, dt, n);
    case DType::f16: return convert_from<f16>(src, dst, dt, n);
    case DType::bf16: return convert_from<bf16>(src, dst, dt, n);
    case DType::i32:  // token ids as floats (tests and small host-side work); never the other way
      return convert_ids(static_cast<const int32_t*>(src), dst, dt, n);
  }
}

}  // namespace trident
