// Global gradient-norm clipping: ‖g‖ over every parameter's main grad,
// counted once each; if ‖g‖ > max_norm every grad is scaled by
// max_norm / (‖g‖ + 1e-6), as Megatron-LM and torch.nn.utils do.
#pragma once

#include <vector>

#include "framework/backend/backend.h"
#include "framework/core/param.h"

namespace trident::optim {

// Returns the norm before clipping. max_norm <= 0 measures without clipping.
double clip_grad_norm(backend::Backend& be, const std::vector<Param*>& params, double max_norm);

}  // namespace trident::optim
