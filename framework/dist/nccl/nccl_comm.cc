#include "framework/dist/nccl/nccl_comm.h"

#include "framework/core/error.h"
#include "framework/dist/mpi_check.h"
#include "framework/dist/nccl/nccl_check.h"
#include "framework/dist/process_groups.h"

namespace trident::dist {
namespace {

ncclDataType_t nccl_type(DType t) {
  switch (t) {
    case DType::f32: return ncclFloat32;
    case DType::f16: return ncclFloat16;
    case DType::bf16: return ncclBfloat16;
    case DType::i32: return ncclInt32;
  }
  return ncclFloat32;
}

ncclRedOp_t nccl_op(ReduceOp op) { return op == ReduceOp::sum ? ncclSum : ncclMax; }

bool on_device(const Tensor& t) { return t.device() != Device::cpu; }

double ring_fraction(int n) { return n > 1 ? double(n - 1) / double(n) : 0.0; }

// A started collective's handle: its completion event on the
// communication stream, and the tensors it reads and writes (kept alive
// until then). wait() orders the compute stream and the default stream
// (the copies out of a DP bucket) after it; the host does not block.
class NcclRequest final : public Request {
 public:
  NcclRequest(cudaEvent_t done, cudaStream_t compute, std::vector<Tensor> buffers)
      : done_(done), compute_(compute), buffers_(std::move(buffers)) {}
  ~NcclRequest() override {
    if (!waited_) {  // never let later work overtake it
      cudaStreamWaitEvent(compute_, done_, 0);
      cudaStreamWaitEvent(cudaStreamLegacy, done_, 0);
    }
    cudaEventDestroy(done_);
  }
  void wait() override {
    TRIDENT_LIB_CHECK(CudaRuntime, cudaStreamWaitEvent(compute_, done_, 0));
    TRIDENT_LIB_CHECK(CudaRuntime, cudaStreamWaitEvent(cudaStreamLegacy, done_, 0));
    waited_ = true;
  }
  bool test() override {
    const cudaError_t state = cudaEventQuery(done_);
    if (state == cudaErrorNotReady) {
      (void)cudaGetLastError();  // "not ready" is an answer, not an error for the next launch check
      return false;
    }
    TRIDENT_LIB_CHECK(CudaRuntime, state);
    return true;
  }

 private:
  cudaEvent_t done_;
  cudaStream_t compute_;
  std::vector<Tensor> buffers_;
  bool waited_ = false;
};

// Orders `comm_stream` after the work queued so far on `compute` (the
// kernels that wrote the input) and on the default stream (copies into a
// bucket, which the blocking compute stream already waits for: this says
// so explicitly), so that a collective queued next reads finished input.
void comm_stream_after_queued_work(cudaStream_t comm_stream, cudaStream_t compute) {
  cudaEvent_t ready;
  TRIDENT_LIB_CHECK(CudaRuntime, cudaEventCreateWithFlags(&ready, cudaEventDisableTiming));
  TRIDENT_LIB_CHECK(CudaRuntime, cudaEventRecord(ready, compute));
  TRIDENT_LIB_CHECK(CudaRuntime, cudaStreamWaitEvent(comm_stream, ready, 0));
  TRIDENT_LIB_CHECK(CudaRuntime, cudaEventRecord(ready, cudaStreamLegacy));
  TRIDENT_LIB_CHECK(CudaRuntime, cudaStreamWaitEvent(comm_stream, ready, 0));
  cudaEventDestroy(ready);  // released once recorded work completes
}

// The request for the collective just queued on `comm_stream`.
std::unique_ptr<Request> request_for_queued(cudaStream_t comm_stream, cudaStream_t compute,
                                            std::vector<Tensor> buffers) {
  cudaEvent_t done;
  TRIDENT_LIB_CHECK(CudaRuntime, cudaEventCreateWithFlags(&done, cudaEventDisableTiming));
  TRIDENT_LIB_CHECK(CudaRuntime, cudaEventRecord(done, comm_stream));
  return std::make_unique<NcclRequest>(done, compute, std::move(buffers));
}


}  // namespace

NcclComm::NcclComm(MPI_Comm comm, std::string name, cudaStream_t compute_stream)
    : Comm(name), mpi_(comm, name), compute_(compute_stream) {
  TRIDENT_LIB_CHECK(CudaRuntime, cudaStreamCreateWithFlags(&comm_stream_, cudaStreamNonBlocking));
  // Rank 0's id and whether it got one, so that a failure there stops every
  // rank with NCCL's message instead of leaving them waiting in init.
  struct {
    ncclUniqueId id;
    int32_t result;
  } root{};
  if (mpi_.rank() == 0) root.result = int32_t(ncclGetUniqueId(&root.id));
  TRIDENT_LIB_CHECK(Mpi, MPI_Bcast(&root, sizeof(root), MPI_BYTE, 0, mpi_.handle()));
  TRIDENT_LIB_CHECK(Nccl, ncclResult_t(root.result), "ncclGetUniqueId on rank 0 of group ", name);
  TRIDENT_LIB_CHECK(Nccl, ncclCommInitRank(&nccl_, mpi_.size(), root.id, mpi_.rank()));
}

NcclComm::~NcclComm() {
  if (nccl_) ncclCommDestroy(nccl_);
  if (comm_stream_) cudaStreamDestroy(comm_stream_);
}

void NcclComm::all_reduce(Tensor& t, ReduceOp op) {
  if (!on_device(t)) return mpi_.all_reduce(t, op);
  count(CommKind::all_reduce, t.bytes(), 2.0 * ring_fraction(size()) * double(t.bytes()));
  // Groups of one call NCCL too (a copy in place): the same path at every size.
  TRIDENT_LIB_CHECK(Nccl, ncclAllReduce(t.raw(), t.raw(), size_t(t.numel()), nccl_type(t.dtype()), nccl_op(op), nccl_,
                                        compute_));
}

std::unique_ptr<Request> NcclComm::all_reduce_async(Tensor& t, ReduceOp op) {
  if (!on_device(t)) return mpi_.all_reduce_async(t, op);
  count(CommKind::all_reduce, t.bytes(), 2.0 * ring_fraction(size()) * double(t.bytes()));
  comm_stream_after_queued_work(comm_stream_, compute_);
  TRIDENT_LIB_CHECK(Nccl, ncclAllReduce(t.raw(), t.raw(), size_t(t.numel()), nccl_type(t.dtype()), nccl_op(op), nccl_,
                                        comm_stream_));
  return request_for_queued(comm_stream_, compute_, {t});
}

bool NcclComm::takes_reduce_scatter(const Tensor& in, const Tensor& out) const {
  return on_device(in) && on_device(out) && in.numel() % size() == 0;
}

bool NcclComm::takes_all_gather(const Tensor& in, const Tensor& out) const {
  return on_device(in) && on_device(out) && out.numel() % size() == 0;
}

void NcclComm::count_reduce_scatter(const Tensor& in, const Tensor& out) {
  TRIDENT_CHECK(out.numel() * size() == in.numel() && in.dtype() == out.dtype(), "reduce_scatter of ", in.numel(),
                " elements into ", out.numel(), " on rank ", rank(), " of ", size());
  count(CommKind::reduce_scatter, in.bytes(), ring_fraction(size()) * double(in.bytes()));
}

void NcclComm::count_all_gather(const Tensor& in, const Tensor& out) {
  TRIDENT_CHECK(in.dtype() == out.dtype() && in.numel() * size() == out.numel(), "all_gather of ", in.numel(),
                " elements into ", out.numel(), " on rank ", rank(), " of ", size());
  count(CommKind::all_gather, out.bytes(), ring_fraction(size()) * double(out.bytes()));
}

void NcclComm::reduce_scatter(const Tensor& in, Tensor& out, ReduceOp op) {
  if (!takes_reduce_scatter(in, out)) return mpi_.reduce_scatter(in, out, op);
  count_reduce_scatter(in, out);
  TRIDENT_LIB_CHECK(Nccl, ncclReduceScatter(in.raw(), out.raw(), size_t(out.numel()), nccl_type(in.dtype()),
                                            nccl_op(op), nccl_, compute_));
}

void NcclComm::all_gather(const Tensor& in, Tensor& out) {
  if (!takes_all_gather(in, out)) return mpi_.all_gather(in, out);
  count_all_gather(in, out);
  TRIDENT_LIB_CHECK(Nccl,
                    ncclAllGather(in.raw(), out.raw(), size_t(in.numel()), nccl_type(in.dtype()), nccl_, compute_));
}

// On the communication stream like all_reduce_async: a ZeRO-1 optimizer's
// gradient reduce-scatter overlaps the rest of backward, and its parameter
// all-gather the next step's early work.
std::unique_ptr<Request> NcclComm::reduce_scatter_async(const Tensor& in, Tensor& out, ReduceOp op) {
  if (!takes_reduce_scatter(in, out)) return mpi_.reduce_scatter_async(in, out, op);
  check_disjoint(in, out, "reduce_scatter_async");
  count_reduce_scatter(in, out);
  comm_stream_after_queued_work(comm_stream_, compute_);
  TRIDENT_LIB_CHECK(Nccl, ncclReduceScatter(in.raw(), out.raw(), size_t(out.numel()), nccl_type(in.dtype()),
                                            nccl_op(op), nccl_, comm_stream_));
  return request_for_queued(comm_stream_, compute_, {in, out});
}

std::unique_ptr<Request> NcclComm::all_gather_async(const Tensor& in, Tensor& out) {
  if (!takes_all_gather(in, out)) return mpi_.all_gather_async(in, out);
  check_disjoint(in, out, "all_gather_async");
  count_all_gather(in, out);
  comm_stream_after_queued_work(comm_stream_, compute_);
  TRIDENT_LIB_CHECK(Nccl,
                    ncclAllGather(in.raw(), out.raw(), size_t(in.numel()), nccl_type(in.dtype()), nccl_, comm_stream_));
  return request_for_queued(comm_stream_, compute_, {in, out});
}

// NCCL works in place when the rank's part is where it would send from
// (reduce-scatter: receive into) inside the full buffer: our parts' layout.
std::unique_ptr<Request> NcclComm::reduce_scatter_in_place_async(Tensor& buffer, ReduceOp op) {
  if (!on_device(buffer) || buffer.numel() % size() != 0) return mpi_.reduce_scatter_in_place_async(buffer, op);
  const int64_t n = buffer.numel() / size();
  Tensor part = buffer.slice(rank() * n, (rank() + 1) * n);
  count_reduce_scatter(buffer, part);
  comm_stream_after_queued_work(comm_stream_, compute_);
  TRIDENT_LIB_CHECK(Nccl, ncclReduceScatter(buffer.raw(), part.raw(), size_t(n), nccl_type(buffer.dtype()),
                                            nccl_op(op), nccl_, comm_stream_));
  return request_for_queued(comm_stream_, compute_, {buffer});
}

std::unique_ptr<Request> NcclComm::all_gather_in_place_async(Tensor& buffer) {
  if (!on_device(buffer) || buffer.numel() % size() != 0) return mpi_.all_gather_in_place_async(buffer);
  const int64_t n = buffer.numel() / size();
  const Tensor part = buffer.slice(rank() * n, (rank() + 1) * n);
  count_all_gather(part, buffer);
  comm_stream_after_queued_work(comm_stream_, compute_);
  TRIDENT_LIB_CHECK(Nccl, ncclAllGather(part.raw(), buffer.raw(), size_t(n), nccl_type(buffer.dtype()), nccl_,
                                        comm_stream_));
  return request_for_queued(comm_stream_, compute_, {buffer});
}

void NcclComm::broadcast(Tensor& t, int root) {
  if (!on_device(t)) return mpi_.broadcast(t, root);
  count(CommKind::broadcast, t.bytes(), size() > 1 && rank() == root ? double(t.bytes()) : 0.0);
  TRIDENT_LIB_CHECK(Nccl,
                    ncclBroadcast(t.raw(), t.raw(), size_t(t.numel()), nccl_type(t.dtype()), root, nccl_, compute_));
}

void NcclComm::send(const Tensor& t, int dst, int tag) { mpi_.send(t, dst, tag); }
void NcclComm::recv(Tensor& t, int src, int tag) { mpi_.recv(t, src, tag); }
std::unique_ptr<Request> NcclComm::isend(const Tensor& t, int dst, int tag) { return mpi_.isend(t, dst, tag); }
std::unique_ptr<Request> NcclComm::irecv(Tensor& t, int src, int tag) { return mpi_.irecv(t, src, tag); }

CommFactory nccl_comm_factory(void* compute_stream) {
  return [compute_stream](MPI_Comm comm, const std::string& name) -> std::unique_ptr<Comm> {
    return std::make_unique<NcclComm>(comm, name, static_cast<cudaStream_t>(compute_stream));
  };
}

}  // namespace trident::dist
