#include "framework/backend/cpu/cpu_backend.h"

#include <omp.h>

#include <cstdint>
#include <cstdlib>
#if defined(__x86_64__) || defined(__i386__)
#include <xmmintrin.h>
#endif

#include "framework/core/error.h"
#include "framework/backend/cpu/kernel_target.h"  // last: Note [kernel variants]

namespace trident::backend {
namespace {

// Note [denormals]: as training goes on, tiny values (Adam's second
// moments of near-zero gradients, the tails of softmax and GELU) fall
// below f32's normal range, and x86 arithmetic on denormals takes a slow
// microcode path: a CPU run got 5-10% slower after a few hundred
// iterations (docs/decisions.md). Flush them to zero on the calling thread,
// as GPUs do in their fast paths: on x86 the MXCSR bits flush-to-zero (15)
// and denormals-are-zero (6); on aarch64 FPCR.FZ (bit 24), which does both.
void flush_denormals_on_this_thread() {
#if defined(__x86_64__) || defined(__i386__)
  constexpr unsigned kFlushToZero = 0x8000, kDenormalsAreZero = 0x0040;
  _mm_setcsr(_mm_getcsr() | kFlushToZero | kDenormalsAreZero);
#elif defined(__aarch64__)
  uint64_t fpcr;
  asm volatile("mrs %0, fpcr" : "=r"(fpcr));
  fpcr |= uint64_t(1) << 24;
  asm volatile("msr fpcr, %0" : : "r"(fpcr));
#endif
}

}  // namespace

std::unique_ptr<Backend> TRIDENT_CPU_VARIANT::make_cpu_backend_variant(int threads) {
  return std::make_unique<CpuBackend>(threads);
}

CpuBackend::CpuBackend(int threads)
    : threads_(threads), engine_(dnnl::engine::kind::cpu, 0), stream_(engine_) {
  TRIDENT_CHECK(threads >= 1, "the CPU backend needs at least one thread, got ", threads);
  // Debian's oneDNN uses the OpenMP runtime, so this one call sets the
  // budget for its GEMMs and for our own kernels alike.
  omp_set_num_threads(threads);
  // On this thread and every OpenMP worker; threads created later inherit
  // the setting. TRIDENT_KEEP_DENORMALS=1 keeps IEEE denormals, for comparison.
  if (!std::getenv("TRIDENT_KEEP_DENORMALS")) {
    flush_denormals_on_this_thread();
#pragma omp parallel
    flush_denormals_on_this_thread();
  }
  choose_gemm_paths();  // details() reports it; the trainer logs that at start
}

std::string CpuBackend::name() const {
  return "cpu(" + std::to_string(threads_) + " threads, " + kernel_variant_name() + " kernels)";
}

std::string CpuBackend::details() const { return kernel_variant_name() + " kernels; " + gemm_report_; }

Tensor CpuBackend::scratch(int slot, Shape shape) {
  if (scratch_.size() <= size_t(slot)) scratch_.resize(size_t(slot) + 1);
  Tensor& buf = scratch_[size_t(slot)];
  const int64_t n = shape_numel(shape);
  if (!buf.defined() || buf.numel() < n) buf = Tensor::empty({n});
  return buf.slice(0, n).view(std::move(shape));
}

}  // namespace trident::backend
