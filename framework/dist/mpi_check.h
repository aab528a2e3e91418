// MPI as a library for TRIDENT_LIB_CHECK (framework/core/error.h): a failed
// call throws trident::Error with the rank, file:line, the call and MPI's
// error string. Calls return codes instead of aborting because World::init
// sets MPI_ERRORS_RETURN on MPI_COMM_WORLD.
//
//   TRIDENT_LIB_CHECK(Mpi, MPI_Comm_rank(comm, &rank));
#pragma once

#include <mpi.h>

#include <string>

#include "framework/core/error.h"

namespace trident::dist {

struct Mpi {
  using Status = int;
  static constexpr const char* name = "MPI";
  static bool ok(Status s) { return s == MPI_SUCCESS; }
  static std::string message(Status s) {
    char text[MPI_MAX_ERROR_STRING];
    int len = 0;
    if (MPI_Error_string(s, text, &len) != MPI_SUCCESS) return "MPI error code " + std::to_string(s);
    return std::string(text, size_t(len));
  }
};

}  // namespace trident::dist
