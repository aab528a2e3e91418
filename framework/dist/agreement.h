// Agreement before the first collective: each rank checks its own inputs
// (flags, data files), then all ranks learn whether every one of them
// succeeded. A rank that failed alone would otherwise leave the others
// waiting in a collective forever.
#pragma once

#include <string>

#include "framework/core/error.h"

namespace trident::dist {

// Thrown on the ranks that were fine when another rank failed its checks;
// that rank reports the reason, these exit quietly with the same status.
class AgreementFailed : public Error {
 public:
  using Error::Error;
};

// `local_error` is empty when this rank's checks passed. If any rank's did
// not, the lowest such rank throws UsageError(its message) and every other
// rank throws AgreementFailed. A world of one (or no MPI) just rethrows.
void agree_all_ranks_ok(const std::string& local_error);

}  // namespace trident::dist
