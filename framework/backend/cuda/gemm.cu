// GEMM through cuBLASLt. cuBLASLt is column-major and trident row-major:
// a row-major (M, N) matrix is the column-major (N, M) one, so
// C = op(A)·op(B) is computed as Cᵀ = op(B)ᵀ·op(A)ᵀ, with the b buffer as
// cuBLASLt's first operand and the a buffer as its second. f32 uses
// CUBLAS_COMPUTE_32F (true f32, to agree with the CPU reference); 16-bit
// inputs accumulate in f32 on the tensor cores.
#include "framework/backend/cuda/cuda_backend.h"
#include "framework/backend/cuda/cuda_check.h"
#include "framework/backend/gemm_shape.h"

namespace trident::backend::cuda {
namespace {

cudaDataType_t cuda_type(DType t) {
  switch (t) {
    case DType::f32: return CUDA_R_32F;
    case DType::bf16: return CUDA_R_16BF;
    case DType::f16: return CUDA_R_16F;
    default: TRIDENT_CHECK(false, "gemm of ", dtype_name(t), " tensors");
  }
  return CUDA_R_32F;
}

// Column-major layout of a row-major (rows, cols) buffer: (cols, rows), ld = cols.
cublasLtMatrixLayout_t layout(DType t, int64_t rows, int64_t cols, int64_t batch) {
  cublasLtMatrixLayout_t l = nullptr;
  CUBLAS_CHECK(cublasLtMatrixLayoutCreate(&l, cuda_type(t), uint64_t(cols), uint64_t(rows), cols));
  if (batch > 1) {
    const int32_t count = int32_t(batch);
    const int64_t stride = rows * cols;
    CUBLAS_CHECK(cublasLtMatrixLayoutSetAttribute(l, CUBLASLT_MATRIX_LAYOUT_BATCH_COUNT, &count, sizeof(count)));
    CUBLAS_CHECK(cublasLtMatrixLayoutSetAttribute(l, CUBLASLT_MATRIX_LAYOUT_STRIDED_BATCH_OFFSET, &stride, sizeof(stride)));
  }
  return l;
}

// The largest power of two (at most 256) that divides the address:
// cuBLASLt's heuristic assumes 256-byte aligned operands unless told, and
// views into a buffer (heads, slices, scratch) can start anywhere.
uint32_t alignment(const void* p) {
  const auto a = reinterpret_cast<uintptr_t>(p);
  uint32_t align = 256;
  while (align > 1 && a % align != 0) align /= 2;
  return align;
}

}  // namespace

void CudaBackend::gemm(const Tensor& a, bool trans_a, const Tensor& b, bool trans_b, Tensor& c, float alpha,
                       float beta) {
  TRIDENT_CHECK(a.device() == Device::cuda, "gemm on the CUDA backend of host tensors");
  const auto [batch, M, N, K] = gemm_shape(a, trans_a, b, trans_b, c);
  const OpScope prof(*this, "gemm",
                     profiling() ? ::trident::detail::concat(batch, "x(", M, "x", K, ")", trans_a ? "T" : "", "·(", K, "x", N, ")",
                                                  trans_b ? "T" : "", " ", dtype_name(a.dtype()), "->",
                                                  dtype_name(c.dtype()), beta != 0.f ? " +=" : "")
                                 : std::string());
  if (M == 0 || N == 0) return;
  if (K == 0) {
    if (beta == 0.f) c.zero_(); else scale(c, beta);
    return;
  }

  TRIDENT_CHECK(a.dtype() == b.dtype(), "gemm of ", dtype_name(a.dtype()), " by ", dtype_name(b.dtype()),
                ": cuBLASLt multiplies operands of one dtype");
  const uint32_t align_first = alignment(b.raw()), align_second = alignment(a.raw()), align_c = alignment(c.raw());
  const GemmKey key{batch,          M,           N,           K,           trans_a, trans_b, int(a.dtype()),
                    int(c.dtype()), align_first, align_second, align_c};
  auto it = gemm_cache_.find(key);
  if (it == gemm_cache_.end()) {
    CachedGemm g;
    CUBLAS_CHECK(cublasLtMatmulDescCreate(&g.op, CUBLAS_COMPUTE_32F, CUDA_R_32F));
    // cuBLASLt's first operand is the b buffer: op = T when b is stored transposed.
    const cublasOperation_t op_first = trans_b ? CUBLAS_OP_T : CUBLAS_OP_N;
    const cublasOperation_t op_second = trans_a ? CUBLAS_OP_T : CUBLAS_OP_N;
    CUBLAS_CHECK(cublasLtMatmulDescSetAttribute(g.op, CUBLASLT_MATMUL_DESC_TRANSA, &op_first, sizeof(op_first)));
    CUBLAS_CHECK(cublasLtMatmulDescSetAttribute(g.op, CUBLASLT_MATMUL_DESC_TRANSB, &op_second, sizeof(op_second)));
    g.a = trans_b ? layout(b.dtype(), N, K, batch) : layout(b.dtype(), K, N, batch);  // b stored (N,K) or (K,N)
    g.b = trans_a ? layout(a.dtype(), K, M, batch) : layout(a.dtype(), M, K, batch);  // a stored (K,M) or (M,K)
    g.c = layout(c.dtype(), M, N, batch);
    cublasLtMatmulPreference_t pref = nullptr;
    CUBLAS_CHECK(cublasLtMatmulPreferenceCreate(&pref));
    const uint64_t ws = workspace_bytes_;
    CUBLAS_CHECK(cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, &ws, sizeof(ws)));
    CUBLAS_CHECK(cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_A_BYTES, &align_first,
                                                      sizeof(align_first)));
    CUBLAS_CHECK(cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_B_BYTES, &align_second,
                                                      sizeof(align_second)));
    CUBLAS_CHECK(cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_C_BYTES, &align_c,
                                                      sizeof(align_c)));
    CUBLAS_CHECK(cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_D_BYTES, &align_c,
                                                      sizeof(align_c)));
    cublasLtMatmulHeuristicResult_t result{};
    int found = 0;
    CUBLAS_CHECK(cublasLtMatmulAlgoGetHeuristic(lt_, g.op, g.a, g.b, g.c, g.c, pref, 1, &result, &found));
    cublasLtMatmulPreferenceDestroy(pref);
    TRIDENT_CHECK(found > 0, "cuBLASLt has no algorithm for gemm ", shape_str(a.shape()), " x ", shape_str(b.shape()));
    g.algo = result.algo;
    it = gemm_cache_.emplace(key, g).first;
  }
  const CachedGemm& g = it->second;
  CUBLAS_CHECK(cublasLtMatmul(lt_, g.op, &alpha, b.raw(), g.a, a.raw(), g.b, &beta, c.raw(), g.c, c.raw(), g.c,
                              &g.algo, workspace_, workspace_bytes_, stream_));
}

}  // namespace trident::backend::cuda
