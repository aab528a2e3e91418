// CpuBackend: the reference implementation of every Backend operation.
// GEMMs go through oneDNN's matmul primitive (f32, or bf16/f16 inputs with
// f32 accumulation; Note [widened GEMMs] in gemm.cc where this CPU has no
// native 16-bit matmul); everything else is plain C++ parallelised with
// OpenMP over the rank's thread budget. One source file per operation family.
#pragma once

#include <dnnl.hpp>
#include <map>
#include <string>
#include <tuple>
#include <vector>

#include "framework/backend/backend.h"

// Note [kernel variants] (kernel_target.h): each compilation of cpu/ puts
// its CpuBackend in its own namespace, baseline or x86_64_v3.
#ifndef TRIDENT_CPU_VARIANT
#define TRIDENT_CPU_VARIANT baseline
#endif

namespace trident::backend {
inline namespace TRIDENT_CPU_VARIANT {

// Which compilation this is: "x86-64-v3", "baseline", or "-march=<value>"
// when the build set TRIDENT_CPU_ARCH.
inline std::string kernel_variant_name() {
#if defined(TRIDENT_CPU_X86_64_V3)
  return "x86-64-v3";
#elif defined(TRIDENT_CPU_MARCH)
  return std::string("-march=") + TRIDENT_CPU_MARCH;
#else
  return "baseline";
#endif
}

// This compilation's backend; make_cpu_backend chooses among them.
std::unique_ptr<Backend> make_cpu_backend_variant(int threads);

class CpuBackend final : public Backend {
 public:
  explicit CpuBackend(int threads);
  Device device() const override { return Device::cpu; }
  std::string name() const override;
  std::string details() const override;
  void synchronize() override {}

  void gemm(const Tensor& a, bool trans_a, const Tensor& b, bool trans_b, Tensor& c, float alpha,
            float beta) override;
  void linear_forward(const Tensor& x, const Tensor& w, const Tensor& b, Tensor& y) override;
  void linear_backward(const Tensor& dy, const Tensor& x, const Tensor& w, Tensor& dx, Tensor& dw) override;
  void embedding_forward(const Tensor& tokens, const Tensor& wte, int64_t vocab_start, Tensor& out) override;
  void embedding_backward(const Tensor& tokens, const Tensor& dout, int64_t vocab_start, Tensor& dwte) override;
  void layernorm_forward(const Tensor& x, const Tensor& w, const Tensor& b, float eps, Tensor& out,
                         Tensor& mean, Tensor& rstd) override;
  void layernorm_backward(const Tensor& dout, const Tensor& x, const Tensor& w, const Tensor& mean,
                          const Tensor& rstd, Tensor& dx, Tensor& dw, Tensor& db) override;
  void rmsnorm_forward(const Tensor& x, const Tensor& w, float eps, Tensor& out, Tensor& rstd) override;
  void rmsnorm_backward(const Tensor& dout, const Tensor& x, const Tensor& w, const Tensor& rstd, Tensor& dx,
                        Tensor& dw) override;
  void swiglu_forward(const Tensor& x, Tensor& out) override;
  void swiglu_backward(const Tensor& x, const Tensor& dout, Tensor& dx) override;
  void rope_forward(Tensor& qkv, int n_heads, int n_kv_heads, float base) override;
  void rope_backward(Tensor& dqkv, int n_heads, int n_kv_heads, float base) override;
  void gelu_forward(const Tensor& x, Tensor& out) override;
  void gelu_backward(const Tensor& x, const Tensor& dout, Tensor& dx) override;
  void bias_add(Tensor& y, const Tensor& b) override;
  void bias_backward(const Tensor& dy, Tensor& db) override;
  void add(const Tensor& a, const Tensor& b, Tensor& out) override;
  void attention_forward(const Tensor& qkv, int n_heads, int n_kv_heads, Tensor& out, Tensor& probs) override;
  void attention_backward(const Tensor& dout, const Tensor& qkv, const Tensor& /*out*/, const Tensor& probs,
                          int n_heads, int n_kv_heads, Tensor& dqkv) override;
  void cross_entropy_row_max(const Tensor& logits, int64_t vocab_start, int64_t vocab_size, Tensor& row_max) override;
  void cross_entropy_exp_sums(Tensor& logits, const Tensor& row_max, const Tensor& targets, int64_t vocab_start,
                              int64_t vocab_size, Tensor& stats) override;
  void cross_entropy_finish(Tensor& logits, const Tensor& stats, Tensor& losses) override;
  void cross_entropy_backward(Tensor& probs, const Tensor& targets, int64_t vocab_start, float scale) override;
  void adamw_update(Tensor& param, const Tensor& grad, Tensor& m, Tensor& v, const AdamWStep& step) override;
  double sum_squares(const Tensor& x) override;
  bool all_finite(const Tensor& x) override;
  void scale(Tensor& x, float s) override;
  void begin_fixed_weights(const std::vector<const Tensor*>& ws) override;
  void end_fixed_weights() override;

 private:
  // Scratch slots (see scratch()): attention's temporaries, and the f32
  // operands of widened GEMMs. Attention's own GEMMs are f32, so the two
  // never hold a slot at the same time.
  enum ScratchSlot { kAttnQ, kAttnK, kAttnV, kAttnY, kAttnDProbs, kAttnDQ, kAttnDK, kAttnDV, kWidenA, kWidenB, kWidenC,
                    kWidenDy };

  // A reusable f32 work buffer per slot, grown on demand: attention needs
  // several (B·heads, T, ·) temporaries every call and page-faulting fresh
  // allocations costs more than the arithmetic at small sizes.
  Tensor scratch(int slot, Shape shape);

  // Decides widen_bf16_/widen_f16_ (TRIDENT_CPU_BF16, and which 16-bit
  // matmul oneDNN makes here) and writes gemm_report_, the line details()
  // gives: e.g. "oneDNN 2.6.3 matmul: f32 brg:avx512_core, bf16 widened to
  // f32 (...), f16 widened to f32 (...)".
  void choose_gemm_paths();
  // RoPE's cos and sin of t·θ_i for t < T, i < D/2, each (T, D/2) f32:
  // the table of the last (T, D, base) asked for, kept, since every layer
  // of a step asks for the same one.
  struct RopeTable {
    int64_t T = 0, D = 0;
    float base = 0.f;
    std::vector<float> cos, sin;  // (T, D/2): T at least the longest sequence yet, doubled when outgrown (sampling)
  };
  const RopeTable& rope_table(int64_t T, int64_t D, float base);
  // Turns qkv's Q and K heads by +angle (sign 1, forward) or −angle (sign −1, backward).
  void rope_apply(Tensor& qkv, int n_heads, int n_kv_heads, float base, float sign, const char* op);

  // Whether 16-bit GEMMs of `dtype` widen their operands to f32.
  bool gemm_widens(DType dtype) const;
  // c = alpha · op(a) · op(b) + beta · c through f32 copies of the 16-bit operands.
  void gemm_widened(const Tensor& a, bool trans_a, const Tensor& b, bool trans_b, Tensor& c, float alpha,
                    float beta);
  // `t` as f32: itself, its widened copy while it is a fixed weight, or a
  // copy in scratch `slot`.
  Tensor widened(const Tensor& t, int slot);

  int threads_;
  dnnl::engine engine_;
  dnnl::stream stream_;
  bool widen_bf16_ = false, widen_f16_ = false;
  std::string gemm_report_;
  // key: batch, M, N, K, trans_a, trans_b, a/b/c dtypes, alpha, beta
  using GemmKey = std::tuple<int64_t, int64_t, int64_t, int64_t, bool, bool, int, int, int, float, float>;
  struct CachedGemm {
    dnnl::matmul primitive;
    dnnl::memory::desc a_md, b_md, c_md;
    bool widen_to_f32;  // no 16-bit primitive for this shape: compute in f32 (gemm.cc)
  };
  std::map<GemmKey, CachedGemm> gemm_cache_;
  // Note [fixed weights]: f32 copies of the fixed 16-bit weights, by address;
  // `fresh` once widened in the current span. Buffers outlive the span so
  // the next step reuses them.
  struct WidenedWeight {
    int64_t numel;
    Tensor f32;  // (numel), made at the first use
    bool fresh;
  };
  std::map<const void*, WidenedWeight> widened_weights_;
  bool weights_fixed_ = false;
  std::vector<Tensor> scratch_;
  RopeTable rope_table_;
};

}  // inline namespace TRIDENT_CPU_VARIANT
}  // namespace trident::backend
