// trident-train's check of trident-plan: the planner's prediction for the
// run's own layout, logged at start — memory on the rank with the most (the
// memory model) and ms/iter (the time model) on this job's cluster — and,
// after the first log interval, the measured ms/iter over the predicted
// (docs/planner.md). Both also go to the metrics file: the prediction as the
// start record's "plan", the ratio as "plan_check" in the record of the
// iteration that closes the interval.
//
// The job's cluster: on the CPU, this machine measured as trident-plan
// --cluster local measures it (world rank 0 times the GEMM and a copy with
// the run's threads; every rank takes part in the MPI all-reduce probe); on
// a GPU the preset of its kind (A100 → A100-80GB; H100 and H200 →
// H100-80GB), with --peak-tflops in place of the datasheet's peak.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "launch/planner.h"
#include "launch/training_setup.h"

namespace trident::launch {

struct RunPrediction {
  std::string unavailable;  // why there is no prediction (empty when there is one)
  ClusterSpec cluster;
  PlannedLayout plan;
};

// Collective over the world (every rank must call it); rank 0's result is the one to report.
RunPrediction predict_this_run(const TrainingParts& parts);

// "plan for this layout: 523.1 ms/iter (compute 401.2, ...), 0.085 GB on the rank with the most; cluster ..."
std::string prediction_line(const RunPrediction& p);
nlohmann::json prediction_record(const RunPrediction& p);

}  // namespace trident::launch
