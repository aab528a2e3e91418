// Every MpiComm operation against a serial computation of what it must
// give, with sizes that do not divide evenly among the ranks (run with 3
// and 4 ranks), and the byte counters against the ring formulas.
#include <gtest/gtest.h>

#include <cmath>

#include "framework/dist/mpi_comm.h"
#include "framework/dist/process_groups.h"

namespace trident::dist {
namespace {

// A value that differs by rank and index, exact in f32.
float value(int rank, int64_t i) { return float(rank * 100 + i) * 0.5f - 7.f; }

class Comms : public ::testing::Test {
 protected:
  void SetUp() override {
    MPI_Comm dup;
    MPI_Comm_dup(MPI_COMM_WORLD, &dup);
    comm = std::make_unique<MpiComm>(dup, "test");
    n = comm->size();
    r = comm->rank();
  }
  std::unique_ptr<MpiComm> comm;
  int n = 1, r = 0;
};

TEST_F(Comms, AllReduceSumAndMaxMatchSerial) {
  for (int64_t len : {1, 7, 1000}) {
    Tensor s = Tensor::empty({len}), m = Tensor::empty({len});
    for (int64_t i = 0; i < len; ++i) s.set(i, value(r, i)), m.set(i, value((r * 7) % n, -i));
    comm->all_reduce(s, ReduceOp::sum);
    comm->all_reduce(m, ReduceOp::max);
    for (int64_t i = 0; i < len; ++i) {
      float sum = 0.f, mx = -INFINITY;
      for (int k = 0; k < n; ++k) sum += value(k, i), mx = std::max(mx, value((k * 7) % n, -i));
      ASSERT_EQ(s.item(i), sum) << "sum[" << i << "]";
      ASSERT_EQ(m.item(i), mx) << "max[" << i << "]";
    }
  }
}

TEST_F(Comms, AsyncAllReduceAndIntegers) {
  Tensor t = Tensor::empty({5});
  for (int64_t i = 0; i < 5; ++i) t.set(i, value(r, i));
  Tensor ints = Tensor::empty({3}, DType::i32);
  for (int i = 0; i < 3; ++i) ints.data<int32_t>()[i] = r + i;
  auto request = comm->all_reduce_async(t, ReduceOp::sum);
  comm->all_reduce(ints, ReduceOp::max);
  request->wait();
  for (int64_t i = 0; i < 5; ++i) {
    float sum = 0.f;
    for (int k = 0; k < n; ++k) sum += value(k, i);
    EXPECT_EQ(t.item(i), sum);
  }
  for (int i = 0; i < 3; ++i) EXPECT_EQ(ints.data<int32_t>()[i], n - 1 + i);
}

TEST_F(Comms, ReduceScatterAndAllGatherWithUnevenParts) {
  const int64_t total = 10;  // 3 ranks: 4 + 3 + 3; 4 ranks: 3 + 3 + 2 + 2
  const auto sizes = Comm::split_sizes(total, n);
  int64_t mine_begin = 0;
  for (int k = 0; k < r; ++k) mine_begin += sizes[size_t(k)];
  Tensor in = Tensor::empty({total}), out = Tensor::empty({sizes[size_t(r)]});
  for (int64_t i = 0; i < total; ++i) in.set(i, value(r, i));
  comm->reduce_scatter(in, out, ReduceOp::sum);
  for (int64_t j = 0; j < out.numel(); ++j) {
    float sum = 0.f;
    for (int k = 0; k < n; ++k) sum += value(k, mine_begin + j);
    ASSERT_EQ(out.item(j), sum) << "part element " << j;
  }
  Tensor part = Tensor::empty({sizes[size_t(r)]}), all = Tensor::empty({total});
  for (int64_t j = 0; j < part.numel(); ++j) part.set(j, value(r, j));
  comm->all_gather(part, all);
  int64_t at = 0;
  for (int k = 0; k < n; ++k)
    for (int64_t j = 0; j < sizes[size_t(k)]; ++j, ++at) ASSERT_EQ(all.item(at), value(k, j)) << "from rank " << k;
}

TEST_F(Comms, BroadcastAndRingSendRecv) {
  Tensor b = Tensor::empty({6});
  for (int64_t i = 0; i < 6; ++i) b.set(i, value(r, i));
  comm->broadcast(b, n - 1);
  for (int64_t i = 0; i < 6; ++i) EXPECT_EQ(b.item(i), value(n - 1, i));
  Tensor mine = Tensor::empty({4}), theirs = Tensor::empty({4});
  for (int64_t i = 0; i < 4; ++i) mine.set(i, value(r, i));
  auto sent = comm->isend(mine, (r + 1) % n, 7);
  comm->recv(theirs, (r + n - 1) % n, 7);
  sent->wait();
  for (int64_t i = 0; i < 4; ++i) EXPECT_EQ(theirs.item(i), value((r + n - 1) % n, i));
  auto received = comm->irecv(theirs, (r + 1) % n, 8);
  comm->send(mine, (r + n - 1) % n, 8);
  received->wait();
  for (int64_t i = 0; i < 4; ++i) EXPECT_EQ(theirs.item(i), value((r + 1) % n, i));
}

TEST_F(Comms, CountersFollowTheRingFormulas) {
  comm->reset_counters();
  Tensor t = Tensor::zeros({1000});  // 4000 bytes
  comm->all_reduce(t, ReduceOp::sum);
  Tensor part = Tensor::zeros({Comm::split_sizes(1000, n)[size_t(r)]});
  comm->all_gather(part, t);
  const CommCounters& c = comm->counters();
  EXPECT_EQ(c.calls[size_t(CommKind::all_reduce)], 1u);
  EXPECT_EQ(c.payload_bytes[size_t(CommKind::all_reduce)], 4000u);
  EXPECT_DOUBLE_EQ(c.wire_bytes[size_t(CommKind::all_reduce)], 2.0 * (n - 1) / n * 4000);
  EXPECT_DOUBLE_EQ(c.wire_bytes[size_t(CommKind::all_gather)], double(n - 1) / n * 4000);
}

// The groups ProcessGroups builds talk to the ranks the pure functions name.
TEST_F(Comms, ProcessGroupCommunicatorsHoldTheRightRanks) {
  const World& world = World::init(nullptr, nullptr);
  for (int tp : {1, 2, n}) {
    if (n % tp != 0) continue;
    const Layout layout = resolve_layout(n, tp, 1, 0);
    ProcessGroups groups(world, layout);
    using RanksOf = std::vector<int> (*)(int, const Layout&);
    const std::pair<Comm*, RanksOf> kinds[] = {{&groups.tp(), tp_group_ranks}, {&groups.dp(), dp_group_ranks}};
    for (auto [comm_ptr, ranks_of] : kinds) {
      Comm& c = *comm_ptr;
      Tensor t = Tensor::from_vector({float(world.rank)}, {1});
      c.all_reduce(t, ReduceOp::sum);
      float expected = 0.f;
      for (int k : ranks_of(world.rank, layout)) expected += float(k);
      EXPECT_EQ(t.item(0), expected) << c.name() << " group with tp " << tp;
    }
  }
}

}  // namespace
}  // namespace trident::dist
