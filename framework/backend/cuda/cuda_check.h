// CUDA_CHECK / CUBLAS_CHECK: the check macros of DESIGN.md idea 7 for CUDA
// runtime and cuBLASLt calls; a failure throws trident::Error with the
// rank, file:line, the call and the library's own message.
#pragma once

#include <cublasLt.h>
#include <cuda_runtime.h>

#include "framework/core/error.h"

#define CUDA_CHECK(call)                                                                     \
  do {                                                                                       \
    const cudaError_t trident_err_ = (call);                                                 \
    if (trident_err_ != cudaSuccess) [[unlikely]]                                            \
      ::trident::detail::throw_error(__FILE__, __LINE__, #call, cudaGetErrorString(trident_err_)); \
  } while (0)

#define CUBLAS_CHECK(call)                                                                   \
  do {                                                                                       \
    const cublasStatus_t trident_st_ = (call);                                               \
    if (trident_st_ != CUBLAS_STATUS_SUCCESS) [[unlikely]]                                   \
      ::trident::detail::throw_error(__FILE__, __LINE__, #call, cublasLtGetStatusString(trident_st_)); \
  } while (0)

// After every kernel launch: launch-configuration errors surface here, at
// the launch that caused them, not at some later synchronisation.
#define CUDA_CHECK_LAUNCH() CUDA_CHECK(cudaGetLastError())
