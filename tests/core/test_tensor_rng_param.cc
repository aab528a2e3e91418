// Tensor views, the counter-based RNG and layout-invariant initialisation.
#include <gtest/gtest.h>

#include <cmath>

#include "framework/core/host_allocator.h"
#include "framework/core/param.h"
#include "framework/core/rng.h"
#include "framework/core/tensor.h"

namespace trident {
namespace {

TEST(Tensor, ViewsShareStorageAndSliceRows) {
  Tensor t = Tensor::from_vector({0, 1, 2, 3, 4, 5}, {3, 2});
  Tensor rows = t.slice(1, 3);
  EXPECT_EQ(rows.shape(), (Shape{2, 2}));
  EXPECT_EQ(rows.item(0), 2.f);
  rows.set(0, 42.f);
  EXPECT_EQ(t.item(2), 42.f);  // a view, not a copy
  EXPECT_EQ(t.view({6}).item(5), 5.f);
  EXPECT_THROW(t.view({4}), Error);
  EXPECT_THROW(t.slice(2, 4), Error);
  EXPECT_THROW(t.data<bf16>(), Error);
}

TEST(Tensor, ConvertsBetweenDTypes) {
  Tensor t = Tensor::from_vector({1.f, -0.333333f, 1000.5f}, {3});
  Tensor b = t.to(DType::bf16);
  EXPECT_EQ(b.bytes(), 6u);
  EXPECT_EQ(b.item(0), 1.f);
  EXPECT_EQ(b.item(2), 1000.f);  // 1000.5 is not a bf16; 1000 is the nearest
  EXPECT_NEAR(b.item(1), -0.333333f, 2e-3);
}

TEST(Philox, MatchesRandom123KnownAnswers) {
  // philox4x32-10 vectors from Random123's kat_vectors (counter words 0..3, key words 0..1).
  using W = std::array<uint32_t, 4>;
  EXPECT_EQ(Philox(0u, 0u).bits(0, 0), (W{0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8}));
  EXPECT_EQ(Philox(0xffffffffu, 0xffffffffu).bits(~0ull, ~0ull), (W{0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd}));
  EXPECT_EQ(Philox(0xa4093822u, 0x299f31d0u).bits(0x85a308d3243f6a88ull, 0x0370734413198a2eull),
            (W{0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1}));
}

TEST(Philox, IsAPureFunctionOfSeedStreamAndCounter) {
  const Philox a(1, "x"), b(1, "x"), c(2, "x"), d(1, "y");
  EXPECT_EQ(a.bits(5, 9), b.bits(5, 9));
  EXPECT_NE(a.bits(5, 9), c.bits(5, 9));
  EXPECT_NE(a.bits(5, 9), d.bits(5, 9));
  EXPECT_NE(a.bits(5, 9), a.bits(6, 9));
}

TEST(Philox, NormalsHaveUnitMomentsAndUniformsStayInRange) {
  const Philox rng(1234, "moments");
  double sum = 0, sum2 = 0;
  const int n = 200000;
  for (int i = 0; i < n; ++i) {
    const double z = rng.normal(uint64_t(i));
    sum += z;
    sum2 += z * z;
    const float u = rng.uniform(uint64_t(i));
    ASSERT_GT(u, 0.f);
    ASSERT_LE(u, 1.f);
  }
  EXPECT_NEAR(sum / n, 0.0, 0.01);
  EXPECT_NEAR(sum2 / n, 1.0, 0.01);
  for (int i = 0; i < 1000; ++i) ASSERT_LT(rng.below(7, uint64_t(i)), 7u);
}

// Note [layout-invariant initialisation]: a shard initialised alone holds
// exactly the slice of the whole tensor.
TEST(Param, ShardInitialisesToTheSliceOfTheWholeTensor) {
  Param whole = make_param("layers.0.mlp.fc1.weight", {6, 5}, InitKind::normal, 0.02f, true);
  init_param(whole, 99);
  for (int dim = 0; dim < 2; ++dim) {
    const int64_t offset = 2, length = dim == 0 ? 3 : 2;
    Shape local = {6, 5};
    local[size_t(dim)] = length;
    Param shard = make_param(whole.name, local, InitKind::normal, 0.02f, true);
    shard.global_shape = {6, 5};
    shard.shard = ShardSpec{dim, offset, length};
    init_param(shard, 99);
    for (int64_t r = 0; r < local[0]; ++r)
      for (int64_t c = 0; c < local[1]; ++c) {
        const int64_t gr = dim == 0 ? r + offset : r, gc = dim == 1 ? c + offset : c;
        ASSERT_EQ(shard.value.item(r * local[1] + c), whole.value.item(gr * 5 + gc)) << "dim " << dim;
      }
  }
  double sum2 = 0;
  for (float v : whole.value.to_vector()) sum2 += double(v) * v;
  EXPECT_GT(sum2, 0.0);
}

}  // namespace
}  // namespace trident

namespace trident {
namespace {

TEST(HostAllocator, ReusesFreedBlocksOfTheSameSize) {
  host_allocator().release_cache();
  const AllocatorStats before = host_allocator().stats();
  void* first = nullptr;
  {
    Tensor t = Tensor::empty({1000, 100});
    first = t.raw();
    EXPECT_GE(host_allocator().stats().in_use_bytes, before.in_use_bytes + 400000);
  }
  EXPECT_GE(host_allocator().stats().cached_bytes, 400000u);
  Tensor again = Tensor::empty({100, 1000});  // same bytes, other shape
  EXPECT_EQ(again.raw(), first);
  Tensor other = Tensor::empty({1000, 101});
  EXPECT_NE(other.raw(), first);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(other.raw()) % 64, 0u);
}

}  // namespace
}  // namespace trident
