// Backend: every kernel the decoder (GPT-2 and Llama pieces) needs, forward and backward, behind
// one interface with a CPU implementation (cpu/, the numerical reference)
// and a CUDA one (cuda/). Layers call these in a readable order; there is
// no graph and no autograd.
//
// Conventions, for every operation:
// - Shapes are given as comments; B batch, T sequence, C hidden, V vocab,
//   N = B·T rows. Tensors are contiguous and row-major.
// - Outputs named `out`/`dx` are overwritten. Weight gradients (`dw`, `db`,
//   `dwte`, ...) are ACCUMULATED into FP32 main-grad buffers, so several
//   micro-batches add up without extra passes.
// - Activations (the tensors in the run's compute dtype) may be f32, bf16
//   or f16: an operation's activation operands share one dtype, it loads
//   them as f32, computes in f32 and stores its activation outputs in that
//   dtype. Norm statistics, attention probabilities, logits, losses,
//   weight gradients and optimizer state are always f32.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "framework/core/param.h"
#include "framework/core/tensor.h"

namespace trident::backend {

struct AdamWStep {
  float lr;
  float beta1, beta2, eps;
  float weight_decay;  // decoupled: p -= lr·wd·p before the Adam update
  int64_t step;        // 1-based, for bias correction
  float grad_scale = 1.f;  // the gradient used is grad · grad_scale (unscaling and clipping, fused)
  // When set (mixed precision), also receives the updated f32 parameter
  // rounded to its own dtype, in the same pass: the compute weights.
  Tensor* rounded_copy = nullptr;
};

class Backend {
 public:
  virtual ~Backend() = default;
  virtual Device device() const = 0;
  virtual std::string name() const = 0;
  // How it computes, in one line for the start-up log (which kernels, which
  // GEMM implementation per dtype); empty where there is nothing to say.
  virtual std::string details() const { return {}; }
  // Waits until all work issued so far has finished (for timing; the CPU
  // backend is synchronous).
  virtual void synchronize() = 0;
  // Note [fixed weights]: between begin_fixed_weights(ws) and
  // end_fixed_weights() the caller promises not to write the tensors in ws
  // (the trainer brackets the forward and backward passes of a step, before
  // the optimizer writes the weights). A backend may meanwhile keep derived
  // forms of them: the CPU backend, where oneDNN has no native 16-bit GEMM,
  // widens each 16-bit weight to f32 once per step instead of on every GEMM.
  // Outside such a span nothing is cached. Use FixedWeights (below).
  virtual void begin_fixed_weights(const std::vector<const Tensor*>& /*ws*/) {}
  virtual void end_fixed_weights() {}

  // The device queue operations run on (a cudaStream_t on the GPU), for
  // communication that must be ordered with them (NCCL); null on the CPU.
  virtual void* native_stream() { return nullptr; }

  // c = alpha · op(a) · op(b) + beta · c, op(x) = xᵀ when trans is set.
  // 2-D: op(a) (M, K), op(b) (K, N), c (M, N). 3-D: a leading batch dim on
  // all three. a and b share one dtype (f32, bf16 or f16); c is f32 or that
  // dtype. Accumulates in f32.
  virtual void gemm(const Tensor& a, bool trans_a, const Tensor& b, bool trans_b, Tensor& c,
                    float alpha = 1.f, float beta = 0.f) = 0;

  // A linear layer's forward: y (N, out) = x (N, in) · wᵀ + b, w (out, in),
  // b (out) in y's dtype. The default is gemm then bias_add; the GPU, and
  // the CPU where it widens, add the bias in f32 before y is rounded.
  virtual void linear_forward(const Tensor& x, const Tensor& w, const Tensor& b, Tensor& y);
  // Its backward without the bias: dx (N, in) = dy (N, out) · w, overwritten,
  // and dw (out, in) += dyᵀ · x, f32. The default is the two GEMMs; the CPU
  // backend widens dy once for both where it widens (Note [widened GEMMs]).
  virtual void linear_backward(const Tensor& dy, const Tensor& x, const Tensor& w, Tensor& dx, Tensor& dw);

  // Token embedding of a vocabulary shard. tokens (B, T) i32; wte (V_shard, C)
  // holds ids [vocab_start, vocab_start + V_shard). out (B, T, C): the row of
  // each token in the shard, zeros for tokens outside it (tensor parallelism
  // then sums the shards; with one shard, vocab_start = 0 and all are in).
  virtual void embedding_forward(const Tensor& tokens, const Tensor& wte, int64_t vocab_start,
                                 Tensor& out) = 0;
  // dwte (V_shard, C) += dout rows scattered by token, for tokens in the shard.
  virtual void embedding_backward(const Tensor& tokens, const Tensor& dout, int64_t vocab_start,
                                  Tensor& dwte) = 0;

  // out (N, C) = (x − mean) · rstd · w + b over each row; mean, rstd (N) f32 saved.
  virtual void layernorm_forward(const Tensor& x, const Tensor& w, const Tensor& b, float eps,
                                 Tensor& out, Tensor& mean, Tensor& rstd) = 0;
  // dx (N, C) overwritten; dw, db (C) accumulated.
  virtual void layernorm_backward(const Tensor& dout, const Tensor& x, const Tensor& w,
                                  const Tensor& mean, const Tensor& rstd, Tensor& dx, Tensor& dw,
                                  Tensor& db) = 0;

  // RMSNorm: out (N, C) = x · rstd · w over each row, rstd (N) f32 = 1/√(mean(x²) + eps), saved.
  virtual void rmsnorm_forward(const Tensor& x, const Tensor& w, float eps, Tensor& out, Tensor& rstd) = 0;
  // dx (N, C) overwritten; dw (C) accumulated.
  virtual void rmsnorm_backward(const Tensor& dout, const Tensor& x, const Tensor& w, const Tensor& rstd, Tensor& dx,
                                Tensor& dw) = 0;

  // SwiGLU (Megatron's chunk order): x (N, 2F) holds [gate | up] in each
  // row; out (N, F) = silu(gate) · up, silu(g) = g · sigmoid(g).
  virtual void swiglu_forward(const Tensor& x, Tensor& out) = 0;
  // dx (N, 2F) overwritten from x (N, 2F) and dout (N, F).
  virtual void swiglu_backward(const Tensor& x, const Tensor& dout, Tensor& dx) = 0;

  // Rotary position embedding, in place, HF Llama's rotate-half convention:
  // qkv (B, T, (n_heads + 2·n_kv_heads)·D) with columns Q | K | V; every Q
  // and K head's row at position t (0-based) becomes x·cos + rotate_half(x)·sin,
  // rotate_half(x) = (−x[D/2:], x[:D/2]), angle t·base^(−2i/D) for pair i < D/2.
  // V is untouched. The angles' cos and sin are computed in double and
  // rounded to f32.
  virtual void rope_forward(Tensor& qkv, int n_heads, int n_kv_heads, float base) = 0;
  // Its backward, in place: dqkv's Q and K columns, the gradient of the
  // rotated values, become the gradient of the values before the rotation
  // (the inverse rotation); V's columns are untouched.
  virtual void rope_backward(Tensor& dqkv, int n_heads, int n_kv_heads, float base) = 0;

  // GELU, tanh approximation: 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³))).
  virtual void gelu_forward(const Tensor& x, Tensor& out) = 0;
  virtual void gelu_backward(const Tensor& x, const Tensor& dout, Tensor& dx) = 0;

  // y (N, C) += b (C), in place.
  virtual void bias_add(Tensor& y, const Tensor& b) = 0;
  // db (C) += Σ_rows dy (N, C).
  virtual void bias_backward(const Tensor& dy, Tensor& db) = 0;

  // out = a + b, elementwise; out may be a or b (residual connections).
  virtual void add(const Tensor& a, const Tensor& b, Tensor& out) = 0;

  // Causal multi-head self-attention core with grouped-query attention.
  // qkv (B, T, (n_heads + 2·n_kv_heads)·D) with columns Q | K | V: n_heads
  // query heads and n_kv_heads key/value heads of D each; query head h
  // attends with key/value head h mod n_kv_heads (Note [query groups] in
  // models/gpt/self_attention.h; n_kv_heads = n_heads is plain multi-head
  // attention, qkv (B, T, 3C)). out (B, T, n_heads·D) with heads
  // concatenated. `saved` (f32, shaped by attention_saved_shape) receives
  // what backward needs: by default the probabilities (B, n_heads, T, T);
  // a fused kernel keeps only the log-sum-exp of each row (B, n_heads, T)
  // and recomputes the rest.
  virtual void attention_forward(const Tensor& qkv, int n_heads, int n_kv_heads, Tensor& out, Tensor& saved) = 0;
  // dqkv shaped like qkv, overwritten (a key/value head's gradient sums
  // over the query heads it serves); out is the forward's output.
  virtual void attention_backward(const Tensor& dout, const Tensor& qkv, const Tensor& out, const Tensor& saved,
                                  int n_heads, int n_kv_heads, Tensor& dqkv) = 0;
  // The shape of attention_forward's `saved` for these sizes and activation dtype.
  virtual Shape attention_saved_shape(int64_t B, int64_t n_heads, int64_t n_kv_heads, int64_t T, int64_t head_dim,
                                      DType dtype) const;

  // Softmax cross-entropy in pieces, so that tensor parallelism can sum the
  // statistics of vocabulary shards between them and never gather the full
  // logits (Megatron's vocab-parallel cross-entropy). logits (N, V_shard) f32
  // hold ids [vocab_start, vocab_start + V_shard); ids >= vocab_size are
  // padding and take no part. With one shard the reductions between the
  // pieces are identities; cross_entropy_forward below chains them.
  //
  // row_max (N) = max over the shard's real columns (−inf if none).
  virtual void cross_entropy_row_max(const Tensor& logits, int64_t vocab_start, int64_t vocab_size,
                                     Tensor& row_max) = 0;
  // logits <- exp(logits − row_max) (0 for padding); stats (2, N): row 0 the
  // sum of those, row 1 the target's logit − row_max where the target is in
  // the shard, else 0. row_max must already be the maximum over all shards.
  virtual void cross_entropy_exp_sums(Tensor& logits, const Tensor& row_max, const Tensor& targets,
                                      int64_t vocab_start, int64_t vocab_size, Tensor& stats) = 0;
  // With stats summed over all shards: logits <- probabilities (exp / sum),
  // losses (N) = log(sum) − (target logit − row_max).
  virtual void cross_entropy_finish(Tensor& logits, const Tensor& stats, Tensor& losses) = 0;
  // probs (N, V_shard) <- dlogits = scale · (probs − onehot(target in shard)).
  virtual void cross_entropy_backward(Tensor& probs, const Tensor& targets, int64_t vocab_start,
                                      float scale) = 0;
  // The unsharded cross-entropy: logits (N, V) become probabilities; losses (N).
  void cross_entropy_forward(Tensor& logits, const Tensor& targets, Tensor& losses);

  // AdamW on f32 param, grad, m, v (same shape), in place.
  virtual void adamw_update(Tensor& param, const Tensor& grad, Tensor& m, Tensor& v,
                            const AdamWStep& step) = 0;

  // Σ x² of an f32 tensor, accumulated in f64 (for the global gradient
  // norm). Partial sums are combined in a fixed order, so the result is
  // reproducible.
  virtual double sum_squares(const Tensor& x) = 0;
  // Whether no element is NaN or ±inf. (The trainer's overflow check reads
  // the same from sum_squares_each, which it needs for the norm anyway.)
  virtual bool all_finite(const Tensor& x) = 0;
  // x (f32) *= s, in place.
  virtual void scale(Tensor& x, float s) = 0;
  // sum_squares of each tensor of a list (the same bits as one call each).
  // A GPU answers with one round trip to the host instead of one per
  // tensor; a step asks it of every gradient, once, for both the gradient
  // norm and the non-finite check (Σx² is finite exactly when every x is).
  virtual std::vector<double> sum_squares_each(const std::vector<const Tensor*>& xs);
};

// The span of Note [fixed weights], as a scope: the parameters' values are
// not written while it lives.
class FixedWeights {
 public:
  FixedWeights(Backend& backend, const std::vector<Param*>& params);
  ~FixedWeights() { backend_.end_fixed_weights(); }
  FixedWeights(const FixedWeights&) = delete;
  FixedWeights& operator=(const FixedWeights&) = delete;

 private:
  Backend& backend_;
};

// RoPE's table for positions [0, T) and head size D: cos and sin, each (T, D/2),
// angle t·base^(−2i/D) computed in double and rounded to f32 (HF computes it in
// f32, off by up to 5e-4 rad at t = 8191). Both backends use this one table; a
// table built for T serves any shorter sequence as its first rows.
void rope_angles(int64_t T, int64_t D, float base, float* cos_t, float* sin_t);

// The CPU backend with `threads` worker threads (the rank's share of cores).
std::unique_ptr<Backend> make_cpu_backend(int threads);

// Whether this build has the CUDA backend, and how many GPUs this process sees.
bool cuda_backend_built();
int cuda_device_count();  // 0 without the CUDA backend or without a GPU
// The CUDA backend on GPU `device` (an index among the visible ones).
// Throws UsageError when the build or the machine has no GPU.
std::unique_ptr<Backend> make_cuda_backend(int device);

// The backend for `device` (cpu, cuda); `threads` is the CPU thread budget.
std::unique_ptr<Backend> make_backend(Device device, int threads, int cuda_device = 0);

}  // namespace trident::backend
