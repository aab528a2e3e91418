// Memory categories: every tensor allocation is counted under the category
// current on its thread when it was made (MemoryCategoryScope), in the bytes
// the tensor asked for (not the caching allocator's rounded blocks, not the
// process's resident size), and released from that same category when its
// storage is freed. The trainer compares these counts with the memory model
// (launch/memory_model.h), category by category.
//
// Peaks are kept per category, each independently: the peak of weights is
// the most weight bytes ever live, whenever that was, not the weights at the
// moment the total peaked. Outside any scope an allocation is `other`.
#pragma once

#include <array>
#include <cstdint>

#include "framework/core/tensor.h"

namespace trident {

enum class MemoryCategory { weights, gradients, optimizer, activations, communication, other };
inline constexpr int kMemoryCategories = 6;

// "weights", "gradients", "optimizer", "activations", "communication", "other".
const char* memory_category_name(MemoryCategory category);

// Makes `category` this thread's current one until the scope ends, then
// restores the one before (scopes nest).
class MemoryCategoryScope {
 public:
  explicit MemoryCategoryScope(MemoryCategory category);
  ~MemoryCategoryScope();
  MemoryCategoryScope(const MemoryCategoryScope&) = delete;
  MemoryCategoryScope& operator=(const MemoryCategoryScope&) = delete;

 private:
  MemoryCategory previous_;
};

// This thread's current category (`other` outside any scope).
MemoryCategory current_memory_category();

struct MemoryByCategory {
  std::array<int64_t, kMemoryCategories> bytes{};  // [MemoryCategory]
  int64_t& operator[](MemoryCategory c) { return bytes[size_t(c)]; }
  int64_t operator[](MemoryCategory c) const { return bytes[size_t(c)]; }
  int64_t total() const;
};

// Tensor bytes live now on `device`, by category.
MemoryByCategory memory_in_use(Device device);
// The most bytes of each category live at once since the start (or the last reset).
MemoryByCategory memory_peak(Device device);
// Each category's peak becomes its bytes in use now.
void reset_memory_peaks(Device device);

// Storage's bookkeeping (tensor.cc): `bytes` allocated or freed under `category`.
void count_allocation(Device device, MemoryCategory category, int64_t bytes);
void count_release(Device device, MemoryCategory category, int64_t bytes);

}  // namespace trident
