// trident-train's check of trident-plan: the planner's prediction for the
// run's own layout, logged at start — memory on the rank with the most (the
// memory model) and ms/iter (the time model) on this job's cluster — and,
// at the first log line with an iteration past the run's first (the first
// log interval, or the second with --log-interval 1), the measured ms/iter
// over the predicted (docs/planner.md). Both also go to the metrics file:
// the prediction as the start record's "plan", the ratio as "plan_check" in
// the record of the iteration that closes the interval.
//
// The job's cluster: on the CPU, this machine measured as trident-plan
// --cluster local measures it (world rank 0 times the GEMM and a copy with
// the run's threads; every rank takes part in the MPI all-reduce probe); on
// a GPU the preset of its kind (A100 → A100-80GB; H100 and H200 →
// H100-80GB), with --peak-tflops in place of the datasheet's peak.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <utility>

#include "launch/planner.h"
#include "launch/training_setup.h"

namespace trident::launch {

struct RunPrediction {
  std::string unavailable;  // why there is no prediction (empty when there is one)
  ClusterSpec cluster;
  PlannedLayout plan;
};

// Collective over the world (every rank must call it). World rank 0's is the prediction; the
// other ranks' say "unavailable" (only rank 0 measures the device, and only rank 0 reports).
RunPrediction predict_this_run(const TrainingParts& parts);

// "plan for this layout: 523.1 ms/iter (compute 401.2, ...), 0.085 GB on the rank with the most; cluster ..."
std::string prediction_line(const RunPrediction& p);
nlohmann::json prediction_record(const RunPrediction& p);

// The check of one run, on the rank that reports: the prediction, and the measured
// iterations after the run's first (whose set-up costs are not the steady state).
class PlanCheck {
 public:
  explicit PlanCheck(RunPrediction prediction) : prediction_(std::move(prediction)) {}
  void start(int64_t start_iteration) { start_iteration_ = start_iteration; }
  const RunPrediction& prediction() const { return prediction_; }
  // Counts iteration `iteration` of `seconds`; when `logs` (a log line closes an interval) and an
  // iteration past the run's first was counted, returns the check's record (once per run), else null.
  nlohmann::json after_iteration(int64_t iteration, double seconds, bool logs);
  // "plan check: measured 672.3 ms/iter over iterations 2..4, predicted 402.6: 1.67 x the prediction"
  static std::string line(const nlohmann::json& record);

 private:
  RunPrediction prediction_;
  int64_t start_iteration_ = 0;  // the iteration this run started after
  double seconds_ = 0.0;         // iterations after the run's first, up to the check
  int64_t iterations_ = 0;
  int64_t first_ = 0;            // the first of them
  bool done_ = false;
};

}  // namespace trident::launch
