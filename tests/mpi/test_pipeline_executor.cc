// The pipeline executor against the simulator, in a real job (run with 4
// ranks: pp = 4, and pp = 2 × dp = 2): for every schedule, the most
// activation sets each rank's executor actually held at once equals what
// the simulator predicts for that rank's list, and the compute actions ran
// in the schedule's order. Also: the executor's iteration trains exactly
// like the others (the losses of all schedules agree).
#include <gtest/gtest.h>

#include <cmath>

#include "framework/dist/world.h"
#include "framework/pipeline/simulator.h"
#include "launch/trainer.h"
#include "tests/support/small_configs.h"

namespace trident::launch {
namespace {

TrainConfig small_config(int pp, const std::string& schedule, int chunks) {
  TrainConfig cfg = test::small_train_config(8, 16, 2, 16);  // 8 layers: up to 4 ranks x 2 chunks
  cfg.micro_batch_size = 1;
  cfg.global_batch_size = 8;
  cfg.pipeline_model_parallel_size = pp;
  cfg.pipeline_schedule = schedule;
  cfg.num_virtual_stages = chunks;
  return cfg;
}

void check_layout(int pp) {
  const dist::World& world = dist::World::init(nullptr, nullptr);
  std::vector<double> losses;
  for (const auto& [schedule, chunks] : std::vector<std::pair<std::string, int>>{
           {"gpipe", 1}, {"1f1b", 1}, {"interleaved", 2}}) {
    SCOPED_TRACE(schedule);
    Trainer trainer(small_config(pp, schedule, chunks), world);
    const int rank = trainer.parts().groups->coord().pp;
    const int dp = trainer.parts().groups->layout().dp;
    const pipeline::ScheduleShape shape = trainer.config().schedule_shape(dp);
    const pipeline::Simulation sim = pipeline::simulate(trainer.train_step().schedule(), shape, {});
    ASSERT_FALSE(sim.deadlock);
    losses.push_back(trainer.step(1).loss);
    EXPECT_EQ(trainer.train_step().executor().peak_live(), sim.peak_live[size_t(rank)]);
    // The stage ran its compute actions in the list's order, each once.
    std::vector<pipeline::Action> ran, listed;
    for (const auto& t : trainer.train_step().executor().timings())
      if (t.action.is_compute()) ran.push_back(t.action);
    for (const auto& a : trainer.train_step().executor().actions())
      if (a.is_compute()) listed.push_back(a);
    EXPECT_EQ(ran, listed);
    if (schedule == "gpipe" && rank == 0) EXPECT_EQ(trainer.train_step().executor().peak_live(), shape.micro_batches);
    if (schedule == "1f1b") EXPECT_EQ(trainer.train_step().executor().peak_live(), std::min(shape.micro_batches, pp - rank));
  }
  for (double l : losses) EXPECT_NEAR(l, losses[0], 1e-6 * losses[0]);
}

TEST(PipelineExecutor, HoldsTheActivationsTheSimulatorPredictsPp4) { check_layout(4); }
TEST(PipelineExecutor, HoldsTheActivationsTheSimulatorPredictsPp2Dp2) { check_layout(2); }

}  // namespace
}  // namespace trident::launch
