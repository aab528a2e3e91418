// The CUDA runtime and cuBLASLt as libraries for TRIDENT_LIB_CHECK
// (framework/core/error.h): a failed call throws trident::Error with the
// rank, file:line, the call and the library's own message.
//
//   TRIDENT_LIB_CHECK(CudaRuntime, cudaMalloc(&p, bytes));
//   TRIDENT_LIB_CHECK(CublasLt, cublasLtCreate(&lt));
//
// Note [launch check]: after every kernel launch comes
// TRIDENT_LIB_CHECK(CudaRuntime, cudaGetLastError()), so that a
// launch-configuration error surfaces at the launch that caused it, not at
// some later synchronisation.
#pragma once

#include <cublasLt.h>
#include <cuda_runtime.h>

#include <string>

#include "framework/core/error.h"

namespace trident::backend::cuda {

struct CudaRuntime {
  using Status = cudaError_t;
  static constexpr const char* name = "CUDA";
  static bool ok(Status s) { return s == cudaSuccess; }
  static std::string message(Status s) { return cudaGetErrorString(s); }
};

struct CublasLt {
  using Status = cublasStatus_t;
  static constexpr const char* name = "cuBLASLt";
  static bool ok(Status s) { return s == CUBLAS_STATUS_SUCCESS; }
  static std::string message(Status s) { return cublasLtGetStatusString(s); }
};

}  // namespace trident::backend::cuda
