#include "framework/core/memory_category.h"

#include <algorithm>
#include <mutex>

namespace trident {
namespace {

thread_local MemoryCategory t_current = MemoryCategory::other;

struct DeviceCounts {
  std::mutex mutex;
  MemoryByCategory in_use, peak;
};

// One per Device value; never destroyed (tensors held by static objects may be freed late).
DeviceCounts& counts(Device device) {
  static auto* all = new std::array<DeviceCounts, 2>();
  return (*all)[size_t(device)];
}

}  // namespace

const char* memory_category_name(MemoryCategory category) {
  switch (category) {
    case MemoryCategory::weights: return "weights";
    case MemoryCategory::gradients: return "gradients";
    case MemoryCategory::optimizer: return "optimizer";
    case MemoryCategory::activations: return "activations";
    case MemoryCategory::communication: return "communication";
    case MemoryCategory::other: return "other";
  }
  return "?";
}

MemoryCategoryScope::MemoryCategoryScope(MemoryCategory category) : previous_(t_current) { t_current = category; }
MemoryCategoryScope::~MemoryCategoryScope() { t_current = previous_; }

MemoryCategory current_memory_category() { return t_current; }

int64_t MemoryByCategory::total() const {
  int64_t sum = 0;
  for (int64_t b : bytes) sum += b;
  return sum;
}

void count_allocation(Device device, MemoryCategory category, int64_t bytes) {
  DeviceCounts& c = counts(device);
  std::lock_guard lock(c.mutex);
  c.in_use[category] += bytes;
  c.peak[category] = std::max(c.peak[category], c.in_use[category]);
}

void count_release(Device device, MemoryCategory category, int64_t bytes) {
  DeviceCounts& c = counts(device);
  std::lock_guard lock(c.mutex);
  c.in_use[category] -= bytes;
}

MemoryByCategory memory_in_use(Device device) {
  DeviceCounts& c = counts(device);
  std::lock_guard lock(c.mutex);
  return c.in_use;
}

MemoryByCategory memory_peak(Device device) {
  DeviceCounts& c = counts(device);
  std::lock_guard lock(c.mutex);
  return c.peak;
}

void reset_memory_peaks(Device device) {
  DeviceCounts& c = counts(device);
  std::lock_guard lock(c.mutex);
  c.peak = c.in_use;
}

}  // namespace trident
