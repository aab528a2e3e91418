#include "framework/core/device_memory.h"

#include <array>

#include "framework/core/error.h"

namespace trident {
namespace {
std::array<DeviceMemoryOps, 2> g_ops{};
std::array<bool, 2> g_registered{};
}  // namespace

void register_device_memory(Device device, const DeviceMemoryOps& ops) {
  g_ops[size_t(device)] = ops;
  g_registered[size_t(device)] = true;
}

const DeviceMemoryOps& device_memory(Device device) {
  TRIDENT_CHECK(device != Device::cpu && g_registered[size_t(device)],
                "device memory requested but no CUDA backend has been started in this process");
  return g_ops[size_t(device)];
}

}  // namespace trident
