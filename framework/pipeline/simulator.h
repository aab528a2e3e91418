// Runs every rank's action list of a schedule against a cost model, the way
// the executor would run it: compute takes its cost, a send never blocks
// (the executor's sends are non-blocking) and its message arrives
// `transfer` later, a receive waits for its message. From that it proves the
// schedule free of deadlock and measures its makespan, bubble and memory.
#pragma once

#include <string>
#include <vector>

#include "framework/pipeline/schedule.h"

namespace trident::pipeline {

// Seconds (or any unit) per action of one chunk.
struct Costs {
  double forward = 1.0;
  double backward = 1.0;
  double transfer = 0.0;
};

struct TimedAction {
  Action action;
  double start = 0.0, end = 0.0;
};

struct Simulation {
  bool deadlock = false;
  std::string deadlock_report;  // which rank waits for what, when deadlocked
  double makespan = 0.0;
  std::vector<double> busy;        // [rank] compute time
  std::vector<int> peak_live;      // [rank] most activation sets held at once (forwards not yet backwarded)
  std::vector<std::vector<TimedAction>> timeline;  // [rank] compute actions with their times
  // Idle share of the ranks' time until the last one finishes: 1 − Σ busy / (p · makespan).
  double bubble_fraction() const;
};

Simulation simulate(const Schedule& schedule, const ScheduleShape& shape, const Costs& costs);

// One row per rank, one cell per `quantum` of time: "F3" starts the forward
// of micro-batch 3 ("F3.1" on chunk 1 when v > 1), "B" a backward, "-" its
// continuation, "." idle. For --print-schedule.
std::string format_timeline(const Simulation& sim, const ScheduleShape& shape, double quantum);

// The number of forwards minus backwards at its highest, for one rank's list
// (what the simulator reports, and what the executor must reproduce).
int peak_live_activations(const std::vector<Action>& actions);

}  // namespace trident::pipeline
