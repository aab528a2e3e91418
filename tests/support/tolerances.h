// The one tolerance table of the tests (DESIGN.md "Tests"): a row per dtype,
// a column per kind of computation, each value with its reason in
// Note [tolerances]. A value passes when |ours − ref| <= atol + rtol·|ref|.
// A test asks tolerance(dtype, kind); it writes no tolerance of its own
// unless it checks something exact (bitwise) or a specific numeric claim,
// and then says which.
#pragma once

#include <cmath>
#include <cstdint>

#include "framework/core/dtype.h"

namespace trident::test {

// Note [tolerances]
// u is the unit roundoff, half an ulp relative: f32 2⁻²⁴ ≈ 6.0e-8, bf16
// (8 significand bits) 2⁻⁸ ≈ 3.9e-3, f16 (11 bits) 2⁻¹¹ ≈ 4.9e-4. Every
// kernel computes in f32 whatever it stores, so a 16-bit row is the f32 row
// with the relative part raised to what rounding the result costs.
//
// atol is written for values of order 1 (the tests draw N(0, 1) or U(−1, 1)
// inputs): it covers elements that cancel to near zero, whose error is set
// by the size of the terms that produced them, not by their own. Values of
// another order m pass Tolerance::at_scale(m), which scales atol alone.
//
// elementwise: each output from a few f32 operations on exact inputs, or
//   from a sum of at most a few hundred order-1 terms (a layer-norm or
//   softmax row, a bias or weight gradient summed over rows), rounded once.
//   f32 {1e-5, 1e-5}: the exp and tanh of cpu/vector_math.h are good to
//     2e-7 relative and 1e-7 absolute; a sum of n terms errs by about
//     √n·u·Σ|terms|, 1e-6 for 256 terms of order 1. The CPU kernels measure
//     under 0.3 of this bound (the worst: 128-row weight gradients against
//     finite differences).
//   bf16, f16 {1e-5, 2u}: the f32 arithmetic's absolute error as in f32;
//     storing the result costs at most u relative, which the CPU kernels
//     reach: they sit at half of rtol = 2u.
// reduction: dot products of K ≥ 64 order-1 terms accumulated in f32 (GEMMs,
//   attention), and sums whose result cancels far below its terms (layer-
//   norm backward). A sum of K products of N(0, 1) values is of order √K:
//   pass at_scale(√K).
//   f32 {1e-5, 1e-4}: rounding grows like √K·u·Σ|a_k·b_k|, and K·u in the
//     worst case (1.5e-5 at K = 256), beyond the elementwise rtol; the CPU
//     GEMMs reach 0.1 of this bound at K = 256 (6e-6 relative).
//   bf16, f16 {1e-5, 2u}: rounding the output dominates, as above.
// chain: results that passed through several roundings — kernels feeding
//   each other (a model step), or one operation on two backends that round
//   intermediates in different places (the GPU rounds attention's P and dS
//   to the dtype for its tensor-core GEMMs; a CPU 16-bit GEMM rounds before
//   its bias is added). Errors of order-1 intermediates carry into results
//   near zero, so atol = rtol.
//   f32 {1e-3, 1e-3}: one f32 model step on the GPU against the CPU; the
//     small gradients (layer-norm weights, biases) carry the rounding of
//     many larger terms.
//   bf16 {2e-2, 2e-2} ≈ 5u and f16 {3e-3, 3e-3} ≈ 6u: a few roundings on
//     each side.
//   The chain values are those tests/backend/test_cuda_vs_cpu.cc was
//   written and run on GPUs with; no GPU here re-derives them.
// i32 holds token ids: exact, {0, 0}.
struct Tolerance {
  double atol, rtol;
  // The largest |ours − ref| that passes.
  double bound(double ref) const { return atol + rtol * std::abs(ref); }
  // For values of order `magnitude` instead of 1 (Note [tolerances]).
  Tolerance at_scale(double magnitude) const { return {atol * magnitude, rtol}; }
};

enum class Kind { elementwise, reduction, chain };

inline constexpr double kUnitRoundoffBf16 = 0x1p-8;
inline constexpr double kUnitRoundoffF16 = 0x1p-11;

constexpr Tolerance tolerance(DType dtype, Kind kind = Kind::elementwise) {
  switch (dtype) {
    case DType::f32:
      switch (kind) {
        case Kind::elementwise: return {1e-5, 1e-5};
        case Kind::reduction: return {1e-5, 1e-4};
        case Kind::chain: return {1e-3, 1e-3};
      }
      break;
    case DType::bf16:
      if (kind == Kind::chain) return {2e-2, 2e-2};
      return {1e-5, 2 * kUnitRoundoffBf16};
    case DType::f16:
      if (kind == Kind::chain) return {3e-3, 3e-3};
      return {1e-5, 2 * kUnitRoundoffF16};
    case DType::i32:
      return {0.0, 0.0};
  }
  return {0.0, 0.0};
}

// Exact agreement: copies, and operations both sides round identically.
inline constexpr Tolerance kExact{0.0, 0.0};

// A sum of `terms` non-negative f64 values (sum_squares: squares of f32
// values, exact in f64) in any order errs by at most about (terms − 1)·u of
// the sum, u = 2⁻⁵³ (Higham, Accuracy and Stability of Numerical
// Algorithms, §4.2).
constexpr Tolerance tolerance_f64_sum(int64_t terms) { return {0.0, double(terms) * 0x1p-53}; }

}  // namespace trident::test
