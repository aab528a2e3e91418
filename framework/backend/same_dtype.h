// The dtype check every backend operation makes on the activation operands
// it requires to share one dtype (backend.h, "Conventions").
#pragma once

#include <initializer_list>

#include "framework/core/tensor.h"

namespace trident::backend {

// Checks that every tensor shares the dtype of the first; `op` names the caller.
inline void check_same_dtype(const char* op, std::initializer_list<const Tensor*> ts) {
  for (const Tensor* t : ts)
    TRIDENT_CHECK(t->dtype() == (*ts.begin())->dtype(), op, ": tensors of ", dtype_name((*ts.begin())->dtype()),
                  " and ", dtype_name(t->dtype()));
}

}  // namespace trident::backend
