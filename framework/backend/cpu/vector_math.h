// Elementwise math that the compiler can vectorise: glibc's expf/tanhf are
// scalar calls unless the whole program is built with -ffast-math, and they
// dominate GELU and softmax time when they stay scalar.
#pragma once

#include <bit>
#include <cstdint>

namespace trident::backend::cpu {

// e^x by Cody-Waite range reduction (x = n·ln2 + r, |r| <= ln2/2) and a
// degree-6 Taylor/Horner polynomial for e^r; relative error about 2e-7 over
// the clamped range [-87.3, 88]: below it the result is ~1e-38 instead of
// a denormal or 0, above it ~1.6e38 instead of inf. Written so that GCC
// vectorises the loops that call it (see the notes on each line).
inline float exp_poly(float x) {
  x = x < -87.3f ? -87.3f : x;  // ternaries become vmaxps/vminps; fminf/fmaxf do not vectorise
  x = x > 88.f ? 88.f : x;
  const float n = __builtin_rintf(x * 1.44269504088896341f);  // nearest (default mode); vectorises, roundevenf does not
  const float r = (x - n * 0.693145751953125f) - n * 1.42860682030941723212e-6f;
  float p = 1.f / 720.f;
  p = p * r + 1.f / 120.f;
  p = p * r + 1.f / 24.f;
  p = p * r + 1.f / 6.f;
  p = p * r + 0.5f;
  p = p * r + 1.f;
  p = p * r + 1.f;
  const int32_t bits = (int32_t(n) + 127) << 23;
  return p * std::bit_cast<float>(bits);
}

// The logistic σ(x) = 1 / (1 + e^−x) on exp_poly (SwiGLU's gate).
inline float sigmoid_poly(float x) { return 1.f / (1.f + exp_poly(-x)); }

// tanh(x) = sign(x)·(1 − 2 / (e^{2|x|} + 1)); absolute error about 1e-7.
inline float tanh_poly(float x) {
  const float t = 1.f - 2.f / (exp_poly(2.f * __builtin_fabsf(x)) + 1.f);
  return __builtin_copysignf(t, x);
}

}  // namespace trident::backend::cpu
