// NcclComm: Comm over NCCL for device tensors, one NCCL communicator per
// group (its unique id broadcast over the group's MPI communicator).
//
// - Collectives on device tensors run on the compute stream (ordered with
//   the kernels around them; the host does not wait). The started forms
//   (all_reduce_async, reduce_scatter_async, all_gather_async) run on a
//   communication stream instead, after an event on the compute stream,
//   so the DP bucket reduction overlaps the rest of backward; their
//   wait() makes the compute stream wait for them, again without blocking
//   the host.
// - Host tensors (flags, losses, the grad norm) and pipeline send/recv go
//   through the group's MpiComm (staged for device tensors): NCCL's
//   point-to-point ops block their stream until the peer posts the match,
//   which the pipeline executor's "sends never block" model does not allow
//   (docs/decisions.md).
// - reduce_scatter and all_gather (blocking or started) with uneven parts
//   (split_sizes) also go through MPI: NCCL's take equal parts.
//
// NCCL refuses two ranks of one communicator on one GPU ("Duplicate GPU
// detected"): ranks sharing a GPU use --comm mpi.
#pragma once

#include <cuda_runtime.h>
#include <mpi.h>
#include <nccl.h>

#include <memory>

#include "framework/dist/mpi_comm.h"

namespace trident::dist {

class NcclComm final : public Comm {
 public:
  // Collective over `comm`'s ranks (each calls it); takes ownership of
  // `comm`. `compute_stream` is the backend's stream (Backend::native_stream).
  NcclComm(MPI_Comm comm, std::string name, cudaStream_t compute_stream);
  ~NcclComm() override;
  NcclComm(const NcclComm&) = delete;
  NcclComm& operator=(const NcclComm&) = delete;

  int rank() const override { return mpi_.rank(); }
  int size() const override { return mpi_.size(); }

  void all_reduce(Tensor& t, ReduceOp op) override;
  std::unique_ptr<Request> all_reduce_async(Tensor& t, ReduceOp op) override;
  void reduce_scatter(const Tensor& in, Tensor& out, ReduceOp op) override;
  void all_gather(const Tensor& in, Tensor& out) override;
  std::unique_ptr<Request> reduce_scatter_async(const Tensor& in, Tensor& out, ReduceOp op) override;
  std::unique_ptr<Request> all_gather_async(const Tensor& in, Tensor& out) override;
  std::unique_ptr<Request> reduce_scatter_in_place_async(Tensor& buffer, ReduceOp op) override;
  std::unique_ptr<Request> all_gather_in_place_async(Tensor& buffer) override;
  void broadcast(Tensor& t, int root) override;
  void send(const Tensor& t, int dst, int tag) override;
  void recv(Tensor& t, int src, int tag) override;
  std::unique_ptr<Request> isend(const Tensor& t, int dst, int tag) override;
  std::unique_ptr<Request> irecv(Tensor& t, int src, int tag) override;

 private:
  // Whether NCCL runs the call (both tensors on the device, equal parts)
  // rather than mpi_; the blocking and started forms decide alike.
  bool takes_reduce_scatter(const Tensor& in, const Tensor& out) const;
  bool takes_all_gather(const Tensor& in, const Tensor& out) const;
  // The shapes NCCL's equal parts need, checked, and the call counted.
  void count_reduce_scatter(const Tensor& in, const Tensor& out);
  void count_all_gather(const Tensor& in, const Tensor& out);

  MpiComm mpi_;  // host tensors, point-to-point, uneven parts
  ncclComm_t nccl_ = nullptr;
  cudaStream_t compute_ = nullptr, comm_stream_ = nullptr;
};

}  // namespace trident::dist
