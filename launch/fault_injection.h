// Fault injection for tests and demos of the divergence guard (in the
// product, off by default): --inject-fault KIND@ITERATION[:RANK][:repeat].
//   nan@30        a NaN in one gradient of rank 0 (or RANK) at iteration 30,
//                 after the data-parallel reduction, so one rank alone sees it;
//   spike@40      iteration 40 steps at 1000 x the learning rate: the loss
//                 jumps and stays high for a while, as in a real divergence.
// A fault fires the first time its iteration runs; with ":repeat" every
// time (after each rollback too), to exercise giving up.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace trident::launch {

struct InjectedFault {
  enum class Kind { nan, spike } kind = Kind::nan;
  int64_t iteration = 0;
  int rank = 0;
  bool repeat = false;
  bool fired = false;
};

// Throws UsageError naming the flag and the syntax.
InjectedFault parse_injected_fault(const std::string& spec);

// Test-only fault (not a flag): TRIDENT_TEST_FAIL_AT="R:I" makes rank R
// throw at iteration I, to prove a failing rank brings the job down with its
// message instead of hanging it. The iteration for this rank, or -1.
int64_t test_fail_iteration(int rank);

class FaultInjector {
 public:
  explicit FaultInjector(const std::vector<std::string>& specs);
  // Whether a fault of `kind` fires on this rank now (marks it fired).
  bool fires(InjectedFault::Kind kind, int64_t iteration, int rank);

 private:
  std::vector<InjectedFault> faults_;
};

}  // namespace trident::launch
