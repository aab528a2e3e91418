// Logging set-up: spdlog with one pattern that names the rank, so that
// interleaved output from many processes stays readable.
#pragma once

#include <spdlog/spdlog.h>

namespace trident {

// Installs the default logger: "[time] [rank R] level message". Only ranks
// in `verbose` (rank 0 by default) log at info; the others log warnings and
// errors only, so a 64-rank job prints one progress stream.
void init_logging(int rank, bool verbose);

}  // namespace trident
