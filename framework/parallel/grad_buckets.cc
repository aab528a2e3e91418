#include "framework/parallel/grad_buckets.h"

#include "framework/core/memory_category.h"

namespace trident::parallel {
namespace {

// p's `field` becomes a view of `buffer` at `offset`; its current value moves along.
void move_into(Tensor& field, Tensor& buffer, int64_t offset) {
  Tensor view = buffer.slice(offset, offset + field.numel()).view(field.shape());
  view.copy_from(field);
  field = view;
}

}  // namespace

GradBuckets::GradBuckets(const std::vector<Param*>& params, dist::Comm& dp, int64_t bucket_elements, bool overlap,
                         bool sharded)
    : dp_(dp), overlap_(overlap), sharded_(sharded), params_(params) {
  std::vector<Shape> shapes;
  for (const Param* p : params) shapes.push_back(p->value.shape());
  layout_ = layout_buckets(shapes, bucket_elements, sharded ? dp.size() : 1);
  for (const Bucket& b : layout_.buckets) {
    Buffers buf;
    const Param& first = *params[b.entries.front().param];
    {
      const MemoryCategoryScope scope(MemoryCategory::gradients);
      buf.grads = Tensor::zeros({b.size}, DType::f32, first.grad.device());
    }
    if (sharded) {
      const MemoryCategoryScope scope(MemoryCategory::weights);
      buf.values = Tensor::zeros({b.size}, first.value.dtype(), first.value.device());
    }
    for (const BucketEntry& e : b.entries) {
      Param& p = *params[e.param];
      move_into(p.grad, buf.grads, e.offset);
      if (sharded) move_into(p.value, buf.values, e.offset);
      bucket_of_[&p] = buckets_.size();
      reported_[&p] = false;
    }
    buf.pending = b.entries.size();
    buckets_.push_back(std::move(buf));
  }
  for (const OwnedRows& o : layout_.owned_by(sharded ? dp.rank() : 0, shapes)) {
    Param& p = *params[o.param];
    OwnedShard s{&p, o.param, o.first_row, o.rows, {}};
    s.grad = sharded ? p.grad.slice(o.first_row, o.first_row + o.rows) : p.grad;
    owned_.push_back(std::move(s));
  }
}

void GradBuckets::start(size_t bucket) {
  Buffers& b = buckets_[bucket];
  b.request = sharded_ ? dp_.reduce_scatter_in_place_async(b.grads, dist::ReduceOp::sum)
                       : dp_.all_reduce_async(b.grads, dist::ReduceOp::sum);
}

void GradBuckets::mark_ready(Param& p) {
  auto it = bucket_of_.find(&p);
  TRIDENT_CHECK(it != bucket_of_.end(), "parameter ", p.name, " is in no gradient bucket");
  // Per parameter, not per bucket: a repeat inside a bucket would otherwise start its
  // reduction before the bucket's other gradients are final.
  bool& reported = reported_.at(&p);
  TRIDENT_CHECK(!reported, "gradient of ", p.name, " reported ready twice in one step");
  reported = true;
  if (--buckets_[it->second].pending == 0 && overlap_) start(it->second);
  // Non-blocking MPI collectives advance only inside MPI calls: poke the running ones.
  for (Buffers& other : buckets_)
    if (other.request) other.request->test();
}

void GradBuckets::finish() {
  for (size_t i = 0; i < buckets_.size(); ++i)
    if (!buckets_[i].request) start(i);
  for (size_t i = 0; i < buckets_.size(); ++i) {
    Buffers& b = buckets_[i];
    b.request->wait();
    b.request.reset();
    b.pending = layout_.buckets[i].entries.size();
    for (const BucketEntry& e : layout_.buckets[i].entries) reported_[params_[e.param]] = false;
  }
}

void GradBuckets::gather_parameters() {
  TRIDENT_CHECK(sharded_, "gather_parameters without the distributed optimizer");
  for (Buffers& b : buckets_) b.request = dp_.all_gather_in_place_async(b.values);
  for (Buffers& b : buckets_) {
    b.request->wait();
    b.request.reset();
  }
}

}  // namespace trident::parallel
