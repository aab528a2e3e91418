// LR schedules against their closed forms; grad clipping; AdamW's decay rule.
#include <gtest/gtest.h>

#include <cmath>

#include "optim/adamw.h"
#include "optim/grad_clip.h"
#include "optim/lr_schedule.h"

namespace trident::optim {
namespace {

TEST(LrSchedule, WarmupThenCosineToMinLr) {
  const LrSchedule s{1e-3f, 1e-4f, 10, 110, DecayStyle::cosine};
  EXPECT_FLOAT_EQ(s.at(1), 1e-4f);
  EXPECT_FLOAT_EQ(s.at(10), 1e-3f);
  EXPECT_NEAR(s.at(60), 1e-4 + 0.5 * (1e-3 - 1e-4), 1e-9);  // half way: cos(π/2) = 0
  EXPECT_FLOAT_EQ(s.at(110), 1e-4f);
  EXPECT_FLOAT_EQ(s.at(500), 1e-4f);
  for (int64_t i = 11; i < 110; ++i) ASSERT_LE(s.at(i + 1), s.at(i));
}

TEST(LrSchedule, LinearAndConstant) {
  const LrSchedule lin{1.f, 0.f, 0, 100, DecayStyle::linear};
  EXPECT_FLOAT_EQ(lin.at(25), 0.75f);
  const LrSchedule cst{0.5f, 0.f, 4, 100, DecayStyle::constant};
  EXPECT_FLOAT_EQ(cst.at(2), 0.25f);
  EXPECT_FLOAT_EQ(cst.at(99), 0.5f);
  EXPECT_THROW(decay_style_from_name("exponential"), UsageError);
}

TEST(GradClip, ScalesToTheMaxNormOnlyWhenAbove) {
  auto be = backend::make_cpu_backend(1);
  Param a = make_param("a", {2}, InitKind::zeros, 0.f, true), b = make_param("b", {1}, InitKind::zeros, 0.f, false);
  a.grad.set(0, 3.f); a.grad.set(1, 0.f); b.grad.set(0, 4.f);  // norm 5
  EXPECT_NEAR(clip_grad_norm(*be, {&a, &b}, 10.0), 5.0, 1e-12);
  EXPECT_EQ(b.grad.item(0), 4.f);  // below the max: untouched
  EXPECT_NEAR(clip_grad_norm(*be, {&a, &b}, 1.0), 5.0, 1e-12);
  EXPECT_NEAR(a.grad.item(0), 3.f / (5.f + 1e-6f), 1e-6);
  EXPECT_NEAR(b.grad.item(0), 4.f / (5.f + 1e-6f), 1e-6);
}

// A loss-scaled gradient: the norm is the unscaled one, and one pass both
// unscales and clips.
TEST(GradClip, UnscalesAndClipsInOnePass) {
  auto be = backend::make_cpu_backend(1);
  Param a = make_param("a", {2}, InitKind::zeros, 0.f, true);
  a.grad.set(0, 3.f * 1024.f);
  a.grad.set(1, 4.f * 1024.f);  // scaled by 1024, true norm 5
  EXPECT_NEAR(clip_grad_norm(*be, {&a}, 10.0, {}, 1024.0), 5.0, 1e-9);
  EXPECT_FLOAT_EQ(a.grad.item(0), 3.f);  // unscaled, below the clip
  a.grad.set(0, 3.f * 1024.f);
  a.grad.set(1, 4.f * 1024.f);
  EXPECT_NEAR(clip_grad_norm(*be, {&a}, 1.0, {}, 1024.0), 5.0, 1e-9);
  EXPECT_NEAR(a.grad.item(1), 4.f / (5.f + 1e-6f), 1e-6);  // unscaled and clipped to norm 1
}

TEST(AdamW, DecaysOnlyParamsThatAskForIt) {
  auto be = backend::make_cpu_backend(1);
  Param w = make_param("w", {1}, InitKind::zeros, 0.f, true), bias = make_param("b", {1}, InitKind::zeros, 0.f, false);
  w.value.set(0, 1.f);
  bias.value.set(0, 1.f);  // zero gradients: only weight decay can move them
  AdamW opt({&w, &bias}, AdamWConfig{0.9f, 0.95f, 1e-8f, 0.5f});
  opt.step(*be, 0.1f);
  EXPECT_FLOAT_EQ(w.value.item(0), 1.f - 0.1f * 0.5f);
  EXPECT_FLOAT_EQ(bias.value.item(0), 1.f);
  EXPECT_EQ(opt.steps_taken(), 1);
}

}  // namespace
}  // namespace trident::optim
