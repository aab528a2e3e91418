#include "optim/grad_clip.h"

#include <algorithm>
#include <cmath>

namespace trident::optim {

double clip_grad_norm(backend::Backend& be, const std::vector<Param*>& params, double max_norm, GradNormGroup group,
                      double loss_scale) {
  std::vector<const Tensor*> counted;
  for (const Param* p : params)
    if (!p->tied_copy && (!p->shard.replicated() || group.tp_rank == 0)) counted.push_back(&p->grad);
  const double local = be.sum_squares_all(counted);
  double sum = local;
  if (group.model_parallel && group.model_parallel->size() > 1) {
    // Summed in f32 over the group: per-rank partials are far from f32's limits.
    Tensor t = Tensor::from_vector({float(local)}, {1});
    group.model_parallel->all_reduce(t, dist::ReduceOp::sum);
    sum = double(t.item(0));
  }
  const double norm = std::sqrt(sum) / loss_scale;
  double coeff = 1.0 / loss_scale;  // unscale and clip in one multiplication
  if (max_norm > 0.0 && std::isfinite(norm)) coeff *= std::min(1.0, max_norm / (norm + 1e-6));
  if (coeff != 1.0)
    for (Param* p : params) be.scale(p->grad, float(coeff));
  return norm;
}

}  // namespace trident::optim
