// Typed element access for the CUDA kernels, as cpu/element.h is for the
// CPU ones: activations may be f32, bf16 or f16 (the run's compute dtype);
// a kernel loads them as float, computes in float and stores back in the
// tensor's own dtype (round to nearest even, as the CPU reference does).
// Statistics, probabilities, logits and weight gradients stay f32.
#pragma once

#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include <cstdint>
#include <initializer_list>

#include "framework/backend/cuda/launch_utils.cuh"
#include "framework/backend/same_dtype.h"

namespace trident::backend::cuda {

// Calls f.template operator()<T>() with T the device type of `dtype`
// (float, __nv_bfloat16 or __half); other dtypes are an error naming `op`.
template <typename F>
void dispatch_float(DType dtype, const char* op, F&& f) {
  switch (dtype) {
    case DType::f32: f.template operator()<float>(); return;
    case DType::bf16: f.template operator()<__nv_bfloat16>(); return;
    case DType::f16: f.template operator()<__half>(); return;
    default: TRIDENT_CHECK(false, op, " of a ", dtype_name(dtype), " tensor on the GPU");
  }
}

__device__ __forceinline__ float to_float(float x) { return x; }
__device__ __forceinline__ float to_float(__nv_bfloat16 x) { return __bfloat162float(x); }
__device__ __forceinline__ float to_float(__half x) { return __half2float(x); }

template <typename T> __device__ __forceinline__ T from_float(float x);
template <> __device__ __forceinline__ float from_float<float>(float x) { return x; }
template <> __device__ __forceinline__ __nv_bfloat16 from_float<__nv_bfloat16>(float x) { return __float2bfloat16_rn(x); }
template <> __device__ __forceinline__ __half from_float<__half>(float x) { return __float2half_rn(x); }

// The device buffer of t as T (the caller has dispatched on t's dtype).
template <typename T>
const T* in(const Tensor& t) {
  TRIDENT_CHECK(t.device() == Device::cuda, "a host tensor passed to the CUDA backend");
  return static_cast<const T*>(t.raw());
}
template <typename T>
T* out(const Tensor& t) {
  return const_cast<T*>(in<T>(t));
}

// 16 bytes of T: the unit of the vectorised kernels (one 128-bit load or
// store per thread: 4 floats or 8 16-bit values).
template <typename T>
struct alignas(16) Vec16 {
  static constexpr int size = 16 / sizeof(T);
  T v[size];
};

// Whether every pointer is 16-byte aligned and n a whole number of
// Vec16s, so a kernel may take the vectorised path.
inline bool vectorisable(int64_t n, int elems, std::initializer_list<const void*> ptrs) {
  if (n % elems != 0) return false;
  for (const void* p : ptrs)
    if (reinterpret_cast<uintptr_t>(p) % 16 != 0) return false;
  return true;
}

// Converts n elements between device buffers of any two float dtypes, on
// `stream` (asynchronous).
void convert_on_device(const void* src, DType src_type, void* dst, DType dst_type, int64_t n, cudaStream_t stream);

}  // namespace trident::backend::cuda
