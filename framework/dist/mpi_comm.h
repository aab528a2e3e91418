// MpiComm: Comm over an MPI communicator (f32 and i32 reductions; any
// dtype for data movement). Host tensors are used in place; device tensors
// are staged through host memory, so that several ranks sharing one GPU
// (which NCCL refuses) can still run every layout (--comm mpi).
#pragma once

#include <mpi.h>

#include "framework/dist/comm.h"

namespace trident::dist {

class MpiComm final : public Comm {
 public:
  // Takes ownership of `comm` (freed on destruction unless it is MPI_COMM_WORLD/SELF).
  MpiComm(MPI_Comm comm, std::string name);
  ~MpiComm() override;
  MpiComm(const MpiComm&) = delete;
  MpiComm& operator=(const MpiComm&) = delete;

  int rank() const override { return rank_; }
  int size() const override { return size_; }
  MPI_Comm handle() const { return comm_; }

  void all_reduce(Tensor& t, ReduceOp op) override;
  std::unique_ptr<Request> all_reduce_async(Tensor& t, ReduceOp op) override;
  void reduce_scatter(const Tensor& in_t, Tensor& out, ReduceOp op) override;
  void all_gather(const Tensor& in_t, Tensor& out) override;
  std::unique_ptr<Request> reduce_scatter_async(const Tensor& in_t, Tensor& out, ReduceOp op) override;
  std::unique_ptr<Request> all_gather_async(const Tensor& in_t, Tensor& out) override;
  std::unique_ptr<Request> reduce_scatter_in_place_async(Tensor& buffer, ReduceOp op) override;
  std::unique_ptr<Request> all_gather_in_place_async(Tensor& buffer) override;
  void broadcast(Tensor& t, int root) override;
  void send(const Tensor& t, int dst, int tag) override;
  void recv(Tensor& t, int src, int tag) override;
  std::unique_ptr<Request> isend(const Tensor& t, int dst, int tag) override;
  std::unique_ptr<Request> irecv(Tensor& t, int src, int tag) override;

 private:
  // Shapes checked and the call counted, for the blocking and started
  // forms alike; each returns the element count of every rank's part.
  std::vector<int> reduce_scatter_parts(const Tensor& in, const Tensor& out);
  std::vector<int> all_gather_parts(const Tensor& in, const Tensor& out);

  MPI_Comm comm_;
  int rank_ = 0, size_ = 1;
};

}  // namespace trident::dist
