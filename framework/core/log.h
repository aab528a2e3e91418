// Logging set-up: spdlog with one pattern that names the rank, so that
// interleaved output from many processes stays readable.
#pragma once

#include <spdlog/spdlog.h>

namespace trident {

// Installs the default logger: "[time] [rank R] level message". Only ranks
// in `verbose` (rank 0 by default) log at info; the others log warnings and
// errors only, so a 64-rank job prints one progress stream.
// `to_stderr`: for programs whose standard output is their product (trident-generate).
void init_logging(int rank, bool verbose, bool to_stderr = false);

}  // namespace trident
