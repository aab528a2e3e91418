// Comm: the one communication vocabulary (DESIGN.md idea 5) over a group of
// ranks. MpiComm implements it for host tensors; NcclComm (the CUDA
// issue) for device tensors. Every call counts what it moved, so a
// benchmark can compare the traffic with the analytic figure.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "framework/core/tensor.h"

namespace trident::dist {

enum class ReduceOp { sum, max };

enum class CommKind { all_reduce, reduce_scatter, all_gather, broadcast, send, recv };
constexpr size_t kCommKinds = 6;
const char* comm_kind_name(CommKind kind);

// Per collective kind: calls, payload bytes (the buffer given to the call)
// and wire bytes this rank sends with a ring algorithm, the figure the
// analytic formulas give: all-reduce 2(n−1)/n·S, reduce-scatter and
// all-gather (n−1)/n·S of the full buffer, broadcast and send S.
struct CommCounters {
  std::array<uint64_t, kCommKinds> calls{};
  std::array<uint64_t, kCommKinds> payload_bytes{};
  std::array<double, kCommKinds> wire_bytes{};
  double total_wire_bytes() const;
};

// A started non-blocking operation; wait() must be called before the
// buffer is read or reused.
class Request {
 public:
  virtual ~Request() = default;
  virtual void wait() = 0;
  virtual bool test() = 0;  // true when complete; also drives MPI's progress
};

class Comm {
 public:
  virtual ~Comm() = default;
  virtual int rank() const = 0;
  virtual int size() const = 0;
  const std::string& name() const { return name_; }

  virtual void all_reduce(Tensor& t, ReduceOp op) = 0;
  virtual std::unique_ptr<Request> all_reduce_async(Tensor& t, ReduceOp op) = 0;
  // in: the full buffer (every rank's part, in rank order); out: this rank's
  // part, sizes from split_sizes(in.numel(), size()) (uneven sizes allowed).
  virtual void reduce_scatter(const Tensor& in, Tensor& out, ReduceOp op) = 0;
  // in: this rank's part; out: all parts in rank order (uneven sizes allowed).
  virtual void all_gather(const Tensor& in, Tensor& out) = 0;
  // The same two collectives, started: same parts, checks and counters as
  // the blocking forms (counted when started). `in` and `out` must not
  // overlap, and both stay alive and untouched (neither read nor written)
  // until the request's wait() returns; `out` holds the result from then
  // on. Every rank starts its non-blocking collectives in the same order;
  // the waits may come in any order.
  virtual std::unique_ptr<Request> reduce_scatter_async(const Tensor& in, Tensor& out, ReduceOp op) = 0;
  virtual std::unique_ptr<Request> all_gather_async(const Tensor& in, Tensor& out) = 0;
  // The same, in place on `buffer`, which holds every rank's part in rank
  // order (split_sizes): no second buffer (the distributed optimizer keeps
  // none). After wait(), reduce-scatter: this rank's part holds the sum over
  // ranks of that part, the other parts are undefined; all-gather: every
  // part holds its rank's part. Counted as the out-of-place forms.
  virtual std::unique_ptr<Request> reduce_scatter_in_place_async(Tensor& buffer, ReduceOp op) = 0;
  virtual std::unique_ptr<Request> all_gather_in_place_async(Tensor& buffer) = 0;
  virtual void broadcast(Tensor& t, int root) = 0;
  virtual void send(const Tensor& t, int dst, int tag) = 0;
  virtual void recv(Tensor& t, int src, int tag) = 0;
  virtual std::unique_ptr<Request> isend(const Tensor& t, int dst, int tag) = 0;
  virtual std::unique_ptr<Request> irecv(Tensor& t, int src, int tag) = 0;

  const CommCounters& counters() const { return counters_; }
  void reset_counters() { counters_ = {}; }

  // Sizes of n parts of `total` elements: the first total % n get one more.
  static std::vector<int64_t> split_sizes(int64_t total, int n);

 protected:
  explicit Comm(std::string name) : name_(std::move(name)) {}
  void count(CommKind kind, uint64_t payload_bytes, double wire_bytes);
  // A non-blocking collective reads `in` while it writes `out`: they must
  // not share a byte (slices of one storage that do not overlap may).
  static void check_disjoint(const Tensor& in, const Tensor& out, const char* call) {
    const auto a = reinterpret_cast<uintptr_t>(in.raw()), b = reinterpret_cast<uintptr_t>(out.raw());
    TRIDENT_CHECK(in.device() != out.device() || a + in.bytes() <= b || b + out.bytes() <= a, call,
                  ": input and output overlap");
  }

 private:
  std::string name_;
  CommCounters counters_;
};

}  // namespace trident::dist
