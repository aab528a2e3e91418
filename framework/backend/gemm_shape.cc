#include "framework/backend/gemm_shape.h"

namespace trident::backend {

GemmShape gemm_shape(const Tensor& a, bool trans_a, const Tensor& b, bool trans_b, const Tensor& c) {
  TRIDENT_CHECK(a.dim() == b.dim() && a.dim() == c.dim() && (a.dim() == 2 || a.dim() == 3),
                "gemm operands must all be 2-D or all 3-D, got ", shape_str(a.shape()), " ", shape_str(b.shape()),
                " ", shape_str(c.shape()));
  TRIDENT_CHECK(a.device() == b.device() && a.device() == c.device(), "gemm operands on different devices");
  TRIDENT_CHECK(a.dtype() == b.dtype(), "gemm inputs of different dtypes");
  TRIDENT_CHECK(c.dtype() == DType::f32 || c.dtype() == a.dtype(), "gemm output dtype");
  const bool batched = a.dim() == 3;
  GemmShape s{batched ? a.size(0) : 1, c.size(-2), c.size(-1), trans_a ? a.size(-2) : a.size(-1)};
  TRIDENT_CHECK((trans_a ? a.size(-1) : a.size(-2)) == s.M && (trans_b ? b.size(-1) : b.size(-2)) == s.K &&
                    (trans_b ? b.size(-2) : b.size(-1)) == s.N &&
                    (!batched || (b.size(0) == s.batch && c.size(0) == s.batch)),
                "gemm shapes do not agree: a ", shape_str(a.shape()), (trans_a ? "ᵀ" : ""), " b ",
                shape_str(b.shape()), (trans_b ? "ᵀ" : ""), " c ", shape_str(c.shape()));
  return s;
}

}  // namespace trident::backend
