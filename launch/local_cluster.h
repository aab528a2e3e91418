// trident-plan --cluster local: this machine as a one-node cluster of
// `ranks` CPU ranks, measured rather than looked up. The figures are per
// rank as trident-run would start them (threads = cores / ranks, at least
// one, so ranks beyond the cores share them):
//   - GEMM: the CPU backend's f32 GEMM timed at three sizes with that many
//     threads; 1/throughput = p + q/F fitted, so peak = 1/p and the
//     half-efficiency size q/p (small GEMMs are slower);
//   - memory bandwidth: a 64 MB copy with that many threads;
//   - both at full speed: with more ranks than cores the time model lets
//     the ranks take turns (ClusterSpec::cores);
//   - the link: an MPI all-reduce among `ranks` processes (trident-plan runs
//     itself under mpiexec), 8 bytes for the latency and 4 MB for the
//     bandwidth of a ring, the median of 21 (a collective among ranks that
//     take turns on the cores waits for their turns).
#pragma once

#include <mpi.h>

#include <utility>

#include "framework/backend/backend.h"
#include "launch/time_model.h"

namespace trident::launch {

ClusterSpec measure_local_cluster(int ranks, const std::string& self_path);

// The device half of it: GEMM (on `be`, a CPU backend of `threads` threads),
// copy, memory and cores for `ranks` ranks on this machine; links left at
// the defaults.
ClusterSpec measure_local_device(backend::Backend& be, int ranks, int threads);
// The link half: the per-step latency and bandwidth of a ring of `ranks`,
// from an all-reduce's seconds at 8 bytes and at 4 MB (time_allreduce).
void set_local_link(ClusterSpec& c, int ranks, double small_s, double large_s);
// Collective over `comm`: {seconds for 8 bytes, seconds for 4 MB}, each the
// median of 21 all-reduces, the most over the ranks.
std::pair<double, double> time_allreduce(MPI_Comm comm);

// The all-reduce probe, run as `self --measure-allreduce` under mpiexec: rank
// 0 prints "<seconds for 8 bytes> <seconds for 4 MB>".
int measure_allreduce_main();

}  // namespace trident::launch
