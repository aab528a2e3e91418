#include "framework/dist/agreement.h"

#include "framework/dist/mpi_check.h"
#include "framework/dist/world.h"

namespace trident::dist {

void agree_all_ranks_ok(const std::string& local_error) {
  int size = 1, rank = 0;
  if (World::initialized()) {
    TRIDENT_LIB_CHECK(Mpi, MPI_Comm_size(MPI_COMM_WORLD, &size));
    TRIDENT_LIB_CHECK(Mpi, MPI_Comm_rank(MPI_COMM_WORLD, &rank));
  }
  if (size == 1) {
    if (!local_error.empty()) throw UsageError(local_error);
    return;
  }
  int first_failed = local_error.empty() ? size : rank;
  TRIDENT_LIB_CHECK(Mpi, MPI_Allreduce(MPI_IN_PLACE, &first_failed, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD));
  if (first_failed == size) return;
  if (first_failed == rank) throw UsageError(local_error);
  throw AgreementFailed(detail::concat("rank ", first_failed, " failed its checks"));
}

}  // namespace trident::dist
