// The CPU backend's widened 16-bit GEMMs (Note [widened GEMMs] in
// cpu/gemm.cc) and its fixed-weight copies (Note [fixed weights] in
// backend.h). A widened GEMM must compute exactly what the f32 GEMM of the
// widened operands computes, rounded once into a 16-bit result: that is
// checked bit for bit, against the same backend's f32 GEMM, for every
// transpose, alpha, beta and output dtype. TRIDENT_CPU_BF16=widen makes the
// path run on any CPU, so these tests run everywhere; the ctest
// `test_cpu_kernels_widened` also runs every kernel test through it.
#include <gtest/gtest.h>

#include <cstdlib>
#include <cstring>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "framework/backend/backend.h"
#include "framework/core/error.h"
#include "framework/core/tensor.h"

namespace trident::backend {
namespace {

// A CPU backend made with TRIDENT_CPU_BF16 set to `mode` ("" for unset).
std::unique_ptr<Backend> cpu_backend_with(const std::string& mode) {
  const char* old = std::getenv("TRIDENT_CPU_BF16");
  const std::string saved = old ? old : "";
  if (mode.empty()) unsetenv("TRIDENT_CPU_BF16"); else setenv("TRIDENT_CPU_BF16", mode.c_str(), 1);
  std::unique_ptr<Backend> be;
  try {
    be = make_cpu_backend(2);
  } catch (...) {
    if (old) setenv("TRIDENT_CPU_BF16", saved.c_str(), 1); else unsetenv("TRIDENT_CPU_BF16");
    throw;
  }
  if (old) setenv("TRIDENT_CPU_BF16", saved.c_str(), 1); else unsetenv("TRIDENT_CPU_BF16");
  return be;
}

Tensor random_tensor(Shape shape, DType dtype, std::mt19937& rng) {
  std::normal_distribution<float> normal(0.f, 1.f);
  std::vector<float> v(size_t(shape_numel(shape)));
  for (float& x : v) x = normal(rng);
  return Tensor::from_vector(v, std::move(shape), dtype);
}

bool same_bits(const Tensor& a, const Tensor& b) {
  return a.dtype() == b.dtype() && a.numel() == b.numel() && std::memcmp(a.raw(), b.raw(), a.bytes()) == 0;
}

TEST(CpuWidenedGemm, ReportsTheChoiceAndRejectsUnknownModes) {
  const std::string widen = cpu_backend_with("widen")->details(), automatic = cpu_backend_with("")->details();
  EXPECT_NE(widen.find("f32 "), std::string::npos) << widen;  // oneDNN's implementation for f32
  EXPECT_NE(widen.find("bf16 widened to f32 ("), std::string::npos) << widen;
  EXPECT_NE(widen.find("f16 widened to f32"), std::string::npos) << widen;
  // Left to itself, bf16 is native only on AMX (Note [when to widen]).
  EXPECT_EQ(automatic.find("bf16 widened to f32 (TRIDENT_CPU_BF16=widen)"), std::string::npos) << automatic;
  if (automatic.find("bf16 widened") == std::string::npos)
    EXPECT_NE(automatic.find("amx"), std::string::npos) << automatic;
  // native: oneDNN's bf16 matmul wherever there is one, else a clear refusal.
  try {
    const std::string native = cpu_backend_with("native")->details();
    EXPECT_EQ(native.find("bf16 widened"), std::string::npos) << native;
  } catch (const UsageError& e) {
    EXPECT_NE(std::string(e.what()).find("no bf16 matmul on this CPU"), std::string::npos) << e.what();
  }
  EXPECT_THROW(cpu_backend_with("fast"), UsageError);
}

// Every transpose, 2-D and batched, alpha and beta, 16-bit and f32 results:
// the widened GEMM equals round(f32 GEMM of the widened operands), bitwise.
TEST(CpuWidenedGemm, EqualsTheF32GemmOfTheWidenedOperandsRoundedOnce) {
  auto be = cpu_backend_with("widen");
  std::mt19937 rng(7);
  for (DType in : {DType::bf16, DType::f16})
    for (DType out : {DType::f32, in})
      for (int64_t batch : {0, 3})
        for (bool trans_a : {false, true})
          for (bool trans_b : {false, true})
            for (float beta : {0.f, 0.5f}) {
              const int64_t M = 7, K = 13, N = 5;
              SCOPED_TRACE(std::string(dtype_name(in)) + " -> " + std::string(dtype_name(out)) + " batch " +
                           std::to_string(batch) + " trans " + std::to_string(trans_a) + std::to_string(trans_b) +
                           " beta " + std::to_string(beta));
              auto shape = [&](int64_t r, int64_t c) { return batch ? Shape{batch, r, c} : Shape{r, c}; };
              const Tensor a = random_tensor(trans_a ? shape(K, M) : shape(M, K), in, rng);
              const Tensor b = random_tensor(trans_b ? shape(N, K) : shape(K, N), in, rng);
              const Tensor c0 = random_tensor(shape(M, N), out, rng);
              Tensor c = c0.clone();
              be->gemm(a, trans_a, b, trans_b, c, 0.75f, beta);
              Tensor expect = c0.to(DType::f32);
              be->gemm(a.to(DType::f32), trans_a, b.to(DType::f32), trans_b, expect, 0.75f, beta);
              EXPECT_TRUE(same_bits(c, expect.to(out)));
            }
}

// Inside a fixed-weights span a weight is widened at its first use and the
// copy serves every later GEMM (so a write inside the span, which the
// caller promised not to make, is not seen); the next span widens afresh;
// outside a span nothing is cached.
TEST(CpuWidenedGemm, FixedWeightsAreWidenedOncePerSpan) {
  auto be = cpu_backend_with("widen");
  std::mt19937 rng(11);
  const Tensor x = random_tensor({6, 8}, DType::bf16, rng);  // (N, in)
  Param w = make_param("w", {4, 8}, InitKind::zeros, 0.f, true, DType::bf16);  // (out, in)
  const Tensor w_first = random_tensor({4, 8}, DType::bf16, rng), w_second = random_tensor({4, 8}, DType::bf16, rng);
  auto x_times = [&](const Tensor& weight) {  // y (N, rows of weight) = x · weightᵀ
    Tensor y = Tensor::empty({6, weight.size(0)}, DType::bf16);
    be->gemm(x, false, weight, true, y, 1.f, 0.f);
    return y;
  };
  const Tensor y_first = x_times(w_first), y_second = x_times(w_second);
  ASSERT_FALSE(same_bits(y_first, y_second));

  w.value.copy_from(w_first);
  {
    const FixedWeights fixed(*be, {&w});
    EXPECT_TRUE(same_bits(x_times(w.value), y_first));
    w.value.copy_from(w_second);  // breaks the span's promise, to see the cached copy
    EXPECT_TRUE(same_bits(x_times(w.value), y_first));
    // A part of the weight (another address) is no fixed weight: widened as it is, every call.
    EXPECT_TRUE(same_bits(x_times(w.value.slice(2, 4)), x_times(w_second.slice(2, 4))));
  }
  EXPECT_TRUE(same_bits(x_times(w.value), y_second));  // outside the span: the tensor as it is
  {
    const FixedWeights fixed(*be, {&w});
    EXPECT_TRUE(same_bits(x_times(w.value), y_second));  // a new span widens again
  }
}

// linear_backward widens dy once for both of its GEMMs; its results are those
// of the two GEMMs it replaces, bitwise, with and without a span.
TEST(CpuWidenedGemm, LinearBackwardEqualsItsTwoGemms) {
  for (const char* mode : {"widen", ""}) {
    SCOPED_TRACE(std::string("TRIDENT_CPU_BF16=") + mode);
    auto be = cpu_backend_with(mode);
    std::mt19937 rng(13);
    for (DType dtype : {DType::f32, DType::bf16, DType::f16}) {
      SCOPED_TRACE(std::string(dtype_name(dtype)));
      const Tensor dy = random_tensor({9, 5}, dtype, rng), x = random_tensor({9, 11}, dtype, rng);  // (N, out), (N, in)
      Param w = make_param("w", {5, 11}, InitKind::zeros, 0.f, true, dtype);
      w.value.copy_from(random_tensor({5, 11}, dtype, rng));
      const Tensor dw0 = random_tensor({5, 11}, DType::f32, rng);
      Tensor dx_two = Tensor::empty({9, 11}, dtype), dw_two = dw0.clone();
      be->gemm(dy, false, w.value, false, dx_two, 1.f, 0.f);
      be->gemm(dy, true, x, false, dw_two, 1.f, 1.f);
      for (bool in_span : {false, true}) {
        Tensor dx = Tensor::empty({9, 11}, dtype), dw = dw0.clone();
        if (in_span) {
          const FixedWeights fixed(*be, {&w});
          be->linear_backward(dy, x, w.value, dx, dw);
        } else {
          be->linear_backward(dy, x, w.value, dx, dw);
        }
        EXPECT_TRUE(same_bits(dx, dx_two)) << "dx, span " << in_span;
        EXPECT_TRUE(same_bits(dw, dw_two)) << "dw, span " << in_span;
      }
    }
  }
}

// Widened, linear_forward adds the bias in f32 and rounds once: y equals
// round(x · wᵀ + b) computed in f32 from the widened operands, bitwise.
TEST(CpuWidenedGemm, LinearForwardAddsTheBiasBeforeRounding) {
  auto be = cpu_backend_with("widen");
  std::mt19937 rng(17);
  for (DType dtype : {DType::bf16, DType::f16}) {
    SCOPED_TRACE(std::string(dtype_name(dtype)));
    const Tensor x = random_tensor({14, 13}, dtype, rng), w = random_tensor({5, 13}, dtype, rng);  // (N, in), (out, in)
    const Tensor b = random_tensor({5}, dtype, rng);
    Tensor y = Tensor::empty({14, 5}, dtype);
    be->linear_forward(x, w, b, y);
    Tensor expect = Tensor::empty({14, 5});
    be->gemm(x.to(DType::f32), false, w.to(DType::f32), true, expect, 1.f, 0.f);
    be->bias_add(expect, b.to(DType::f32));
    EXPECT_TRUE(same_bits(y, expect.to(dtype)));
  }
}

TEST(CpuWidenedGemm, SpansDoNotNest) {
  auto be = cpu_backend_with("widen");
  Param w = make_param("w", {2, 2}, InitKind::zeros, 0.f, true, DType::bf16);
  const FixedWeights fixed(*be, {&w});
  EXPECT_THROW(FixedWeights(*be, {&w}), Error);
}

}  // namespace
}  // namespace trident::backend
