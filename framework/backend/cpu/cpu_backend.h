// CpuBackend: the reference implementation of every Backend operation.
// GEMMs go through oneDNN's matmul primitive (f32, or bf16/f16 inputs with
// f32 accumulation); everything else is plain C++ parallelised with OpenMP
// over the rank's thread budget. One source file per operation family.
#pragma once

#include <dnnl.hpp>
#include <map>
#include <tuple>
#include <vector>

#include "framework/backend/backend.h"

namespace trident::backend {

class CpuBackend final : public Backend {
 public:
  explicit CpuBackend(int threads);
  Device device() const override { return Device::cpu; }
  std::string name() const override;
  void synchronize() override {}

  void gemm(const Tensor& a, bool trans_a, const Tensor& b, bool trans_b, Tensor& c, float alpha,
            float beta) override;
  void embedding_forward(const Tensor& tokens, const Tensor& wte, int64_t vocab_start, Tensor& out) override;
  void embedding_backward(const Tensor& tokens, const Tensor& dout, int64_t vocab_start, Tensor& dwte) override;
  void layernorm_forward(const Tensor& x, const Tensor& w, const Tensor& b, float eps, Tensor& out,
                         Tensor& mean, Tensor& rstd) override;
  void layernorm_backward(const Tensor& dout, const Tensor& x, const Tensor& w, const Tensor& mean,
                          const Tensor& rstd, Tensor& dx, Tensor& dw, Tensor& db) override;
  void gelu_forward(const Tensor& x, Tensor& out) override;
  void gelu_backward(const Tensor& x, const Tensor& dout, Tensor& dx) override;
  void bias_add(Tensor& y, const Tensor& b) override;
  void bias_backward(const Tensor& dy, Tensor& db) override;
  void add(const Tensor& a, const Tensor& b, Tensor& out) override;
  void attention_forward(const Tensor& qkv, int n_heads, Tensor& out, Tensor& probs) override;
  void attention_backward(const Tensor& dout, const Tensor& qkv, const Tensor& /*out*/, const Tensor& probs, int n_heads,
                          Tensor& dqkv) override;
  void cross_entropy_row_max(const Tensor& logits, int64_t vocab_start, int64_t vocab_size, Tensor& row_max) override;
  void cross_entropy_exp_sums(Tensor& logits, const Tensor& row_max, const Tensor& targets, int64_t vocab_start,
                              int64_t vocab_size, Tensor& stats) override;
  void cross_entropy_finish(Tensor& logits, const Tensor& stats, Tensor& losses) override;
  void cross_entropy_backward(Tensor& probs, const Tensor& targets, int64_t vocab_start, float scale) override;
  void adamw_update(Tensor& param, const Tensor& grad, Tensor& m, Tensor& v, const AdamWStep& step) override;
  double sum_squares(const Tensor& x) override;
  bool all_finite(const Tensor& x) override;
  void scale(Tensor& x, float s) override;

 private:
  // A reusable f32 work buffer per slot, grown on demand: attention needs
  // several (B·heads, T, ·) temporaries every call and page-faulting fresh
  // allocations costs more than the arithmetic at small sizes.
  Tensor scratch(int slot, Shape shape);

  int threads_;
  dnnl::engine engine_;
  dnnl::stream stream_;
  // key: batch, M, N, K, trans_a, trans_b, a/b/c dtypes, alpha, beta
  using GemmKey = std::tuple<int64_t, int64_t, int64_t, int64_t, bool, bool, int, int, int, float, float>;
  struct CachedGemm {
    dnnl::matmul primitive;
    dnnl::memory::desc a_md, b_md, c_md;
    bool widen_to_f32;  // no 16-bit primitive here: compute in f32 (gemm.cc)
  };
  std::map<GemmKey, CachedGemm> gemm_cache_;
  std::vector<Tensor> scratch_;
};

}  // namespace trident::backend
