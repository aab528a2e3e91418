// DType: the element types trident computes in, and the conversions between
// them. f16 and bf16 are stored as raw uint16_t bit patterns; conversions
// from f32 round to nearest, ties to even, as the hardware does, so the CPU
// backend is a faithful reference for the GPU one.
#pragma once

#include <cstddef>
#include <bit>
#include <cstdint>
#include <string_view>

namespace trident {

// i32 holds token ids and targets, so they can live on a device like any tensor.
enum class DType : uint8_t { f32, f16, bf16, i32 };

size_t dtype_size(DType t);
std::string_view dtype_name(DType t);  // "f32", "f16", "bf16", "i32"
DType dtype_from_name(std::string_view name);  // throws UsageError on unknown

// Raw 16-bit floats. Distinct types so that overloads cannot mix them up.
struct f16 { uint16_t bits; };
struct bf16 { uint16_t bits; };

// Inline: kernels convert element by element on their hot loops.
inline float f16_to_f32(uint16_t bits);
inline uint16_t f32_to_f16(float x);    // round to nearest even; NaN stays NaN
inline float bf16_to_f32(uint16_t bits);
inline uint16_t f32_to_bf16(float x);   // round to nearest even; NaN stays NaN

// The DType of a C++ element type, for checked typed access.
template <typename T> constexpr DType dtype_of();
template <> constexpr DType dtype_of<float>() { return DType::f32; }
template <> constexpr DType dtype_of<f16>() { return DType::f16; }
template <> constexpr DType dtype_of<bf16>() { return DType::bf16; }
template <> constexpr DType dtype_of<int32_t>() { return DType::i32; }

// Element access in f32 for kernels that store float, f16 or bf16.
inline float to_f32(float x) { return x; }
inline float to_f32(f16 x) { return f16_to_f32(x.bits); }
inline float to_f32(bf16 x) { return bf16_to_f32(x.bits); }
template <typename T> inline T from_f32(float x);
template <> inline float from_f32<float>(float x) { return x; }
template <> inline f16 from_f32<f16>(float x) { return f16{f32_to_f16(x)}; }
template <> inline bf16 from_f32<bf16>(float x) { return bf16{f32_to_bf16(x)}; }

// Bulk conversions between buffers of `n` elements of the given types.
void convert(const void* src, DType src_type, void* dst, DType dst_type, size_t n);

inline float f16_to_f32(uint16_t h) {
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
    bits = sign | std::bit_cast<uint32_t>(float(man) * 0x1p-24f);
  }
  return std::bit_cast<float>(bits);
}

inline uint16_t f32_to_f16(float x) {
  const uint32_t f = std::bit_cast<uint32_t>(x);
  const uint16_t sign = uint16_t((f >> 16) & 0x8000u);
  const uint32_t abs = f & 0x7FFFFFFFu;
  if (abs > 0x7F800000u) return uint16_t(sign | 0x7E00u | ((abs >> 13) & 0x3FFu));  // NaN, quiet
  if (abs >= 0x477FF000u) return uint16_t(sign | 0x7C00u);  // rounds to >= 65520: inf
  if (abs < 0x38800000u) {
    // Result is subnormal (or zero) in f16: units of 2^-24. Adding 0.5 in
    // float would double-round, so round the integer mantissa by hand.
    if (abs < 0x33000000u) return sign;  // < 2^-25: rounds to zero (2^-25 itself ties to 0)
    const uint32_t e = abs >> 23;                      // biased f32 exponent, 102..112
    const uint32_t m = (abs & 0x7FFFFFu) | 0x800000u;  // 24-bit significand
    const uint32_t shift = 126 - e;                    // so that value = m >> shift in 2^-24 units
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

inline float bf16_to_f32(uint16_t b) { return std::bit_cast<float>(uint32_t(b) << 16); }

inline uint16_t f32_to_bf16(float x) {
  const uint32_t f = std::bit_cast<uint32_t>(x);
  const uint32_t rounded = (f + 0x7FFFu + ((f >> 16) & 1u)) >> 16;
  const uint32_t quiet_nan = (f >> 16) | 0x0040u;
  // A select, not an early return, so that loops over it vectorise.
  return uint16_t((f & 0x7FFFFFFFu) > 0x7F800000u ? quiet_nan : rounded);
}

}  // namespace trident
