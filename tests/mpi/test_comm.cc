// Every MpiComm operation, blocking and started, against a serial
// computation of what it must give, with sizes that do not divide evenly
// among the ranks (run with 3 and 4 ranks), and the byte counters against
// the ring formulas; SelfComm's started forms beside them.
#include <gtest/gtest.h>

#include <cmath>

#include "framework/dist/mpi_comm.h"
#include "framework/dist/process_groups.h"
#include "framework/dist/self_comm.h"

namespace trident::dist {
namespace {

// A value that differs by rank and index, exact in f32.
float value(int rank, int64_t i) { return float(rank * 100 + i) * 0.5f - 7.f; }
// What `v` becomes stored in `dtype` (moving data never changes it further).
float stored(float v, DType dtype) { return Tensor::from_vector({v}, {1}).to(dtype).item(0); }
// An output buffer that fails every comparison until written.
Tensor nans(Shape shape) {
  Tensor t = Tensor::empty(shape);
  for (int64_t i = 0; i < t.numel(); ++i) t.set(i, NAN);
  return t;
}

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

// The started forms with four collectives in flight at once (two
// reduce-scatters, two all-gathers, one of them bf16), waited in the
// reverse order: every result against the serial one.
TEST_F(Comms, AsyncReduceScatterAndAllGatherInFlightTogether) {
  const int64_t total = 10;  // 3 ranks: 4 + 3 + 3; 4 ranks: 3 + 3 + 2 + 2
  const auto sizes = Comm::split_sizes(total, n);
  const int64_t mine = sizes[size_t(r)];
  int64_t mine_begin = 0;
  for (int k = 0; k < r; ++k) mine_begin += sizes[size_t(k)];
  auto max_value = [&](int rank, int64_t i) { return value((rank * 7) % n, -i); };

  Tensor sum_in = Tensor::empty({total}), max_in = Tensor::empty({total});
  for (int64_t i = 0; i < total; ++i) sum_in.set(i, value(r, i)), max_in.set(i, max_value(r, i));
  Tensor sum_out = nans({mine}), max_out = nans({mine});
  Tensor part = Tensor::empty({mine});
  for (int64_t j = 0; j < mine; ++j) part.set(j, value(r, j));
  Tensor part_bf16 = part.to(DType::bf16);
  Tensor all = nans({total}), all_bf16 = nans({total}).to(DType::bf16);

  std::vector<std::unique_ptr<Request>> requests;
  requests.push_back(comm->reduce_scatter_async(sum_in, sum_out, ReduceOp::sum));
  requests.push_back(comm->all_gather_async(part, all));
  requests.push_back(comm->reduce_scatter_async(max_in, max_out, ReduceOp::max));
  requests.push_back(comm->all_gather_async(part_bf16, all_bf16));
  (void)requests.front()->test();  // a poll between start and wait changes nothing
  for (auto it = requests.rbegin(); it != requests.rend(); ++it) (*it)->wait();

  for (int64_t j = 0; j < mine; ++j) {
    float sum = 0.f, mx = -INFINITY;
    for (int k = 0; k < n; ++k) sum += value(k, mine_begin + j), mx = std::max(mx, max_value(k, mine_begin + j));
    ASSERT_EQ(sum_out.item(j), sum) << "sum part element " << j;
    ASSERT_EQ(max_out.item(j), mx) << "max part element " << j;
  }
  int64_t at = 0;
  for (int k = 0; k < n; ++k)
    for (int64_t j = 0; j < sizes[size_t(k)]; ++j, ++at) {
      ASSERT_EQ(all.item(at), value(k, j)) << "f32 from rank " << k;
      ASSERT_EQ(all_bf16.item(at), stored(value(k, j), DType::bf16)) << "bf16 from rank " << k;
    }
}

// The in-place forms, as the distributed optimizer uses them on its
// buckets: uneven parts, two reduce-scatters (sum, max) and two all-gathers
// (f32, bf16) in flight at once, waited in reverse order. Reduce-scatter:
// this rank's part of the buffer holds the serial sum (MPI leaves it at the
// buffer's start: it must have been moved); all-gather: every part its
// rank's. Counted as the out-of-place forms.
TEST_F(Comms, InPlaceFormsMatchSerialInTheRanksOwnPart) {
  for (int64_t total : {10, 12}) {
    SCOPED_TRACE("total " + std::to_string(total));
    const auto sizes = Comm::split_sizes(total, n);
    int64_t mine_begin = 0;
    for (int k = 0; k < r; ++k) mine_begin += sizes[size_t(k)];
    const int64_t mine = sizes[size_t(r)];
    auto max_value = [&](int rank, int64_t i) { return value((rank * 7) % n, -i); };
    Tensor sum = Tensor::empty({total}), mx = Tensor::empty({total}), all = nans({total});
    for (int64_t i = 0; i < total; ++i) sum.set(i, value(r, i)), mx.set(i, max_value(r, i));
    for (int64_t j = 0; j < mine; ++j) all.set(mine_begin + j, value(r, j));
    Tensor all_bf16 = all.to(DType::bf16);
    comm->reset_counters();
    std::vector<std::unique_ptr<Request>> requests;
    requests.push_back(comm->reduce_scatter_in_place_async(sum, ReduceOp::sum));
    requests.push_back(comm->all_gather_in_place_async(all));
    requests.push_back(comm->reduce_scatter_in_place_async(mx, ReduceOp::max));
    requests.push_back(comm->all_gather_in_place_async(all_bf16));
    for (auto it = requests.rbegin(); it != requests.rend(); ++it) (*it)->wait();
    for (int64_t j = 0; j < mine; ++j) {
      float s = 0.f, m = -INFINITY;
      for (int k = 0; k < n; ++k) s += value(k, mine_begin + j), m = std::max(m, max_value(k, mine_begin + j));
      ASSERT_EQ(sum.item(mine_begin + j), s) << "sum part element " << j;
      ASSERT_EQ(mx.item(mine_begin + j), m) << "max part element " << j;
    }
    int64_t at = 0;
    for (int k = 0; k < n; ++k)
      for (int64_t j = 0; j < sizes[size_t(k)]; ++j, ++at) {
        ASSERT_EQ(all.item(at), value(k, j)) << "f32 from rank " << k;
        ASSERT_EQ(all_bf16.item(at), stored(value(k, j), DType::bf16)) << "bf16 from rank " << k;
      }
    const CommCounters& c = comm->counters();
    EXPECT_EQ(c.calls[size_t(CommKind::reduce_scatter)], 2u);
    EXPECT_DOUBLE_EQ(c.wire_bytes[size_t(CommKind::reduce_scatter)], 2 * double(n - 1) / n * double(total) * 4);
    EXPECT_DOUBLE_EQ(c.wire_bytes[size_t(CommKind::all_gather)], double(n - 1) / n * double(total) * 6);
  }
}

// The started forms count what the blocking ones do, kind by kind.
TEST_F(Comms, AsyncCountersEqualTheBlockingOnes) {
  for (int64_t total : {10, 1000}) {
    const int64_t mine = Comm::split_sizes(total, n)[size_t(r)];
    Tensor full = Tensor::zeros({total}), part = Tensor::zeros({mine});
    comm->reset_counters();
    comm->reduce_scatter(full, part, ReduceOp::sum);
    comm->all_gather(part, full);
    const CommCounters blocking = comm->counters();
    comm->reset_counters();
    auto scattered = comm->reduce_scatter_async(full, part, ReduceOp::max);
    scattered->wait();
    auto gathered = comm->all_gather_async(part, full);
    gathered->wait();
    const CommCounters& started = comm->counters();
    for (CommKind kind : {CommKind::reduce_scatter, CommKind::all_gather}) {
      const size_t k = size_t(kind);
      EXPECT_EQ(started.calls[k], 1u) << comm_kind_name(kind);
      EXPECT_EQ(started.calls[k], blocking.calls[k]) << comm_kind_name(kind);
      EXPECT_EQ(started.payload_bytes[k], blocking.payload_bytes[k]) << comm_kind_name(kind);
      EXPECT_EQ(started.wire_bytes[k], blocking.wire_bytes[k]) << comm_kind_name(kind);
    }
    EXPECT_EQ(started.payload_bytes[size_t(CommKind::reduce_scatter)], uint64_t(total) * 4);
    EXPECT_DOUBLE_EQ(started.wire_bytes[size_t(CommKind::reduce_scatter)], double(n - 1) / n * double(total) * 4);
  }
}

// MPI reduces f32 and i32 only: a bf16 reduce-scatter is refused, started
// or not (moving bf16 is fine: the test above gathers it).
TEST_F(Comms, AsyncReduceScatterRefusesSixteenBitLikeTheBlockingOne) {
  const int64_t mine = Comm::split_sizes(10, n)[size_t(r)];
  Tensor in = Tensor::zeros({10}, DType::bf16), out = Tensor::zeros({mine}, DType::bf16);
  EXPECT_THROW(comm->reduce_scatter(in, out, ReduceOp::sum), Error);
  EXPECT_THROW(comm->reduce_scatter_async(in, out, ReduceOp::sum), Error);
}

// Input and output may share a storage but not a byte: a started collective
// reads one while it writes the other. Refused before any rank talks.
TEST_F(Comms, AsyncFormsRefuseOverlappingBuffers) {
  const int64_t total = 10, mine = Comm::split_sizes(total, n)[size_t(r)];
  Tensor buffer = Tensor::zeros({total + mine});
  Tensor in = buffer.slice(0, total), overlapping = buffer.slice(total - 1, total - 1 + mine);
  EXPECT_THROW(comm->reduce_scatter_async(in, overlapping, ReduceOp::sum), Error);
  EXPECT_THROW(comm->all_gather_async(overlapping, in), Error);
  for (int64_t i = 0; i < total; ++i) in.set(i, 1.f);
  Tensor beside = buffer.slice(total, total + mine);
  comm->reduce_scatter_async(in, beside, ReduceOp::sum)->wait();
  for (int64_t j = 0; j < mine; ++j) EXPECT_EQ(beside.item(j), float(n));
}

// The group of one: the started forms are copies, done when they return.
TEST(SelfComms, AsyncFormsCopyAndCount) {
  SelfComm self("self");
  Tensor in = Tensor::from_vector({1.f, 2.f, 3.f}, {3}), out = Tensor::zeros({3});
  EXPECT_TRUE(self.reduce_scatter_async(in, out, ReduceOp::sum)->test());
  EXPECT_EQ(out.to_vector(), in.to_vector());
  Tensor gathered = Tensor::zeros({3});
  self.all_gather_async(in, gathered)->wait();
  EXPECT_EQ(gathered.to_vector(), in.to_vector());
  EXPECT_EQ(self.counters().calls[size_t(CommKind::reduce_scatter)], 1u);
  EXPECT_EQ(self.counters().payload_bytes[size_t(CommKind::all_gather)], 12u);
  // In place, the one part is already the answer.
  EXPECT_TRUE(self.reduce_scatter_in_place_async(in, ReduceOp::sum)->test());
  self.all_gather_in_place_async(in)->wait();
  EXPECT_EQ(in.to_vector(), (std::vector<float>{1.f, 2.f, 3.f}));
  EXPECT_EQ(self.counters().calls[size_t(CommKind::reduce_scatter)], 2u);
  EXPECT_EQ(self.counters().total_wire_bytes(), 0.0);
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
