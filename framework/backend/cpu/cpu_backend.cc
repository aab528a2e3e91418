#include "framework/backend/cpu/cpu_backend.h"

#include <omp.h>

#include "framework/core/error.h"

namespace trident::backend {

std::unique_ptr<Backend> make_cpu_backend(int threads) { return std::make_unique<CpuBackend>(threads); }

CpuBackend::CpuBackend(int threads)
    : threads_(threads), engine_(dnnl::engine::kind::cpu, 0), stream_(engine_) {
  TRIDENT_CHECK(threads >= 1, "the CPU backend needs at least one thread, got ", threads);
  // Debian's oneDNN uses the OpenMP runtime, so this one call sets the
  // budget for its GEMMs and for our own kernels alike.
  omp_set_num_threads(threads);
}

std::string CpuBackend::name() const { return "cpu(" + std::to_string(threads_) + " threads)"; }

Tensor CpuBackend::scratch(int slot, Shape shape) {
  if (scratch_.size() <= size_t(slot)) scratch_.resize(size_t(slot) + 1);
  Tensor& buf = scratch_[size_t(slot)];
  const int64_t n = shape_numel(shape);
  if (!buf.defined() || buf.numel() < n) buf = Tensor::empty({n});
  return buf.slice(0, n).view(std::move(shape));
}

}  // namespace trident::backend
