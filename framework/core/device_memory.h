// Device memory hooks. core must not depend on CUDA, yet a Tensor must be
// able to allocate, zero and copy device memory; the CUDA backend installs
// these functions when it starts (register_device_memory), and core calls
// them. Without a registered backend, device tensors are an error.
#pragma once

#include <cstddef>

#include "framework/core/tensor.h"

namespace trident {

struct DeviceMemoryOps {
  void* (*allocate)(size_t bytes);
  void (*release)(void* ptr, size_t bytes);
  void (*zero)(void* ptr, size_t bytes);
  // Any direction between host and this device (or within the device),
  // ordered after the device's queued work; the host waits for copies to
  // host memory (a device-to-device copy may still be running on return).
  void (*copy)(void* dst, Device dst_device, const void* src, Device src_device, size_t bytes);
  // n elements between two float dtypes, both buffers on this device;
  // ordered with the device's other work (the host need not wait).
  void (*convert)(const void* src, DType src_type, void* dst, DType dst_type, size_t n);
};

void register_device_memory(Device device, const DeviceMemoryOps& ops);
// The hooks for `device`; throws if no backend for it was started.
const DeviceMemoryOps& device_memory(Device device);

}  // namespace trident
