// SelfComm: the group of one process, for a process started without a
// launcher (no MPI at all: such a run needs no MPI runtime) and for the
// size-one groups of any layout. Collectives are identities; counters
// record the calls with zero wire bytes.
#pragma once

#include "framework/dist/comm.h"

namespace trident::dist {

class SelfComm final : public Comm {
 public:
  explicit SelfComm(std::string name) : Comm(std::move(name)) {}
  int rank() const override { return 0; }
  int size() const override { return 1; }

  void all_reduce(Tensor& t, ReduceOp) override { count(CommKind::all_reduce, t.bytes(), 0.0); }
  std::unique_ptr<Request> all_reduce_async(Tensor& t, ReduceOp op) override;
  void reduce_scatter(const Tensor& in, Tensor& out, ReduceOp) override;
  void all_gather(const Tensor& in, Tensor& out) override;
  std::unique_ptr<Request> reduce_scatter_async(const Tensor& in, Tensor& out, ReduceOp op) override;
  std::unique_ptr<Request> all_gather_async(const Tensor& in, Tensor& out) override;
  std::unique_ptr<Request> reduce_scatter_in_place_async(Tensor& buffer, ReduceOp op) override;
  std::unique_ptr<Request> all_gather_in_place_async(Tensor& buffer) override;
  void broadcast(Tensor& t, int) override { count(CommKind::broadcast, t.bytes(), 0.0); }
  void send(const Tensor&, int, int) override;
  void recv(Tensor&, int, int) override;
  std::unique_ptr<Request> isend(const Tensor&, int, int) override;
  std::unique_ptr<Request> irecv(Tensor&, int, int) override;
};

}  // namespace trident::dist
