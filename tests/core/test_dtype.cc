// DType conversions over all 65,536 16-bit patterns, against a float64
// decoding written from the IEEE/bfloat16 definitions, GCC's own _Float16
// conversion (an implementation we did not write), and the midpoints
// between neighbouring values, where round-to-nearest-even decides.
#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <vector>
#include <limits>

#include "framework/core/dtype.h"
#include "framework/core/error.h"

namespace trident {
namespace {

// value of an f16 pattern from the definition: (−1)^s · 2^(e−15) · 1.m, or subnormal 2^−14 · 0.m
double f16_reference(uint16_t h) {
  const int s = h >> 15, e = (h >> 10) & 0x1F, m = h & 0x3FF;
  const double sign = s ? -1.0 : 1.0;
  if (e == 0x1F) return m ? std::numeric_limits<double>::quiet_NaN() : sign * INFINITY;
  if (e == 0) return sign * std::ldexp(double(m), -24);
  return sign * std::ldexp(1.0 + double(m) / 1024.0, e - 15);
}

// bf16 is the top half of an f32: (−1)^s · 2^(e−127) · 1.m (7 mantissa bits)
double bf16_reference(uint16_t b) {
  const int s = b >> 15, e = (b >> 7) & 0xFF, m = b & 0x7F;
  const double sign = s ? -1.0 : 1.0;
  if (e == 0xFF) return m ? std::numeric_limits<double>::quiet_NaN() : sign * INFINITY;
  if (e == 0) return sign * std::ldexp(double(m), -133);
  return sign * std::ldexp(1.0 + double(m) / 128.0, e - 127);
}

TEST(DType, F16DecodesEveryPatternExactly) {
  for (uint32_t h = 0; h < 65536; ++h) {
    const double ref = f16_reference(uint16_t(h));
    const float got = f16_to_f32(uint16_t(h));
    if (std::isnan(ref)) {
      EXPECT_TRUE(std::isnan(got)) << std::hex << h;
    } else {
      ASSERT_EQ(double(got), ref) << "pattern 0x" << std::hex << h;
      ASSERT_EQ(std::signbit(got), bool(h & 0x8000)) << "sign of 0x" << std::hex << h;
    }
  }
}

TEST(DType, Bf16DecodesEveryPatternExactly) {
  for (uint32_t b = 0; b < 65536; ++b) {
    const double ref = bf16_reference(uint16_t(b));
    const float got = bf16_to_f32(uint16_t(b));
    if (std::isnan(ref)) EXPECT_TRUE(std::isnan(got)) << std::hex << b;
    else ASSERT_EQ(double(got), ref) << "pattern 0x" << std::hex << b;
  }
}

TEST(DType, EveryPatternRoundTripsAndNaNStaysNaN) {
  for (uint32_t h = 0; h < 65536; ++h) {
    const float f = f16_to_f32(uint16_t(h));
    if (std::isnan(f)) EXPECT_TRUE(std::isnan(f16_to_f32(f32_to_f16(f)))) << std::hex << h;
    else ASSERT_EQ(f32_to_f16(f), h) << "f16 pattern 0x" << std::hex << h;
    const float g = bf16_to_f32(uint16_t(h));
    if (std::isnan(g)) EXPECT_TRUE(std::isnan(bf16_to_f32(f32_to_bf16(g)))) << std::hex << h;
    else ASSERT_EQ(f32_to_bf16(g), h) << "bf16 pattern 0x" << std::hex << h;
  }
}

// For each pair of neighbouring non-negative finite patterns (lo, lo+1):
// their midpoint (exact in f32) rounds to the one with an even mantissa,
// and the floats just either side of it round to the nearer one.
template <typename Decode, typename Encode>
void check_midpoints(uint16_t last_finite, Decode decode, Encode encode, const char* what) {
  for (uint32_t lo = 0; lo < last_finite; ++lo) {
    const float a = decode(uint16_t(lo)), b = decode(uint16_t(lo + 1));
    const float mid = float((double(a) + double(b)) / 2);
    ASSERT_EQ(double(mid), (double(a) + double(b)) / 2) << what << ": midpoint not exact";
    const uint16_t even = (lo & 1u) ? uint16_t(lo + 1) : uint16_t(lo);
    ASSERT_EQ(encode(mid), even) << what << " tie at 0x" << std::hex << lo;
    ASSERT_EQ(encode(std::nextafter(mid, 0.f)), lo) << what << " below tie at 0x" << std::hex << lo;
    ASSERT_EQ(encode(std::nextafter(mid, INFINITY)), lo + 1) << what << " above tie at 0x" << std::hex << lo;
    ASSERT_EQ(encode(-mid), uint16_t(even | 0x8000u)) << what << " negative tie at 0x" << std::hex << lo;
  }
}

TEST(DType, F16RoundsToNearestEven) {
  check_midpoints(0x7BFF, f16_to_f32, f32_to_f16, "f16");
  // Past the largest finite value (65504) the tie with 65536 goes to infinity.
  EXPECT_EQ(f32_to_f16(65519.f), 0x7BFF);
  EXPECT_EQ(f32_to_f16(65520.f), 0x7C00);
  EXPECT_EQ(f32_to_f16(1e10f), 0x7C00);
  EXPECT_EQ(f32_to_f16(-INFINITY), 0xFC00);
  // Below half the smallest subnormal (2^-24) everything goes to zero; the tie too.
  EXPECT_EQ(f32_to_f16(0x1p-25f), 0x0000);
  EXPECT_EQ(f32_to_f16(std::nextafter(0x1p-25f, 1.f)), 0x0001);
}

TEST(DType, Bf16RoundsToNearestEven) {
  check_midpoints(0x7F7F, bf16_to_f32, f32_to_bf16, "bf16");
  EXPECT_EQ(f32_to_bf16(std::numeric_limits<float>::max()), 0x7F80);  // rounds up to inf
}

#ifdef __FLT16_MAX__
// GCC's software _Float16 (libgcc) is an independent implementation of the
// same IEEE rounding: compare on a dense sweep of f32 bit patterns.
TEST(DType, F16AgreesWithCompilerFloat16) {
  for (uint64_t bits = 0; bits < (1ull << 32); bits += 65521) {  // a prime stride hits every exponent
    const float f = std::bit_cast<float>(uint32_t(bits));
    if (std::isnan(f)) continue;
    const _Float16 h = _Float16(f);
    ASSERT_EQ(f32_to_f16(f), std::bit_cast<uint16_t>(h)) << "f32 bits 0x" << std::hex << bits;
  }
}
#endif

TEST(DType, BulkConvertMatchesScalar) {
  std::vector<float> src = {0.f, 1.f, -2.5f, 3.14159f, 1e-6f, 65504.f, 1e30f};
  std::vector<uint16_t> h(src.size()), b(src.size());
  convert(src.data(), DType::f32, h.data(), DType::f16, src.size());
  convert(src.data(), DType::f32, b.data(), DType::bf16, src.size());
  for (size_t i = 0; i < src.size(); ++i) {
    EXPECT_EQ(h[i], f32_to_f16(src[i]));
    EXPECT_EQ(b[i], f32_to_bf16(src[i]));
  }
  EXPECT_EQ(dtype_from_name("bf16"), DType::bf16);
  EXPECT_THROW(dtype_from_name("f8"), UsageError);
}

}  // namespace
}  // namespace trident
