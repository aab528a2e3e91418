// LR schedules against their closed forms; grad clipping; AdamW's decay rule.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <vector>

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
  AdamW opt(std::vector<Param*>{&w, &bias}, AdamWConfig{0.9f, 0.95f, 1e-8f, 0.5f});
  opt.step(*be, 0.1f);
  EXPECT_FLOAT_EQ(w.value.item(0), 1.f - 0.1f * 0.5f);
  EXPECT_FLOAT_EQ(bias.value.item(0), 1.f);
  EXPECT_EQ(opt.steps_taken(), 1);
}

// The trainer's path: the clip coefficient from per-tensor sums, applied by
// AdamW as it reads the grads, must step exactly as clipping the grads in
// place and then stepping, and leave the grads as they were; in bf16 the
// compute weights must be the rounding of the master weights.
TEST(AdamW, FusedClipCoefficientStepsAsClippingInPlace) {
  auto be = backend::make_cpu_backend(1);
  for (DType dtype : {DType::f32, DType::bf16}) {
    auto make = [&](const char* name) {
      Param p = make_param(name, {257}, InitKind::normal, 0.5f, true, dtype);
      init_param(p, 7);
      for (int64_t i = 0; i < 257; ++i) p.grad.set(i, std::sin(0.37f * float(i)) * 3.f);
      return p;
    };
    Param a = make("w"), b = make("w");  // same name: same initial values
    const std::vector<float> grads_before = a.grad.to_vector();
    AdamW fused(std::vector<Param*>{&a}, {}), plain(std::vector<Param*>{&b}, {});
    for (int step = 0; step < 3; ++step) {
      const GradClip clip = grad_clip_coefficient({&a}, be->sum_squares_each({&a.grad}), 1.0, {}, 1024.0);
      fused.step(*be, 1e-2f, clip.coeff);
      EXPECT_NEAR(clip_grad_norm(*be, {&b}, 1.0, {}, 1024.0), clip.norm, 1e-12);
      plain.step(*be, 1e-2f);
      for (int64_t i = 0; i < 257; ++i) b.grad.set(i, grads_before[size_t(i)]);  // clipping scaled them
    }
    EXPECT_EQ(a.grad.to_vector(), grads_before) << "the fused path must not touch the grads";
    EXPECT_EQ(a.value.to_vector(), b.value.to_vector()) << dtype_name(dtype);
    EXPECT_EQ(fused.master_weights(0).to_vector(), plain.master_weights(0).to_vector()) << dtype_name(dtype);
    if (dtype != DType::f32) EXPECT_EQ(a.value.to_vector(), fused.master_weights(0).to(dtype).to_vector());
  }
}

// The distributed optimizer's path: AdamW over row shards of a parameter
// (each with its own gradient tensor, as a reduce-scatter leaves them) steps
// those rows exactly as AdamW over the whole parameter, in f32 and bf16, and
// keeps state for its rows only.
TEST(AdamW, RowShardsStepAsTheWholeParameter) {
  auto be = backend::make_cpu_backend(1);
  for (DType dtype : {DType::f32, DType::bf16}) {
    auto make = [&]() {
      Param p = make_param("w", {6, 5}, InitKind::normal, 0.5f, true, dtype);
      init_param(p, 3);
      for (int64_t i = 0; i < 30; ++i) p.grad.set(i, std::cos(0.3f * float(i)));
      return p;
    };
    Param whole = make(), split = make();
    AdamW reference(std::vector<Param*>{&whole}, {});
    // Rows [0, 2) and [2, 6), their gradients copied out (not views of split.grad).
    std::vector<parallel::OwnedShard> shards = {{&split, 0, 0, 2, split.grad.slice(0, 2).clone()},
                                                {&split, 0, 2, 4, split.grad.slice(2, 6).clone()}};
    AdamW sharded(shards, {});
    ASSERT_EQ(sharded.num_shards(), 2u);
    EXPECT_EQ(sharded.exp_avg(0).shape(), (Shape{2, 5}));
    for (int step = 0; step < 3; ++step) {
      reference.step(*be, 1e-2f, 0.5f);
      sharded.step(*be, 1e-2f, 0.5f);
    }
    EXPECT_EQ(split.value.to_vector(), whole.value.to_vector()) << dtype_name(dtype);
    std::vector<float> rows = sharded.master_weights(0).to_vector(), rest = sharded.master_weights(1).to_vector();
    rows.insert(rows.end(), rest.begin(), rest.end());
    EXPECT_EQ(rows, reference.master_weights(0).to_vector()) << dtype_name(dtype);
  }
}

// Backend::sum_squares_each gives each tensor's sum_squares, bit for bit,
// and is non-finite exactly where a tensor holds a NaN or an infinity.
TEST(GradClip, SumSquaresEachMatchesOneCallEach) {
  auto be = backend::make_cpu_backend(2);
  Tensor x = Tensor::from_vector({1.f, -2.f, 3.5f}, {3}), y = Tensor::zeros({0}), z = Tensor::from_vector({1e30f}, {1});
  const std::vector<double> sums = be->sum_squares_each({&x, &y, &z});
  ASSERT_EQ(sums.size(), 3u);
  EXPECT_EQ(sums[0], be->sum_squares(x));
  EXPECT_EQ(sums[1], 0.0);
  EXPECT_EQ(sums[2], double(1e30f) * double(1e30f));
  EXPECT_TRUE(std::isfinite(sums[2]));  // f32's largest values square finitely in f64
  z.set(0, std::numeric_limits<float>::infinity());
  EXPECT_FALSE(std::isfinite(be->sum_squares_each({&z})[0]));
  z.set(0, std::numeric_limits<float>::quiet_NaN());
  EXPECT_FALSE(std::isfinite(be->sum_squares_each({&z})[0]));
}

}  // namespace
}  // namespace trident::optim
