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

// all_reduce_async's handle: the reduction's completion event on the
// communication stream, and the tensor (kept alive until then). wait()
// orders the compute stream and the default stream (the copies out of a
// DP bucket) after it; the host does not block.
class NcclRequest final : public Request {
 public:
  NcclRequest(cudaEvent_t done, cudaStream_t compute, Tensor buffer)
      : done_(done), compute_(compute), buffer_(std::move(buffer)) {}
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
  Tensor buffer_;
  bool waited_ = false;
};


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
  cudaEvent_t ready, done;
  TRIDENT_LIB_CHECK(CudaRuntime, cudaEventCreateWithFlags(&ready, cudaEventDisableTiming));
  TRIDENT_LIB_CHECK(CudaRuntime, cudaEventCreateWithFlags(&done, cudaEventDisableTiming));
  TRIDENT_LIB_CHECK(CudaRuntime, cudaEventRecord(ready, compute_));  // the gradient kernels queued so far
  TRIDENT_LIB_CHECK(CudaRuntime, cudaStreamWaitEvent(comm_stream_, ready, 0));
  // and the copies into the bucket on the default stream (which the blocking
  // compute stream already waits for: this says so explicitly).
  TRIDENT_LIB_CHECK(CudaRuntime, cudaEventRecord(ready, cudaStreamLegacy));
  TRIDENT_LIB_CHECK(CudaRuntime, cudaStreamWaitEvent(comm_stream_, ready, 0));
  cudaEventDestroy(ready);  // released once recorded work completes
  TRIDENT_LIB_CHECK(Nccl, ncclAllReduce(t.raw(), t.raw(), size_t(t.numel()), nccl_type(t.dtype()), nccl_op(op), nccl_,
                                        comm_stream_));
  TRIDENT_LIB_CHECK(CudaRuntime, cudaEventRecord(done, comm_stream_));
  return std::make_unique<NcclRequest>(done, compute_, t);
}

void NcclComm::reduce_scatter(const Tensor& in, Tensor& out, ReduceOp op) {
  const auto sizes = split_sizes(in.numel(), size());
  const bool even = in.numel() % size() == 0;
  if (!on_device(in) || !on_device(out) || !even) return mpi_.reduce_scatter(in, out, op);
  TRIDENT_CHECK(out.numel() == sizes[size_t(rank())] && in.dtype() == out.dtype(), "reduce_scatter of ", in.numel(),
                " elements into ", out.numel(), " on rank ", rank(), " of ", size());
  count(CommKind::reduce_scatter, in.bytes(), ring_fraction(size()) * double(in.bytes()));
  TRIDENT_LIB_CHECK(Nccl, ncclReduceScatter(in.raw(), out.raw(), size_t(out.numel()), nccl_type(in.dtype()),
                                            nccl_op(op), nccl_, compute_));
}

void NcclComm::all_gather(const Tensor& in, Tensor& out) {
  const bool even = out.numel() % size() == 0;
  if (!on_device(in) || !on_device(out) || !even) return mpi_.all_gather(in, out);
  TRIDENT_CHECK(in.dtype() == out.dtype() && in.numel() * size() == out.numel(), "all_gather of ", in.numel(),
                " elements into ", out.numel(), " on rank ", rank(), " of ", size());
  count(CommKind::all_gather, out.bytes(), ring_fraction(size()) * double(out.bytes()));
  TRIDENT_LIB_CHECK(Nccl,
                    ncclAllGather(in.raw(), out.raw(), size_t(in.numel()), nccl_type(in.dtype()), nccl_, compute_));
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
