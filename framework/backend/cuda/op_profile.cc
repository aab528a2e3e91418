// CudaBackend::OpScope and the TRIDENT_CUDA_PROFILE table (cuda_backend.h).
// A C++ file, not CUDA, like everything here that needs no device code.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <exception>
#include <vector>

#include "framework/backend/cuda/cuda_backend.h"
#include "framework/backend/cuda/cuda_check.h"

namespace trident::backend::cuda {

namespace {
int g_op_depth = 0;  // only the outermost operation is timed (attention's GEMMs count as attention)
double now_seconds() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}
}  // namespace

CudaBackend::OpScope::OpScope(CudaBackend& be, const char* op, const std::string& detail) {
  if (!be.profiling_) return;
  if (g_op_depth++ > 0) return;  // nested: the outer operation's time includes it
  be_ = &be;
  key_ = detail.empty() ? std::string(op) : std::string(op) + " " + detail;
  TRIDENT_LIB_CHECK(CudaRuntime, cudaStreamSynchronize(be.stream_));
  start_ = now_seconds();
}

CudaBackend::OpScope::~OpScope() {
  if (g_op_depth > 0 && (be_ || g_op_depth > 1)) --g_op_depth;  // undo what the constructor counted
  if (!be_ || std::uncaught_exceptions()) return;
  cudaStreamSynchronize(be_->stream_);
  const double seconds = now_seconds() - start_;
  OpTotal& t = be_->profile_[key_];
  if (t.first_call_seconds < 0.0) {  // the first call loads kernels and times GEMM algorithms: kept apart
    t.first_call_seconds = seconds;
    return;
  }
  t.seconds += seconds;
  ++t.calls;
}

void CudaBackend::log_profile() const {
  std::vector<std::pair<std::string, OpTotal>> rows(profile_.begin(), profile_.end());
  std::sort(rows.begin(), rows.end(), [](const auto& a, const auto& b) { return a.second.seconds > b.second.seconds; });
  double total = 0.0, first = 0.0;
  for (const auto& r : rows) {
    total += r.second.seconds;
    first += r.second.first_call_seconds;
  }
  // To stderr, not the log: asked for by the variable, and wanted whatever the log level.
  std::fprintf(stderr,
               "TRIDENT_CUDA_PROFILE: %.1f ms in backend operations (each synchronised), first call of each "
               "left out (%.1f ms: kernel loading, GEMM algorithm timing)\n",
               total * 1e3, first * 1e3);
  for (const auto& [key, t] : rows)
    if (t.calls > 0)
      std::fprintf(stderr, "  %9.2f ms %5.1f%% %7lld calls %9.1f us/call  %s\n", t.seconds * 1e3,
                   100.0 * t.seconds / total, static_cast<long long>(t.calls), t.seconds / double(t.calls) * 1e6,
                   key.c_str());
}

}  // namespace trident::backend::cuda
