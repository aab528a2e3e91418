#include "framework/core/log.h"

#include <spdlog/sinks/stdout_color_sinks.h>

namespace trident {

void init_logging(int rank, bool verbose, bool to_stderr) {
  auto logger = to_stderr ? spdlog::stderr_color_mt("trident") : spdlog::stdout_color_mt("trident");
  logger->set_pattern(fmt::format("[%H:%M:%S.%e] [rank {}] %^%l%$ %v", rank));
  logger->set_level(verbose ? spdlog::level::info : spdlog::level::warn);
  spdlog::set_default_logger(logger);
}

}  // namespace trident
