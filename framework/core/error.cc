#include "framework/core/error.h"

#include <atomic>

namespace trident {
namespace {
std::atomic<int> g_rank{0};
}

void set_error_rank(int rank) { g_rank.store(rank); }
int error_rank() { return g_rank.load(); }

namespace detail {
void throw_error(const char* file, int line, const char* what, const std::string& msg) {
  std::string text = concat("[rank ", error_rank(), "] ", file, ":", line, ": check failed: ", what);
  if (!msg.empty()) text += concat(": ", msg);
  throw Error(text);
}

void throw_library_error(const char* file, int line, const char* library, const char* call,
                         const std::string& context, const std::string& message) {
  std::string text = concat("[rank ", error_rank(), "] ", file, ":", line, ": ", library, " call ", call, " failed");
  if (!context.empty()) text += concat(" (", context, ")");
  throw Error(concat(text, ": ", message.empty() ? "no message from the library" : message));
}
}  // namespace detail
}  // namespace trident
