// Typed access for the CPU kernels: activations may be f32, bf16 or f16
// (the run's compute dtype); kernels load them as float, compute in float
// and store back in the tensor's own dtype. Statistics, probabilities and
// gradients of weights stay f32.
#pragma once

#include "framework/backend/same_dtype.h"
#include "framework/core/tensor.h"

namespace trident::backend::cpu {

// Calls f.template operator()<T>() with T the C++ type of `dtype`
// (float, bf16 or f16); other dtypes are an error naming `op`.
template <typename F>
void dispatch_float(DType dtype, const char* op, F&& f) {
  switch (dtype) {
    case DType::f32: f.template operator()<float>(); return;
    case DType::bf16: f.template operator()<bf16>(); return;
    case DType::f16: f.template operator()<f16>(); return;
    default: TRIDENT_CHECK(false, op, " of a ", dtype_name(dtype), " tensor");
  }
}

using backend::check_same_dtype;

}  // namespace trident::backend::cpu
