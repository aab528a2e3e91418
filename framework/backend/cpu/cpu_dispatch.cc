// make_cpu_backend: picks the compilation of cpu/ that this CPU runs best,
// Note [kernel variants] in kernel_target.h. Compiled once, for any CPU of
// the build's architecture. TRIDENT_CPU_KERNELS=baseline forces the portable
// one (for tests and measurements); x86-64-v3 insists on the other.
#include <cstdlib>
#include <memory>
#include <string>

#include "framework/backend/backend.h"
#include "framework/core/error.h"

namespace trident::backend {

namespace baseline {
std::unique_ptr<Backend> make_cpu_backend_variant(int threads);
}
#if defined(TRIDENT_CPU_HAS_X86_64_V3)
namespace x86_64_v3 {
std::unique_ptr<Backend> make_cpu_backend_variant(int threads);
}
#endif

#if defined(TRIDENT_CPU_HAS_X86_64_V3)
namespace {

bool cpu_runs_x86_64_v3() {
  __builtin_cpu_init();
  return __builtin_cpu_supports("x86-64-v3");
}

}  // namespace
#endif

std::unique_ptr<Backend> make_cpu_backend(int threads) {
  const char* env = std::getenv("TRIDENT_CPU_KERNELS");
  const std::string want = env && *env ? env : "auto";
  if (want != "auto" && want != "baseline" && want != "x86-64-v3")
    throw UsageError("TRIDENT_CPU_KERNELS=" + want +
                     " is not a choice: use auto (the best this CPU runs), baseline or x86-64-v3");
#if defined(TRIDENT_CPU_HAS_X86_64_V3)
  if (want == "x86-64-v3" && !cpu_runs_x86_64_v3())
    throw UsageError("TRIDENT_CPU_KERNELS=x86-64-v3, but this CPU lacks AVX2, FMA or another x86-64-v3 feature: "
                     "unset it");
  if (want != "baseline" && cpu_runs_x86_64_v3()) return x86_64_v3::make_cpu_backend_variant(threads);
#else
  if (want == "x86-64-v3")
    throw UsageError("TRIDENT_CPU_KERNELS=x86-64-v3, but this build has no such kernels (TRIDENT_CPU_ARCH is set, "
                     "or the CPU is not x86-64): unset it");
#endif
  return baseline::make_cpu_backend_variant(threads);
}

}  // namespace trident::backend
