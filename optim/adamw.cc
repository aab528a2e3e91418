#include "optim/adamw.h"

namespace trident::optim {

AdamW::AdamW(std::vector<Param*> params, AdamWConfig cfg) : params_(std::move(params)), cfg_(cfg) {
  for (Param* p : params_) {
    m_.push_back(Tensor::zeros(p->value.shape(), DType::f32, p->value.device()));
    v_.push_back(Tensor::zeros(p->value.shape(), DType::f32, p->value.device()));
    master_.push_back(p->value.dtype() == DType::f32 ? Tensor() : p->value.to(DType::f32));
  }
}

void AdamW::step(backend::Backend& be, float lr, float grad_scale) {
  ++step_;
  for (size_t i = 0; i < params_.size(); ++i) {
    Param& p = *params_[i];
    const backend::AdamWStep s{lr, cfg_.beta1, cfg_.beta2, cfg_.eps, p.weight_decay ? cfg_.weight_decay : 0.f, step_,
                                 grad_scale};
    if (!master_[i].defined()) {
      be.adamw_update(p.value, p.grad, m_[i], v_[i], s);
      continue;
    }
    backend::AdamWStep with_copy = s;
    with_copy.rounded_copy = &p.value;  // rounded to the compute dtype in the same pass
    be.adamw_update(master_[i], p.grad, m_[i], v_[i], with_copy);
  }
}

void AdamW::load_master_weights(size_t i, const Tensor& master) {
  if (master_[i].defined()) master_[i].copy_from(master);
  params_[i]->value.copy_from(master);  // rounds into a 16-bit compute dtype
}

}  // namespace trident::optim
