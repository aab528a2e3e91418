// Tests of every Backend operation of the CPU backend against plain float64
// references written here as loop nests.
//
// Forward operations are compared elementwise with the reference on random
// inputs, at an odd shape (primes such as 3×7×13, where tiling and indexing
// bugs show) and at a GPT-sized one. Backward operations are compared with
// central finite differences of the same float64 reference forward (Note
// [finite differences]), so no analytic gradient formula is trusted twice.
// Outputs start as NaN, so an element a kernel forgets to write fails;
// weight gradients start from a known prefill, so they must accumulate.
// Tolerances come from tests/support/tolerances.h (Note [tolerances]).
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <functional>
#include <iomanip>
#include <limits>
#include <numeric>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "framework/backend/backend.h"
#include "framework/core/error.h"
#include "framework/core/tensor.h"
#include "tests/support/tolerances.h"

namespace trident::backend {
namespace {

using test::Kind;
using test::Tolerance;
using test::tolerance;
using Vec = std::vector<double>;

// A GEMM's tolerance (Note [tolerances]): a dot product of K ≥ 64 terms is
// a reduction, and with N(0, 1) operands its values are of order √K; a
// shorter one is held to the elementwise tolerance, as any short sum.
Tolerance gemm_tolerance(DType out, int64_t K) {
  return K >= 64 ? tolerance(out, Kind::reduction).at_scale(std::sqrt(double(K))) : tolerance(out);
}

// ---------------------------------------------------------------------------
// Inputs and comparisons.

// f32 tensor of N(mean, stddev) values: never all zeros, so a kernel that
// writes nothing cannot pass.
Tensor random_tensor(Shape shape, std::mt19937& rng, double mean = 0.0, double stddev = 1.0) {
  Tensor t = Tensor::empty(std::move(shape));
  std::normal_distribution<float> dist{float(mean), float(stddev)};
  float* p = t.data<float>();
  for (int64_t i = 0; i < t.numel(); ++i) p[i] = dist(rng);
  return t;
}

// Outputs start as NaN: an element the kernel skips, or an output it reads
// before overwriting, shows up as a NaN in the comparison.
Tensor nan_tensor(Shape shape, DType dtype = DType::f32) {
  Tensor t = Tensor::empty(std::move(shape));
  float* p = t.data<float>();
  for (int64_t i = 0; i < t.numel(); ++i) p[i] = std::numeric_limits<float>::quiet_NaN();
  return dtype == DType::f32 ? t : t.to(dtype);  // not set() per element: each is an OpenMP region
}

// i32 ids uniform in [0, vocab).
Tensor random_tokens(Shape shape, int32_t vocab, std::mt19937& rng) {
  Tensor t = Tensor::empty(std::move(shape), DType::i32);
  std::uniform_int_distribution<int32_t> dist(0, vocab - 1);
  int32_t* p = t.data<int32_t>();
  for (int64_t i = 0; i < t.numel(); ++i) p[i] = dist(rng);
  return t;
}

std::vector<int32_t> to_ids(const Tensor& t) {
  const int32_t* p = t.data<int32_t>();
  return std::vector<int32_t>(p, p + t.numel());
}

Vec to_double(const Tensor& t) {
  const std::vector<float> v = t.to_vector();
  return Vec(v.begin(), v.end());
}

Vec plus(const Vec& a, const Vec& b) {
  Vec out(a.size());
  for (size_t i = 0; i < a.size(); ++i) out[i] = a[i] + b[i];
  return out;
}

Vec gather(const Vec& v, const std::vector<size_t>& at) {
  Vec out;
  for (size_t i : at) out.push_back(v[i]);
  return out;
}

// Elementwise |ours − ref| <= atol + rtol·|ref|, reporting the first bad
// index. Fails too when the reference is all zeros: such a check would pass
// a kernel that writes nothing.
void expect_close(const Vec& ours, const Vec& ref, Tolerance tol, const std::string& what) {
  ASSERT_EQ(ours.size(), ref.size()) << what;
  double max_ref = 0.0;
  for (double r : ref) max_ref = std::max(max_ref, std::abs(r));
  EXPECT_GT(max_ref, 0.0) << what << ": the reference is all zeros, so the check proves nothing";
  size_t bad = 0, first = 0;
  for (size_t i = 0; i < ref.size(); ++i) {
    const double err = std::abs(ours[i] - ref[i]);
    if (!(err <= tol.atol + tol.rtol * std::abs(ref[i])) && bad++ == 0) first = i;  // NaN fails too
  }
  if (bad == 0) return;
  ADD_FAILURE() << std::setprecision(9) << what << ": " << bad << " of " << ref.size()
                << " elements outside atol " << tol.atol << " rtol " << tol.rtol << "; first at index "
                << first << ": ours " << ours[first] << ", reference " << ref[first];
}

// Which elements a gradient check visits: all of a small tensor, `count`
// random ones of a large one (each costs two reference forwards).
std::vector<size_t> check_points(size_t n, std::mt19937& rng, size_t count = 24) {
  std::vector<size_t> at;
  if (n <= 2048) {
    at.resize(n);
    std::iota(at.begin(), at.end(), size_t(0));
    return at;
  }
  std::uniform_int_distribution<size_t> pick(0, n - 1);
  for (size_t k = 0; k < count; ++k) at.push_back(pick(rng));
  return at;
}

// Note [finite differences]
// The gradient of L(x) = Σ f(x)·R at the elements `at` of x, by central
// differences of the float64 reference f. The sum runs over
// (f(x + ε) − f(x − ε))·R, so outputs the step does not touch cancel exactly
// instead of burying the difference in the rounding of a large sum. With
// ε = 1e-6 in f64 the truncation error (ε²·f''') and the rounding error
// (1e-16/ε) are both far below the f32 tolerances.
Vec fd_gradient(const std::function<Vec(const Vec&)>& f, Vec x, const Vec& r, const std::vector<size_t>& at,
                double eps = 1e-6) {
  Vec grad;
  for (size_t i : at) {
    const double x0 = x[i];
    x[i] = x0 + eps;
    const Vec up = f(x);
    x[i] = x0 - eps;
    const Vec down = f(x);
    x[i] = x0;
    double d = 0.0;
    for (size_t j = 0; j < up.size(); ++j) d += (up[j] - down[j]) * r[j];
    grad.push_back(d / (2.0 * eps));
  }
  return grad;
}

// Checks an analytic gradient (f32, from a backward kernel) against finite
// differences of the reference, at all or some elements.
void expect_gradient(const Vec& analytic, const std::function<Vec(const Vec&)>& f, const Vec& x, const Vec& r,
                     const std::vector<size_t>& at, Tolerance tol, const std::string& what) {
  expect_close(gather(analytic, at), fd_gradient(f, x, r, at), tol, what + " vs finite differences");
}

// ---------------------------------------------------------------------------
// float64 references: the formulas of backend.h as plain loops.

// c = alpha·op(a)·op(b) + beta·c0 per batch; a is stored (M, K), or (K, M)
// when transposed, b (K, N) or (N, K).
Vec gemm_ref(const Vec& a, bool trans_a, const Vec& b, bool trans_b, const Vec& c0, int64_t batch, int64_t M,
             int64_t K, int64_t N, double alpha, double beta) {
  Vec c(size_t(batch * M * N));
  for (int64_t z = 0; z < batch; ++z) {
    const double* az = a.data() + z * M * K;
    const double* bz = b.data() + z * K * N;
    for (int64_t i = 0; i < M; ++i)
      for (int64_t j = 0; j < N; ++j) {
        double s = 0.0;
        for (int64_t k = 0; k < K; ++k)
          s += (trans_a ? az[k * M + i] : az[i * K + k]) * (trans_b ? bz[j * K + k] : bz[k * N + j]);
        const size_t o = size_t((z * M + i) * N + j);
        c[o] = alpha * s + (beta == 0.0 ? 0.0 : beta * c0[o]);  // beta = 0: c is not read
      }
  }
  return c;
}

// out (B·T, C) = wte[token − start] for tokens in the shard of V rows, else 0.
Vec embedding_ref(const std::vector<int32_t>& tokens, const Vec& wte, int64_t start, int64_t C) {
  const int64_t V = int64_t(wte.size()) / C;
  Vec out(tokens.size() * size_t(C), 0.0);
  for (size_t bt = 0; bt < tokens.size(); ++bt) {
    const int64_t v = tokens[bt] - start;
    if (v < 0 || v >= V) continue;
    for (int64_t c = 0; c < C; ++c) out[bt * C + c] = wte[size_t(v * C + c)];
  }
  return out;
}

// out (N, C) = (x − mean)·rstd·w + b per row, with the biased variance.
Vec layernorm_ref(const Vec& x, const Vec& w, const Vec& b, int64_t C, double eps, Vec* mean = nullptr,
                  Vec* rstd = nullptr) {
  const size_t N = x.size() / size_t(C);
  Vec out(x.size());
  if (mean) mean->assign(N, 0.0);
  if (rstd) rstd->assign(N, 0.0);
  for (size_t n = 0; n < N; ++n) {
    const double* row = x.data() + n * C;
    double mu = 0.0, var = 0.0;
    for (int64_t c = 0; c < C; ++c) mu += row[c];
    mu /= double(C);
    for (int64_t c = 0; c < C; ++c) var += (row[c] - mu) * (row[c] - mu);
    const double rs = 1.0 / std::sqrt(var / double(C) + eps);
    for (int64_t c = 0; c < C; ++c) out[n * C + c] = (row[c] - mu) * rs * w[c] + b[c];
    if (mean) (*mean)[n] = mu;
    if (rstd) (*rstd)[n] = rs;
  }
  return out;
}

double gelu_ref(double x) {
  return 0.5 * x * (1.0 + std::tanh(std::sqrt(2.0 / M_PI) * (x + 0.044715 * x * x * x)));
}

Vec gelu_ref(const Vec& x) {
  Vec out(x.size());
  for (size_t i = 0; i < x.size(); ++i) out[i] = gelu_ref(x[i]);
  return out;
}

// y (N, C) + b (C) broadcast over rows.
Vec bias_add_ref(const Vec& y, const Vec& b) {
  Vec out(y.size());
  for (size_t i = 0; i < y.size(); ++i) out[i] = y[i] + b[i % b.size()];
  return out;
}

// out (N, C) = x·rstd·w per row, rstd = 1/√(mean(x²) + eps).
Vec rmsnorm_ref(const Vec& x, const Vec& w, int64_t C, double eps, Vec* rstd = nullptr) {
  const size_t N = x.size() / size_t(C);
  Vec out(x.size());
  if (rstd) rstd->assign(N, 0.0);
  for (size_t n = 0; n < N; ++n) {
    const double* row = x.data() + n * C;
    double sum_sq = 0.0;
    for (int64_t c = 0; c < C; ++c) sum_sq += row[c] * row[c];
    const double rs = 1.0 / std::sqrt(sum_sq / double(C) + eps);
    for (int64_t c = 0; c < C; ++c) out[n * C + c] = row[c] * rs * w[c];
    if (rstd) (*rstd)[n] = rs;
  }
  return out;
}

// x (N, 2F) = [gate | up] per row -> out (N, F) = gate·sigmoid(gate)·up.
Vec swiglu_ref(const Vec& x, int64_t F) {
  const size_t N = x.size() / size_t(2 * F);
  Vec out(N * size_t(F));
  for (size_t n = 0; n < N; ++n)
    for (int64_t f = 0; f < F; ++f) {
      const double g = x[n * 2 * F + f], u = x[n * 2 * F + F + f];
      out[n * F + f] = g / (1.0 + std::exp(-g)) * u;
    }
  return out;
}

// RoPE of qkv (B, T, (H + 2G)·D): each Q and K head's pairs (x_i, x_{i+D/2}),
// i < D/2, turned by t·base^(−2i/D) at position t; V copied.
Vec rope_ref(const Vec& qkv, int64_t B, int64_t T, int64_t H, int64_t G, int64_t D, double base) {
  const int64_t W = (H + 2 * G) * D, half = D / 2;
  Vec out = qkv;
  for (int64_t b = 0; b < B; ++b)
    for (int64_t t = 0; t < T; ++t)
      for (int64_t h = 0; h < H + G; ++h)
        for (int64_t i = 0; i < half; ++i) {
          const double angle = double(t) * std::pow(base, -2.0 * double(i) / double(D));
          const size_t at = size_t((b * T + t) * W + h * D + i);
          const double x1 = qkv[at], x2 = qkv[at + size_t(half)];
          out[at] = x1 * std::cos(angle) - x2 * std::sin(angle);
          out[at + size_t(half)] = x2 * std::cos(angle) + x1 * std::sin(angle);
        }
  return out;
}

// Causal attention with grouped-query attention: qkv (B, T, (H + 2G)·D)
// holds Q | K | V, and query head h uses key/value head h mod G. Per
// (b, h, t) the softmax over j <= t of q_t·k_j/√D, then Σ_j p_j·v_j.
// out (B, T, H·D); probs (B, H, T, T). G = H is multi-head attention.
Vec attention_ref(const Vec& qkv, int64_t B, int64_t T, int64_t H, int64_t G, int64_t D, Vec* probs = nullptr) {
  const int64_t W = (H + 2 * G) * D, C = H * D;
  auto q = [&](int64_t b, int64_t t, int64_t h, int64_t d) { return qkv[size_t((b * T + t) * W + h * D + d)]; };
  auto k = [&](int64_t b, int64_t t, int64_t h, int64_t d) {
    return qkv[size_t((b * T + t) * W + C + (h % G) * D + d)];
  };
  auto v = [&](int64_t b, int64_t t, int64_t h, int64_t d) {
    return qkv[size_t((b * T + t) * W + C + G * D + (h % G) * D + d)];
  };
  Vec out(size_t(B * T * C), 0.0);
  if (probs) probs->assign(size_t(B * H * T * T), 0.0);
  Vec p(static_cast<size_t>(T));
  for (int64_t b = 0; b < B; ++b)
    for (int64_t h = 0; h < H; ++h)
      for (int64_t t = 0; t < T; ++t) {
        double mx = -std::numeric_limits<double>::infinity();
        for (int64_t j = 0; j <= t; ++j) {
          double s = 0.0;
          for (int64_t d = 0; d < D; ++d) s += q(b, t, h, d) * k(b, j, h, d);
          p[j] = s / std::sqrt(double(D));
          mx = std::max(mx, p[j]);
        }
        double sum = 0.0;
        for (int64_t j = 0; j <= t; ++j) sum += p[j] = std::exp(p[j] - mx);
        for (int64_t j = 0; j <= t; ++j) p[j] /= sum;
        for (int64_t d = 0; d < D; ++d) {
          double y = 0.0;
          for (int64_t j = 0; j <= t; ++j) y += p[j] * v(b, j, h, d);
          out[size_t((b * T + t) * C + h * D + d)] = y;
        }
        if (probs)
          for (int64_t j = 0; j <= t; ++j) (*probs)[size_t(((b * H + h) * T + t) * T + j)] = p[j];
      }
  return out;
}

// losses (N) = −log softmax(logits)[target]; probs (N, V) = softmax.
Vec cross_entropy_ref(const Vec& logits, const std::vector<int32_t>& targets, int64_t V, Vec* probs = nullptr) {
  const size_t N = targets.size();
  Vec losses(N);
  if (probs) probs->assign(logits.size(), 0.0);
  for (size_t n = 0; n < N; ++n) {
    const double* row = logits.data() + n * V;
    double mx = row[0], sum = 0.0;
    for (int64_t j = 1; j < V; ++j) mx = std::max(mx, row[j]);
    for (int64_t j = 0; j < V; ++j) sum += std::exp(row[j] - mx);
    losses[n] = std::log(sum) + mx - row[targets[n]];
    if (probs)
      for (int64_t j = 0; j < V; ++j) (*probs)[n * V + j] = std::exp(row[j] - mx) / sum;
  }
  return losses;
}

// ---------------------------------------------------------------------------

class CpuKernels : public ::testing::Test {
 protected:
  std::unique_ptr<Backend> be = make_cpu_backend(2);
  std::mt19937 rng{20240607};
};

// All four transpose combinations, 2-D and batched 3-D, with alpha ≠ 1 and
// beta = 0 (c overwritten, even when it holds NaN: attention hands gemm
// uninitialised scratch) and beta ≠ 0 (c accumulated). The alpha/beta pairs
// run back to back on one shape, so a primitive cached without its scales
// would give the wrong answer.
TEST_F(CpuKernels, Gemm) {
  struct Case {
    const char* name;
    bool batched;
    int64_t batch, M, K, N;
  };
  const Case cases[] = {
      {"odd 2-D", false, 1, 7, 13, 5},
      {"GPT 2-D", false, 1, 128, 256, 96},
      {"odd 3-D", true, 3, 7, 13, 5},
      {"attention P·V 3-D", true, 8, 64, 64, 32},
  };
  const struct {
    float alpha, beta;
  } scalings[] = {{1.f, 0.f}, {-0.75f, 0.f}, {1.f, 1.f}, {0.5f, 1.f}, {1.5f, 0.25f}};
  for (const Case& s : cases)
    for (bool trans_a : {false, true})
      for (bool trans_b : {false, true})
        for (const auto& [alpha, beta] : scalings) {
          std::ostringstream name;
          name << s.name << " trans_a " << trans_a << " trans_b " << trans_b << " alpha " << alpha << " beta "
               << beta;
          SCOPED_TRACE(name.str());
          auto shape = [&](int64_t rows, int64_t cols) {
            return s.batched ? Shape{s.batch, rows, cols} : Shape{rows, cols};
          };
          Tensor a = random_tensor(trans_a ? shape(s.K, s.M) : shape(s.M, s.K), rng);
          Tensor b = random_tensor(trans_b ? shape(s.N, s.K) : shape(s.K, s.N), rng);
          Tensor c = beta == 0.f ? nan_tensor(shape(s.M, s.N)) : random_tensor(shape(s.M, s.N), rng);
          const Vec c0 = to_double(c);
          be->gemm(a, trans_a, b, trans_b, c, alpha, beta);
          expect_close(to_double(c),
                       gemm_ref(to_double(a), trans_a, to_double(b), trans_b, c0, s.batch, s.M, s.K, s.N, alpha,
                                beta),
                       gemm_tolerance(DType::f32, s.K), "c");
        }
}

// bf16/f16 inputs with f32 accumulation, into an f32 c or a c of the input
// dtype. The reference takes the already-rounded inputs, so the f32 row of
// the table applies to an f32 c and the dtype's row to a rounded one.
TEST_F(CpuKernels, GemmReducedPrecision) {
  struct Case {
    const char* name;
    int64_t M, K, N;
  };
  const Case cases[] = {{"odd", 7, 13, 5}, {"GPT", 128, 256, 96}};
  for (DType in : {DType::bf16, DType::f16})
    for (DType out : {DType::f32, in})
      for (const Case& s : cases)
        for (bool trans_a : {false, true})
          for (bool trans_b : {false, true}) {
            std::ostringstream name;
            name << s.name << " " << dtype_name(in) << " -> " << dtype_name(out) << " trans_a " << trans_a
                 << " trans_b " << trans_b;
            SCOPED_TRACE(name.str());
            Tensor a = random_tensor(trans_a ? Shape{s.K, s.M} : Shape{s.M, s.K}, rng).to(in);
            Tensor b = random_tensor(trans_b ? Shape{s.N, s.K} : Shape{s.K, s.N}, rng).to(in);
            Tensor c = nan_tensor({s.M, s.N}, out);
            be->gemm(a, trans_a, b, trans_b, c, 1.f, 0.f);
            expect_close(to_double(c),
                         gemm_ref(to_double(a), trans_a, to_double(b), trans_b, {}, 1, s.M, s.K, s.N, 1.0, 0.0),
                         gemm_tolerance(out, s.K), "c");
          }
}

// Forward: a gather from a vocabulary shard (zero rows for tokens outside
// it). Backward: the scatter-add of dout into the rows its tokens select
// (the odd vocabulary of 11 for 21 tokens makes rows repeat, so the scatter
// must add, and leaves some rows unused). The "shard" cases hold ids
// [start, start + V) of a larger vocabulary, as tensor parallelism does.
TEST_F(CpuKernels, Embedding) {
  struct Case {
    const char* name;
    int64_t B, T, C, V, start, vocab;  // shard of V rows from `start` of a vocabulary of `vocab`
  };
  const Case cases[] = {{"odd", 3, 7, 13, 11, 0, 11}, {"GPT", 2, 64, 256, 1000, 0, 1000},
                        {"odd shard", 3, 7, 13, 6, 5, 11}, {"GPT shard", 2, 64, 256, 500, 500, 1000}};
  for (const Case& s : cases) {
    SCOPED_TRACE(s.name);
    Tensor tokens = random_tokens({s.B, s.T}, int32_t(s.vocab), rng);  // (B, T) i32
    Tensor wte = random_tensor({s.V, s.C}, rng);                       // (V, C) shard
    Tensor out = nan_tensor({s.B, s.T, s.C});                          // (B, T, C)
    const std::vector<int32_t> ids = to_ids(tokens);
    const Vec wte_d = to_double(wte);
    be->embedding_forward(tokens, wte, s.start, out);
    expect_close(to_double(out), embedding_ref(ids, wte_d, s.start, s.C), test::kExact, "out (a gather: exact)");

    // L = Σ out·R, so dout = R.
    Tensor dout = random_tensor({s.B, s.T, s.C}, rng);
    const Vec r = to_double(dout);
    Tensor dwte = Tensor::zeros({s.V, s.C});
    be->embedding_backward(tokens, dout, s.start, dwte);
    const Vec g_wte = to_double(dwte);
    // Unused rows of a large vocabulary have a zero gradient; visit used ones.
    std::vector<size_t> wte_points = check_points(size_t(s.V * s.C), rng);
    if (s.V * s.C > 2048) {
      std::uniform_int_distribution<int64_t> bt(0, s.B * s.T - 1), c(0, s.C - 1);
      for (size_t& i : wte_points) {
        const int64_t v = ids[size_t(bt(rng))] - s.start;
        if (v >= 0 && v < s.V) i = size_t(v * s.C + c(rng));
      }
    }
    expect_gradient(
        g_wte, [&](const Vec& w) { return embedding_ref(ids, w, s.start, s.C); }, wte_d, r, wte_points,
        tolerance(DType::f32), "dwte");

    // Accumulation: a prefilled buffer ends as prefill + the same gradient.
    Tensor acc_wte = random_tensor({s.V, s.C}, rng);
    const Vec pre_wte = to_double(acc_wte);
    be->embedding_backward(tokens, dout, s.start, acc_wte);
    expect_close(to_double(acc_wte), plus(pre_wte, g_wte), tolerance(DType::f32), "dwte accumulates");
  }
}

// Rows with a nonzero mean (0.5) and spread 2, so a one-pass variance
// would cancel; weights around 1, biases around 0.
TEST_F(CpuKernels, LayerNorm) {
  struct Case {
    const char* name;
    int64_t B, T, C;
  };
  const Case cases[] = {{"odd", 3, 7, 13}, {"GPT", 2, 64, 256}};
  const float eps = 1e-5f;
  for (const Case& s : cases) {
    SCOPED_TRACE(s.name);
    const int64_t N = s.B * s.T;
    Tensor x = random_tensor({s.B, s.T, s.C}, rng, 0.5, 2.0);  // (B, T, C)
    Tensor w = random_tensor({s.C}, rng, 1.0, 0.3);             // (C)
    Tensor b = random_tensor({s.C}, rng, 0.0, 0.5);             // (C)
    Tensor out = nan_tensor({s.B, s.T, s.C});
    Tensor mean = nan_tensor({N}), rstd = nan_tensor({N});
    const Vec x_d = to_double(x), w_d = to_double(w), b_d = to_double(b);
    Vec mean_ref, rstd_ref;
    const Vec out_ref = layernorm_ref(x_d, w_d, b_d, s.C, double(eps), &mean_ref, &rstd_ref);
    be->layernorm_forward(x, w, b, eps, out, mean, rstd);
    const Tolerance tol = tolerance(DType::f32);
    expect_close(to_double(out), out_ref, tol, "out");
    expect_close(to_double(mean), mean_ref, tol, "mean");
    expect_close(to_double(rstd), rstd_ref, tol, "rstd");

    Tensor dout = random_tensor({s.B, s.T, s.C}, rng);  // L = Σ out·R
    const Vec r = to_double(dout);
    Tensor dx = nan_tensor({s.B, s.T, s.C});
    Tensor dw = Tensor::zeros({s.C}), db = Tensor::zeros({s.C});
    be->layernorm_backward(dout, x, w, mean, rstd, dx, dw, db);
    const Vec g_w = to_double(dw), g_b = to_double(db);
    expect_gradient(
        to_double(dx), [&](const Vec& v) { return layernorm_ref(v, w_d, b_d, s.C, double(eps)); }, x_d, r,
        check_points(x_d.size(), rng), tol, "dx");
    expect_gradient(
        g_w, [&](const Vec& v) { return layernorm_ref(x_d, v, b_d, s.C, double(eps)); }, w_d, r,
        check_points(w_d.size(), rng), tol, "dw");
    expect_gradient(
        g_b, [&](const Vec& v) { return layernorm_ref(x_d, w_d, v, s.C, double(eps)); }, b_d, r,
        check_points(b_d.size(), rng), tol, "db");

    Tensor acc_w = random_tensor({s.C}, rng), acc_b = random_tensor({s.C}, rng);
    const Vec pre_w = to_double(acc_w), pre_b = to_double(acc_b);
    be->layernorm_backward(dout, x, w, mean, rstd, dx, acc_w, acc_b);
    expect_close(to_double(acc_w), plus(pre_w, g_w), tol, "dw accumulates");
    expect_close(to_double(acc_b), plus(pre_b, g_b), tol, "db accumulates");
  }
}

// Inputs of spread 3 reach |x| ≈ 10, where the tanh saturates and the
// kernel's exp clamps; GELU is elementwise.
TEST_F(CpuKernels, Gelu) {
  const std::pair<const char*, Shape> cases[] = {{"odd", {3, 7, 13}}, {"GPT MLP", {2, 64, 1024}}};
  for (const auto& [name, shape] : cases) {
    SCOPED_TRACE(name);
    Tensor x = random_tensor(shape, rng, 0.0, 3.0);
    Tensor out = nan_tensor(shape);
    const Vec x_d = to_double(x);
    be->gelu_forward(x, out);
    expect_close(to_double(out), gelu_ref(x_d), tolerance(DType::f32), "out");

    Tensor dout = random_tensor(shape, rng);  // L = Σ out·R
    Tensor dx = nan_tensor(shape);
    be->gelu_backward(x, dout, dx);
    expect_gradient(
        to_double(dx), [](const Vec& v) { return gelu_ref(v); }, x_d, to_double(dout),
        check_points(x_d.size(), rng, 64), tolerance(DType::f32), "dx");
  }
}

// bias_add adds in place; bias_backward sums the rows of dy into db.
TEST_F(CpuKernels, Bias) {
  const std::pair<const char*, Shape> cases[] = {{"odd", {3, 7, 13}}, {"GPT qkv", {2, 64, 768}}};
  for (const auto& [name, shape] : cases) {
    SCOPED_TRACE(name);
    const int64_t C = shape.back();
    Tensor y = random_tensor(shape, rng);  // (B, T, C)
    Tensor b = random_tensor({C}, rng);  // (C)
    const Vec y_d = to_double(y), b_d = to_double(b);
    be->bias_add(y, b);
    expect_close(to_double(y), bias_add_ref(y_d, b_d), tolerance(DType::f32), "y + b");

    Tensor dy = random_tensor(shape, rng);  // L = Σ (y + b)·R
    Tensor db = Tensor::zeros({C});
    be->bias_backward(dy, db);
    const Vec g_b = to_double(db);
    expect_gradient(
        g_b, [&](const Vec& v) { return bias_add_ref(y_d, v); }, b_d, to_double(dy), check_points(size_t(C), rng),
        tolerance(DType::f32), "db");

    Tensor acc = random_tensor({C}, rng);
    const Vec pre = to_double(acc);
    be->bias_backward(dy, acc);
    expect_close(to_double(acc), plus(pre, g_b), tolerance(DType::f32), "db accumulates");
  }
}

// The residual connection writes over one of its inputs: out may alias a or b.
TEST_F(CpuKernels, Add) {
  const std::pair<const char*, Shape> cases[] = {{"odd", {3, 7, 13}}, {"GPT", {2, 64, 256}}};
  for (const auto& [name, shape] : cases) {
    SCOPED_TRACE(name);
    Tensor a = random_tensor(shape, rng), b = random_tensor(shape, rng);
    const Vec a_d = to_double(a), b_d = to_double(b), ref = plus(a_d, b_d);
    Tensor out = nan_tensor(shape);
    be->add(a, b, out);
    expect_close(to_double(out), ref, tolerance(DType::f32), "out separate");
    be->add(a, b, a);
    expect_close(to_double(a), ref, tolerance(DType::f32), "out aliasing a");
    be->add(Tensor::from_vector(std::vector<float>(a_d.begin(), a_d.end()), shape), b, b);
    expect_close(to_double(b), ref, tolerance(DType::f32), "out aliasing b");
  }
}

// Causal self-attention: out and the saved probabilities (zero above the
// diagonal), then dqkv against finite differences through Q, K and V. The
// odd case checks every element of qkv, so causality is checked too: a
// future key that leaked into an earlier output would change the gradient.
TEST_F(CpuKernels, Attention) {
  struct Case {
    const char* name;
    int64_t B, T, C, H;
  };
  const Case cases[] = {{"odd", 3, 7, 12, 3}, {"GPT", 2, 64, 256, 4}};
  for (const Case& s : cases) {
    SCOPED_TRACE(s.name);
    const Tolerance tol = tolerance(DType::f32);
    Tensor qkv = random_tensor({s.B, s.T, 3 * s.C}, rng);  // (B, T, 3C)
    Tensor out = nan_tensor({s.B, s.T, s.C});               // (B, T, C)
    Tensor probs = nan_tensor({s.B, s.H, s.T, s.T});        // (B, H, T, T)
    const Vec qkv_d = to_double(qkv);
    Vec probs_ref;
    const Vec out_ref = attention_ref(qkv_d, s.B, s.T, s.H, s.H, s.C / s.H, &probs_ref);
    be->attention_forward(qkv, int(s.H), int(s.H), out, probs);
    expect_close(to_double(out), out_ref, tol, "out");
    expect_close(to_double(probs), probs_ref, tol, "probs");

    Tensor dout = random_tensor({s.B, s.T, s.C}, rng);  // L = Σ out·R
    Tensor dqkv = nan_tensor({s.B, s.T, 3 * s.C});
    be->attention_backward(dout, qkv, out, probs, int(s.H), int(s.H), dqkv);
    std::vector<size_t> points = check_points(qkv_d.size(), rng);
    if (qkv_d.size() > 2048) {  // a third each in the Q, K and V columns
      std::uniform_int_distribution<int64_t> bt(0, s.B * s.T - 1), c(0, s.C - 1);
      for (size_t k = 0; k < points.size(); ++k) points[k] = size_t(bt(rng) * 3 * s.C + int64_t(k % 3) * s.C + c(rng));
    }
    expect_gradient(
        to_double(dqkv), [&](const Vec& v) { return attention_ref(v, s.B, s.T, s.H, s.H, s.C / s.H); }, qkv_d,
        to_double(dout), points, tol, "dqkv");
  }
}

// ---------------------------------------------------------------------------
// Llama's pieces: RMS norm, SwiGLU, RoPE and grouped-query attention. Each
// runs in every activation dtype: inputs rounded to it, so the float64
// references see exactly the kernel's inputs, and outputs checked with that
// dtype's tolerance (f32 ones, such as rstd and weight gradients, with f32's).

constexpr DType kActivationDtypes[] = {DType::f32, DType::bf16, DType::f16};

// Rows of nonzero mean (0.5) and spread 2, weights around 1. dw accumulates.
TEST_F(CpuKernels, RmsNorm) {
  struct Case {
    const char* name;
    int64_t N, C;
  };
  const Case cases[] = {{"odd", 21, 13}, {"Llama", 128, 256}};
  const float eps = 1e-5f;
  for (DType dt : kActivationDtypes)
    for (const Case& s : cases) {
      SCOPED_TRACE(testing::Message() << dtype_name(dt) << " " << s.name);
      const Tolerance tol = tolerance(dt), tol32 = tolerance(DType::f32);
      Tensor x = random_tensor({s.N, s.C}, rng, 0.5, 2.0).to(dt);  // (N, C)
      Tensor w = random_tensor({s.C}, rng, 1.0, 0.3).to(dt);       // (C)
      Tensor out = nan_tensor({s.N, s.C}, dt), rstd = nan_tensor({s.N});
      const Vec x_d = to_double(x), w_d = to_double(w);
      Vec rstd_ref;
      const Vec out_ref = rmsnorm_ref(x_d, w_d, s.C, double(eps), &rstd_ref);
      be->rmsnorm_forward(x, w, eps, out, rstd);
      expect_close(to_double(out), out_ref, tol, "out");
      expect_close(to_double(rstd), rstd_ref, tol32, "rstd (f32)");

      Tensor dout = random_tensor({s.N, s.C}, rng).to(dt);  // L = Σ out·R
      const Vec r = to_double(dout);
      Tensor dx = nan_tensor({s.N, s.C}, dt), dw = Tensor::zeros({s.C});
      be->rmsnorm_backward(dout, x, w, rstd, dx, dw);
      const Vec g_w = to_double(dw);
      expect_gradient(to_double(dx), [&](const Vec& v) { return rmsnorm_ref(v, w_d, s.C, double(eps)); }, x_d, r,
                      check_points(x_d.size(), rng), tol, "dx");
      expect_gradient(g_w, [&](const Vec& v) { return rmsnorm_ref(x_d, v, s.C, double(eps)); }, w_d, r,
                      check_points(w_d.size(), rng), tol32, "dw (f32)");

      Tensor acc_w = random_tensor({s.C}, rng);
      const Vec pre_w = to_double(acc_w);
      be->rmsnorm_backward(dout, x, w, rstd, dx, acc_w);
      expect_close(to_double(acc_w), plus(pre_w, g_w), tol32, "dw accumulates");
    }
}

// [gate | up] rows; inputs of spread 3 reach |gate| ≈ 10, where the sigmoid
// saturates and the kernel's exp clamps.
TEST_F(CpuKernels, SwiGlu) {
  struct Case {
    const char* name;
    int64_t N, F;
  };
  const Case cases[] = {{"odd", 21, 13}, {"Llama MLP", 64, 688}};
  for (DType dt : kActivationDtypes)
    for (const Case& s : cases) {
      SCOPED_TRACE(testing::Message() << dtype_name(dt) << " " << s.name);
      const Tolerance tol = tolerance(dt);
      Tensor x = random_tensor({s.N, 2 * s.F}, rng, 0.0, 3.0).to(dt);  // (N, 2F)
      Tensor out = nan_tensor({s.N, s.F}, dt);                          // (N, F)
      const Vec x_d = to_double(x);
      be->swiglu_forward(x, out);
      expect_close(to_double(out), swiglu_ref(x_d, s.F), tol, "out");

      Tensor dout = random_tensor({s.N, s.F}, rng).to(dt);  // L = Σ out·R
      Tensor dx = nan_tensor({s.N, 2 * s.F}, dt);
      be->swiglu_backward(x, dout, dx);
      expect_gradient(to_double(dx), [&](const Vec& v) { return swiglu_ref(v, s.F); }, x_d, to_double(dout),
                      check_points(x_d.size(), rng, 64), tol, "dx");
    }
  // No gate and up columns: refused before the row count divides by the width.
  Tensor empty = Tensor::empty({4, 0}), none = Tensor::empty({4, 0});
  EXPECT_THROW(be->swiglu_forward(empty, none), Error);
  EXPECT_THROW(be->swiglu_backward(empty, none, none), Error);
}

// RoPE in place on the Q and K heads of a grouped-query qkv: forward against
// the float64 rotation, backward (the inverse rotation of the gradient)
// against finite differences of it. V's columns and position 0 (angle 0)
// come through exactly, in both directions; in f32, backward undoes forward
// (in 16-bit the two roundings between them are not undone).
TEST_F(CpuKernels, Rope) {
  struct Case {
    const char* name;
    int64_t B, T, H, G, D;
    float base;
  };
  const Case cases[] = {{"odd", 3, 7, 3, 1, 6, 10000.f}, {"Llama", 2, 64, 4, 2, 64, 500000.f}};
  for (DType dt : kActivationDtypes)
    for (const Case& s : cases) {
      SCOPED_TRACE(testing::Message() << dtype_name(dt) << " " << s.name);
      const Tolerance tol = tolerance(dt);
      const int64_t W = (s.H + 2 * s.G) * s.D, QK = (s.H + s.G) * s.D;  // Q and K: the first QK columns
      auto rope = [&](const Vec& v) { return rope_ref(v, s.B, s.T, s.H, s.G, s.D, double(s.base)); };
      // Elements of a that differ from b's among V's columns and position 0.
      auto moved = [&](const Vec& a, const Vec& b) {
        int64_t count = 0;
        for (int64_t bt = 0; bt < s.B * s.T; ++bt)
          for (int64_t c = 0; c < W; ++c)
            if ((c >= QK || bt % s.T == 0) && a[size_t(bt * W + c)] != b[size_t(bt * W + c)]) ++count;
        return count;
      };

      Tensor x = random_tensor({s.B, s.T, W}, rng).to(dt);  // (B, T, (H + 2G)·D)
      const Vec x_d = to_double(x);
      Tensor y = x.clone();
      be->rope_forward(y, int(s.H), int(s.G), s.base);
      const Vec y_d = to_double(y);
      expect_close(y_d, rope(x_d), tol, "forward");
      EXPECT_EQ(moved(y_d, x_d), 0) << "forward changed V or position 0";

      Tensor dqkv = random_tensor({s.B, s.T, W}, rng).to(dt);  // L = Σ rope(x)·R
      const Vec r = to_double(dqkv);
      be->rope_backward(dqkv, int(s.H), int(s.G), s.base);
      const Vec g = to_double(dqkv);
      expect_gradient(g, rope, x_d, r, check_points(x_d.size(), rng), tol, "backward");
      EXPECT_EQ(moved(g, r), 0) << "backward changed V or position 0";

      if (dt == DType::f32) {
        be->rope_backward(y, int(s.H), int(s.G), s.base);
        expect_close(to_double(y), x_d, tol, "backward(forward(x)) = x");
      }
    }
  Tensor odd_head = random_tensor({1, 2, 3 * 5}, rng);  // D = 5: no rotary pairs
  EXPECT_THROW(be->rope_forward(odd_head, 1, 1, 10000.f), Error);
}

// The angle table is kept per (head size, base) for the longest sequence yet and grows by doubling
// (trident-generate adds a token at a time): a shorter or a longer sequence afterwards gets the same
// bits as from a backend that never saw another length.
TEST_F(CpuKernels, RopeTableServesEveryLength) {
  for (const int64_t T : {9, 4, 10, 19}) {
    SCOPED_TRACE(testing::Message() << "T " << T);
    const Tensor x = random_tensor({2, T, 3 * 8}, rng);  // H = G = 1, D = 8
    Tensor cached = x.clone(), fresh = x.clone();
    be->rope_forward(cached, 1, 1, 10000.f);
    make_cpu_backend(2)->rope_forward(fresh, 1, 1, 10000.f);
    EXPECT_EQ(to_double(cached), to_double(fresh));
  }
}

// Grouped-query attention, H = 4 query heads on G = 2, 1 and 4 key/value
// heads, against the float64 reference, where query head h uses key/value
// head h mod G. (With G = 2 that differs from h / (H/G); the finite
// differences through K and V tell them apart.) A key/value head's gradient
// sums over the query heads it serves.
TEST_F(CpuKernels, GroupedQueryAttention) {
  struct Case {
    const char* name;
    int64_t B, T, H, G, D;
  };
  const Case cases[] = {{"odd G=2", 2, 7, 4, 2, 5},       {"odd G=1", 2, 7, 4, 1, 5},
                        {"odd G=H", 2, 7, 4, 4, 5},       {"Llama G=2", 2, 64, 4, 2, 32},
                        {"Llama G=1", 2, 32, 4, 1, 64}};
  for (DType dt : kActivationDtypes)
    for (const Case& s : cases) {
      SCOPED_TRACE(testing::Message() << dtype_name(dt) << " " << s.name);
      const Tolerance tol = tolerance(dt), tol32 = tolerance(DType::f32);
      const int64_t C = s.H * s.D, KV = s.G * s.D, W = C + 2 * KV;
      Tensor qkv = random_tensor({s.B, s.T, W}, rng).to(dt);  // (B, T, (H + 2G)·D)
      Tensor out = nan_tensor({s.B, s.T, C}, dt);              // (B, T, H·D)
      Tensor probs = nan_tensor({s.B, s.H, s.T, s.T});         // (B, H, T, T)
      const Vec qkv_d = to_double(qkv);
      Vec probs_ref;
      const Vec out_ref = attention_ref(qkv_d, s.B, s.T, s.H, s.G, s.D, &probs_ref);
      be->attention_forward(qkv, int(s.H), int(s.G), out, probs);
      expect_close(to_double(out), out_ref, tol, "out");
      expect_close(to_double(probs), probs_ref, tol32, "probs (f32)");

      Tensor dout = random_tensor({s.B, s.T, C}, rng).to(dt);  // L = Σ out·R
      Tensor dqkv = nan_tensor({s.B, s.T, W}, dt);
      be->attention_backward(dout, qkv, out, probs, int(s.H), int(s.G), dqkv);
      std::vector<size_t> points = check_points(qkv_d.size(), rng);
      if (qkv_d.size() > 2048) {  // a third each in the Q, K and V columns
        const int64_t first[3] = {0, C, C + KV}, width[3] = {C, KV, KV};
        std::uniform_int_distribution<int64_t> bt(0, s.B * s.T - 1);
        for (size_t k = 0; k < points.size(); ++k) {
          std::uniform_int_distribution<int64_t> c(0, width[k % 3] - 1);
          points[k] = size_t(bt(rng) * W + first[k % 3] + c(rng));
        }
      }
      expect_gradient(to_double(dqkv), [&](const Vec& v) { return attention_ref(v, s.B, s.T, s.H, s.G, s.D); },
                      qkv_d, to_double(dout), points, tol, "dqkv");
    }
  Tensor qkv = random_tensor({1, 3, (4 + 2 * 3) * 2}, rng), out = Tensor::empty({1, 3, 8});
  Tensor probs = Tensor::empty({1, 4, 3, 3});
  EXPECT_THROW(be->attention_forward(qkv, 4, 3, out, probs), Error);  // 4 query heads in 3 groups
}

// GQA is multi-head attention on K and V heads repeated for every query head
// (slot h holding key/value head h mod G): the same GEMMs on the same
// numbers, so out, probs and dQ agree bit for bit. dK and dV are the sums of
// the repeated heads' gradients (checked in f32, where the 16-bit rounding of
// each head's gradient before the sum does not blur the comparison).
TEST_F(CpuKernels, GroupedQueryAttentionIsRepeatedHeads) {
  const int64_t B = 2, T = 16, H = 4, D = 8, C = H * D;
  for (DType dt : kActivationDtypes)
    for (int64_t G : {1, 2}) {
      SCOPED_TRACE(testing::Message() << dtype_name(dt) << " G=" << G);
      const int64_t W = (H + 2 * G) * D;
      Tensor qkv = random_tensor({B, T, W}, rng).to(dt), dout = random_tensor({B, T, C}, rng).to(dt);
      const Vec qkv_d = to_double(qkv);
      std::vector<float> repeated;  // (B, T, 3C): Q | K heads h mod G | V heads h mod G
      for (int64_t bt = 0; bt < B * T; ++bt) {
        const double* row = qkv_d.data() + bt * W;
        for (int64_t c = 0; c < C; ++c) repeated.push_back(float(row[c]));
        for (int64_t which : {0, 1})  // K, V
          for (int64_t h = 0; h < H; ++h)
            for (int64_t d = 0; d < D; ++d) repeated.push_back(float(row[C + which * G * D + (h % G) * D + d]));
      }
      Tensor qkv_mha = Tensor::from_vector(repeated, {B, T, 3 * C}, dt);  // exact: values of dt

      Tensor out = nan_tensor({B, T, C}, dt), out_mha = nan_tensor({B, T, C}, dt);
      Tensor probs = nan_tensor({B, H, T, T}), probs_mha = nan_tensor({B, H, T, T});
      be->attention_forward(qkv, int(H), int(G), out, probs);
      be->attention_forward(qkv_mha, int(H), int(H), out_mha, probs_mha);
      expect_close(to_double(out), to_double(out_mha), test::kExact, "out");
      expect_close(to_double(probs), to_double(probs_mha), test::kExact, "probs");

      Tensor dqkv = nan_tensor({B, T, W}, dt), dqkv_mha = nan_tensor({B, T, 3 * C}, dt);
      be->attention_backward(dout, qkv, out, probs, int(H), int(G), dqkv);
      be->attention_backward(dout, qkv_mha, out_mha, probs_mha, int(H), int(H), dqkv_mha);
      const Vec g = to_double(dqkv), g_mha = to_double(dqkv_mha);
      Vec dq, dq_mha, dkv, dkv_summed;
      for (int64_t bt = 0; bt < B * T; ++bt) {
        for (int64_t c = 0; c < C; ++c) {
          dq.push_back(g[size_t(bt * W + c)]);
          dq_mha.push_back(g_mha[size_t(bt * 3 * C + c)]);
        }
        for (int64_t which : {0, 1})
          for (int64_t kv = 0; kv < G; ++kv)
            for (int64_t d = 0; d < D; ++d) {
              dkv.push_back(g[size_t(bt * W + C + which * G * D + kv * D + d)]);
              double sum = 0.0;
              for (int64_t h = kv; h < H; h += G) sum += g_mha[size_t(bt * 3 * C + (1 + which) * C + h * D + d)];
              dkv_summed.push_back(sum);
            }
      }
      expect_close(dq, dq_mha, test::kExact, "dQ");
      if (dt == DType::f32) expect_close(dkv, dkv_summed, tolerance(DType::f32), "dK, dV = Σ over each group");
    }
}

// Every activation kernel with bf16 and f16 operands (the mixed-precision
// compute dtypes): inputs are rounded to the dtype first and the float64
// references see exactly those rounded values, so what remains is the
// kernel's f32 arithmetic and one rounding of each 16-bit output: checked
// with that dtype's elementwise tolerance (Note [tolerances]). f32 outputs
// (statistics, probabilities, weight gradients) keep the f32 tolerance, and
// copies are exact. Backward outputs are checked against finite differences
// of the float64 references.
TEST_F(CpuKernels, ReducedPrecisionActivations) {
  struct Case {
    const char* name;
    int64_t B, T, C, H, V;
  };
  const Case cases[] = {{"odd", 3, 7, 12, 3, 11}, {"GPT", 2, 32, 128, 4, 300}};
  for (DType dt : {DType::bf16, DType::f16}) {
    for (const Case& s : cases) {
      SCOPED_TRACE(testing::Message() << dtype_name(dt) << " " << s.name);
      const Tolerance tol16 = tolerance(dt), tol32 = tolerance(DType::f32);
      auto rounded = [&](Shape shape, double mean = 0.0, double sd = 1.0) {
        return random_tensor(std::move(shape), rng, mean, sd).to(dt);
      };
      const int64_t N = s.B * s.T;

      // Embedding: a copy (exact), and an f32 gradient from 16-bit dout.
      Tensor tokens = random_tokens({s.B, s.T}, int32_t(s.V), rng);
      Tensor wte = rounded({s.V, s.C}), emb = nan_tensor({s.B, s.T, s.C}, dt);
      const std::vector<int32_t> ids = to_ids(tokens);
      be->embedding_forward(tokens, wte, 0, emb);
      expect_close(to_double(emb), embedding_ref(ids, to_double(wte), 0, s.C), test::kExact, "embedding");
      Tensor demb = rounded({s.B, s.T, s.C}), dwte = Tensor::zeros({s.V, s.C});
      be->embedding_backward(tokens, demb, 0, dwte);
      Vec dwte_ref(size_t(s.V * s.C), 0.0);
      const Vec demb_d = to_double(demb);
      for (int64_t bt = 0; bt < N; ++bt)
        for (int64_t c = 0; c < s.C; ++c) dwte_ref[size_t(ids[size_t(bt)] * s.C + c)] += demb_d[size_t(bt * s.C + c)];
      expect_close(to_double(dwte), dwte_ref, tol32, "dwte (f32)");

      // Layer norm.
      Tensor x = rounded({N, s.C}, 0.5, 2.0), w = rounded({s.C}, 1.0, 0.3), b = rounded({s.C}, 0.0, 0.5);
      Tensor out = nan_tensor({N, s.C}, dt), mean = nan_tensor({N}), rstd = nan_tensor({N});
      const Vec x_d = to_double(x), w_d = to_double(w), b_d = to_double(b);
      Vec mean_ref, rstd_ref;
      const Vec ln_ref = layernorm_ref(x_d, w_d, b_d, s.C, 1e-5, &mean_ref, &rstd_ref);
      be->layernorm_forward(x, w, b, 1e-5f, out, mean, rstd);
      expect_close(to_double(out), ln_ref, tol16, "layernorm out");
      expect_close(to_double(rstd), rstd_ref, tol32, "layernorm rstd (f32)");
      Tensor dout = rounded({N, s.C}), dx = nan_tensor({N, s.C}, dt);
      Tensor dw = Tensor::zeros({s.C}), db = Tensor::zeros({s.C});
      be->layernorm_backward(dout, x, w, mean, rstd, dx, dw, db);
      const Vec r = to_double(dout);
      expect_gradient(to_double(dx), [&](const Vec& v) { return layernorm_ref(v, w_d, b_d, s.C, 1e-5); }, x_d, r,
                      check_points(x_d.size(), rng), tol16, "layernorm dx");
      expect_gradient(to_double(dw), [&](const Vec& v) { return layernorm_ref(x_d, v, b_d, s.C, 1e-5); }, w_d, r,
                      check_points(w_d.size(), rng), tol32, "layernorm dw (f32)");

      // GELU, bias, add.
      Tensor g = rounded({N, s.C}, 0.0, 3.0), gout = nan_tensor({N, s.C}, dt), gdx = nan_tensor({N, s.C}, dt);
      const Vec g_d = to_double(g);
      be->gelu_forward(g, gout);
      expect_close(to_double(gout), gelu_ref(g_d), tol16, "gelu");
      be->gelu_backward(g, dout, gdx);
      expect_gradient(to_double(gdx), [&](const Vec& v) { return gelu_ref(v); }, g_d, r,
                      check_points(g_d.size(), rng, 64), tol16, "gelu dx");
      Tensor y = x.clone();
      be->bias_add(y, b);
      expect_close(to_double(y), bias_add_ref(x_d, b_d), tol16, "bias_add");
      Tensor dbias = Tensor::zeros({s.C});
      be->bias_backward(dout, dbias);
      expect_gradient(to_double(dbias), [&](const Vec& v) { return bias_add_ref(x_d, v); }, b_d, r,
                      check_points(b_d.size(), rng), tol32, "bias db (f32)");
      Tensor sum = nan_tensor({N, s.C}, dt);
      be->add(x, dout, sum);
      expect_close(to_double(sum), plus(x_d, r), tol16, "add");

      // Attention: 16-bit qkv and output, f32 probabilities.
      Tensor qkv = rounded({s.B, s.T, 3 * s.C}), aout = nan_tensor({s.B, s.T, s.C}, dt);
      Tensor probs = nan_tensor({s.B, s.H, s.T, s.T});
      const Vec qkv_d = to_double(qkv);
      Vec probs_ref;
      const Vec att_ref = attention_ref(qkv_d, s.B, s.T, s.H, s.H, s.C / s.H, &probs_ref);
      be->attention_forward(qkv, int(s.H), int(s.H), aout, probs);
      expect_close(to_double(aout), att_ref, tol16, "attention out");
      expect_close(to_double(probs), probs_ref, tol32, "attention probs (f32)");
      Tensor adout = rounded({s.B, s.T, s.C}), dqkv = nan_tensor({s.B, s.T, 3 * s.C}, dt);
      be->attention_backward(adout, qkv, aout, probs, int(s.H), int(s.H), dqkv);
      expect_gradient(to_double(dqkv), [&](const Vec& v) { return attention_ref(v, s.B, s.T, s.H, s.H, s.C / s.H); },
                      qkv_d, to_double(adout), check_points(qkv_d.size(), rng), tol16, "attention dqkv");

      // Mixed dtypes are an error, not a silent reinterpretation.
      Tensor wrong = Tensor::empty({N, s.C});
      EXPECT_THROW(be->add(x, wrong, sum), Error);
      // The overflow check sees NaN and inf in any dtype.
      EXPECT_TRUE(be->all_finite(x));
      Tensor bad = x.clone();
      bad.set(3, std::numeric_limits<float>::infinity());
      EXPECT_FALSE(be->all_finite(bad));
      bad.set(3, std::numeric_limits<float>::quiet_NaN());
      EXPECT_FALSE(be->all_finite(bad));
    }
  }
}

// Loss = −log softmax[target], stable for logits far from zero (the third
// case is shifted by +1000: exp of the raw logits would overflow).
// Backward: scale·(softmax − onehot), which is also the finite-difference
// gradient of scale·Σ loss.
TEST_F(CpuKernels, CrossEntropy) {
  struct Case {
    const char* name;
    int64_t N, V;
    double shift, spread;
  };
  const Case cases[] = {
      {"odd", 21, 13, 0.0, 2.0}, {"GPT", 128, 1024, 0.0, 2.0}, {"shifted by +1000", 21, 13, 1000.0, 4.0}};
  const float scale = 0.37f;
  for (const Case& s : cases) {
    SCOPED_TRACE(s.name);
    Tensor logits = random_tensor({s.N, s.V}, rng, s.shift, s.spread);  // (N, V)
    Tensor targets = random_tokens({s.N}, int32_t(s.V), rng);           // (N) i32
    Tensor losses = nan_tensor({s.N});                                  // (N)
    const Vec logits_d = to_double(logits);
    const std::vector<int32_t> ids = to_ids(targets);
    Vec probs_ref;
    const Vec losses_ref = cross_entropy_ref(logits_d, ids, s.V, &probs_ref);
    be->cross_entropy_forward(logits, targets, losses);
    expect_close(to_double(losses), losses_ref, tolerance(DType::f32), "losses");
    expect_close(to_double(logits), probs_ref, tolerance(DType::f32), "softmax in place");

    be->cross_entropy_backward(logits, targets, 0, scale);
    const Vec dlogits = to_double(logits);
    Vec dlogits_ref = probs_ref;
    for (size_t n = 0; n < ids.size(); ++n) dlogits_ref[n * s.V + ids[n]] -= 1.0;
    for (double& d : dlogits_ref) d *= double(scale);
    expect_close(dlogits, dlogits_ref, tolerance(DType::f32), "dlogits = scale·(p − onehot)");
    std::vector<size_t> points = check_points(logits_d.size(), rng);
    for (size_t n = 0; n < 4; ++n) points.push_back(n * s.V + size_t(ids[n]));  // target entries, where −1 lands
    expect_gradient(
        dlogits, [&](const Vec& v) { return cross_entropy_ref(v, ids, s.V); }, logits_d, Vec(ids.size(), scale),
        points, tolerance(DType::f32), "dlogits");
  }
  Tensor logits = random_tensor({1, 13}, rng), losses = Tensor::empty({1});
  Tensor bad = Tensor::empty({1}, DType::i32);
  bad.data<int32_t>()[0] = 13;
  EXPECT_THROW(be->cross_entropy_forward(logits, bad, losses), Error);
}

// The vocabulary-parallel pieces: two shards of a padded vocabulary, their
// statistics combined by hand as the TP all-reduces would (max, then sum),
// give the unsharded losses and gradients; padded columns take no part.
TEST_F(CpuKernels, CrossEntropyShardsAndPadding) {
  const int64_t N = 19, vocab = 13, Vp = 16, half = Vp / 2;  // padded to 16, split 8 + 8
  const float scale = 0.5f;
  Tensor full = random_tensor({N, Vp}, rng, 0.0, 3.0);
  Tensor targets = random_tokens({N}, int32_t(vocab), rng);
  const std::vector<int32_t> ids = to_ids(targets);
  Vec real_logits;  // the unpadded (N, vocab) problem
  for (int64_t n = 0; n < N; ++n)
    for (int64_t j = 0; j < vocab; ++j) real_logits.push_back(full.item(n * Vp + j));
  Vec probs_ref;
  const Vec losses_ref = cross_entropy_ref(real_logits, ids, vocab, &probs_ref);

  Tensor shard[2] = {Tensor::empty({N, half}), Tensor::empty({N, half})};
  for (int64_t n = 0; n < N; ++n)
    for (int64_t j = 0; j < Vp; ++j) shard[j / half].set(n * half + j % half, full.item(n * Vp + j));
  Tensor row_max[2] = {Tensor::empty({N}), Tensor::empty({N})};
  for (int k = 0; k < 2; ++k) be->cross_entropy_row_max(shard[k], k * half, vocab, row_max[k]);
  for (int64_t n = 0; n < N; ++n) {  // all-reduce MAX
    const float m = std::max(row_max[0].item(n), row_max[1].item(n));
    row_max[0].set(n, m);
    row_max[1].set(n, m);
  }
  Tensor stats[2] = {Tensor::empty({2, N}), Tensor::empty({2, N})};
  for (int k = 0; k < 2; ++k) be->cross_entropy_exp_sums(shard[k], row_max[k], targets, k * half, vocab, stats[k]);
  for (int64_t i = 0; i < 2 * N; ++i) {  // all-reduce SUM
    const float sum = stats[0].item(i) + stats[1].item(i);
    stats[0].set(i, sum);
    stats[1].set(i, sum);
  }
  Tensor losses[2] = {Tensor::empty({N}), Tensor::empty({N})};
  for (int k = 0; k < 2; ++k) be->cross_entropy_finish(shard[k], stats[k], losses[k]);
  expect_close(to_double(losses[0]), losses_ref, tolerance(DType::f32), "shard 0 losses");
  expect_close(to_double(losses[1]), losses_ref, tolerance(DType::f32), "shard 1 losses");
  for (int k = 0; k < 2; ++k) be->cross_entropy_backward(shard[k], targets, k * half, scale);
  // scale·(p − onehot) over 13 classes: probabilities of order 0.1.
  const Tolerance dlogits_tol = tolerance(DType::f32).at_scale(0.1);
  for (int64_t n = 0; n < N; ++n)
    for (int64_t j = 0; j < Vp; ++j) {
      const double got = shard[j / half].item(n * half + j % half);
      double want = 0.0;  // padding columns: no probability, no gradient
      if (j < vocab) want = scale * (probs_ref[size_t(n * vocab + j)] - (j == ids[size_t(n)] ? 1.0 : 0.0));
      ASSERT_LE(std::abs(got - want), dlogits_tol.bound(want)) << "dlogits[" << n << ", " << j << "]: " << got
                                                               << " vs " << want;
    }
}

// Three successive steps against torch.optim.AdamW's arithmetic in f64,
// so the moment updates and the step-dependent bias corrections are both
// exercised: p ·= 1 − lr·wd; m = β₁m + (1 − β₁)g; v = β₂v + (1 − β₂)g²;
// p −= lr/(1 − β₁ᵗ) · m / (√v/√(1 − β₂ᵗ) + eps).
TEST_F(CpuKernels, AdamW) {
  const std::pair<const char*, Shape> cases[] = {{"odd", {3, 7, 13}}, {"GPT", {768, 256}}};
  AdamWStep step{.lr = 1e-2f, .beta1 = 0.9f, .beta2 = 0.95f, .eps = 1e-8f, .weight_decay = 0.1f, .step = 0};
  const double lr = step.lr, b1 = step.beta1, b2 = step.beta2, eps = step.eps, wd = step.weight_decay;
  for (const auto& [name, shape] : cases) {
    SCOPED_TRACE(name);
    Tensor param = random_tensor(shape, rng);
    Tensor m = Tensor::zeros(shape), v = Tensor::zeros(shape);
    Vec p_ref = to_double(param), m_ref(p_ref.size(), 0.0), v_ref(p_ref.size(), 0.0);
    for (int64_t t = 1; t <= 3; ++t) {
      SCOPED_TRACE("step " + std::to_string(t));
      Tensor grad = random_tensor(shape, rng);
      const Vec g = to_double(grad);
      step.step = t;
      be->adamw_update(param, grad, m, v, step);
      const double bias1 = 1.0 - std::pow(b1, double(t)), bias2 = 1.0 - std::pow(b2, double(t));
      for (size_t i = 0; i < p_ref.size(); ++i) {
        p_ref[i] *= 1.0 - lr * wd;
        m_ref[i] = b1 * m_ref[i] + (1.0 - b1) * g[i];
        v_ref[i] = b2 * v_ref[i] + (1.0 - b2) * g[i] * g[i];
        p_ref[i] -= lr / bias1 * m_ref[i] / (std::sqrt(v_ref[i]) / std::sqrt(bias2) + eps);
      }
      expect_close(to_double(param), p_ref, tolerance(DType::f32), "param");
      expect_close(to_double(m), m_ref, tolerance(DType::f32), "m");
      expect_close(to_double(v), v_ref, tolerance(DType::f32), "v");
    }
  }
}

// Σ x² feeds the global gradient norm; it accumulates in f64, so it is held
// to the bound of an f64 sum of that many terms. scale multiplies in place.
TEST_F(CpuKernels, SumSquaresAndScale) {
  const std::pair<const char*, Shape> cases[] = {{"odd", {3, 7, 13}}, {"GPT", {1024, 1024}}};
  for (const auto& [name, shape] : cases) {
    SCOPED_TRACE(name);
    Tensor x = random_tensor(shape, rng);
    const Vec x_d = to_double(x);
    double ref = 0.0;
    for (double e : x_d) ref += e * e;
    expect_close({be->sum_squares(x)}, {ref}, test::tolerance_f64_sum(int64_t(x_d.size())), "sum_squares");

    const float s = -0.37f;
    be->scale(x, s);
    Vec scaled(x_d.size());
    for (size_t i = 0; i < x_d.size(); ++i) scaled[i] = x_d[i] * double(s);
    expect_close(to_double(x), scaled, tolerance(DType::f32), "scale");
  }
}

}  // namespace
}  // namespace trident::backend
