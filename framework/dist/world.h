// World: this process's place in the job. MPI is the bootstrap whatever
// started the job (mpirun/mpiexec of OpenMPI or MPICH, Slurm's srun, or
// nothing: a process started alone is a world of one). The local rank
// (which picks a GPU) comes from MPI_Comm_split_type(SHARED) and is
// cross-checked against the launcher's variables where they are set.
#pragma once

#include <mpi.h>

#include <string>

namespace trident::dist {

struct World {
  int rank = 0;
  int size = 1;
  int local_rank = 0;  // among the processes on this node
  int local_size = 1;

  // The first call initialises MPI (funneled) when a launcher started the
  // process (OpenMPI, MPICH/Hydra or Slurm variables); a process started
  // alone is a world of one that never touches MPI. Later calls return the
  // same World.
  static const World& init(int* argc, char*** argv);
  static bool initialized();  // whether MPI is in use
  // Ends MPI normally (all ranks must call it).
  static void finalize();
  // Prints `message` prefixed with the rank to stderr and brings the whole
  // job down (MPI_Abort), so no rank is left waiting in a collective.
  [[noreturn]] static void abort(const std::string& message, int exit_code);
};

}  // namespace trident::dist
