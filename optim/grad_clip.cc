#include "optim/grad_clip.h"

#include <cmath>

namespace trident::optim {

double clip_grad_norm(backend::Backend& be, const std::vector<Param*>& params, double max_norm) {
  double sum = 0.0;
  // Every Param here is this process's own; once tensor parallelism lands,
  // TP-replicated parameters must be counted on one TP rank only.
  for (const Param* p : params) sum += be.sum_squares(p->grad);
  const double norm = std::sqrt(sum);
  if (max_norm > 0.0 && std::isfinite(norm)) {
    const double coeff = max_norm / (norm + 1e-6);
    if (coeff < 1.0)
      for (Param* p : params) be.scale(p->grad, float(coeff));
  }
  return norm;
}

}  // namespace trident::optim
