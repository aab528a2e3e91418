#include "optim/grad_clip.h"

#include <algorithm>
#include <cmath>

namespace trident::optim {

GradClip grad_clip_coefficient(const std::vector<Param*>& params, const std::vector<double>& sums, double max_norm,
                               GradNormGroup group, double loss_scale) {
  TRIDENT_CHECK(sums.size() == params.size(), sums.size(), " sums of squares for ", params.size(), " parameters");
  double local = 0.0;
  for (size_t i = 0; i < params.size(); ++i)
    if (!params[i]->tied_copy && (!params[i]->shard.replicated() || group.tp_rank == 0)) local += sums[i];
  double sum = local;
  for (dist::Comm* over : {group.model_parallel, group.data_parallel}) {
    if (!over || over->size() == 1) continue;
    // Summed in f32 over the group: per-rank partials are far from f32's limits.
    Tensor t = Tensor::from_vector({float(sum)}, {1});
    over->all_reduce(t, dist::ReduceOp::sum);
    sum = double(t.item(0));
  }
  const double norm = std::sqrt(sum) / loss_scale;
  double coeff = 1.0 / loss_scale;  // unscale and clip in one multiplication
  if (max_norm > 0.0 && std::isfinite(norm)) coeff *= std::min(1.0, max_norm / (norm + 1e-6));
  return {norm, float(coeff)};
}

double clip_grad_norm(backend::Backend& be, const std::vector<Param*>& params, double max_norm, GradNormGroup group,
                      double loss_scale) {
  std::vector<const Tensor*> grads;
  for (const Param* p : params) grads.push_back(&p->grad);
  const GradClip clip = grad_clip_coefficient(params, be.sum_squares_each(grads), max_norm, group, loss_scale);
  if (clip.coeff != 1.f)
    for (Param* p : params) be.scale(p->grad, clip.coeff);
  return clip.norm;
}

}  // namespace trident::optim
