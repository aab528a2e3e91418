// The DP × PP × TP process grid in Megatron-Core's rank order (TP fastest,
// then DP, then PP; REFERENCE.md): rank = tp + TP·(dp + DP·pp). TP groups
// are consecutive ranks (neighbours on a node), DP groups stride TP, PP
// groups stride TP·DP. The pure functions below are the only source of
// ranks; ProcessGroups builds one Comm per group from them.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "framework/dist/comm.h"
#include "framework/dist/world.h"

namespace trident::dist {

struct Layout {
  int tp = 1, pp = 1, dp = 1;
  int world_size() const { return tp * pp * dp; }
};

struct Coord {
  int tp = 0, dp = 0, pp = 0;
};

// dp = 0 means "whatever is left": world / (tp·pp). Throws UsageError naming
// the flags when the sizes do not multiply to the world size.
Layout resolve_layout(int world_size, int tp, int pp, int dp);

int rank_of(const Coord& c, const Layout& l);
Coord coord_of(int rank, const Layout& l);
// The ranks of the group of each kind that `rank` belongs to, in group-rank order.
std::vector<int> tp_group_ranks(int rank, const Layout& l);
std::vector<int> dp_group_ranks(int rank, const Layout& l);
std::vector<int> pp_group_ranks(int rank, const Layout& l);
std::vector<int> model_parallel_group_ranks(int rank, const Layout& l);  // TP × PP: one model replica
// Megatron's embedding group: the first and last pipeline stage of `rank`'s
// (tp, dp) coordinate, which both hold the tied token table; empty for
// ranks of the stages in between, and {rank} when pp = 1.
std::vector<int> embedding_group_ranks(int rank, const Layout& l);

// Builds a group's Comm from its MPI communicator (taking ownership of it)
// and the group's name; the default is MpiComm.
using CommFactory = std::function<std::unique_ptr<Comm>(MPI_Comm, const std::string&)>;

// NcclComm on the given compute stream (a cudaStream_t): framework/dist/nccl.
// In a build without the CUDA backend it throws UsageError saying so.
CommFactory nccl_comm_factory(void* compute_stream);

class ProcessGroups {
 public:
  // The world group is always an MpiComm (it carries host flags and
  // strings); `factory`, when given, builds every other group's Comm.
  ProcessGroups(const World& world, const Layout& layout, CommFactory factory = {});

  const Layout& layout() const { return layout_; }
  const Coord& coord() const { return coord_; }
  Comm& world() { return *world_; }
  Comm& tp() { return *tp_; }
  Comm& dp() { return *dp_; }
  Comm& pp() { return *pp_; }
  Comm& model_parallel() { return *mp_; }
  // Null on ranks outside an embedding group (pipeline stages in between).
  Comm* embedding() { return embedding_.get(); }

 private:
  Layout layout_;
  Coord coord_;
  std::unique_ptr<Comm> world_, tp_, dp_, pp_, mp_, embedding_;
};

}  // namespace trident::dist
