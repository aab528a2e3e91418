// GEMM through oneDNN's matmul primitive. Transposes are expressed as
// strides, so no operand is ever copied; primitives are cached per shape
// because creating one (JIT code generation) costs far more than running it.
//
// Note [widened GEMMs]: oneDNN 2.6 (Debian 12's) creates a bf16 matmul only
// on CPUs with AVX-512 (fast with AVX512-BF16 or AMX), and an f16 matmul on
// none (f16 came in 2.7, for AVX512-FP16). Elsewhere (AVX2-only x86,
// aarch64) a 16-bit GEMM widens its operands to f32, which is exact, runs
// the f32 GEMM and rounds the f32 result once: what a 16-bit GEMM with f32
// accumulation computes, bit for bit. Widening costs O(MK + KN + MN) beside
// the GEMM's O(MNK) only if it is not repeated and allocates nothing:
// activations widen into reused scratch buffers, and weights, which do not
// change between optimizer steps (Note [fixed weights] in backend.h), widen
// once per step into f32 copies the backend keeps. Where oneDNN does have a
// 16-bit matmul, Note [when to widen] decides; TRIDENT_CPU_BF16=widen takes
// this path on any CPU, for measurements and tests.
#include <cstdlib>
#include <string>

#include "framework/backend/cpu/cpu_backend.h"
#include "framework/backend/cpu/element.h"
#include "framework/backend/gemm_shape.h"
#include "framework/backend/cpu/kernel_target.h"  // last: Note [kernel variants]

namespace trident::backend {
namespace {

dnnl::memory::data_type dnnl_type(DType t) {
  switch (t) {
    case DType::f32: return dnnl::memory::data_type::f32;
    case DType::bf16: return dnnl::memory::data_type::bf16;
    case DType::f16: return dnnl::memory::data_type::f16;
    default: TRIDENT_CHECK(false, "gemm of ", dtype_name(t), " tensors");
  }
  return dnnl::memory::data_type::undef;
}

// Descriptor of op(x) with dims (batch, rows, cols) where x is stored
// row-major either as (batch, rows, cols) or, transposed, (batch, cols, rows).
dnnl::memory::desc operand_desc(int64_t batch, int64_t rows, int64_t cols, bool trans, DType t) {
  const dnnl::memory::dims dims = {batch, rows, cols};
  const dnnl::memory::dims strides =
      trans ? dnnl::memory::dims{rows * cols, 1, rows} : dnnl::memory::dims{rows * cols, cols, 1};
  return dnnl::memory::desc(dims, dnnl_type(t), strides);
}

// The implementation oneDNN picks for a (256, 256) · (256, 256)ᵀ matmul of
// `t` operands and result, as its verbose mode names it ("brg:avx512_core"),
// or "" when it has none on this CPU.
std::string matmul_impl(const dnnl::engine& engine, DType t) {
  try {
    const dnnl::matmul::primitive_desc pd(
        dnnl::matmul::desc(operand_desc(1, 256, 256, false, t), operand_desc(1, 256, 256, true, t),
                           operand_desc(1, 256, 256, false, t)),
        engine);
    return pd.impl_info_str();
  } catch (const dnnl::error&) {
    return "";
  }
}

constexpr int64_t kParallelMin = 1 << 14;  // elements; below this, threads cost more than they save

// dst (rows, C), a 16-bit tensor, = src (rows, C) f32 + bias (C) in dst's
// dtype, rounded once.
template <typename T>
void narrow_bias_rows(const float* __restrict src, const T* __restrict bias, T* __restrict dst, int64_t rows,
                      int64_t C) {
#pragma omp parallel for schedule(static) if (rows * C >= kParallelMin)
  for (int64_t r = 0; r < rows; ++r) {
    const float* in = src + r * C;
    T* out = dst + r * C;
#pragma omp simd
    for (int64_t c = 0; c < C; ++c) out[c] = from_f32<T>(in[c] + to_f32(bias[c]));
  }
}

// dst (n) f32 = src (n), a 16-bit tensor; and back, rounding to nearest even.
void widen_into(const Tensor& src, float* dst) {
  convert(src.raw(), src.dtype(), dst, DType::f32, size_t(src.numel()));
}
void narrow_into(const float* src, Tensor& dst) {
  convert(src, DType::f32, dst.raw(), dst.dtype(), size_t(dst.numel()));
}

}  // namespace

void CpuBackend::choose_gemm_paths() {
  const char* env = std::getenv("TRIDENT_CPU_BF16");
  const std::string mode = env && *env ? env : "auto";
  if (mode != "auto" && mode != "widen" && mode != "native")
    throw UsageError("TRIDENT_CPU_BF16=" + mode +
                     " is not a choice: use auto (oneDNN's 16-bit GEMM where it runs on AMX, else widen to f32), "
                     "widen (always widen) or native (oneDNN's 16-bit GEMM wherever it has one)");
  const std::string f32 = matmul_impl(engine_, DType::f32);
  // Note [when to widen]: without AMX, oneDNN 2.6's AVX512-BF16 matmul was
  // measured slower than its f32 one on the same CPU (docs/decisions.md:
  // 0.53x the f32 GEMM peak, 0.64x the f32 training speed, where widening
  // reached 0.89x), so `auto` keeps the native 16-bit GEMM only on AMX.
  // The rule reads the implementation's name, not a timing, so every run on
  // one machine computes the same bits (a resume stays bitwise).
  auto choose = [&](DType t, bool& widen) {
    const std::string impl = matmul_impl(engine_, t);
    std::string why;
    if (impl.empty()) {
      why = "no native matmul here";
    } else if (mode == "widen") {
      why = "TRIDENT_CPU_BF16=widen";
    } else if (mode == "auto" && impl.find("amx") == std::string::npos) {
      why = "oneDNN's " + impl + " is slower than its f32 GEMM without AMX; TRIDENT_CPU_BF16=native uses it";
    }
    if (t == DType::bf16 && mode == "native" && impl.empty())
      throw UsageError("TRIDENT_CPU_BF16=native, but oneDNN has no bf16 matmul on this CPU: unset it");
    widen = !why.empty();
    return std::string(dtype_name(t)) + (widen ? " widened to f32 (" + why + ")" : " " + impl);
  };
  const std::string bf16 = choose(DType::bf16, widen_bf16_), f16 = choose(DType::f16, widen_f16_);
  const dnnl_version_t* v = dnnl_version();
  gemm_report_ = "oneDNN " + std::to_string(v->major) + "." + std::to_string(v->minor) + "." +
                 std::to_string(v->patch) + " matmul: f32 " + f32 + ", " + bf16 + ", " + f16;
  if (widen_bf16_ || widen_f16_)
    gemm_report_ += "; a widened GEMM computes in f32 and rounds once, as a native one does, and widens each weight "
                    "once per step";
}

bool CpuBackend::gemm_widens(DType dtype) const {
  return (dtype == DType::bf16 && widen_bf16_) || (dtype == DType::f16 && widen_f16_);
}

void CpuBackend::gemm(const Tensor& a, bool trans_a, const Tensor& b, bool trans_b, Tensor& c,
                      float alpha, float beta) {
  const auto [batch, M, N, K] = gemm_shape(a, trans_a, b, trans_b, c);
  if (M == 0 || N == 0) return;
  if (K == 0) {  // oneDNN rejects empty reductions; the product is zero
    if (beta == 0.f) c.zero_(); else scale(c, beta);
    return;
  }

  const GemmKey key{batch, M, N, K, trans_a, trans_b, int(a.dtype()), int(b.dtype()), int(c.dtype()), alpha, beta};
  auto it = gemm_cache_.find(key);
  if (it == gemm_cache_.end()) {
    const auto a_md = operand_desc(batch, M, K, trans_a, a.dtype());
    const auto b_md = operand_desc(batch, K, N, trans_b, b.dtype());
    const auto c_md = operand_desc(batch, M, N, false, c.dtype());
    if (gemm_widens(a.dtype())) {  // gemm_shape: b has a's dtype, c it or f32
      it = gemm_cache_.emplace(key, CachedGemm{dnnl::matmul(), a_md, b_md, c_md, true}).first;
    } else {
      dnnl::primitive_attr attr;
      if (alpha != 1.f) attr.set_output_scales(0, {alpha});
      if (beta != 0.f) {
        dnnl::post_ops ops;
        ops.append_sum(beta);
        attr.set_post_ops(ops);
      }
      try {
        const dnnl::matmul::primitive_desc pd(dnnl::matmul::desc(a_md, b_md, c_md), attr, engine_);
        it = gemm_cache_.emplace(key, CachedGemm{dnnl::matmul(pd), a_md, b_md, c_md, false}).first;
      } catch (const dnnl::error&) {
        if (a.dtype() == DType::f32) throw;
        // A shape the native 16-bit matmul does not take: widen it (remembered,
        // so the failed creation is not retried on every call).
        it = gemm_cache_.emplace(key, CachedGemm{dnnl::matmul(), a_md, b_md, c_md, true}).first;
      }
    }
  }
  const CachedGemm& g = it->second;
  if (g.widen_to_f32) {
    gemm_widened(a, trans_a, b, trans_b, c, alpha, beta);
    return;
  }
  dnnl::memory a_mem(g.a_md, engine_, a.raw());
  dnnl::memory b_mem(g.b_md, engine_, b.raw());
  dnnl::memory c_mem(g.c_md, engine_, c.raw());
  g.primitive.execute(stream_, {{DNNL_ARG_SRC, a_mem}, {DNNL_ARG_WEIGHTS, b_mem}, {DNNL_ARG_DST, c_mem}});
  stream_.wait();
}

void CpuBackend::gemm_widened(const Tensor& a, bool trans_a, const Tensor& b, bool trans_b, Tensor& c, float alpha,
                              float beta) {
  const Tensor a32 = widened(a, kWidenA), b32 = widened(b, kWidenB);
  if (c.dtype() == DType::f32) {
    gemm(a32, trans_a, b32, trans_b, c, alpha, beta);
    return;
  }
  Tensor c32 = scratch(kWidenC, c.shape());
  if (beta != 0.f) widen_into(c, c32.data<float>());
  gemm(a32, trans_a, b32, trans_b, c32, alpha, beta);
  narrow_into(c32.data<float>(), c);
}

void CpuBackend::linear_forward(const Tensor& x, const Tensor& w, const Tensor& b, Tensor& y) {
  if (!gemm_widens(x.dtype())) {
    Backend::linear_forward(x, w, b, y);
    return;
  }
  // The bias joins in f32 before the one rounding, as in the GPU's epilogue;
  // it also saves bias_add's pass over y.
  check_same_dtype("linear_forward", {&x, &w, &b, &y});
  const int64_t C = b.numel(), rows = y.numel() / C;
  TRIDENT_CHECK(y.size(-1) == C, "bias of ", C, " for rows of ", y.size(-1));
  Tensor y32 = scratch(kWidenC, y.shape());
  gemm(widened(x, kWidenA), false, widened(w, kWidenB), true, y32, 1.f, 0.f);
  cpu::dispatch_float(y.dtype(), "linear_forward", [&]<typename T>() {
    narrow_bias_rows(y32.data<float>(), b.data<T>(), y.data<T>(), rows, C);
  });
}

void CpuBackend::linear_backward(const Tensor& dy, const Tensor& x, const Tensor& w, Tensor& dx, Tensor& dw) {
  if (!gemm_widens(dy.dtype())) {
    Backend::linear_backward(dy, x, w, dx, dw);
    return;
  }
  const Tensor dy32 = widened(dy, kWidenDy);  // once, for both GEMMs
  gemm_widened(dy32, false, w, false, dx, 1.f, 0.f);
  gemm_widened(dy32, true, x, false, dw, 1.f, 1.f);
}

Tensor CpuBackend::widened(const Tensor& t, int slot) {
  if (t.dtype() == DType::f32) return t;
  if (weights_fixed_) {
    const auto it = widened_weights_.find(t.raw());
    if (it != widened_weights_.end() && it->second.numel == t.numel()) {
      WidenedWeight& w = it->second;
      if (!w.fresh) {
        if (!w.f32.defined()) w.f32 = Tensor::empty({w.numel});
        widen_into(t, w.f32.data<float>());
        w.fresh = true;
      }
      return w.f32.view(t.shape());
    }
  }
  Tensor out = scratch(slot, t.shape());
  widen_into(t, out.data<float>());
  return out;
}

void CpuBackend::begin_fixed_weights(const std::vector<const Tensor*>& ws) {
  TRIDENT_CHECK(!weights_fixed_, "begin_fixed_weights inside a fixed-weights span");
  // Buffers are kept from the last span by address and made on first use
  // (widened()): biases and norm weights never reach a GEMM.
  std::map<const void*, WidenedWeight> next;
  for (const Tensor* w : ws) {
    if (!gemm_widens(w->dtype())) continue;
    const auto it = widened_weights_.find(w->raw());
    const bool reuse = it != widened_weights_.end() && it->second.numel == w->numel();
    next.emplace(w->raw(), WidenedWeight{w->numel(), reuse ? it->second.f32 : Tensor(), false});
  }
  widened_weights_ = std::move(next);
  weights_fixed_ = true;  // last: a throw above leaves no span open
}

void CpuBackend::end_fixed_weights() {
  weights_fixed_ = false;
  for (auto& [ptr, w] : widened_weights_) w.fresh = false;
}

}  // namespace trident::backend
