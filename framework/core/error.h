// trident::Error and the check macros: the one error vocabulary (DESIGN.md
// idea 7). Every failure carries the rank, file:line and what failed, so a
// message from rank 5 of 64 can be traced without re-running.
//
// Calls into C libraries (CUDA, cuBLASLt, NCCL, MPI, HDF5) are checked by
// one template, check_call<Library>, and one macro, TRIDENT_LIB_CHECK; each
// library only says, in a traits struct next to its own code, which status
// means success and how to turn a status into words:
//
//   struct Mpi {                       // framework/dist/mpi_check.h
//     using Status = int;
//     static constexpr const char* name = "MPI";
//     static bool ok(Status s) { return s == MPI_SUCCESS; }
//     static std::string message(Status s);  // MPI_Error_string
//   };
//   TRIDENT_LIB_CHECK(Mpi, MPI_Barrier(comm));
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
[[noreturn]] void throw_library_error(const char* file, int line, const char* library, const char* call,
                                      const std::string& context, const std::string& message);
struct NoContext {
  std::string operator()() const { return {}; }
};
}  // namespace detail

// Returns `status` when Library::ok(status); otherwise throws trident::Error
// "[rank R] file:line: <Library::name> call <call> failed (<context>):
// <Library::message(status)>". `context` is called only on failure, so a
// message naming a file or tensor costs nothing when the call succeeds.
// The status comes back so that calls returning a handle (HDF5's ids) can
// be checked where the handle is taken.
template <class Library, class Context = detail::NoContext>
typename Library::Status check_call(typename Library::Status status, const char* call, const char* file, int line,
                                    Context context = {}) {
  if (Library::ok(status)) [[likely]]
    return status;
  detail::throw_library_error(file, line, Library::name, call, context(), Library::message(status));
}

}  // namespace trident

// TRIDENT_CHECK(cond, parts...) throws trident::Error with rank, file:line,
// the failed condition and the message parts streamed together.
#define TRIDENT_CHECK(cond, ...)                                                          \
  do {                                                                                    \
    if (!(cond)) [[unlikely]]                                                             \
      ::trident::detail::throw_error(__FILE__, __LINE__, #cond,                           \
                                     ::trident::detail::concat("" __VA_OPT__(, ) __VA_ARGS__)); \
  } while (0)

// TRIDENT_LIB_CHECK(Library, call, context parts...) runs `call` and checks
// its status with check_call<Library>; the value is the status (or handle).
// The optional parts, streamed together, say what the call was doing
// ("creating ", path) and are evaluated only on failure.
#define TRIDENT_LIB_CHECK(Library, call, ...)                                                        \
  ::trident::check_call<Library>((call), #call, __FILE__, __LINE__ __VA_OPT__(, [&] {                \
                                   return ::trident::detail::concat(__VA_ARGS__);                    \
                                 }))

// TRIDENT_USAGE_CHECK(cond, parts...) throws trident::UsageError: for input
// the user controls; the message alone is shown.
#define TRIDENT_USAGE_CHECK(cond, ...)                                                    \
  do {                                                                                    \
    if (!(cond)) [[unlikely]]                                                             \
      throw ::trident::UsageError(::trident::detail::concat(__VA_ARGS__));                \
  } while (0)
