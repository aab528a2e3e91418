#include "framework/dist/process_groups.h"

#include "framework/core/error.h"
#include "framework/dist/mpi_check.h"
#include "framework/dist/mpi_comm.h"
#include "framework/dist/self_comm.h"

namespace trident::dist {

Layout resolve_layout(int world_size, int tp, int pp, int dp) {
  TRIDENT_USAGE_CHECK(tp >= 1, "--tensor-model-parallel-size must be at least 1, got ", tp);
  TRIDENT_USAGE_CHECK(pp >= 1, "--pipeline-model-parallel-size must be at least 1, got ", pp);
  TRIDENT_USAGE_CHECK(dp >= 0, "--data-parallel-size must be positive, got ", dp);
  TRIDENT_USAGE_CHECK(world_size % (tp * pp) == 0, "the world of ", world_size,
                      " processes is not divisible by --tensor-model-parallel-size ", tp,
                      " x --pipeline-model-parallel-size ", pp, ": start tp·pp·dp processes");
  const int implied_dp = world_size / (tp * pp);
  TRIDENT_USAGE_CHECK(dp == 0 || dp == implied_dp, "--data-parallel-size ", dp, " does not match the world: ",
                      world_size, " processes / (tp ", tp, " x pp ", pp, ") = ", implied_dp);
  return Layout{tp, pp, implied_dp};
}

int rank_of(const Coord& c, const Layout& l) { return c.tp + l.tp * (c.dp + l.dp * c.pp); }

Coord coord_of(int rank, const Layout& l) {
  return Coord{rank % l.tp, (rank / l.tp) % l.dp, rank / (l.tp * l.dp)};
}

std::vector<int> tp_group_ranks(int rank, const Layout& l) {
  Coord c = coord_of(rank, l);
  std::vector<int> out;
  for (c.tp = 0; c.tp < l.tp; ++c.tp) out.push_back(rank_of(c, l));
  return out;
}

std::vector<int> dp_group_ranks(int rank, const Layout& l) {
  Coord c = coord_of(rank, l);
  std::vector<int> out;
  for (c.dp = 0; c.dp < l.dp; ++c.dp) out.push_back(rank_of(c, l));
  return out;
}

std::vector<int> pp_group_ranks(int rank, const Layout& l) {
  Coord c = coord_of(rank, l);
  std::vector<int> out;
  for (c.pp = 0; c.pp < l.pp; ++c.pp) out.push_back(rank_of(c, l));
  return out;
}

std::vector<int> model_parallel_group_ranks(int rank, const Layout& l) {
  Coord c = coord_of(rank, l);
  std::vector<int> out;
  for (c.pp = 0; c.pp < l.pp; ++c.pp)
    for (c.tp = 0; c.tp < l.tp; ++c.tp) out.push_back(rank_of(c, l));
  return out;
}

std::vector<int> embedding_group_ranks(int rank, const Layout& l) {
  Coord c = coord_of(rank, l);
  if (c.pp != 0 && c.pp != l.pp - 1) return {};
  std::vector<int> out;
  for (int pp : {0, l.pp - 1}) {
    c.pp = pp;
    if (out.empty() || out.back() != rank_of(c, l)) out.push_back(rank_of(c, l));
  }
  return out;
}

namespace {
// The communicator of the group containing this rank: every rank calls
// MPI_Comm_split once, coloured by its group's first member.
std::unique_ptr<Comm> split(const World& world, const std::vector<int>& group, const char* name,
                            const CommFactory& factory) {
  if (!World::initialized()) return group.empty() ? nullptr : std::make_unique<SelfComm>(name);
  MPI_Comm comm;
  int key = 0;
  for (size_t i = 0; i < group.size(); ++i)
    if (group[i] == world.rank) key = int(i);
  // A rank in no group of this kind still takes part in the split.
  TRIDENT_LIB_CHECK(Mpi,
                    MPI_Comm_split(MPI_COMM_WORLD, group.empty() ? MPI_UNDEFINED : group.front(), key, &comm));
  if (group.empty()) return nullptr;
  if (factory) return factory(comm, name);
  return std::make_unique<MpiComm>(comm, name);
}
}  // namespace

#ifndef TRIDENT_WITH_CUDA
CommFactory nccl_comm_factory(void*) {
  throw UsageError("--comm nccl: this build of trident has no CUDA backend (and so no NCCL); use --comm mpi");
}
#endif

ProcessGroups::ProcessGroups(const World& world, const Layout& layout, CommFactory factory)
    : layout_(layout), coord_(coord_of(world.rank, layout)) {
  TRIDENT_USAGE_CHECK(layout.world_size() == world.size, "tp ", layout.tp, " x pp ", layout.pp, " x dp ", layout.dp,
                      " = ", layout.world_size(), " ranks, but the job has ", world.size);
  if (World::initialized()) world_ = std::make_unique<MpiComm>(MPI_COMM_WORLD, "world");
  else world_ = std::make_unique<SelfComm>("world");
  // Sorted groups have their smallest rank first, which makes a unique colour.
  tp_ = split(world, tp_group_ranks(world.rank, layout), "tp", factory);
  dp_ = split(world, dp_group_ranks(world.rank, layout), "dp", factory);
  pp_ = split(world, pp_group_ranks(world.rank, layout), "pp", factory);
  mp_ = split(world, model_parallel_group_ranks(world.rank, layout), "model_parallel", factory);
  embedding_ = split(world, embedding_group_ranks(world.rank, layout), "embedding", factory);
}

}  // namespace trident::dist
