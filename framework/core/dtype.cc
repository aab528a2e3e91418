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

float f16_to_f32(uint16_t h) {
  const uint32_t sign = uint32_t(h & 0x8000u) << 16;
  const uint32_t exp = (h >> 10) & 0x1Fu;
  const uint32_t man = h & 0x3FFu;
  uint32_t bits;
  if (exp == 0x1F) {                  // inf / NaN: keep the payload
    bits = sign | 0x7F800000u | (man << 13);
  } else if (exp != 0) {              // normal
    bits = sign | ((exp + 112) << 23) | (man << 13);
  } else if (man == 0) {              // signed zero
    bits = sign;
  } else {                            // subnormal: value = man * 2^-24, exact in f32
    const float v = float(man) * 0x1p-24f;
    bits = sign | std::bit_cast<uint32_t>(v);
  }
  return std::bit_cast<float>(bits);
}

uint16_t f32_to_f16(float x) {
  const uint32_t f = std::bit_cast<uint32_t>(x);
  const uint16_t sign = uint16_t((f >> 16) & 0x8000u);
  const uint32_t abs = f & 0x7FFFFFFFu;
  if (abs > 0x7F800000u) return uint16_t(sign | 0x7E00u | ((abs >> 13) & 0x3FFu));  // NaN, quiet
  if (abs >= 0x477FF000u) return uint16_t(sign | 0x7C00u);  // rounds to >= 65520: inf
  if (abs < 0x38800000u) {
    // Result is subnormal (or zero) in f16: units of 2^-24. Adding 0.5 in
    // float would double-round, so round the integer mantissa by hand.
    if (abs < 0x33000000u) return sign;  // < 2^-25: rounds to zero (2^-25 itself ties to 0)
    const uint32_t e = abs >> 23;                    // biased f32 exponent, 102..112
    const uint32_t m = (abs & 0x7FFFFFu) | 0x800000u;  // 24-bit significand
    const uint32_t shift = 126 - e;                  // so that value = m >> shift in 2^-24 units
    uint32_t q = m >> shift;
    const uint32_t rem = m & ((1u << shift) - 1);
    const uint32_t half = 1u << (shift - 1);
    if (rem > half || (rem == half && (q & 1u))) ++q;
    return uint16_t(sign | q);
  }
  // Normal: rebias the exponent and round the 13 dropped bits to even. A
  // carry out of the mantissa correctly bumps the exponent.
  uint32_t r = abs - 0x38000000u;  // exponent 127 -> 15
  const uint32_t lsb = (r >> 13) & 1u;
  r += 0xFFFu + lsb;
  return uint16_t(sign | (r >> 13));
}

float bf16_to_f32(uint16_t b) { return std::bit_cast<float>(uint32_t(b) << 16); }

uint16_t f32_to_bf16(float x) {
  const uint32_t f = std::bit_cast<uint32_t>(x);
  if ((f & 0x7FFFFFFFu) > 0x7F800000u) return uint16_t((f >> 16) | 0x0040u);  // NaN, quiet
  const uint32_t lsb = (f >> 16) & 1u;
  return uint16_t((f + 0x7FFFu + lsb) >> 16);
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
