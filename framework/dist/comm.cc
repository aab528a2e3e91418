#include "framework/dist/comm.h"

namespace trident::dist {

const char* comm_kind_name(CommKind kind) {
  switch (kind) {
    case CommKind::all_reduce: return "all_reduce";
    case CommKind::reduce_scatter: return "reduce_scatter";
    case CommKind::all_gather: return "all_gather";
    case CommKind::broadcast: return "broadcast";
    case CommKind::send: return "send";
    case CommKind::recv: return "recv";
  }
  return "?";
}

double CommCounters::total_wire_bytes() const {
  double total = 0;
  for (double b : wire_bytes) total += b;
  return total;
}

std::vector<int64_t> Comm::split_sizes(int64_t total, int n) {
  std::vector<int64_t> sizes(size_t(n), total / n);
  for (int64_t i = 0; i < total % n; ++i) ++sizes[size_t(i)];
  return sizes;
}

void Comm::count(CommKind kind, uint64_t payload_bytes, double wire_bytes) {
  ++counters_.calls[size_t(kind)];
  counters_.payload_bytes[size_t(kind)] += payload_bytes;
  counters_.wire_bytes[size_t(kind)] += wire_bytes;
}

}  // namespace trident::dist
