// The divergence guard's detector and the fault-injection flag, without MPI.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <random>

#include "framework/core/error.h"
#include "launch/divergence_guard.h"
#include "launch/fault_injection.h"

namespace trident::launch {
namespace {

using Verdict = DivergenceGuard::Verdict;
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

// A noisy, falling loss curve like a real run's: 5.5 down to ~2.3, ±0.08 noise.
double ordinary_loss(int64_t it, std::mt19937& gen) {
  std::normal_distribution<double> noise(0.0, 0.08);
  return 2.3 + 3.2 * std::exp(-double(it) / 60.0) + noise(gen);
}

TEST(DivergenceGuard, QuietOnAnOrdinaryNoisyRun) {
  DivergenceGuard guard({});
  std::mt19937 gen(3);
  for (int64_t it = 1; it <= 2000; ++it)
    ASSERT_EQ(guard.observe({it, ordinary_loss(it, gen), 1.0}), Verdict::healthy) << "iteration " << it;
}

TEST(DivergenceGuard, ASpikeDivergesAfterPatience) {
  DivergenceGuard guard({});
  std::mt19937 gen(4);
  for (int64_t it = 1; it <= 100; ++it) ASSERT_EQ(guard.observe({it, ordinary_loss(it, gen), 1.0}), Verdict::healthy);
  EXPECT_EQ(guard.observe({101, 8.0, 9.0}), Verdict::developing);
  EXPECT_TRUE(guard.anomaly_developing());
  EXPECT_EQ(guard.observe({102, 7.5, 9.0}), Verdict::developing);
  EXPECT_EQ(guard.observe({103, 7.9, 9.0}), Verdict::diverged);
  EXPECT_EQ(guard.first_anomalous_iteration(), 101);
  EXPECT_NE(guard.reason().find("loss spike for 3 iterations from iteration 101"), std::string::npos) << guard.reason();
}

TEST(DivergenceGuard, AShortBlipIsForgiven) {
  DivergenceGuard guard({});
  std::mt19937 gen(5);
  for (int64_t it = 1; it <= 100; ++it) guard.observe({it, ordinary_loss(it, gen), 1.0});
  EXPECT_EQ(guard.observe({101, 8.0, 9.0}), Verdict::developing);
  EXPECT_EQ(guard.observe({102, 7.0, 9.0}), Verdict::developing);
  EXPECT_EQ(guard.observe({103, ordinary_loss(103, gen), 1.0}), Verdict::healthy);
  EXPECT_FALSE(guard.anomaly_developing());
  EXPECT_EQ(guard.observe({104, 8.0, 9.0}), Verdict::developing);  // the count starts again
}

TEST(DivergenceGuard, EarlyTrainingIsNotJudged) {
  DivergenceGuard guard({});
  // Fewer than 20 healthy iterations: even a jump is not a spike yet.
  for (int64_t it = 1; it <= 19; ++it) guard.observe({it, 5.0, 1.0});
  EXPECT_EQ(guard.observe({20, 9.0, 1.0}), Verdict::healthy);
}

TEST(DivergenceGuard, NonFiniteDivergesAtOnceButFp16SkipsOnlyWhenStuck) {
  DivergenceGuard fp32({});
  EXPECT_EQ(fp32.observe({7, kNaN, kNaN}), Verdict::diverged);
  EXPECT_EQ(fp32.first_anomalous_iteration(), 7);
  DivergenceGuard bf16({});
  EXPECT_EQ(bf16.observe({3, 4.0, kNaN, /*skipped=*/true}), Verdict::diverged);
  EXPECT_NE(bf16.reason().find("non-finite gradient at iteration 3"), std::string::npos);

  DivergenceGuardConfig c;
  c.max_consecutive_skips = 3;
  DivergenceGuard fp16(c);
  // Start-up: the scaler comes down from 2^32 skipping ~17 steps; that is no divergence.
  for (int64_t it = 1; it <= 17; ++it) ASSERT_EQ(fp16.observe({it, 5.0, kNaN, true, /*fp16=*/true}), Verdict::healthy);
  EXPECT_EQ(fp16.observe({18, 5.0, 1.0, false, true}), Verdict::healthy);
  EXPECT_EQ(fp16.observe({19, 5.0, kNaN, true, true}), Verdict::healthy);  // the scaler's ordinary work
  EXPECT_EQ(fp16.observe({20, 5.0, kNaN, true, true}), Verdict::developing);  // no checkpoint now
  EXPECT_EQ(fp16.observe({21, 5.0, kNaN, true, true}), Verdict::diverged);  // 3 in a row
  EXPECT_EQ(fp16.first_anomalous_iteration(), 19);  // where the run of skips began
  DivergenceGuard at_min(c);
  EXPECT_EQ(at_min.observe({1, 5.0, kNaN, true, true, /*scale_at_minimum=*/true}), Verdict::diverged);
  EXPECT_EQ(at_min.observe({2, kNaN, kNaN, true, true}), Verdict::diverged);  // a NaN loss is never the scaler's
}

TEST(DivergenceGuard, RollbacksAreCountedInAWindow) {
  DivergenceGuardConfig c;
  c.max_rollbacks = 2;
  c.rollback_window = 100;
  DivergenceGuard guard(c);
  EXPECT_FALSE(guard.exhausted(30));
  guard.rolled_back(30, 20);
  EXPECT_FALSE(guard.exhausted(30));
  guard.rolled_back(30, 20);
  EXPECT_TRUE(guard.exhausted(30));
  EXPECT_FALSE(guard.exhausted(200));  // both are older than the window by then
}

TEST(DivergenceGuard, RollbackForgetsTheIterationsToBeRedone) {
  DivergenceGuard guard({});
  for (int64_t it = 1; it <= 40; ++it) guard.observe({it, 3.0 + 0.01 * double(it % 3), 1.0});
  guard.rolled_back(40, 10);
  // Only iterations 1..10 remain: fewer than 20, so no judgement yet.
  EXPECT_EQ(guard.observe({11, 9.0, 1.0}), Verdict::healthy);
}

TEST(FaultInjection, ParsesAndFiresOnce) {
  const InjectedFault f = parse_injected_fault("nan@30:2:repeat");
  EXPECT_EQ(f.kind, InjectedFault::Kind::nan);
  EXPECT_EQ(f.iteration, 30);
  EXPECT_EQ(f.rank, 2);
  EXPECT_TRUE(f.repeat);
  EXPECT_THROW(parse_injected_fault("nan30"), UsageError);
  EXPECT_THROW(parse_injected_fault("explode@3"), UsageError);
  EXPECT_THROW(parse_injected_fault("spike@0"), UsageError);
  FaultInjector once({"nan@5:1", "spike@7"});
  EXPECT_FALSE(once.fires(InjectedFault::Kind::nan, 5, 0));  // another rank
  EXPECT_TRUE(once.fires(InjectedFault::Kind::nan, 5, 1));
  EXPECT_FALSE(once.fires(InjectedFault::Kind::nan, 5, 1));  // fired already
  EXPECT_TRUE(once.fires(InjectedFault::Kind::spike, 7, 3));  // every rank
  FaultInjector again({"nan@5:repeat"});
  EXPECT_TRUE(again.fires(InjectedFault::Kind::nan, 5, 0));
  EXPECT_TRUE(again.fires(InjectedFault::Kind::nan, 5, 0));
}

}  // namespace
}  // namespace trident::launch
