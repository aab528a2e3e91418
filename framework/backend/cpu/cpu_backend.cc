#include "framework/backend/cpu/cpu_backend.h"

#include <omp.h>
#include <xmmintrin.h>

#include <cstdlib>

#include "framework/core/error.h"

namespace trident::backend {

std::unique_ptr<Backend> make_cpu_backend(int threads) { return std::make_unique<CpuBackend>(threads); }

CpuBackend::CpuBackend(int threads)
    : threads_(threads), engine_(dnnl::engine::kind::cpu, 0), stream_(engine_) {
  TRIDENT_CHECK(threads >= 1, "the CPU backend needs at least one thread, got ", threads);
  // Debian's oneDNN uses the OpenMP runtime, so this one call sets the
  // budget for its GEMMs and for our own kernels alike.
  omp_set_num_threads(threads);
  // Note [denormals]: as training goes on, tiny values (Adam's second
  // moments of near-zero gradients, the tails of softmax and GELU) fall
  // below f32's normal range, and x86 arithmetic on denormals takes a slow
  // microcode path: a CPU run got 5-10% slower after a few hundred
  // iterations (docs/decisions.md). Flush-to-zero and denormals-are-zero
  // (MXCSR bits 15 and 6) on this thread and every OpenMP worker, as GPUs
  // do by default in their fast paths; threads created later inherit them.
  // TRIDENT_KEEP_DENORMALS=1 keeps IEEE denormals, for comparison.
  if (!std::getenv("TRIDENT_KEEP_DENORMALS")) {
    constexpr unsigned kFlushToZero = 0x8000, kDenormalsAreZero = 0x0040;
    _mm_setcsr(_mm_getcsr() | kFlushToZero | kDenormalsAreZero);
#pragma omp parallel
    _mm_setcsr(_mm_getcsr() | kFlushToZero | kDenormalsAreZero);
  }
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
