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
  CUDA_CHECK(cudaStreamSynchronize(be.stream_));
  start_ = now_seconds();
}

CudaBackend::OpScope::~OpScope() {
  if (g_op_depth > 0 && (be_ || g_op_depth > 1)) --g_op_depth;  // undo what the constructor counted
  if (!be_ || std::uncaught_exceptions()) return;
  cudaStreamSynchronize(be_->stream_);
  OpTotal& t = be_->profile_[key_];
  t.seconds += now_seconds() - start_;
  ++t.calls;
}

void CudaBackend::log_profile() const {
  std::vector<std::pair<std::string, OpTotal>> rows(profile_.begin(), profile_.end());
  std::sort(rows.begin(), rows.end(), [](const auto& a, const auto& b) { return a.second.seconds > b.second.seconds; });
  double total = 0.0;
  for (const auto& r : rows) total += r.second.seconds;
  // To stderr, not the log: asked for by the variable, and wanted whatever the log level.
  std::fprintf(stderr, "TRIDENT_CUDA_PROFILE: %.1f ms in backend operations (each synchronised)\n", total * 1e3);
  for (const auto& [key, t] : rows)
    std::fprintf(stderr, "  %9.2f ms %5.1f%% %7lld calls %9.1f us/call  %s\n", t.seconds * 1e3,
                 100.0 * t.seconds / total, static_cast<long long>(t.calls), t.seconds / double(t.calls) * 1e6,
                 key.c_str());
}

Tensor CudaBackend::scratch(int slot, Shape shape, DType dtype) {
  if (scratch_.size() <= size_t(slot)) scratch_.resize(size_t(slot) + 1);
  Tensor& buf = scratch_[size_t(slot)];
  const int64_t n = shape_numel(shape);
  if (!buf.defined() || buf.numel() < n || buf.dtype() != dtype) {
    buf = Tensor();  // release the old buffer before taking the new one
    buf = Tensor::empty({n}, dtype, Device::cuda);
  }
  return buf.slice(0, n).view(std::move(shape));
}

}  // namespace trident::backend::cuda
