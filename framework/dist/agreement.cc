#include "framework/dist/agreement.h"

#include "framework/dist/world.h"

namespace trident::dist {

void agree_all_ranks_ok(const std::string& local_error) {
  int size = 1, rank = 0;
  if (World::initialized()) {
    MPI_CHECK(MPI_Comm_size(MPI_COMM_WORLD, &size));
    MPI_CHECK(MPI_Comm_rank(MPI_COMM_WORLD, &rank));
  }
  if (size == 1) {
    if (!local_error.empty()) throw UsageError(local_error);
    return;
  }
  int first_failed = local_error.empty() ? size : rank;
  MPI_CHECK(MPI_Allreduce(MPI_IN_PLACE, &first_failed, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD));
  if (first_failed == size) return;
  if (first_failed == rank) throw UsageError(local_error);
  throw AgreementFailed(detail::concat("rank ", first_failed, " failed its checks"));
}

}  // namespace trident::dist
