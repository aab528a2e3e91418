// GEMM through oneDNN's matmul primitive. Transposes are expressed as
// strides, so no operand is ever copied; primitives are cached per shape
// because creating one (JIT code generation) costs far more than running it.
#include "framework/backend/cpu/cpu_backend.h"
#include "framework/backend/gemm_shape.h"

namespace trident::backend {
namespace {

dnnl::memory::data_type dnnl_type(DType t) {
  switch (t) {
    case DType::f32: return dnnl::memory::data_type::f32;
    case DType::bf16: return dnnl::memory::data_type::bf16;
    case DType::f16: return dnnl::memory::data_type::f16;
    default: TRIDENT_CHECK(false, "gemm of ", dtype_name(t), " tensors");
  }
  return dnnl::memory::data_type::undef;
}

// Descriptor of op(x) with dims (batch, rows, cols) where x is stored
// row-major either as (batch, rows, cols) or, transposed, (batch, cols, rows).
dnnl::memory::desc operand_desc(int64_t batch, int64_t rows, int64_t cols, bool trans, DType t) {
  const dnnl::memory::dims dims = {batch, rows, cols};
  const dnnl::memory::dims strides =
      trans ? dnnl::memory::dims{rows * cols, 1, rows} : dnnl::memory::dims{rows * cols, cols, 1};
  return dnnl::memory::desc(dims, dnnl_type(t), strides);
}

}  // namespace

void CpuBackend::gemm(const Tensor& a, bool trans_a, const Tensor& b, bool trans_b, Tensor& c,
                      float alpha, float beta) {
  const auto [batch, M, N, K] = gemm_shape(a, trans_a, b, trans_b, c);
  if (M == 0 || N == 0) return;
  if (K == 0) {  // oneDNN rejects empty reductions; the product is zero
    if (beta == 0.f) c.zero_(); else scale(c, beta);
    return;
  }

  const GemmKey key{batch, M, N, K, trans_a, trans_b, int(a.dtype()), int(b.dtype()), int(c.dtype()), alpha, beta};
  auto it = gemm_cache_.find(key);
  if (it == gemm_cache_.end()) {
    const auto a_md = operand_desc(batch, M, K, trans_a, a.dtype());
    const auto b_md = operand_desc(batch, K, N, trans_b, b.dtype());
    const auto c_md = operand_desc(batch, M, N, false, c.dtype());
    dnnl::primitive_attr attr;
    if (alpha != 1.f) attr.set_output_scales(0, {alpha});
    if (beta != 0.f) {
      dnnl::post_ops ops;
      ops.append_sum(beta);
      attr.set_post_ops(ops);
    }
    try {
      const dnnl::matmul::primitive_desc pd(dnnl::matmul::desc(a_md, b_md, c_md), attr, engine_);
      it = gemm_cache_.emplace(key, CachedGemm{dnnl::matmul(pd), a_md, b_md, c_md, false}).first;
    } catch (const dnnl::error&) {
      if (a.dtype() == DType::f32) throw;
      // Remembered per shape, so the failed creation is not retried on every call.
      it = gemm_cache_.emplace(key, CachedGemm{dnnl::matmul(), a_md, b_md, c_md, true}).first;
    }
  }
  const CachedGemm& g = it->second;
  if (g.widen_to_f32) {
    // oneDNN has no 16-bit matmul on some CPUs and versions (f16 needs
    // AVX512-FP16 and oneDNN >= 2.7). Widen the operands to f32, which is
    // exact, and round the f32 result into c once: what a 16-bit GEMM with
    // f32 accumulation computes.
    Tensor c32 = c.dtype() == DType::f32 ? c : c.to(DType::f32);
    gemm(a.to(DType::f32), trans_a, b.to(DType::f32), trans_b, c32, alpha, beta);
    if (c.dtype() != DType::f32) c.copy_from(c32);
    return;
  }
  dnnl::memory a_mem(g.a_md, engine_, a.raw());
  dnnl::memory b_mem(g.b_md, engine_, b.raw());
  dnnl::memory c_mem(g.c_md, engine_, c.raw());
  g.primitive.execute(stream_, {{DNNL_ARG_SRC, a_mem}, {DNNL_ARG_WEIGHTS, b_mem}, {DNNL_ARG_DST, c_mem}});
  stream_.wait();
}

}  // namespace trident::backend
