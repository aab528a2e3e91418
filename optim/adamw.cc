#include "optim/adamw.h"

#include "framework/core/memory_category.h"

namespace trident::optim {
namespace {

std::vector<parallel::OwnedShard> whole(const std::vector<Param*>& params) {
  std::vector<parallel::OwnedShard> out;
  for (size_t i = 0; i < params.size(); ++i) out.push_back({params[i], i, 0, params[i]->value.size(0), Tensor()});  // grad: the param's own, read at each step
  return out;
}

}  // namespace

AdamW::AdamW(const std::vector<Param*>& params, AdamWConfig cfg) : AdamW(whole(params), cfg) {}

AdamW::AdamW(std::vector<parallel::OwnedShard> shards, AdamWConfig cfg) : shards_(std::move(shards)), cfg_(cfg) {
  const MemoryCategoryScope scope(MemoryCategory::optimizer);
  for (const parallel::OwnedShard& s : shards_) {
    values_.push_back(s.value());
    const Tensor& value = values_.back();
    m_.push_back(Tensor::zeros(value.shape(), DType::f32, value.device()));
    v_.push_back(Tensor::zeros(value.shape(), DType::f32, value.device()));
    master_.push_back(value.dtype() == DType::f32 ? Tensor() : value.to(DType::f32));
  }
}

void AdamW::step(backend::Backend& be, float lr, float grad_scale) {
  ++step_;
  for (size_t i = 0; i < shards_.size(); ++i) {
    const parallel::OwnedShard& sh = shards_[i];
    const Tensor& grad = sh.grad.defined() ? sh.grad : sh.param->grad;
    const backend::AdamWStep s{lr, cfg_.beta1, cfg_.beta2, cfg_.eps, sh.param->weight_decay ? cfg_.weight_decay : 0.f,
                               step_, grad_scale};
    if (!master_[i].defined()) {
      be.adamw_update(values_[i], grad, m_[i], v_[i], s);
      continue;
    }
    backend::AdamWStep with_copy = s;
    with_copy.rounded_copy = &values_[i];  // rounded to the compute dtype in the same pass
    be.adamw_update(master_[i], grad, m_[i], v_[i], with_copy);
  }
}

void AdamW::load_master_weights(size_t i, const Tensor& master) {
  if (master_[i].defined()) master_[i].copy_from(master);
  values_[i].copy_from(master);  // rounds into a 16-bit compute dtype
}

}  // namespace trident::optim
