#include "framework/dist/mpi_comm.h"

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

void check_host(const Tensor& t) {
  TRIDENT_CHECK(t.device() == Device::cpu, "MpiComm moves host tensors; device tensors need staging or NCCL");
}

class MpiRequest final : public Request {
 public:
  explicit MpiRequest(MPI_Request r) : request_(r) {}
  ~MpiRequest() override {
    if (request_ != MPI_REQUEST_NULL) MPI_Wait(&request_, MPI_STATUS_IGNORE);  // never leave MPI writing freed memory
  }
  void wait() override { MPI_CHECK(MPI_Wait(&request_, MPI_STATUS_IGNORE)); }
  bool test() override {
    int done = 0;
    MPI_CHECK(MPI_Test(&request_, &done, MPI_STATUS_IGNORE));
    return done != 0;
  }

 private:
  MPI_Request request_;
};

double ring_fraction(int n) { return n > 1 ? double(n - 1) / double(n) : 0.0; }

}  // namespace

MpiComm::MpiComm(MPI_Comm comm, std::string name) : Comm(std::move(name)), comm_(comm) {
  MPI_Comm_set_errhandler(comm_, MPI_ERRORS_RETURN);
  MPI_CHECK(MPI_Comm_rank(comm_, &rank_));
  MPI_CHECK(MPI_Comm_size(comm_, &size_));
}

MpiComm::~MpiComm() {
  if (comm_ != MPI_COMM_WORLD && comm_ != MPI_COMM_SELF && comm_ != MPI_COMM_NULL && World::initialized())
    MPI_Comm_free(&comm_);
}

void MpiComm::all_reduce(Tensor& t, ReduceOp op) {
  check_host(t);
  count(CommKind::all_reduce, t.bytes(), 2.0 * ring_fraction(size_) * double(t.bytes()));
  if (size_ == 1) return;
  MPI_CHECK(MPI_Allreduce(MPI_IN_PLACE, t.raw(), int(t.numel()), reduce_type(t), mpi_op(op), comm_));
}

std::unique_ptr<Request> MpiComm::all_reduce_async(Tensor& t, ReduceOp op) {
  check_host(t);
  count(CommKind::all_reduce, t.bytes(), 2.0 * ring_fraction(size_) * double(t.bytes()));
  MPI_Request r = MPI_REQUEST_NULL;
  if (size_ > 1) MPI_CHECK(MPI_Iallreduce(MPI_IN_PLACE, t.raw(), int(t.numel()), reduce_type(t), mpi_op(op), comm_, &r));
  return std::make_unique<MpiRequest>(r);
}

void MpiComm::reduce_scatter(const Tensor& in, Tensor& out, ReduceOp op) {
  check_host(in);
  check_host(out);
  const auto sizes = split_sizes(in.numel(), size_);
  TRIDENT_CHECK(out.numel() == sizes[size_t(rank_)] && in.dtype() == out.dtype(), "reduce_scatter of ",
                in.numel(), " elements into ", out.numel(), " on rank ", rank_, " of ", size_);
  count(CommKind::reduce_scatter, in.bytes(), ring_fraction(size_) * double(in.bytes()));
  std::vector<int> counts(sizes.begin(), sizes.end());
  MPI_CHECK(MPI_Reduce_scatter(in.raw(), out.raw(), counts.data(), reduce_type(in), mpi_op(op), comm_));
}

void MpiComm::all_gather(const Tensor& in, Tensor& out) {
  check_host(in);
  check_host(out);
  TRIDENT_CHECK(in.dtype() == out.dtype(), "all_gather dtypes");
  const auto sizes = split_sizes(out.numel(), size_);
  TRIDENT_CHECK(in.numel() == sizes[size_t(rank_)], "all_gather of ", in.numel(), " elements into ", out.numel(),
                " on rank ", rank_, " of ", size_);
  count(CommKind::all_gather, out.bytes(), ring_fraction(size_) * double(out.bytes()));
  std::vector<int> counts(sizes.begin(), sizes.end()), displs(sizes.size(), 0);
  for (size_t i = 1; i < counts.size(); ++i) displs[i] = displs[i - 1] + counts[i - 1];
  const MPI_Datatype type = mpi_type(in.dtype());
  MPI_CHECK(MPI_Allgatherv(in.raw(), int(in.numel()), type, out.raw(), counts.data(), displs.data(), type, comm_));
}

void MpiComm::broadcast(Tensor& t, int root) {
  check_host(t);
  count(CommKind::broadcast, t.bytes(), size_ > 1 && rank_ == root ? double(t.bytes()) : 0.0);
  if (size_ == 1) return;
  MPI_CHECK(MPI_Bcast(t.raw(), int(t.numel()), mpi_type(t.dtype()), root, comm_));
}

void MpiComm::send(const Tensor& t, int dst, int tag) {
  check_host(t);
  count(CommKind::send, t.bytes(), double(t.bytes()));
  MPI_CHECK(MPI_Send(t.raw(), int(t.numel()), mpi_type(t.dtype()), dst, tag, comm_));
}

void MpiComm::recv(Tensor& t, int src, int tag) {
  check_host(t);
  count(CommKind::recv, t.bytes(), 0.0);
  MPI_CHECK(MPI_Recv(t.raw(), int(t.numel()), mpi_type(t.dtype()), src, tag, comm_, MPI_STATUS_IGNORE));
}

std::unique_ptr<Request> MpiComm::isend(const Tensor& t, int dst, int tag) {
  check_host(t);
  count(CommKind::send, t.bytes(), double(t.bytes()));
  MPI_Request r;
  MPI_CHECK(MPI_Isend(t.raw(), int(t.numel()), mpi_type(t.dtype()), dst, tag, comm_, &r));
  return std::make_unique<MpiRequest>(r);
}

std::unique_ptr<Request> MpiComm::irecv(Tensor& t, int src, int tag) {
  check_host(t);
  count(CommKind::recv, t.bytes(), 0.0);
  MPI_Request r;
  MPI_CHECK(MPI_Irecv(t.raw(), int(t.numel()), mpi_type(t.dtype()), src, tag, comm_, &r));
  return std::make_unique<MpiRequest>(r);
}

}  // namespace trident::dist
