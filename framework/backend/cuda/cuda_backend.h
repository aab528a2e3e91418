// CudaBackend: every Backend operation on one GPU. GEMMs through cuBLASLt
// (algorithm chosen by heuristic once per shape and cached, one
// workspace); the other operations are CUDA kernels, one file per op
// family, each launched on the backend's compute stream and checked.
// Results are compared with the CPU backend by tests/backend/test_cuda_vs_cpu.
//
// Reductions over rows into weight gradients (layer norm, RMSNorm, bias,
// token embedding) and over the query heads of a key/value group are
// written as fixed-order partial sums, not atomics, so a step computes the
// same bits every time: exact resume depends on it.
#pragma once

#include <cublasLt.h>
#include <cuda_runtime.h>

#include <map>
#include <string>
#include <tuple>
#include <vector>

#include "framework/backend/backend.h"

namespace trident::backend::cuda {

class CudaBackend final : public Backend {
 public:
  explicit CudaBackend(int device);
  ~CudaBackend() override;
  Device device() const override { return Device::cuda; }
  std::string name() const override;
  void synchronize() override;

  void gemm(const Tensor& a, bool trans_a, const Tensor& b, bool trans_b, Tensor& c, float alpha,
            float beta) override;
  void linear_forward(const Tensor& x, const Tensor& w, const Tensor& bias, Tensor& y) override;
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
  void attention_backward(const Tensor& dout, const Tensor& qkv, const Tensor& out, const Tensor& probs, int n_heads,
                          int n_kv_heads, Tensor& dqkv) override;
  Shape attention_saved_shape(int64_t B, int64_t n_heads, int64_t n_kv_heads, int64_t T, int64_t head_dim,
                              DType dtype) const override;
  void cross_entropy_row_max(const Tensor& logits, int64_t vocab_start, int64_t vocab_size, Tensor& row_max) override;
  void cross_entropy_exp_sums(Tensor& logits, const Tensor& row_max, const Tensor& targets, int64_t vocab_start,
                              int64_t vocab_size, Tensor& stats) override;
  void cross_entropy_finish(Tensor& logits, const Tensor& stats, Tensor& losses) override;
  void cross_entropy_backward(Tensor& probs, const Tensor& targets, int64_t vocab_start, float scale) override;
  void adamw_update(Tensor& param, const Tensor& grad, Tensor& m, Tensor& v, const AdamWStep& step) override;
  double sum_squares(const Tensor& x) override;
  bool all_finite(const Tensor& x) override;
  void scale(Tensor& x, float s) override;
  std::vector<double> sum_squares_each(const std::vector<const Tensor*>& xs) override;

  cudaStream_t stream() const { return stream_; }
  void* native_stream() override { return stream_; }

  // TRIDENT_CUDA_PROFILE=1 in the environment: every operation
  // synchronises before and after, its wall time is added up per
  // operation (GEMMs per shape; the first call of each kept apart, as it
  // loads kernels and times GEMM algorithms), and the table goes to stderr
  // when the backend is destroyed. For finding where a step's time goes, never for timing
  // one: the synchronisations cost time of their own.
  class OpScope {
   public:
    OpScope(CudaBackend& be, const char* op, const std::string& detail = {});
    ~OpScope();
    OpScope(const OpScope&) = delete;
    OpScope& operator=(const OpScope&) = delete;

   private:
    CudaBackend* be_ = nullptr;  // null when profiling is off
    std::string key_;
    double start_ = 0.0;
  };
  bool profiling() const { return profiling_; }

 private:
  friend class OpScope;
  bool profiling_ = false;
  struct OpTotal {
    double seconds = 0.0;  // calls after the first
    int64_t calls = 0;
    double first_call_seconds = -1.0;
  };
  std::map<std::string, OpTotal> profile_;
  void log_profile() const;

  // Column sums of a (rows, cols) matrix in any float dtype added into the
  // f32 out (cols), in a fixed order: partial sums over row chunks, then
  // the chunks in order.
  void column_sums_accumulate(const Tensor& m, int64_t rows, int64_t cols, float* out);
  // A reusable device work buffer per slot, grown on demand (and replaced
  // when a slot is asked for in another dtype).
  Tensor scratch(int slot, Shape shape, DType dtype = DType::f32);

  int device_;
  cudaStream_t stream_ = nullptr;
  cublasLtHandle_t lt_ = nullptr;
  void* workspace_ = nullptr;
  size_t workspace_bytes_ = 32u << 20;
  bool gemm_verbose_ = false;  // TRIDENT_GEMM_VERBOSE: each shape's candidate timings to stderr
  struct CachedGemm {
    cublasLtMatmulDesc_t op = nullptr;
    cublasLtMatrixLayout_t a = nullptr, b = nullptr, c = nullptr;
    cublasLtMatmulAlgo_t algo{};
  };
  // key: batch, M, N, K, trans_a, trans_b, a/b dtype, c dtype, operand alignments (bytes)
  // and whether a bias epilogue is fused
  using GemmKey =
      std::tuple<int64_t, int64_t, int64_t, int64_t, bool, bool, int, int, uint32_t, uint32_t, uint32_t, bool>;
  std::map<GemmKey, CachedGemm> gemm_cache_;
  // gemm and linear_forward: c = alpha·op(a)·op(b) + beta·c (+ bias along the columns).
  void run_gemm(const Tensor& a, bool trans_a, const Tensor& b, bool trans_b, Tensor& c, float alpha, float beta,
                const Tensor* bias);
  cublasLtMatmulAlgo_t choose_algorithm(const CachedGemm& g, const Tensor& a, const Tensor& b, const Tensor& c,
                                        float alpha, float beta, uint32_t align_first, uint32_t align_second,
                                        uint32_t align_c);
  std::vector<Tensor> scratch_;
  // RoPE's cos and sin tables (2, T, D/2) f32 on the device, by (D, base); T at least the longest yet (rope.cu).
  std::map<std::pair<int64_t, float>, Tensor> rope_tables_;
  const Tensor& rope_table(int64_t T, int64_t D, float base);
  void rope_rotate(Tensor& qkv, int n_heads, int n_kv_heads, float base, bool inverse);
  // Scratch slots: 0-2 and 11 (layer norm and RMSNorm, column sums, sums of squares, flags), 3-10
  // and 12-13 (attention, attention.cu), and these.
  enum : int { kEmbPositions = 14, kEmbSortedTokens, kEmbSortedPositions, kEmbSortTemp };
};

}  // namespace trident::backend::cuda
