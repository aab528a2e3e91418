// The dynamic loss scaler against a table computed by hand from Megatron-LM's
// rules (optim/loss_scaler.h), covering hysteresis, growth at the window,
// the minimum, and the static scaler.
#include <gtest/gtest.h>

#include "optim/loss_scaler.h"

namespace trident::optim {
namespace {

struct Row {
  bool overflow;
  LossScalerState after;  // scale, growth tracker, hysteresis tracker
};

TEST(LossScaler, FollowsTheHandComputedTable) {
  // initial 16, min 2, window 3, hysteresis 2
  LossScaler s(LossScalerConfig{true, 1.0, 16.0, 2.0, 3, 2});
  EXPECT_EQ(s.state(), (LossScalerState{16.0, 0, 2}));
  const Row table[] = {
      {false, {16.0, 1, 2}},
      {true, {16.0, 0, 1}},   // first overflow: hysteresis absorbs it
      {true, {8.0, 0, 0}},    // second: back off
      {true, {4.0, 0, -1}},   // hysteresis exhausted: every overflow backs off
      {false, {4.0, 1, -1}},
      {false, {4.0, 2, -1}},
      {false, {8.0, 0, 2}},   // window reached: grow, refill hysteresis
      {true, {8.0, 0, 1}},
      {true, {4.0, 0, 0}},
      {true, {2.0, 0, -1}},
      {true, {2.0, 0, -2}},   // the minimum holds
      {false, {2.0, 1, -2}},
      {true, {2.0, 0, -3}},   // an overflow resets growth progress
      {false, {2.0, 1, -3}},
      {false, {2.0, 2, -3}},
      {false, {4.0, 0, 2}},
  };
  int step = 0;
  for (const Row& row : table) {
    s.update(row.overflow);
    EXPECT_EQ(s.state(), row.after) << "after step " << ++step << " (overflow " << row.overflow << "): scale "
                                    << s.state().scale << ", growth " << s.state().growth_tracker << ", hysteresis "
                                    << s.state().hysteresis_tracker;
  }
}

TEST(LossScaler, MegatronDefaultsAndStaticScale) {
  LossScaler d(LossScalerConfig{});
  EXPECT_EQ(d.scale(), 4294967296.0);
  for (int i = 0; i < 999; ++i) d.update(false);
  EXPECT_EQ(d.scale(), 4294967296.0);
  d.update(false);  // the 1000th clean step
  EXPECT_EQ(d.scale(), 8589934592.0);
  LossScaler st(LossScalerConfig{false, 128.0});
  st.update(true);
  st.update(true);
  st.update(false);
  EXPECT_EQ(st.scale(), 128.0);
  LossScaler restored(LossScalerConfig{});
  restored.restore(LossScalerState{64.0, 5, 1});
  restored.update(true);
  EXPECT_EQ(restored.state(), (LossScalerState{32.0, 0, 0}));
}

}  // namespace
}  // namespace trident::optim
