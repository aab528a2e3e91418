#include "optim/adamw.h"

namespace trident::optim {

AdamW::AdamW(std::vector<Param*> params, AdamWConfig cfg) : params_(std::move(params)), cfg_(cfg) {
  for (Param* p : params_) {
    TRIDENT_CHECK(p->value.dtype() == DType::f32, "AdamW on ", p->name, ": f32 master weights are required");
    m_.push_back(Tensor::zeros(p->value.shape(), DType::f32, p->value.device()));
    v_.push_back(Tensor::zeros(p->value.shape(), DType::f32, p->value.device()));
  }
}

void AdamW::step(backend::Backend& be, float lr) {
  ++step_;
  for (size_t i = 0; i < params_.size(); ++i) {
    Param& p = *params_[i];
    const backend::AdamWStep s{lr, cfg_.beta1, cfg_.beta2, cfg_.eps, p.weight_decay ? cfg_.weight_decay : 0.f, step_};
    be.adamw_update(p.value, p.grad, m_[i], v_[i], s);
  }
}

}  // namespace trident::optim
