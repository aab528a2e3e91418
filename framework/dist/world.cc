#include "framework/dist/world.h"

#include <cstdio>
#include <cstdlib>

#include "framework/core/error.h"
#include "framework/dist/mpi_check.h"

namespace trident::dist {
namespace {
World g_world;
bool g_initialized = false;

int env_int(const char* name) {
  const char* v = std::getenv(name);
  return v ? std::atoi(v) : -1;
}
}  // namespace

// Whether a launcher started this process (then MPI must be initialised to
// find the others); a process started alone runs without MPI at all.
bool started_by_launcher() {
  for (const char* var : {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_RANK", "PMI_RANK", "SLURM_PROCID",
                          "MPI_LOCALNRANKS", "HYDRA_CONTROL_FD"})
    if (std::getenv(var)) return true;
  return false;
}

const World& World::init(int* argc, char*** argv) {
  if (g_initialized) return g_world;
  if (!started_by_launcher()) return g_world;  // a world of one, without MPI
  int provided = 0;
  TRIDENT_LIB_CHECK(Mpi, MPI_Init_thread(argc, argv, MPI_THREAD_FUNNELED, &provided));
  // Errors come back as codes (TRIDENT_LIB_CHECK turns them into exceptions) instead of aborting silently.
  MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
  TRIDENT_LIB_CHECK(Mpi, MPI_Comm_rank(MPI_COMM_WORLD, &g_world.rank));
  TRIDENT_LIB_CHECK(Mpi, MPI_Comm_size(MPI_COMM_WORLD, &g_world.size));
  MPI_Comm node;
  TRIDENT_LIB_CHECK(Mpi, MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, g_world.rank, MPI_INFO_NULL, &node));
  TRIDENT_LIB_CHECK(Mpi, MPI_Comm_rank(node, &g_world.local_rank));
  TRIDENT_LIB_CHECK(Mpi, MPI_Comm_size(node, &g_world.local_size));
  MPI_Comm_free(&node);
  set_error_rank(g_world.rank);
  // The launcher's own idea of the local rank must agree with MPI's.
  for (const char* var : {"OMPI_COMM_WORLD_LOCAL_RANK", "SLURM_LOCALID", "MPI_LOCALRANKID"}) {
    const int launcher_local = env_int(var);
    TRIDENT_CHECK(launcher_local < 0 || launcher_local == g_world.local_rank, var, "=", launcher_local,
                  " but MPI places this process at local rank ", g_world.local_rank);
  }
  g_initialized = true;
  return g_world;
}

bool World::initialized() { return g_initialized; }

void World::finalize() {
  if (!g_initialized) return;
  MPI_Finalize();
  g_initialized = false;
}

void World::abort(const std::string& message, int exit_code) {
  std::fprintf(stderr, "%s\n", message.c_str());
  std::fflush(stderr);
  if (g_initialized && g_world.size > 1) MPI_Abort(MPI_COMM_WORLD, exit_code);
  std::exit(exit_code);
}

}  // namespace trident::dist
