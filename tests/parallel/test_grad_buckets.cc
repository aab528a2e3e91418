// GradBuckets (framework/parallel/grad_buckets.h) against a plain
// all-reduce of the same gradients, under mpiexec with 2 and 3 ranks.
//
// Each rank writes rank-dependent gradients into the parameters (after the
// buckets took them over, as backward does), marks them ready in backward
// order or out of order, and finishes; every element must then equal the
// sum over ranks that one MpiComm::all_reduce of an independent copy gives.
// GradBuckets scales nothing (the loss gradient carries the 1/dp), so the
// sum is the answer. The values are multiples of 0.5 far below 2^24, so a
// sum of them is exact in f32 in any order and the comparison is bitwise.
// Bucket sizes: smaller than any parameter (one bucket each), spanning a
// few parameters, and larger than all of them (one bucket); overlap on and
// off; two steps each, so a bucket must rearm after finish().
#include <gtest/gtest.h>

#include <algorithm>
#include <memory>
#include <numeric>
#include <string>
#include <vector>

#include "framework/core/error.h"
#include "framework/core/param.h"
#include "framework/dist/mpi_comm.h"
#include "framework/parallel/grad_buckets.h"

namespace trident::parallel {
namespace {

// Shapes in model order: 6 + 1 + 21 + 4 + 13 + 8 = 53 elements.
const std::vector<Shape> kShapes = {{2, 3}, {1}, {7, 3}, {4}, {13}, {2, 4}};

// A gradient element of rank `rank`, parameter `p`, element `i`, step `step`.
float grad_value(int rank, int step, size_t p, int64_t i) {
  return float(rank * 1000 + step * 300 + int64_t(p) * 40 + i) * 0.5f - 37.f;
}

std::unique_ptr<dist::MpiComm> make_dp() {
  MPI_Comm dup;
  MPI_Comm_dup(MPI_COMM_WORLD, &dup);
  return std::make_unique<dist::MpiComm>(dup, "dp");
}

std::vector<Param> make_params() {
  std::vector<Param> params;
  for (size_t p = 0; p < kShapes.size(); ++p)
    params.push_back(make_param("p" + std::to_string(p), kShapes[p], InitKind::zeros, 0.f, true));
  return params;
}

std::vector<Param*> pointers(std::vector<Param>& params) {
  std::vector<Param*> out;
  for (Param& p : params) out.push_back(&p);
  return out;
}

enum class Order { backward, shuffled };

struct Case {
  const char* name;
  int64_t bucket_elements;
  size_t buckets;  // how many GradBuckets must make of kShapes
  bool overlap;
  Order order;
};

// Bucket counts: parameters are grouped in reverse model order (8, 13, 4,
// 21, 1, 6), a new bucket opening once the current one holds at least
// bucket_elements: 1 gives one bucket per parameter; 10 gives {8, 13},
// {4, 21}, {1, 6}; 1000 gives one bucket.
const Case kCases[] = {
    {"smaller_than_a_param", 1, 6, false, Order::backward},
    {"smaller_than_a_param_overlap", 1, 6, true, Order::backward},
    {"smaller_than_a_param_overlap_shuffled", 1, 6, true, Order::shuffled},
    {"spanning_params", 10, 3, false, Order::backward},
    {"spanning_params_overlap", 10, 3, true, Order::backward},
    {"spanning_params_shuffled", 10, 3, false, Order::shuffled},
    {"spanning_params_overlap_shuffled", 10, 3, true, Order::shuffled},
    {"one_bucket", 1000, 1, false, Order::backward},
    {"one_bucket_overlap_shuffled", 1000, 1, true, Order::shuffled},
};

class GradBucketsVsAllReduce : public ::testing::TestWithParam<Case> {};

TEST_P(GradBucketsVsAllReduce, EveryElementIsTheSumOverRanks) {
  const Case& c = GetParam();
  auto dp = make_dp();
  const int rank = dp->rank();
  std::vector<Param> params = make_params();
  GradBuckets buckets(pointers(params), *dp, c.bucket_elements, c.overlap);
  ASSERT_EQ(buckets.num_buckets(), c.buckets);

  // The order backward reports them in: reverse model order, or a fixed
  // permutation of it (the same on every rank, as backward's order is).
  std::vector<size_t> order(params.size());
  std::iota(order.rbegin(), order.rend(), size_t(0));
  if (c.order == Order::shuffled) order = {2, 5, 0, 3, 1, 4};

  for (int step = 0; step < 2; ++step) {
    SCOPED_TRACE("step " + std::to_string(step));
    // Backward writes each gradient into the bucket's view of it; the
    // reference is an independent copy, all-reduced on its own.
    std::vector<Tensor> expected;
    for (size_t p = 0; p < params.size(); ++p) {
      Tensor& g = params[p].grad;
      for (int64_t i = 0; i < g.numel(); ++i) g.set(i, grad_value(rank, step, p, i));
      expected.push_back(g.clone());
    }
    for (Tensor& e : expected) dp->all_reduce(e, dist::ReduceOp::sum);

    for (size_t p : order) buckets.mark_ready(params[p]);
    if (!c.overlap) {  // without overlap nothing is sent before finish()
      for (size_t p = 0; p < params.size(); ++p)
        ASSERT_EQ(params[p].grad.item(0), grad_value(rank, step, p, 0)) << params[p].name << " reduced early";
    }
    buckets.finish();

    for (size_t p = 0; p < params.size(); ++p) {
      ASSERT_EQ(params[p].grad.shape(), kShapes[p]) << params[p].name;
      for (int64_t i = 0; i < params[p].grad.numel(); ++i) {
        float sum = 0.f;  // the serial sum, which the plain all-reduce must also give
        for (int k = 0; k < dp->size(); ++k) sum += grad_value(k, step, p, i);
        ASSERT_EQ(expected[p].item(i), sum) << params[p].name << "[" << i << "]: the plain all-reduce";
        ASSERT_EQ(params[p].grad.item(i), expected[p].item(i)) << params[p].name << "[" << i << "]";
      }
    }
  }
}

// Sharded (the distributed optimizer): after finish() each rank's owned
// rows hold the serial sum over ranks of those gradient elements; the owned
// rows of all ranks together cover every element once; and after each rank
// writes its rows of the values, gather_parameters() gives every rank the
// whole parameters. Sizes and overlap as above, two steps each.
TEST_P(GradBucketsVsAllReduce, ShardedOwnersHoldTheSumAndGatherTheValues) {
  const Case& c = GetParam();
  auto dp = make_dp();
  const int rank = dp->rank();
  std::vector<Param> params = make_params();
  GradBuckets buckets(pointers(params), *dp, c.bucket_elements, c.overlap, /*sharded=*/true);
  ASSERT_TRUE(buckets.sharded());
  std::vector<size_t> order(params.size());
  std::iota(order.rbegin(), order.rend(), size_t(0));
  if (c.order == Order::shuffled) order = {2, 5, 0, 3, 1, 4};
  for (int step = 0; step < 2; ++step) {
    SCOPED_TRACE("step " + std::to_string(step));
    for (size_t p = 0; p < params.size(); ++p)
      for (int64_t i = 0; i < params[p].grad.numel(); ++i) params[p].grad.set(i, grad_value(rank, step, p, i));
    for (size_t p : order) buckets.mark_ready(params[p]);
    buckets.finish();
    int64_t owned = 0;
    for (const OwnedShard& o : buckets.owned()) {
      const int64_t w = params[o.index].grad.numel() / params[o.index].grad.size(0);
      ASSERT_EQ(o.grad.numel(), o.rows * w);
      for (int64_t j = 0; j < o.grad.numel(); ++j) {
        float sum = 0.f;
        for (int k = 0; k < dp->size(); ++k) sum += grad_value(k, step, o.index, o.first_row * w + j);
        ASSERT_EQ(o.grad.item(j), sum) << o.param->name << "[" << o.first_row * w + j << "]";
      }
      owned += o.grad.numel();
    }
    Tensor count = Tensor::from_vector({float(owned)}, {1});
    dp->all_reduce(count, dist::ReduceOp::sum);
    EXPECT_EQ(count.item(0), 53.f) << "the ranks' rows cover every element once";
    // Each rank writes its rows; the gather hands them to everyone.
    for (const OwnedShard& o : buckets.owned()) {
      Tensor rows = o.value();
      const int64_t w = rows.numel() / rows.size(0);
      for (int64_t j = 0; j < rows.numel(); ++j) rows.set(j, grad_value(0, step + 5, o.index, o.first_row * w + j));
    }
    buckets.gather_parameters();
    for (size_t p = 0; p < params.size(); ++p)
      for (int64_t i = 0; i < params[p].value.numel(); ++i)
        ASSERT_EQ(params[p].value.item(i), grad_value(0, step + 5, p, i)) << params[p].name << "[" << i << "]";
  }
}

INSTANTIATE_TEST_SUITE_P(Sizes, GradBucketsVsAllReduce, ::testing::ValuesIn(kCases),
                         [](const ::testing::TestParamInfo<Case>& info) { return std::string(info.param.name); });

// A gradient written before the buckets exist moves into its bucket, and
// each parameter's gradient is a view of its own part of one buffer: the
// buckets' parameters, in reverse model order, lie back to back.
TEST(GradBuckets, GradientsBecomeViewsKeepingTheirValues) {
  auto dp = make_dp();
  std::vector<Param> params = make_params();
  for (size_t p = 0; p < params.size(); ++p)
    for (int64_t i = 0; i < params[p].grad.numel(); ++i) params[p].grad.set(i, grad_value(dp->rank(), 7, p, i));
  GradBuckets buckets(pointers(params), *dp, 1000, false);
  ASSERT_EQ(buckets.num_buckets(), 1u);
  for (size_t p = 0; p < params.size(); ++p) {
    for (int64_t i = 0; i < params[p].grad.numel(); ++i)
      ASSERT_EQ(params[p].grad.item(i), grad_value(dp->rank(), 7, p, i)) << params[p].name << "[" << i << "]";
    if (p > 0) {
      EXPECT_EQ(static_cast<const float*>(params[p - 1].grad.raw()),
                static_cast<const float*>(params[p].grad.raw()) + params[p].grad.numel())
          << params[p - 1].name << " follows " << params[p].name;
    }
  }
}

// More reports of ready than a bucket has gradients, or a report for a
// gradient the buckets do not hold, is an error (raised before any
// collective starts, so every rank throws alike), whether the parameter has
// a bucket of its own or shares one with others (where a miscount would
// start the bucket's all-reduce early); finish() starts a new step.
TEST(GradBuckets, ReadyTwiceOrUnknownIsAnError) {
  auto dp = make_dp();
  std::vector<Param> params = make_params();
  GradBuckets buckets(pointers(params), *dp, 1, false);
  buckets.mark_ready(params[5]);
  EXPECT_THROW(buckets.mark_ready(params[5]), Error);
  Param stranger = make_param("stranger", {3}, InitKind::zeros, 0.f, true);
  EXPECT_THROW(buckets.mark_ready(stranger), Error);
  EXPECT_THROW(GradBuckets(pointers(params), *dp, 0, false), Error);
  GradBuckets shared(pointers(params), *dp, 1 << 20, true);  // one bucket for all
  ASSERT_EQ(shared.num_buckets(), 1u);
  shared.mark_ready(params[2]);
  EXPECT_THROW(shared.mark_ready(params[2]), Error);
  for (size_t i = 0; i < params.size(); ++i)
    if (i != 2) shared.mark_ready(params[i]);
  shared.finish();
  EXPECT_NO_THROW(shared.mark_ready(params[2]));  // a new step
  for (size_t i = 0; i < params.size(); ++i)
    if (i != 2) shared.mark_ready(params[i]);
  shared.finish();
}

}  // namespace
}  // namespace trident::parallel
