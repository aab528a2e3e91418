// Data-parallel gradient buckets. Every parameter's FP32 main gradient is
// moved into one of a few contiguous buffers ("buckets", about
// `bucket_elements` each, filled in the order backward finishes the
// parameters); a bucket is summed over the data-parallel group with one
// all-reduce. With overlap on, a bucket's all-reduce starts as soon as
// backward has finished its last gradient and runs while backward goes on
// with earlier layers; finish() waits for all before the optimizer.
//
// The loss gradient is pre-scaled by 1/dp (GptModel::backward's loss_grad),
// so the sum over ranks is already the mean.
#pragma once

#include <memory>
#include <unordered_map>
#include <vector>

#include "framework/core/param.h"
#include "framework/dist/comm.h"

namespace trident::parallel {

class GradBuckets {
 public:
  // `params` in model order; backward finishes them roughly in reverse.
  GradBuckets(const std::vector<Param*>& params, dist::Comm& dp, int64_t bucket_elements, bool overlap);

  // p's gradient is final for this step (call on the last micro-batch only).
  void mark_ready(Param& p);
  // Starts every bucket not yet started, waits for all of them.
  void finish();
  size_t num_buckets() const { return buckets_.size(); }

 private:
  struct Bucket {
    Tensor buffer;                          // f32, the gradients of `params` back to back
    std::vector<Param*> params;
    size_t pending = 0;                     // gradients not yet final this step
    std::unique_ptr<dist::Request> request; // the running all-reduce, if started
  };
  void start(Bucket& b);

  dist::Comm& dp_;
  bool overlap_;
  std::vector<Bucket> buckets_;
  std::unordered_map<const Param*, size_t> bucket_of_;
  std::unordered_map<const Param*, bool> reported_;  // ready this step: a second report is a bug upstream
};

}  // namespace trident::parallel
