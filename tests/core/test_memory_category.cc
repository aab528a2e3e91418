// Memory categories: each allocation counted under the scope it was made in,
// in requested bytes, released from that category, peaks per category.
#include <gtest/gtest.h>

#include <thread>

#include "framework/core/memory_category.h"
#include "framework/core/param.h"

namespace trident {
namespace {

using enum MemoryCategory;

int64_t in_use(MemoryCategory c) { return memory_in_use(Device::cpu)[c]; }
int64_t peak(MemoryCategory c) { return memory_peak(Device::cpu)[c]; }

TEST(MemoryCategory, CountsRequestedBytesUnderTheCurrentScope) {
  const MemoryByCategory before = memory_in_use(Device::cpu);
  Tensor a;
  {
    const MemoryCategoryScope scope(activations);
    a = Tensor::empty({7, 13}, DType::bf16);  // 182 bytes: the allocator's 64-byte rounding is not counted
  }
  Tensor o = Tensor::empty({3});  // outside any scope: other
  EXPECT_EQ(in_use(activations) - before[activations], 7 * 13 * 2);
  EXPECT_EQ(in_use(other) - before[other], 12);
  // A view allocates nothing; freeing the storage returns its bytes to the category it was made in.
  Tensor view = a.slice(1, 3);
  {
    const MemoryCategoryScope scope(optimizer);
    a = Tensor();
    EXPECT_EQ(in_use(activations) - before[activations], 7 * 13 * 2);  // the view holds it
    view = Tensor();
  }
  EXPECT_EQ(in_use(activations), before[activations]);
  EXPECT_EQ(in_use(optimizer), before[optimizer]);
}

TEST(MemoryCategory, ScopesNestAndRestore) {
  EXPECT_EQ(current_memory_category(), other);
  {
    const MemoryCategoryScope outer(weights);
    {
      const MemoryCategoryScope inner(communication);
      EXPECT_EQ(current_memory_category(), communication);
    }
    EXPECT_EQ(current_memory_category(), weights);
  }
  EXPECT_EQ(current_memory_category(), other);
}

TEST(MemoryCategory, ScopeIsPerThread) {
  const MemoryCategoryScope scope(gradients);
  MemoryCategory seen = gradients;
  std::thread([&] { seen = current_memory_category(); }).join();
  EXPECT_EQ(seen, other);
}

TEST(MemoryCategory, PeaksAreKeptPerCategoryIndependently) {
  reset_memory_peaks(Device::cpu);
  const MemoryByCategory base = memory_in_use(Device::cpu);
  {
    const MemoryCategoryScope scope(activations);
    Tensor big = Tensor::empty({1000});  // 4000 bytes, freed before the communication buffer exists
  }
  {
    const MemoryCategoryScope scope(communication);
    Tensor buffer = Tensor::empty({500});
  }
  EXPECT_EQ(peak(activations) - base[activations], 4000);
  EXPECT_EQ(peak(communication) - base[communication], 2000);
  // The total never held 6000 at once, but each category's own peak is what is asked.
  reset_memory_peaks(Device::cpu);
  EXPECT_EQ(peak(activations), in_use(activations));
}

TEST(MemoryCategory, ParamValueIsWeightsAndGradIsGradients) {
  const MemoryByCategory before = memory_in_use(Device::cpu);
  {
    Param p = make_param("w", {5, 3}, InitKind::zeros, 0.f, false, DType::f16);
    EXPECT_EQ(in_use(weights) - before[weights], 5 * 3 * 2);
    EXPECT_EQ(in_use(gradients) - before[gradients], 5 * 3 * 4);
  }
  EXPECT_EQ(memory_in_use(Device::cpu).bytes, before.bytes);
}

TEST(MemoryCategory, NamesEveryCategory) {
  EXPECT_STREQ(memory_category_name(weights), "weights");
  EXPECT_STREQ(memory_category_name(optimizer), "optimizer");
  EXPECT_STREQ(memory_category_name(other), "other");
}

}  // namespace
}  // namespace trident
