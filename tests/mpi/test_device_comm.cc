// GPU tier: Comm on device tensors, against the serial answer, for both
// ways ranks exchange them: MpiComm staging through host memory (any
// number of ranks per GPU) and NcclComm (one GPU per rank). Collectives,
// the asynchronous all-reduce the DP buckets use, the asynchronous
// reduce-scatter and all-gather a ZeRO-1 optimizer uses (NcclComm's own
// with equal parts, its MPI side with unequal ones), and a host tensor
// through NcclComm's MPI side. Skipped, with the reason, without a GPU, and
// NcclComm also when the ranks outnumber the GPUs.
#include <gtest/gtest.h>

#include <mpi.h>

#include <memory>

#include "framework/backend/backend.h"
#include "framework/dist/mpi_comm.h"
#include "framework/dist/process_groups.h"
#include "framework/dist/world.h"
#include "tests/support/tolerances.h"

namespace trident::dist {
namespace {

float value(int rank, int64_t i) { return float(rank * 100 + i) * 0.5f - 7.f; }  // exact in f32 and bf16 sums here

class DeviceComm : public ::testing::TestWithParam<const char*> {
 protected:
  void SetUp() override {
    const int gpus = backend::cuda_device_count();
    if (gpus == 0) GTEST_SKIP() << "no GPU visible: device communication was built but not run";
    int size = 1, rank = 0;
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    const bool nccl = std::string(GetParam()) == "nccl";
    if (nccl && gpus < size)
      GTEST_SKIP() << "NCCL needs one GPU per rank: " << size << " ranks, " << gpus
                   << " GPU(s) visible (NCCL refuses two ranks of a communicator on one GPU)";
    be = backend::make_cuda_backend(rank % gpus);
    MPI_Comm dup;
    MPI_Comm_dup(MPI_COMM_WORLD, &dup);
    comm = nccl ? nccl_comm_factory(be->native_stream())(dup, "test") : std::make_unique<MpiComm>(dup, "test");
    n = comm->size();
    r = comm->rank();
  }
  Tensor filled(int64_t len, int rank, DType dtype = DType::f32) {
    Tensor t = Tensor::empty({len});
    for (int64_t i = 0; i < len; ++i) t.set(i, value(rank, i));
    return t.to(dtype).to(Device::cuda);
  }
  std::unique_ptr<backend::Backend> be;
  std::unique_ptr<Comm> comm;
  int n = 1, r = 0;
};

TEST_P(DeviceComm, AllReduceSyncAndAsync) {
  for (DType dt : {DType::f32, DType::bf16}) {
    if (dt == DType::bf16 && std::string(GetParam()) == "mpi") continue;  // MPI reduces f32 only (TP widens)
    Tensor s = filled(1000, r, dt), a = filled(1000, r, dt);
    comm->all_reduce(s, ReduceOp::sum);
    auto req = comm->all_reduce_async(a, ReduceOp::sum);
    req->wait();
    const auto sv = s.to(Device::cpu).to(DType::f32).to_vector(), av = a.to(Device::cpu).to(DType::f32).to_vector();
    for (int64_t i = 0; i < 1000; ++i) {
      float sum = 0.f;
      for (int k = 0; k < n; ++k) sum += value(k, i);
      const float expect = Tensor::from_vector({sum}, {1}).to(dt).to(DType::f32).item(0);
      ASSERT_NEAR(sv[size_t(i)], expect, std::abs(expect) * 1e-2) << dtype_name(dt) << " [" << i << "]";
      ASSERT_EQ(av[size_t(i)], sv[size_t(i)]) << "async [" << i << "]";
    }
  }
}

TEST_P(DeviceComm, ReduceScatterAllGatherBroadcast) {
  const int64_t part = 37, total = part * n;
  Tensor in = filled(total, r), out = Tensor::empty({part}, DType::f32, Device::cuda);
  comm->reduce_scatter(in, out, ReduceOp::sum);
  const auto rs = out.to(Device::cpu).to_vector();
  for (int64_t i = 0; i < part; ++i) {
    float sum = 0.f;
    for (int k = 0; k < n; ++k) sum += value(k, r * part + i);
    ASSERT_EQ(rs[size_t(i)], sum) << "reduce_scatter [" << i << "]";
  }
  Tensor mine = filled(part, r), all = Tensor::empty({total}, DType::f32, Device::cuda);
  comm->all_gather(mine, all);
  const auto ag = all.to(Device::cpu).to_vector();
  for (int k = 0; k < n; ++k)
    for (int64_t i = 0; i < part; ++i) ASSERT_EQ(ag[size_t(k * part + i)], value(k, i)) << "all_gather";
  Tensor b = filled(100, r);
  comm->broadcast(b, n - 1);
  const auto bv = b.to(Device::cpu).to_vector();
  for (int64_t i = 0; i < 100; ++i) ASSERT_EQ(bv[size_t(i)], value(n - 1, i)) << "broadcast";
  Tensor host = Tensor::from_vector({float(r)}, {1});  // host tensors take the MPI side
  comm->all_reduce(host, ReduceOp::max);
  EXPECT_EQ(host.item(0), float(n - 1));
}

// The started forms against the serial answer and their blocking twins:
// equal parts (NCCL's own collectives for NcclComm) and unequal ones (its
// MPI side, staged), f32 and bf16, four collectives in flight waited in
// the reverse order, and the same counters as the blocking calls.
// The in-place forms on device buckets (the distributed optimizer's):
// equal parts (NCCL's own in-place path) and unequal (its MPI fallback,
// which stages the buffer and moves MPI's result from the buffer's start to
// the rank's part), against the out-of-place forms' results.
TEST_P(DeviceComm, InPlaceFormsMatchTheOutOfPlaceOnes) {
  for (const int64_t total : {int64_t(37) * n, int64_t(37) * n + 1}) {
    SCOPED_TRACE(total % n == 0 ? "equal parts" : "unequal parts");
    const auto sizes = Comm::split_sizes(total, n);
    const int64_t mine = sizes[size_t(r)];
    int64_t mine_begin = 0;
    for (int k = 0; k < r; ++k) mine_begin += sizes[size_t(k)];
    Tensor in = filled(total, r, DType::f32), out = Tensor::empty({mine}, DType::f32, Device::cuda);
    comm->reduce_scatter(in, out, ReduceOp::sum);
    Tensor buffer = in.clone();
    comm->reduce_scatter_in_place_async(buffer, ReduceOp::sum)->wait();
    EXPECT_EQ(buffer.slice(mine_begin, mine_begin + mine).to(Device::cpu).to_vector(), out.to(Device::cpu).to_vector());
    Tensor part = filled(mine, r, DType::bf16), all = Tensor::empty({total}, DType::bf16, Device::cuda);
    comm->all_gather(part, all);
    Tensor gathered = Tensor::zeros({total}, DType::bf16, Device::cuda);
    gathered.slice(mine_begin, mine_begin + mine).copy_from(part);
    comm->all_gather_in_place_async(gathered)->wait();
    EXPECT_EQ(gathered.to(Device::cpu).to(DType::f32).to_vector(), all.to(Device::cpu).to(DType::f32).to_vector());
  }
}

TEST_P(DeviceComm, AsyncReduceScatterAndAllGather) {
  const bool nccl = std::string(GetParam()) == "nccl";
  for (const int64_t total : {int64_t(37) * n, int64_t(37) * n + 1}) {
    const bool equal_parts = total % n == 0;
    const auto sizes = Comm::split_sizes(total, n);
    const int64_t mine = sizes[size_t(r)];
    int64_t mine_begin = 0;
    for (int k = 0; k < r; ++k) mine_begin += sizes[size_t(k)];
    for (DType dt : {DType::f32, DType::bf16}) {
      // MPI reduces f32 only (mpi_comm.h), so does NcclComm's MPI side.
      const bool reduces = dt == DType::f32 || (nccl && equal_parts);
      SCOPED_TRACE(std::string(dtype_name(dt)) + (equal_parts ? ", equal parts" : ", unequal parts"));
      Tensor sum_in = filled(total, r, dt), max_in = filled(total, (r + 1) % n, dt);
      Tensor part = filled(mine, r, dt);
      auto empty = [&](int64_t len) { return Tensor::empty({len}, dt, Device::cuda); };
      Tensor sum_out = empty(mine), max_out = empty(mine), all = empty(total), all_again = empty(total);
      Tensor sum_blocking = empty(mine), all_blocking = empty(total);

      comm->reset_counters();
      if (reduces) comm->reduce_scatter(sum_in, sum_blocking, ReduceOp::sum);
      comm->all_gather(part, all_blocking);
      const CommCounters blocking = comm->counters();

      comm->reset_counters();
      std::vector<std::unique_ptr<Request>> requests;
      if (reduces) requests.push_back(comm->reduce_scatter_async(sum_in, sum_out, ReduceOp::sum));
      requests.push_back(comm->all_gather_async(part, all));
      if (reduces) requests.push_back(comm->reduce_scatter_async(max_in, max_out, ReduceOp::max));
      requests.push_back(comm->all_gather_async(part, all_again));
      for (auto it = requests.rbegin(); it != requests.rend(); ++it) (*it)->wait();
      const CommCounters& started = comm->counters();
      // Each blocking call ran once, each started one twice.
      for (CommKind kind : {CommKind::reduce_scatter, CommKind::all_gather}) {
        const size_t k = size_t(kind);
        EXPECT_EQ(started.calls[k], 2 * blocking.calls[k]) << comm_kind_name(kind);
        EXPECT_EQ(started.payload_bytes[k], 2 * blocking.payload_bytes[k]) << comm_kind_name(kind);
        EXPECT_DOUBLE_EQ(started.wire_bytes[k], 2 * blocking.wire_bytes[k]) << comm_kind_name(kind);
      }

      auto host = [](const Tensor& t) { return t.to(Device::cpu).to(DType::f32).to_vector(); };
      auto as_stored = [dt](float v) { return Tensor::from_vector({v}, {1}).to(dt).item(0); };
      const auto ag = host(all), ag_again = host(all_again), ag_blocking = host(all_blocking);
      int64_t at = 0;
      for (int k = 0; k < n; ++k)
        for (int64_t j = 0; j < sizes[size_t(k)]; ++j, ++at) {
          ASSERT_EQ(ag[size_t(at)], as_stored(value(k, j))) << "all_gather_async from rank " << k;
          ASSERT_EQ(ag_again[size_t(at)], ag[size_t(at)]) << "second all_gather_async [" << at << "]";
          ASSERT_EQ(ag_blocking[size_t(at)], ag[size_t(at)]) << "blocking all_gather [" << at << "]";
        }
      if (!reduces) {
        EXPECT_THROW(comm->reduce_scatter_async(sum_in, sum_out, ReduceOp::sum), Error);
        continue;
      }
      const auto rs = host(sum_out), rs_blocking = host(sum_blocking), mx = host(max_out);
      const test::Tolerance tol = test::tolerance(dt);  // one rounding of the stored sum
      for (int64_t j = 0; j < mine; ++j) {
        const int64_t i = mine_begin + j;
        float sum = 0.f, most = -INFINITY;
        for (int k = 0; k < n; ++k) sum += as_stored(value(k, i)), most = std::max(most, as_stored(value(k, i)));
        ASSERT_LE(std::abs(rs[size_t(j)] - sum), tol.bound(sum)) << "reduce_scatter_async sum [" << j << "]";
        ASSERT_EQ(rs[size_t(j)], rs_blocking[size_t(j)]) << "against the blocking reduce_scatter [" << j << "]";
        ASSERT_EQ(mx[size_t(j)], most) << "reduce_scatter_async max [" << j << "]";
      }
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Comms, DeviceComm, ::testing::Values("mpi", "nccl"),
                         [](const auto& info) { return std::string(info.param); });

}  // namespace
}  // namespace trident::dist
