// DType: the element types trident computes in, and the conversions between
// them. f16 and bf16 are stored as raw uint16_t bit patterns; conversions
// from f32 round to nearest, ties to even, as the hardware does, so the CPU
// backend is a faithful reference for the GPU one.
#pragma once

#include <cstddef>
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

float f16_to_f32(uint16_t bits);
uint16_t f32_to_f16(float x);    // round to nearest even; NaN stays NaN
float bf16_to_f32(uint16_t bits);
uint16_t f32_to_bf16(float x);   // round to nearest even; NaN stays NaN

// Bulk conversions between buffers of `n` elements of the given types.
void convert(const void* src, DType src_type, void* dst, DType dst_type, size_t n);

}  // namespace trident
