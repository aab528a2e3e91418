// Every schedule, for p ∈ {1,2,3,4,8}, m ∈ 1..16, v ∈ {1,2,3} where the
// schedule accepts the shape: each (micro-batch, chunk) is computed forward
// once and backward once, forward first; every send has its receive; the
// simulator finds no deadlock; with unit costs the bubble is the textbook
// figure; and the activation memory is what the theory says.
#include <gtest/gtest.h>

#include <map>
#include <set>
#include <tuple>

#include "framework/core/error.h"
#include "framework/pipeline/simulator.h"

namespace trident::pipeline {
namespace {

struct Case {
  ScheduleKind kind;
  ScheduleShape shape;
};

std::vector<Case> valid_cases() {
  std::vector<Case> out;
  for (ScheduleKind kind : {ScheduleKind::gpipe, ScheduleKind::one_f_one_b, ScheduleKind::interleaved})
    for (int p : {1, 2, 3, 4, 8})
      for (int m = 1; m <= 16; ++m)
        for (int v : {1, 2, 3}) {
          const ScheduleShape shape{p, m, v};
          try {
            check_shape(kind, shape);
          } catch (const UsageError&) {
            continue;
          }
          out.push_back({kind, shape});
        }
  return out;
}

std::string describe(const Case& c) {
  return std::string(schedule_kind_name(c.kind)) + " p=" + std::to_string(c.shape.stages) +
         " m=" + std::to_string(c.shape.micro_batches) + " v=" + std::to_string(c.shape.chunks);
}

TEST(Schedules, CoverEveryShapeTheyAccept) {
  const auto cases = valid_cases();
  // gpipe and 1f1b: v = 1 only; interleaved: v ≥ 2, p ≥ 2, p | m.
  EXPECT_EQ(cases.size(), size_t(2 * 5 * 16 + 2 * (8 + 5 + 4 + 2)));
}

TEST(Schedules, ComputeEachMicroBatchOnceForwardBeforeBackward) {
  for (const Case& c : valid_cases()) {
    SCOPED_TRACE(describe(c));
    const Schedule s = make_schedule(c.kind, c.shape);
    ASSERT_EQ(int(s.size()), c.shape.stages);
    for (const auto& list : s) {
      std::map<std::pair<int, int>, int> forward_at, backward_at;
      for (size_t i = 0; i < list.size(); ++i) {
        const Action& a = list[i];
        if (a.kind == ActionKind::forward) EXPECT_TRUE(forward_at.emplace(std::pair{a.micro_batch, a.chunk}, int(i)).second);
        if (a.kind == ActionKind::backward) EXPECT_TRUE(backward_at.emplace(std::pair{a.micro_batch, a.chunk}, int(i)).second);
      }
      EXPECT_EQ(forward_at.size(), size_t(c.shape.micro_batches * c.shape.chunks));
      EXPECT_EQ(backward_at.size(), forward_at.size());
      for (const auto& [key, at] : forward_at) EXPECT_LT(at, backward_at.at(key));
    }
  }
}

TEST(Schedules, EverySendHasItsReceive) {
  for (const Case& c : valid_cases()) {
    SCOPED_TRACE(describe(c));
    const Schedule s = make_schedule(c.kind, c.shape);
    std::multiset<std::tuple<int, int, int, bool>> sent, received;  // (from, to, tag, gradient?)
    for (int r = 0; r < int(s.size()); ++r)
      for (const Action& a : s[size_t(r)]) {
        const int tag = message_tag(a, c.shape);
        if (a.kind == ActionKind::send_activation) sent.insert({r, a.peer, tag, false});
        if (a.kind == ActionKind::send_grad) sent.insert({r, a.peer, tag, true});
        if (a.kind == ActionKind::recv_activation) received.insert({a.peer, r, tag, false});
        if (a.kind == ActionKind::recv_grad) received.insert({a.peer, r, tag, true});
      }
    EXPECT_EQ(sent, received);
    // S − 1 boundaries, each crossed by every micro-batch both ways.
    EXPECT_EQ(sent.size(), size_t(2 * (c.shape.virtual_stages() - 1) * c.shape.micro_batches));
  }
}

// Evaluation: every (micro-batch, chunk) forward once on its rank, no
// backward, every activation matched by its receive, no deadlock, and one
// activation set alive at a time.
TEST(Schedules, ForwardOnlyRunsEachForwardOnceWithoutBackward) {
  for (int p : {1, 2, 3, 4})
    for (int m : {1, 2, 5})
      for (int v : {1, 2, 3}) {
        const ScheduleShape shape{p, m, v};
        SCOPED_TRACE("p=" + std::to_string(p) + " m=" + std::to_string(m) + " v=" + std::to_string(v));
        const Schedule s = forward_only_schedule(shape);
        ASSERT_EQ(s.size(), size_t(p));
        std::multiset<std::tuple<int, int, int>> sent, received;  // (from, to, tag)
        for (int r = 0; r < p; ++r) {
          std::set<std::pair<int, int>> forwards;
          for (const Action& a : s[size_t(r)]) {
            EXPECT_NE(a.kind, ActionKind::backward);
            EXPECT_NE(a.kind, ActionKind::send_grad);
            EXPECT_NE(a.kind, ActionKind::recv_grad);
            if (a.kind == ActionKind::forward) EXPECT_TRUE(forwards.insert({a.micro_batch, a.chunk}).second);
            if (a.kind == ActionKind::send_activation) sent.insert({r, a.peer, message_tag(a, shape)});
            if (a.kind == ActionKind::recv_activation) received.insert({a.peer, r, message_tag(a, shape)});
          }
          EXPECT_EQ(forwards.size(), size_t(m * v));
          EXPECT_EQ(peak_live_activations(s[size_t(r)]), m * v);  // held if nobody frees them: the executor does
        }
        EXPECT_EQ(sent, received);
        EXPECT_EQ(sent.size(), size_t((p * v - 1) * m));
        const Simulation sim = simulate(s, shape, {1.0, 2.0, 0.3});
        EXPECT_FALSE(sim.deadlock) << sim.deadlock_report;
      }
}

TEST(Schedules, HaveTheTextbookBubbleWithUnitCosts) {
  for (const Case& c : valid_cases()) {
    SCOPED_TRACE(describe(c));
    const double p = c.shape.stages, m = c.shape.micro_batches, v = c.shape.chunks;
    // Unit costs: a forward or backward through a whole rank's layers takes 1.
    const Simulation sim = simulate(make_schedule(c.kind, c.shape), c.shape, {1.0 / v, 1.0 / v, 0.0});
    ASSERT_FALSE(sim.deadlock) << sim.deadlock_report;
    const double expected = c.kind == ScheduleKind::interleaved ? ((p - 1) / v) / (m + (p - 1) / v)
                                                                : (p - 1) / (m + p - 1);
    EXPECT_NEAR(sim.bubble_fraction(), expected, 1e-9);
    EXPECT_NEAR(sim.makespan, 2.0 * (m + (p - 1) / v), 1e-9);
  }
}

TEST(Schedules, NeverDeadlockWithUnevenCosts) {
  for (const Case& c : valid_cases()) {
    SCOPED_TRACE(describe(c));
    const Simulation sim = simulate(make_schedule(c.kind, c.shape), c.shape, {1.0, 2.0, 0.3});
    EXPECT_FALSE(sim.deadlock) << sim.deadlock_report;
    EXPECT_GT(sim.makespan, 0.0);
  }
}

TEST(Schedules, HoldTheActivationsTheTheorySays) {
  for (const Case& c : valid_cases()) {
    SCOPED_TRACE(describe(c));
    const int p = c.shape.stages, m = c.shape.micro_batches;
    const Simulation sim = simulate(make_schedule(c.kind, c.shape), c.shape, {});
    if (c.kind == ScheduleKind::gpipe) EXPECT_EQ(sim.peak_live[0], m);
    if (c.kind == ScheduleKind::one_f_one_b) {
      EXPECT_LE(sim.peak_live[0], p);
      EXPECT_EQ(sim.peak_live[0], std::min(m, p));
      for (int r = 0; r < p; ++r) EXPECT_EQ(sim.peak_live[size_t(r)], std::min(m, p - r));
    }
  }
}

TEST(Schedules, ADeadlockIsReported) {
  // Two ranks that each wait for the other before sending.
  const ScheduleShape shape{2, 1, 1};
  Schedule s = one_f_one_b_schedule(shape);
  std::swap(s[0][0], s[0][1]);  // rank 0 receives a gradient first; rank 1 waits for an activation
  s[0].insert(s[0].begin(), {ActionKind::recv_grad, 0, 0, 1});
  const Simulation sim = simulate(s, shape, {});
  EXPECT_TRUE(sim.deadlock);
  EXPECT_NE(sim.deadlock_report.find("rank 1 waits in recv_activation"), std::string::npos) << sim.deadlock_report;
}

TEST(Schedules, BadShapesAreUsageErrors) {
  EXPECT_THROW(check_shape(ScheduleKind::interleaved, {1, 4, 2}), UsageError);
  EXPECT_THROW(check_shape(ScheduleKind::interleaved, {2, 4, 1}), UsageError);
  EXPECT_THROW(check_shape(ScheduleKind::interleaved, {4, 6, 2}), UsageError);
  EXPECT_THROW(check_shape(ScheduleKind::one_f_one_b, {4, 8, 2}), UsageError);
  EXPECT_THROW(schedule_kind_from_name("zero-bubble"), UsageError);
}

TEST(Schedules, TimelineShowsEveryAction) {
  const ScheduleShape shape{2, 2, 1};
  const Simulation sim = simulate(one_f_one_b_schedule(shape), shape, {1.0, 2.0, 0.0});
  const std::string text = format_timeline(sim, shape, 1.0);
  EXPECT_EQ(text,
            "rank 0 |F0  F1  .   .   B0  -   .   B1  -   \n"
            "rank 1 |.   F0  B0  -   F1  B1  -   .   .   \n");
}

}  // namespace
}  // namespace trident::pipeline
