// GELU, bias, residual add, scaling, dtype conversion, column sums, the
// sum of squares and the non-finite check.
#include "framework/backend/cuda/cuda_backend.h"
#include "framework/backend/cuda/element.cuh"

#include <vector>

namespace trident::backend::cuda {

__global__ void sum_partials_kernel(const float* partial, int64_t chunks, int64_t cols, float* out);  // layernorm.cu

namespace {

constexpr float kSqrt2OverPi = 0.7978845608028654f;
constexpr float kGeluCubic = 0.044715f;

#define GRID_STRIDE(i, n) \
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < (n); i += int64_t(gridDim.x) * blockDim.x)

__device__ __forceinline__ float gelu(float v) {
  return 0.5f * v * (1.f + tanhf(kSqrt2OverPi * (v + kGeluCubic * v * v * v)));
}
__device__ __forceinline__ float gelu_grad(float v, float d) {
  const float t = tanhf(kSqrt2OverPi * (v + kGeluCubic * v * v * v));
  const float dinner = kSqrt2OverPi * (1.f + 3.f * kGeluCubic * v * v);
  return d * (0.5f * (1.f + t) + 0.5f * v * (1.f - t * t) * dinner);
}

// The elementwise kernels come in two forms: VEC, one Vec16 per thread
// step (n a multiple of its size, pointers 16-byte aligned; the common
// case), and scalar for anything else.
template <typename T, bool VEC>
__global__ void gelu_forward_kernel(const T* x, T* out, int64_t n) {
  if constexpr (VEC) {
    using V = Vec16<T>;
    GRID_STRIDE(i, n / V::size) {
      const V a = reinterpret_cast<const V*>(x)[i];
      V r;
#pragma unroll
      for (int k = 0; k < V::size; ++k) r.v[k] = from_float<T>(gelu(to_float(a.v[k])));
      reinterpret_cast<V*>(out)[i] = r;
    }
  } else {
    GRID_STRIDE(i, n) out[i] = from_float<T>(gelu(to_float(x[i])));
  }
}

template <typename T, bool VEC>
__global__ void gelu_backward_kernel(const T* x, const T* dout, T* dx, int64_t n) {
  if constexpr (VEC) {
    using V = Vec16<T>;
    GRID_STRIDE(i, n / V::size) {
      const V a = reinterpret_cast<const V*>(x)[i], d = reinterpret_cast<const V*>(dout)[i];
      V r;
#pragma unroll
      for (int k = 0; k < V::size; ++k) r.v[k] = from_float<T>(gelu_grad(to_float(a.v[k]), to_float(d.v[k])));
      reinterpret_cast<V*>(dx)[i] = r;
    }
  } else {
    GRID_STRIDE(i, n) dx[i] = from_float<T>(gelu_grad(to_float(x[i]), to_float(dout[i])));
  }
}

template <typename T>
__global__ void bias_add_kernel(T* y, const T* b, int64_t n, int64_t C) {
  GRID_STRIDE(i, n) y[i] = from_float<T>(to_float(y[i]) + to_float(b[i % C]));
}

template <typename T, bool VEC>
__global__ void add_kernel(const T* a, const T* b, T* out, int64_t n) {
  if constexpr (VEC) {
    using V = Vec16<T>;
    GRID_STRIDE(i, n / V::size) {
      const V x = reinterpret_cast<const V*>(a)[i], y = reinterpret_cast<const V*>(b)[i];
      V r;
#pragma unroll
      for (int k = 0; k < V::size; ++k) r.v[k] = from_float<T>(to_float(x.v[k]) + to_float(y.v[k]));
      reinterpret_cast<V*>(out)[i] = r;
    }
  } else {
    GRID_STRIDE(i, n) out[i] = from_float<T>(to_float(a[i]) + to_float(b[i]));
  }
}

__global__ void scale_kernel(float* x, float s, int64_t n) {
  GRID_STRIDE(i, n) x[i] *= s;
}

// Vectorised by the destination's Vec16 (8 or 4 elements per step).
template <typename S, typename D, bool VEC>
__global__ void convert_kernel(const S* src, D* dst, int64_t n) {
  if constexpr (VEC) {
    using V = Vec16<D>;
    GRID_STRIDE(i, n / V::size) {
      V r;
#pragma unroll
      for (int k = 0; k < V::size; ++k) r.v[k] = from_float<D>(to_float(src[i * V::size + k]));
      reinterpret_cast<V*>(dst)[i] = r;
    }
  } else {
    GRID_STRIDE(i, n) dst[i] = from_float<D>(to_float(src[i]));
  }
}

template <typename T>
__global__ void column_partials_kernel(const T* m, int64_t rows, int64_t cols, int64_t rows_per_chunk,
                                       float* partial) {
  const int64_t c = blockIdx.x * int64_t(blockDim.x) + threadIdx.x;
  if (c >= cols) return;
  const int64_t r0 = blockIdx.y * rows_per_chunk, r1 = min(rows, r0 + rows_per_chunk);
  float acc = 0.f;
  for (int64_t r = r0; r < r1; ++r) acc += to_float(m[r * cols + c]);
  partial[blockIdx.y * cols + c] = acc;
}

// Per-block Σx² in f64 over a grid-stride range; the host adds the blocks in order.
constexpr int kSumBlocks = 256;
__global__ void sum_squares_kernel(const float* x, int64_t n, double* partial) {
  __shared__ double warp_partial[kThreads / 32];
  double acc = 0.0;
  GRID_STRIDE(i, n) acc += double(x[i]) * double(x[i]);
  for (int o = 16; o > 0; o >>= 1) acc += __shfl_xor_sync(0xffffffffu, acc, o);
  if ((threadIdx.x & 31) == 0) warp_partial[threadIdx.x >> 5] = acc;
  __syncthreads();
  if (threadIdx.x == 0) {
    double total = 0.0;
    for (int w = 0; w < kThreads / 32; ++w) total += warp_partial[w];
    partial[blockIdx.x] = total;
  }
}

template <typename T>
__global__ void non_finite_kernel(const T* x, int64_t n, int* found) {
  GRID_STRIDE(i, n) if (!isfinite(to_float(x[i]))) *found = 1;  // any writer sets the same value: no race that matters
}

}  // namespace

void convert_on_device(const void* src, DType st, void* dst, DType dt, int64_t n, cudaStream_t stream) {
  if (n == 0) return;
  dispatch_float(st, "conversion", [&]<typename S>() {
    dispatch_float(dt, "conversion", [&]<typename D>() {
      if (vectorisable(n, Vec16<D>::size, {src, dst}))
        convert_kernel<S, D, true><<<grid_for(n / Vec16<D>::size), kThreads, 0, stream>>>(
            static_cast<const S*>(src), static_cast<D*>(dst), n);
      else
        convert_kernel<S, D, false><<<grid_for(n), kThreads, 0, stream>>>(static_cast<const S*>(src),
                                                                         static_cast<D*>(dst), n);
      TRIDENT_LIB_CHECK(CudaRuntime, cudaGetLastError());
    });
  });
}

void CudaBackend::gelu_forward(const Tensor& x, Tensor& out) {
  const OpScope prof(*this, "gelu_forward");
  TRIDENT_CHECK(x.numel() == out.numel(), "gelu shapes");
  check_same_dtype("gelu_forward", {&x, &out});
  dispatch_float(x.dtype(), "gelu_forward", [&]<typename T>() {
    const int64_t n = x.numel();
    if (vectorisable(n, Vec16<T>::size, {x.raw(), out.raw()}))
      gelu_forward_kernel<T, true><<<grid_for(n / Vec16<T>::size), kThreads, 0, stream_>>>(in<T>(x), cuda::out<T>(out), n);
    else
      gelu_forward_kernel<T, false><<<grid_for(n), kThreads, 0, stream_>>>(in<T>(x), cuda::out<T>(out), n);
  });
  TRIDENT_LIB_CHECK(CudaRuntime, cudaGetLastError());
}

void CudaBackend::gelu_backward(const Tensor& x, const Tensor& dout, Tensor& dx) {
  const OpScope prof(*this, "gelu_backward");
  TRIDENT_CHECK(x.numel() == dout.numel() && x.numel() == dx.numel(), "gelu shapes");
  check_same_dtype("gelu_backward", {&x, &dout, &dx});
  dispatch_float(x.dtype(), "gelu_backward", [&]<typename T>() {
    const int64_t n = x.numel();
    if (vectorisable(n, Vec16<T>::size, {x.raw(), dout.raw(), dx.raw()}))
      gelu_backward_kernel<T, true><<<grid_for(n / Vec16<T>::size), kThreads, 0, stream_>>>(in<T>(x), in<T>(dout),
                                                                                          out<T>(dx), n);
    else
      gelu_backward_kernel<T, false><<<grid_for(n), kThreads, 0, stream_>>>(in<T>(x), in<T>(dout), out<T>(dx), n);
  });
  TRIDENT_LIB_CHECK(CudaRuntime, cudaGetLastError());
}

void CudaBackend::bias_add(Tensor& y, const Tensor& b) {
  const OpScope prof(*this, "bias_add");
  TRIDENT_CHECK(y.size(-1) == b.numel(), "bias of ", b.numel(), " for rows of ", y.size(-1));
  check_same_dtype("bias_add", {&y, &b});
  dispatch_float(y.dtype(), "bias_add", [&]<typename T>() {
    bias_add_kernel<T><<<grid_for(y.numel()), kThreads, 0, stream_>>>(out<T>(y), in<T>(b), y.numel(), b.numel());
  });
  TRIDENT_LIB_CHECK(CudaRuntime, cudaGetLastError());
}

void CudaBackend::column_sums_accumulate(const Tensor& m, int64_t rows, int64_t cols, float* out) {
  const int64_t chunks = rows < 64 ? (rows < 1 ? 1 : rows) : 64, rows_per_chunk = (rows + chunks - 1) / chunks;
  Tensor partial = scratch(1, {chunks, cols});
  const dim3 grid(unsigned((cols + kThreads - 1) / kThreads), unsigned(chunks));
  dispatch_float(m.dtype(), "column sums", [&]<typename T>() {
    column_partials_kernel<T><<<grid, kThreads, 0, stream_>>>(in<T>(m), rows, cols, rows_per_chunk,
                                                              f32_out(partial));
  });
  TRIDENT_LIB_CHECK(CudaRuntime, cudaGetLastError());
  sum_partials_kernel<<<unsigned((cols + kThreads - 1) / kThreads), kThreads, 0, stream_>>>(f32_in(partial), chunks,
                                                                                           cols, out);
  TRIDENT_LIB_CHECK(CudaRuntime, cudaGetLastError());
}

void CudaBackend::bias_backward(const Tensor& dy, Tensor& db) {
  const OpScope prof(*this, "bias_backward");
  const int64_t C = db.numel();
  TRIDENT_CHECK(dy.size(-1) == C, "bias grad of ", C, " for rows of ", dy.size(-1));
  column_sums_accumulate(dy, dy.numel() / C, C, f32_out(db));
}

void CudaBackend::add(const Tensor& a, const Tensor& b, Tensor& out) {
  const OpScope prof(*this, "add");
  TRIDENT_CHECK(a.numel() == b.numel() && a.numel() == out.numel(), "add shapes");
  check_same_dtype("add", {&a, &b, &out});
  dispatch_float(a.dtype(), "add", [&]<typename T>() {
    const int64_t n = a.numel();
    if (vectorisable(n, Vec16<T>::size, {a.raw(), b.raw(), out.raw()}))
      add_kernel<T, true><<<grid_for(n / Vec16<T>::size), kThreads, 0, stream_>>>(in<T>(a), in<T>(b),
                                                                                  cuda::out<T>(out), n);
    else
      add_kernel<T, false><<<grid_for(n), kThreads, 0, stream_>>>(in<T>(a), in<T>(b), cuda::out<T>(out), n);
  });
  TRIDENT_LIB_CHECK(CudaRuntime, cudaGetLastError());
}

void CudaBackend::scale(Tensor& x, float s) {
  const OpScope prof(*this, "scale");
  scale_kernel<<<grid_for(x.numel()), kThreads, 0, stream_>>>(f32_out(x), s, x.numel());
  TRIDENT_LIB_CHECK(CudaRuntime, cudaGetLastError());
}

std::vector<double> CudaBackend::sum_squares_each(const std::vector<const Tensor*>& xs) {
  const OpScope prof(*this, "sum_squares_each");
  const int64_t n = int64_t(xs.size());
  std::vector<double> sums(xs.size(), 0.0);
  if (n == 0) return sums;
  Tensor partial = scratch(2, {n * kSumBlocks * 2});  // n·kSumBlocks doubles in f32 slots
  double* dev = reinterpret_cast<double*>(f32_out(partial));
  for (int64_t i = 0; i < n; ++i) {
    const Tensor& x = *xs[size_t(i)];
    if (x.numel() == 0) {
      TRIDENT_LIB_CHECK(CudaRuntime,
                        cudaMemsetAsync(dev + i * kSumBlocks, 0, sizeof(double) * kSumBlocks, stream_));
      continue;
    }
    sum_squares_kernel<<<kSumBlocks, kThreads, 0, stream_>>>(f32_in(x), x.numel(), dev + i * kSumBlocks);
    TRIDENT_LIB_CHECK(CudaRuntime, cudaGetLastError());
  }
  std::vector<double> host(size_t(n * kSumBlocks));
  TRIDENT_LIB_CHECK(CudaRuntime, cudaMemcpyAsync(host.data(), dev, sizeof(double) * host.size(),
                                                 cudaMemcpyDeviceToHost, stream_));
  TRIDENT_LIB_CHECK(CudaRuntime, cudaStreamSynchronize(stream_));
  for (int64_t i = 0; i < n; ++i)  // blocks in order: sum_squares' bits
    for (int b = 0; b < kSumBlocks; ++b) sums[size_t(i)] += host[size_t(i * kSumBlocks + b)];
  return sums;
}

double CudaBackend::sum_squares(const Tensor& x) { return sum_squares_each({&x})[0]; }

}  // namespace trident::backend::cuda

namespace trident::backend::cuda {

bool CudaBackend::all_finite(const Tensor& x) {
  const OpScope prof(*this, "all_finite");
  Tensor flag = scratch(11, {1});  // an int in an f32 slot; slots 3-10 are attention's
  int* dev = reinterpret_cast<int*>(f32_out(flag));
  TRIDENT_LIB_CHECK(CudaRuntime, cudaMemsetAsync(dev, 0, sizeof(int), stream_));
  if (x.numel() > 0) {
    dispatch_float(x.dtype(), "all_finite", [&]<typename T>() {
      non_finite_kernel<T><<<grid_for(x.numel()), kThreads, 0, stream_>>>(in<T>(x), x.numel(), dev);
    });
    TRIDENT_LIB_CHECK(CudaRuntime, cudaGetLastError());
  }
  int found = 0;
  TRIDENT_LIB_CHECK(CudaRuntime, cudaMemcpyAsync(&found, dev, sizeof(int), cudaMemcpyDeviceToHost, stream_));
  TRIDENT_LIB_CHECK(CudaRuntime, cudaStreamSynchronize(stream_));
  return found == 0;
}

}  // namespace trident::backend::cuda
