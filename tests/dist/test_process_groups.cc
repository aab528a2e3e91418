// The process grid's rank arithmetic against Megatron-Core's ordering
// (REFERENCE.md: TP fastest, then DP, then PP), without MPI.
#include <gtest/gtest.h>

#include <set>

#include "framework/core/error.h"
#include "framework/dist/process_groups.h"

namespace trident::dist {
namespace {

using Groups = std::set<std::vector<int>>;

Groups all_groups(const Layout& l, std::vector<int> (*of)(int, const Layout&)) {
  Groups g;
  for (int r = 0; r < l.world_size(); ++r) g.insert(of(r, l));
  return g;
}

TEST(ProcessGroups, MatchesMegatronSixteenRankExample) {
  const Layout l{2, 4, 2};  // 16 ranks, TP=2, PP=4, DP=2
  EXPECT_EQ(all_groups(l, tp_group_ranks),
            (Groups{{0, 1}, {2, 3}, {4, 5}, {6, 7}, {8, 9}, {10, 11}, {12, 13}, {14, 15}}));
  EXPECT_EQ(all_groups(l, dp_group_ranks),
            (Groups{{0, 2}, {1, 3}, {4, 6}, {5, 7}, {8, 10}, {9, 11}, {12, 14}, {13, 15}}));
  EXPECT_EQ(all_groups(l, pp_group_ranks), (Groups{{0, 4, 8, 12}, {1, 5, 9, 13}, {2, 6, 10, 14}, {3, 7, 11, 15}}));
  // Megatron's embedding groups: first and last stage of each pipeline; the middle stages are in none.
  EXPECT_EQ(all_groups(l, embedding_group_ranks), (Groups{{}, {0, 12}, {1, 13}, {2, 14}, {3, 15}}));
  EXPECT_TRUE(embedding_group_ranks(5, l).empty());
  EXPECT_EQ(embedding_group_ranks(3, Layout{2, 1, 2}), (std::vector<int>{3}));
}

// Every (tp, pp, dp) up to 24 ranks: each rank is in exactly one group of
// each kind, groups have the right size, the coordinates round-trip, and a
// rank's TP/DP/PP neighbours differ from it in that coordinate only.
TEST(ProcessGroups, ConsistentForManyLayouts) {
  for (int tp : {1, 2, 3, 4})
    for (int pp : {1, 2, 3})
      for (int dp : {1, 2, 4}) {
        const Layout l{tp, pp, dp};
        SCOPED_TRACE(testing::Message() << "tp " << tp << " pp " << pp << " dp " << dp);
        for (int r = 0; r < l.world_size(); ++r) {
          const Coord c = coord_of(r, l);
          ASSERT_EQ(rank_of(c, l), r);
          ASSERT_EQ(r, c.tp + tp * (c.dp + dp * c.pp));
          const auto t = tp_group_ranks(r, l), d = dp_group_ranks(r, l), p = pp_group_ranks(r, l);
          ASSERT_EQ(int(t.size()), tp);
          ASSERT_EQ(int(d.size()), dp);
          ASSERT_EQ(int(p.size()), pp);
          ASSERT_EQ(t[size_t(c.tp)], r);
          ASSERT_EQ(d[size_t(c.dp)], r);
          ASSERT_EQ(p[size_t(c.pp)], r);
          for (int o : t) ASSERT_TRUE(coord_of(o, l).dp == c.dp && coord_of(o, l).pp == c.pp);
          for (int o : d) ASSERT_TRUE(coord_of(o, l).tp == c.tp && coord_of(o, l).pp == c.pp);
          ASSERT_EQ(int(model_parallel_group_ranks(r, l).size()), tp * pp);
        }
        for (auto of : {tp_group_ranks, dp_group_ranks, pp_group_ranks}) {
          std::set<int> seen;
          for (const auto& g : all_groups(l, of))
            for (int r : g) ASSERT_TRUE(seen.insert(r).second) << "rank " << r << " in two groups";
          ASSERT_EQ(int(seen.size()), l.world_size());
        }
      }
}

TEST(ProcessGroups, ResolveLayoutNamesTheBadFlag) {
  EXPECT_EQ(resolve_layout(8, 2, 1, 0).dp, 4);
  EXPECT_EQ(resolve_layout(8, 2, 2, 2).dp, 2);
  auto message = [](int world, int tp, int pp, int dp) {
    try {
      resolve_layout(world, tp, pp, dp);
    } catch (const UsageError& e) {
      return std::string(e.what());
    }
    return std::string();
  };
  EXPECT_NE(message(6, 4, 1, 0).find("--tensor-model-parallel-size 4"), std::string::npos);
  EXPECT_NE(message(8, 2, 1, 3).find("--data-parallel-size 3"), std::string::npos);
  EXPECT_NE(message(4, 0, 1, 0).find("--tensor-model-parallel-size"), std::string::npos);
}

}  // namespace
}  // namespace trident::dist
