#include "framework/parallel/grad_buckets.h"

namespace trident::parallel {

GradBuckets::GradBuckets(const std::vector<Param*>& params, dist::Comm& dp, int64_t bucket_elements, bool overlap)
    : dp_(dp), overlap_(overlap) {
  TRIDENT_CHECK(bucket_elements > 0, "bucket size must be positive");
  // Group in reverse model order: the order in which backward completes them.
  std::vector<std::vector<Param*>> groups(1);
  int64_t filled = 0;
  for (auto it = params.rbegin(); it != params.rend(); ++it) {
    if (filled >= bucket_elements) {
      groups.emplace_back();
      filled = 0;
    }
    groups.back().push_back(*it);
    filled += (*it)->grad.numel();
  }
  for (auto& group : groups) {
    Bucket b;
    int64_t total = 0;
    for (Param* p : group) total += p->grad.numel();
    b.buffer = Tensor::zeros({total}, DType::f32, group.front()->grad.device());
    int64_t offset = 0;
    for (Param* p : group) {
      // The gradient becomes a view into the bucket; its current value moves along.
      Tensor view = b.buffer.slice(offset, offset + p->grad.numel()).view(p->grad.shape());
      view.copy_from(p->grad);
      p->grad = view;
      offset += p->grad.numel();
      bucket_of_[p] = buckets_.size();
      reported_[p] = false;
    }
    b.params = std::move(group);
    b.pending = b.params.size();
    buckets_.push_back(std::move(b));
  }
}

void GradBuckets::start(Bucket& b) { b.request = dp_.all_reduce_async(b.buffer, dist::ReduceOp::sum); }

void GradBuckets::mark_ready(Param& p) {
  auto it = bucket_of_.find(&p);
  TRIDENT_CHECK(it != bucket_of_.end(), "parameter ", p.name, " is in no gradient bucket");
  Bucket& b = buckets_[it->second];
  // Per parameter, not per bucket: a repeat inside a bucket would otherwise start its
  // all-reduce before the bucket's other gradients are final.
  bool& reported = reported_.at(&p);
  TRIDENT_CHECK(!reported, "gradient of ", p.name, " reported ready twice in one step");
  reported = true;
  if (--b.pending == 0 && overlap_) start(b);
  // Non-blocking MPI collectives advance only inside MPI calls: poke the running ones.
  for (Bucket& other : buckets_)
    if (other.request) other.request->test();
}

void GradBuckets::finish() {
  for (Bucket& b : buckets_)
    if (!b.request) start(b);
  for (Bucket& b : buckets_) {
    b.request->wait();
    b.request.reset();
    b.pending = b.params.size();
    for (const Param* p : b.params) reported_[p] = false;
  }
}

}  // namespace trident::parallel
