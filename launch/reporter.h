// Reporter: everything a run tells its user. The start-up report, the log
// line every --log-interval, the progress bar on a terminal, memory use
// (and the memory model's prediction against the allocator's counts),
// evaluation results, and every record of the --metrics-file (JSON lines:
// one per iteration, plus {"event": ...} records for evaluations and the
// divergence guard's actions; the start record carries the memory model's
// prediction and trident-plan's as "plan", the first iteration's record the
// measured peaks, one later record the plan's "plan_check"). World rank 0
// writes; memory reports are collective.
#pragma once

#include <fstream>
#include <nlohmann/json.hpp>

#include "launch/memory_report.h"
#include "launch/run_prediction.h"
#include "launch/run_state.h"
#include "launch/train_step.h"
#include "launch/training_setup.h"

namespace trident::launch {

class Reporter {
 public:
  // `peak_tflops`: per rank, the denominator of the MFU. Collective: predicts this run as
  // trident-plan would (run_prediction.h).
  Reporter(const TrainingParts& parts, double peak_tflops);

  // Opens the metrics file (appending when the run resumes after `start_iteration`)
  // and records {"event": "start", "iteration": start_iteration, "loss_unit": ..., "memory_predicted": ...,
  // "plan": ...}.
  void open_metrics(int64_t start_iteration);
  // Also logs the memory model's prediction (memory_report.h) and trident-plan's (run_prediction.h).
  void start_up(const TrainStep& step);
  void iteration(const IterationStats& s, const RunState& state);
  // Megatron's validation line and an {"event": "eval"} record.
  void evaluation(int64_t iteration, double loss);
  // An {"event": ...} record (guard actions), rank 0 only.
  void event(const nlohmann::json& record);
  // Collective: host tensor and resident peaks, rank 0 and the maximum over ranks.
  void memory(const char* when) const;
  // Collective: the allocator's peaks by category since reset_memory_peaks,
  // of the rank with the most, against the prediction; every rank's go into the next iteration record.
  void memory_by_category();

 private:
  void progress_bar(const IterationStats& s, double eta_s) const;
  void data_report() const;  // each dataset (of a blend: its weight), and what evaluation reads
  void log_line(const IterationStats& s, const RunState& state, double eta_s);

  const TrainingParts& parts_;
  double peak_tflops_;
  MemoryPrediction memory_predicted_;  // for this run's layout, per pipeline rank
  PlanCheck plan_;                     // trident-plan's prediction for this run, and its check
  nlohmann::json measured_memory_;  // the peaks by category, for the next iteration record
  bool terminal_;                  // a progress bar is drawn (rank 0 on a terminal)
  std::ofstream metrics_;
  int64_t nan_iterations_ = 0;     // iterations whose loss was not finite
  struct Interval {                // since the last log line
    double seconds = 0.0;
    int64_t iterations = 0;
    double loss_sum = 0.0;         // over updated iterations with a finite loss (Megatron's mean)
    int64_t losses = 0;
    int64_t skipped = 0, first = 0, last_skipped = 0;
  } interval_;
};

// The peak behind the MFU: --peak-tflops, or this rank's GEMM peak measured
// now (all ranks at once, so ranks sharing cores measure their share).
double peak_tflops_per_rank(const TrainingParts& parts);

}  // namespace trident::launch
