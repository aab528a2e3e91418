// trident::Error and the check macros: the one error vocabulary (DESIGN.md
// idea 7). Every failure carries the rank, file:line and what failed, so a
// message from rank 5 of 64 can be traced without re-running.
#pragma once

#include <sstream>
#include <stdexcept>
#include <string>

namespace trident {

// Thrown for every failed check. what() is one line, ready to print.
class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Bad user input (flags, configs, data files): the message names the problem
// and the fix; programs print it alone, without file:line.
class UsageError : public Error {
 public:
  using Error::Error;
};

// The rank this process reports in errors and logs; set once by dist::World.
void set_error_rank(int rank);
int error_rank();

namespace detail {
template <typename... Args>
std::string concat(const Args&... args) {
  std::ostringstream out;
  (out << ... << args);
  return out.str();
}
[[noreturn]] void throw_error(const char* file, int line, const char* what, const std::string& msg);
}  // namespace detail

}  // namespace trident

// TRIDENT_CHECK(cond, parts...) throws trident::Error with rank, file:line,
// the failed condition and the message parts streamed together.
#define TRIDENT_CHECK(cond, ...)                                                          \
  do {                                                                                    \
    if (!(cond)) [[unlikely]]                                                             \
      ::trident::detail::throw_error(__FILE__, __LINE__, #cond,                           \
                                     ::trident::detail::concat("" __VA_OPT__(, ) __VA_ARGS__)); \
  } while (0)

// TRIDENT_USAGE_CHECK(cond, parts...) throws trident::UsageError: for input
// the user controls; the message alone is shown.
#define TRIDENT_USAGE_CHECK(cond, ...)                                                    \
  do {                                                                                    \
    if (!(cond)) [[unlikely]]                                                             \
      throw ::trident::UsageError(::trident::detail::concat(__VA_ARGS__));                \
  } while (0)
