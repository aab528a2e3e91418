#include "launch/fault_injection.h"

#include <cstdio>
#include <cstdlib>
#include <regex>

#include "framework/core/error.h"

namespace trident::launch {

int64_t test_fail_iteration(int rank) {
  const char* spec = std::getenv("TRIDENT_TEST_FAIL_AT");
  if (!spec) return -1;
  int r = -1;
  long long it = -1;
  if (std::sscanf(spec, "%d:%lld", &r, &it) != 2) return -1;
  return r == rank ? int64_t(it) : -1;
}

InjectedFault parse_injected_fault(const std::string& spec) {
  static const std::regex pattern(R"((nan|spike)@(\d+)(?::(\d+))?(:repeat)?)");
  std::smatch m;
  TRIDENT_USAGE_CHECK(std::regex_match(spec, m, pattern), "bad --inject-fault '", spec,
                      "': use nan@ITERATION[:RANK][:repeat] or spike@ITERATION[:repeat]");
  InjectedFault f;
  f.kind = m[1] == "nan" ? InjectedFault::Kind::nan : InjectedFault::Kind::spike;
  f.iteration = std::stoll(m[2]);
  f.rank = m[3].matched ? std::stoi(m[3]) : 0;
  f.repeat = m[4].matched;
  TRIDENT_USAGE_CHECK(f.iteration >= 1, "--inject-fault '", spec, "': iterations count from 1");
  return f;
}

FaultInjector::FaultInjector(const std::vector<std::string>& specs) {
  for (const std::string& s : specs) faults_.push_back(parse_injected_fault(s));
}

bool FaultInjector::fires(InjectedFault::Kind kind, int64_t iteration, int rank) {
  bool any = false;
  for (InjectedFault& f : faults_) {
    if (f.kind != kind || f.iteration != iteration || (f.fired && !f.repeat)) continue;
    if (kind == InjectedFault::Kind::nan && f.rank != rank) continue;
    f.fired = true;
    any = true;
  }
  return any;
}

}  // namespace trident::launch
