#include "launch/divergence_guard.h"

#include <algorithm>
#include <cmath>
#include <sstream>

namespace trident::launch {

DivergenceGuard::Verdict DivergenceGuard::observe(const IterationHealth& h) {
  // fp16 starts (and restarts) by skipping while the scaler comes down from
  // its initial scale: a skip run counts only after a clean step.
  if (!h.skipped) seen_clean_step_ = true;
  consecutive_skips_ = h.skipped && seen_clean_step_ ? consecutive_skips_ + 1 : 0;
  const bool non_finite = !std::isfinite(h.loss) || h.skipped || !std::isfinite(h.grad_norm);
  std::ostringstream why;
  bool anomalous = false;
  if (non_finite) {
    // fp16 skips are the loss scaler's business until it is stuck.
    const bool scaler_stuck = h.scale_at_minimum || consecutive_skips_ >= cfg_.max_consecutive_skips;
    if (!h.fp16 || !std::isfinite(h.loss) || scaler_stuck) {
      why << (std::isfinite(h.loss) ? "non-finite gradient" : "non-finite loss") << " at iteration " << h.iteration;
      if (h.fp16) why << " (loss scaler " << (h.scale_at_minimum ? "at its minimum" : "skipping") << ", "
                      << consecutive_skips_ << " skips in a row)";
      // The anomaly began with the skip run (or the spike) that led here.
      const int64_t run_start = h.iteration - std::max<int64_t>(consecutive_skips_, 1) + 1;
      first_anomalous_ = anomalous_run_ > 0 ? std::min(first_anomalous_, run_start) : run_start;
      reason_ = why.str();
      return Verdict::diverged;
    }
    // Two skips in a row are the scaler at work, but no moment for a checkpoint.
    return anomalous_run_ > 0 || consecutive_skips_ >= 2 ? Verdict::developing : Verdict::healthy;
  }
  const size_t n = healthy_.size();
  if (n >= size_t(std::min<int64_t>(cfg_.window, 20))) {
    double mean = 0.0, sq = 0.0;
    std::vector<double> losses;
    for (const auto& [it, l] : healthy_) {
      mean += l;
      losses.push_back(l);
    }
    mean /= double(n);
    for (double l : losses) sq += (l - mean) * (l - mean);
    const double std_dev = std::sqrt(sq / double(n));
    std::nth_element(losses.begin(), losses.begin() + long(n / 2), losses.end());
    const double median = losses[n / 2], limit = std::max(mean + cfg_.threshold * std_dev, 1.05 * median);
    if (h.loss > limit) {
      anomalous = true;
      why << "loss " << h.loss << " above " << limit << " (mean " << mean << " + " << cfg_.threshold << " x std "
          << std_dev << ", and 1.05 x median " << median << " of the last " << n << " healthy iterations)";
    }
  }
  if (!anomalous) {
    anomalous_run_ = 0;
    healthy_.emplace_back(h.iteration, h.loss);
    while (int64_t(healthy_.size()) > cfg_.window) healthy_.pop_front();
    return Verdict::healthy;
  }
  if (anomalous_run_++ == 0) first_anomalous_ = h.iteration;
  if (anomalous_run_ < cfg_.patience) return Verdict::developing;
  std::ostringstream full;
  full << "loss spike for " << anomalous_run_ << " iterations from iteration " << first_anomalous_ << ": " << why.str();
  reason_ = full.str();
  return Verdict::diverged;
}

void DivergenceGuard::rolled_back(int64_t detected, int64_t to) {
  rollbacks_.push_back(detected);
  while (!healthy_.empty() && healthy_.back().first > to) healthy_.pop_back();
  anomalous_run_ = 0;
  consecutive_skips_ = 0;
  seen_clean_step_ = false;  // the scaler state restored may skip again at first
}

bool DivergenceGuard::exhausted(int64_t iteration) const {
  const auto recent = std::count_if(rollbacks_.begin(), rollbacks_.end(),
                                    [&](int64_t at) { return at > iteration - cfg_.rollback_window; });
  return recent >= cfg_.max_rollbacks;
}

}  // namespace trident::launch
