#include "framework/dist/mpi_comm.h"

#include <cstring>
#include <functional>
#include <utility>

#include "framework/dist/mpi_check.h"
#include "framework/dist/world.h"

namespace trident::dist {
namespace {

MPI_Datatype mpi_type(DType t) {
  switch (t) {
    case DType::f32: return MPI_FLOAT;
    case DType::i32: return MPI_INT32_T;
    case DType::f16:
    case DType::bf16: return MPI_UINT16_T;  // moved, never reduced
  }
  return MPI_BYTE;
}

MPI_Datatype reduce_type(const Tensor& t) {
  TRIDENT_CHECK(t.dtype() == DType::f32 || t.dtype() == DType::i32, "MPI reductions of ", dtype_name(t.dtype()),
                " tensors are not supported: reduce in f32");
  return mpi_type(t.dtype());
}

MPI_Op mpi_op(ReduceOp op) { return op == ReduceOp::sum ? MPI_SUM : MPI_MAX; }

// Staging of device tensors: MPI moves host memory, so a device tensor's
// contents are copied to a host buffer before the call (`staged_in`) and
// the result copied back after it (`unstage`). Host tensors are used in
// place. The copies wait for the device's queued work (device_memory.h).
Tensor staged_in(const Tensor& t) { return t.device() == Device::cpu ? t : t.to(Device::cpu); }
Tensor staged_out(const Tensor& t) {
  return t.device() == Device::cpu ? t : Tensor::empty(t.shape(), t.dtype(), Device::cpu);
}
void unstage(const Tensor& host, Tensor& t) {
  if (t.device() != Device::cpu) t.copy_from(host);
}

// What a non-blocking reduce-scatter or all-gather reads besides the buffer
// it writes: its (staged) input, and the parts' counts and offsets, which
// MPI may read until the operation completes, not only during the call.
struct MpiInputs {
  Tensor in;
  std::vector<int> counts, offsets;
};

// A non-blocking MPI operation. It holds the host buffer MPI works on (a
// staged copy of a device tensor stays alive until the operation ends),
// for a staged receive or reduction the device tensor the result goes to,
// and the inputs a collective reads.
class MpiRequest final : public Request {
 public:
  MpiRequest(MPI_Request r, Tensor host, Tensor device_result = {}, MpiInputs inputs = {},
             std::function<void()> then = {})
      : request_(r), host_(std::move(host)), device_result_(std::move(device_result)), inputs_(std::move(inputs)),
        then_(std::move(then)) {}
  ~MpiRequest() override {
    if (request_ != MPI_REQUEST_NULL) MPI_Wait(&request_, MPI_STATUS_IGNORE);  // never leave MPI writing freed memory
    try {
      finish();  // a staged result still reaches its device tensor when nobody waited
    } catch (...) {
      // A destructor must not throw; the failed copy surfaces at the device's next checked call.
    }
  }
  void wait() override {
    TRIDENT_LIB_CHECK(Mpi, MPI_Wait(&request_, MPI_STATUS_IGNORE));
    finish();
  }
  bool test() override {
    int done = 0;
    TRIDENT_LIB_CHECK(Mpi, MPI_Test(&request_, &done, MPI_STATUS_IGNORE));
    if (done) finish();
    return done != 0;
  }

 private:
  void finish() {
    if (device_result_.defined()) unstage(host_, device_result_);
    device_result_ = Tensor();
    if (then_) std::exchange(then_, nullptr)();
  }
  MPI_Request request_;
  Tensor host_, device_result_;
  MpiInputs inputs_;
  std::function<void()> then_;  // once, after completion: where the result must move
};

Tensor device_or_none(const Tensor& t) { return t.device() == Device::cpu ? Tensor() : t; }

double ring_fraction(int n) { return n > 1 ? double(n - 1) / double(n) : 0.0; }

// Where each rank's part starts in the full buffer, in elements.
std::vector<int> offsets_of(const std::vector<int>& counts) {
  std::vector<int> offsets(counts.size(), 0);
  for (size_t i = 1; i < counts.size(); ++i) offsets[i] = offsets[i - 1] + counts[i - 1];
  return offsets;
}

}  // namespace

MpiComm::MpiComm(MPI_Comm comm, std::string name) : Comm(std::move(name)), comm_(comm) {
  MPI_Comm_set_errhandler(comm_, MPI_ERRORS_RETURN);
  TRIDENT_LIB_CHECK(Mpi, MPI_Comm_rank(comm_, &rank_));
  TRIDENT_LIB_CHECK(Mpi, MPI_Comm_size(comm_, &size_));
}

MpiComm::~MpiComm() {
  if (comm_ != MPI_COMM_WORLD && comm_ != MPI_COMM_SELF && comm_ != MPI_COMM_NULL && World::initialized())
    MPI_Comm_free(&comm_);
}

void MpiComm::all_reduce(Tensor& t, ReduceOp op) {
  count(CommKind::all_reduce, t.bytes(), 2.0 * ring_fraction(size_) * double(t.bytes()));
  if (size_ == 1) return;
  Tensor h = staged_in(t);
  TRIDENT_LIB_CHECK(Mpi, MPI_Allreduce(MPI_IN_PLACE, h.raw(), int(h.numel()), reduce_type(h), mpi_op(op), comm_));
  unstage(h, t);
}

std::unique_ptr<Request> MpiComm::all_reduce_async(Tensor& t, ReduceOp op) {
  count(CommKind::all_reduce, t.bytes(), 2.0 * ring_fraction(size_) * double(t.bytes()));
  MPI_Request r = MPI_REQUEST_NULL;
  if (size_ == 1) return std::make_unique<MpiRequest>(r, Tensor());
  Tensor h = staged_in(t);
  TRIDENT_LIB_CHECK(Mpi, MPI_Iallreduce(MPI_IN_PLACE, h.raw(), int(h.numel()), reduce_type(h), mpi_op(op), comm_, &r));
  return std::make_unique<MpiRequest>(r, h, device_or_none(t));
}

std::vector<int> MpiComm::reduce_scatter_parts(const Tensor& in, const Tensor& out) {
  const auto sizes = split_sizes(in.numel(), size_);
  TRIDENT_CHECK(out.numel() == sizes[size_t(rank_)] && in.dtype() == out.dtype(), "reduce_scatter of ",
                in.numel(), " elements into ", out.numel(), " on rank ", rank_, " of ", size_);
  count(CommKind::reduce_scatter, in.bytes(), ring_fraction(size_) * double(in.bytes()));
  return std::vector<int>(sizes.begin(), sizes.end());
}

std::vector<int> MpiComm::all_gather_parts(const Tensor& in, const Tensor& out) {
  TRIDENT_CHECK(in.dtype() == out.dtype(), "all_gather dtypes");
  const auto sizes = split_sizes(out.numel(), size_);
  TRIDENT_CHECK(in.numel() == sizes[size_t(rank_)], "all_gather of ", in.numel(), " elements into ", out.numel(),
                " on rank ", rank_, " of ", size_);
  count(CommKind::all_gather, out.bytes(), ring_fraction(size_) * double(out.bytes()));
  return std::vector<int>(sizes.begin(), sizes.end());
}

void MpiComm::reduce_scatter(const Tensor& in_t, Tensor& out, ReduceOp op) {
  const Tensor in = staged_in(in_t);
  Tensor out_h = staged_out(out);
  const std::vector<int> counts = reduce_scatter_parts(in, out);
  TRIDENT_LIB_CHECK(Mpi, MPI_Reduce_scatter(in.raw(), out_h.raw(), counts.data(), reduce_type(in), mpi_op(op), comm_));
  unstage(out_h, out);
}

void MpiComm::all_gather(const Tensor& in_t, Tensor& out) {
  const Tensor in = staged_in(in_t);
  Tensor out_h = staged_out(out);
  const std::vector<int> counts = all_gather_parts(in, out), offsets = offsets_of(counts);
  const MPI_Datatype type = mpi_type(in.dtype());
  TRIDENT_LIB_CHECK(Mpi, MPI_Allgatherv(in.raw(), int(in.numel()), type, out_h.raw(), counts.data(), offsets.data(),
                                        type, comm_));
  unstage(out_h, out);
}

// The started forms check before staging, so that a refused call copies
// nothing; the checks and counts are the blocking forms' own.
std::unique_ptr<Request> MpiComm::reduce_scatter_async(const Tensor& in_t, Tensor& out, ReduceOp op) {
  check_disjoint(in_t, out, "reduce_scatter_async");
  MpiInputs inputs;
  inputs.counts = reduce_scatter_parts(in_t, out);
  const MPI_Datatype type = reduce_type(in_t);  // 16-bit dtypes refused here as in the blocking form
  inputs.in = staged_in(in_t);
  Tensor out_h = staged_out(out);
  MPI_Request r = MPI_REQUEST_NULL;
  TRIDENT_LIB_CHECK(Mpi, MPI_Ireduce_scatter(inputs.in.raw(), out_h.raw(), inputs.counts.data(), type, mpi_op(op),
                                             comm_, &r));
  return std::make_unique<MpiRequest>(r, out_h, device_or_none(out), std::move(inputs));
}

std::unique_ptr<Request> MpiComm::all_gather_async(const Tensor& in_t, Tensor& out) {
  check_disjoint(in_t, out, "all_gather_async");
  MpiInputs inputs;
  inputs.counts = all_gather_parts(in_t, out);
  inputs.offsets = offsets_of(inputs.counts);
  inputs.in = staged_in(in_t);
  Tensor out_h = staged_out(out);
  const MPI_Datatype type = mpi_type(in_t.dtype());
  MPI_Request r = MPI_REQUEST_NULL;
  TRIDENT_LIB_CHECK(Mpi, MPI_Iallgatherv(inputs.in.raw(), int(inputs.in.numel()), type, out_h.raw(),
                                         inputs.counts.data(), inputs.offsets.data(), type, comm_, &r));
  return std::make_unique<MpiRequest>(r, out_h, device_or_none(out), std::move(inputs));
}

// MPI's in-place reduce-scatter leaves this rank's sum at the start of the
// buffer; Comm's contract (and NCCL's) has it in the rank's own part, so it
// moves there once the operation completes.
std::unique_ptr<Request> MpiComm::reduce_scatter_in_place_async(Tensor& buffer, ReduceOp op) {
  const auto sizes = split_sizes(buffer.numel(), size_);
  count(CommKind::reduce_scatter, buffer.bytes(), ring_fraction(size_) * double(buffer.bytes()));
  MpiInputs inputs;
  inputs.counts.assign(sizes.begin(), sizes.end());
  inputs.offsets = offsets_of(inputs.counts);
  const MPI_Datatype type = reduce_type(buffer);  // 16-bit dtypes refused as in the other forms
  Tensor h = staged_in(buffer);
  const int64_t offset = inputs.offsets[size_t(rank_)], n = inputs.counts[size_t(rank_)];
  MPI_Request r = MPI_REQUEST_NULL;
  TRIDENT_LIB_CHECK(Mpi, MPI_Ireduce_scatter(MPI_IN_PLACE, h.raw(), inputs.counts.data(), type, mpi_op(op), comm_, &r));
  auto move_sum = [h, buffer, offset, n]() mutable {
    if (offset == 0 && buffer.device() == Device::cpu) return;
    if (buffer.device() != Device::cpu) {
      Tensor part = buffer.slice(offset, offset + n);
      part.copy_from(h.slice(0, n));
      return;
    }
    const size_t element = h.bytes() / size_t(h.numel());
    std::memmove(static_cast<char*>(buffer.raw()) + offset * element, h.raw(), size_t(n) * element);  // may overlap
  };
  return std::make_unique<MpiRequest>(r, h, Tensor(), std::move(inputs), std::move(move_sum));
}

std::unique_ptr<Request> MpiComm::all_gather_in_place_async(Tensor& buffer) {
  const auto sizes = split_sizes(buffer.numel(), size_);
  count(CommKind::all_gather, buffer.bytes(), ring_fraction(size_) * double(buffer.bytes()));
  MpiInputs inputs;
  inputs.counts.assign(sizes.begin(), sizes.end());
  inputs.offsets = offsets_of(inputs.counts);
  Tensor h = staged_in(buffer);  // a device buffer's staged copy holds this rank's part already
  MPI_Request r = MPI_REQUEST_NULL;
  TRIDENT_LIB_CHECK(Mpi, MPI_Iallgatherv(MPI_IN_PLACE, 0, MPI_DATATYPE_NULL, h.raw(), inputs.counts.data(),
                                         inputs.offsets.data(), mpi_type(buffer.dtype()), comm_, &r));
  return std::make_unique<MpiRequest>(r, h, device_or_none(buffer), std::move(inputs));
}

void MpiComm::broadcast(Tensor& t, int root) {
  count(CommKind::broadcast, t.bytes(), size_ > 1 && rank_ == root ? double(t.bytes()) : 0.0);
  if (size_ == 1) return;
  Tensor h = rank_ == root ? staged_in(t) : staged_out(t);
  TRIDENT_LIB_CHECK(Mpi, MPI_Bcast(h.raw(), int(h.numel()), mpi_type(h.dtype()), root, comm_));
  if (rank_ != root) unstage(h, t);
}

void MpiComm::send(const Tensor& t, int dst, int tag) {
  count(CommKind::send, t.bytes(), double(t.bytes()));
  const Tensor h = staged_in(t);
  TRIDENT_LIB_CHECK(Mpi, MPI_Send(h.raw(), int(h.numel()), mpi_type(h.dtype()), dst, tag, comm_));
}

void MpiComm::recv(Tensor& t, int src, int tag) {
  count(CommKind::recv, t.bytes(), 0.0);
  Tensor h = staged_out(t);
  TRIDENT_LIB_CHECK(Mpi, MPI_Recv(h.raw(), int(h.numel()), mpi_type(h.dtype()), src, tag, comm_, MPI_STATUS_IGNORE));
  unstage(h, t);
}

std::unique_ptr<Request> MpiComm::isend(const Tensor& t, int dst, int tag) {
  count(CommKind::send, t.bytes(), double(t.bytes()));
  const Tensor h = staged_in(t);
  MPI_Request r;
  TRIDENT_LIB_CHECK(Mpi, MPI_Isend(h.raw(), int(h.numel()), mpi_type(h.dtype()), dst, tag, comm_, &r));
  return std::make_unique<MpiRequest>(r, h);
}

std::unique_ptr<Request> MpiComm::irecv(Tensor& t, int src, int tag) {
  count(CommKind::recv, t.bytes(), 0.0);
  Tensor h = staged_out(t);
  MPI_Request r;
  TRIDENT_LIB_CHECK(Mpi, MPI_Irecv(h.raw(), int(h.numel()), mpi_type(h.dtype()), src, tag, comm_, &r));
  return std::make_unique<MpiRequest>(r, h, device_or_none(t));
}

}  // namespace trident::dist
