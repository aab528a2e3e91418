// Data-parallel gradient buckets. Every parameter's FP32 main gradient is
// moved into one of a few contiguous buffers ("buckets", about
// `bucket_elements` each, filled in the order backward finishes the
// parameters: bucket_layout.h). With overlap on, a bucket's reduction
// starts as soon as backward has finished its last gradient and runs while
// backward goes on with earlier layers; finish() waits for all before the
// optimizer.
//
// Two modes:
//  - replicated (the default): each bucket is all-reduced; every rank ends
//    with the whole summed gradient.
//  - sharded (--use-distributed-optimizer, ZeRO-1): each bucket is
//    reduce-scattered in place; rank r ends with the summed gradient of its
//    shard only, in its own part of the bucket (owned(): whole rows of the
//    parameters it touches; the rest of the gradients are undefined until
//    the next step zeroes them), which its optimizer steps. The parameters'
//    compute-dtype values also move into bucket-shaped buffers, so that
//    gather_parameters() can all-gather each rank's updated part in place
//    into every rank's whole parameters. No buffer besides the two.
//
// The loss gradient is pre-scaled by 1/dp (GptModel::backward's loss_grad),
// so the sum over ranks is already the mean.
#pragma once

#include <memory>
#include <unordered_map>
#include <vector>

#include "framework/core/param.h"
#include "framework/dist/comm.h"
#include "framework/parallel/bucket_layout.h"

namespace trident::parallel {

// A rank's part of one parameter for the optimizer: rows
// [first_row, first_row + rows) of its value, and their summed gradient.
struct OwnedShard {
  Param* param = nullptr;
  size_t index = 0;      // of the parameter in the list GradBuckets was given (model order)
  int64_t first_row = 0;
  int64_t rows = 0;
  Tensor grad;           // f32, (rows, ...): those rows of the gradient; undefined: the whole param->grad
  Tensor value() const { return param->value.slice(first_row, first_row + rows); }
};

class GradBuckets {
 public:
  // `params` in model order; backward finishes them roughly in reverse.
  GradBuckets(const std::vector<Param*>& params, dist::Comm& dp, int64_t bucket_elements, bool overlap,
              bool sharded = false);

  // p's gradient is final for this step (call on the last micro-batch only).
  void mark_ready(Param& p);
  // Starts every bucket not yet started, waits for all of them.
  void finish();
  size_t num_buckets() const { return buckets_.size(); }
  bool sharded() const { return sharded_; }
  const BucketLayout& layout() const { return layout_; }

  // What this rank's optimizer steps: every parameter whole (replicated), or
  // this rank's rows of each bucket (sharded), in bucket order.
  const std::vector<OwnedShard>& owned() const { return owned_; }
  // Sharded only: every rank's updated rows to every rank (after the step).
  void gather_parameters();

 private:
  struct Buffers {
    Tensor grads;         // f32 (dp · S): the gradients of the bucket's parameters, at their offsets
    Tensor values;        // sharded only: compute dtype (dp · S), the parameters' values likewise
    size_t pending = 0;   // gradients not yet final this step
    std::unique_ptr<dist::Request> request;  // the running reduction, if started
  };
  void start(size_t bucket);

  dist::Comm& dp_;
  bool overlap_;
  bool sharded_;
  BucketLayout layout_;
  std::vector<Param*> params_;
  std::vector<Buffers> buckets_;
  std::vector<OwnedShard> owned_;
  std::unordered_map<const Param*, size_t> bucket_of_;
  std::unordered_map<const Param*, bool> reported_;  // ready this step: a second report is a bug upstream
};

}  // namespace trident::parallel
