// NCCL, and the few CUDA runtime calls NcclComm makes (streams and events),
// as libraries for TRIDENT_LIB_CHECK (framework/core/error.h). The CUDA
// runtime traits repeat backend/cuda/cuda_check.h's four lines on purpose:
// dist may use CUDA, not the backend.
//
//   TRIDENT_LIB_CHECK(Nccl, ncclAllReduce(...));
#pragma once

#include <cuda_runtime.h>
#include <nccl.h>

#include <string>

#include "framework/core/error.h"

namespace trident::dist {

struct Nccl {
  using Status = ncclResult_t;
  static constexpr const char* name = "NCCL";
  static bool ok(Status s) { return s == ncclSuccess; }
  static std::string message(Status s) { return ncclGetErrorString(s); }
};

struct CudaRuntime {
  using Status = cudaError_t;
  static constexpr const char* name = "CUDA";
  static bool ok(Status s) { return s == cudaSuccess; }
  static std::string message(Status s) { return cudaGetErrorString(s); }
};

}  // namespace trident::dist
