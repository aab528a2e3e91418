#include "framework/core/log.h"

#include <spdlog/sinks/stdout_color_sinks.h>

#include <cstdlib>
#include <string_view>

namespace trident {
namespace {

// Colour only on a terminal. Under mpirun a rank's stdout is a pty even when
// the job's output goes to a file, so a rank cannot tell: trident-run, which
// can, says so in TRIDENT_PROGRESS; other launchers get no colour.
spdlog::color_mode colour_mode() {
  if (const char* terminal = std::getenv("TRIDENT_PROGRESS"))
    return std::string_view(terminal) == "1" ? spdlog::color_mode::always : spdlog::color_mode::never;
  for (const char* launched : {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "SLURM_PROCID"})
    if (std::getenv(launched)) return spdlog::color_mode::never;
  return spdlog::color_mode::automatic;  // one process: colour when its stream is a terminal
}

}  // namespace

void init_logging(int rank, bool verbose, bool to_stderr) {
  auto logger = to_stderr ? spdlog::stderr_color_mt("trident", colour_mode())
                          : spdlog::stdout_color_mt("trident", colour_mode());
  logger->set_pattern(fmt::format("[%H:%M:%S.%e] [rank {}] %^%l%$ %v", rank));
  logger->set_level(verbose ? spdlog::level::info : spdlog::level::warn);
  spdlog::set_default_logger(logger);
}

}  // namespace trident
