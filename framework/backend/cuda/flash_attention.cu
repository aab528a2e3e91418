// Fused causal attention for 16-bit activations and head sizes 64 and 128
// (FlashAttention-2's algorithm, Dao 2023): tiles of 64 queries × 64 keys
// in shared memory, products on the tensor cores (WMMA, bf16/f16 operands,
// f32 accumulation), an online softmax, and no (T, T) matrix in memory.
// Forward saves one f32 per query row, the log-sum-exp L = m + log(l);
// backward recomputes P = exp(S/√D − L) tile by tile.
//
// Backward is two kernels, so that every output has one writer and a fixed
// summation order (deterministic, like every reduction here; FA-2 adds dQ
// with atomics instead): one walks the query tiles for each key tile and
// accumulates dK and dV, the other walks the key tiles for each query tile
// and accumulates dQ. S and P are computed twice, which costs about a
// fifth more arithmetic than FA-2's backward.
//
// Rounding, as in the unfused GPU path: P is rounded to the compute dtype
// for P·V and dV, and dS for dQ and dK; everything else is f32.
#include <mma.h>

#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <initializer_list>
#include <string>
#include <type_traits>

#include "framework/backend/cuda/flash_attention.h"

namespace trident::backend::cuda {
namespace {

using namespace nvcuda;

constexpr int kTile = 64;        // queries and keys per tile
constexpr int kWarps = 4;        // each warp owns 16 rows of a tile
constexpr int kFlashThreads = kWarps * 32;
// Shared-memory row strides, padded past a multiple of 128 bytes: with rows
// of exactly 64 or 128 elements every row of a 16×16 fragment falls in the
// same banks and WMMA's loads and stores serialise.
template <int D>
constexpr int kLdTile = D + 8;          // 16-bit Q, K, V, dO tiles (64 × D)
constexpr int kLdScores = kTile + 4;    // f32 S and dP (16 × 64 per warp)
constexpr int kLdProbs = kTile + 8;     // 16-bit P and dS (16 × 64 per warp)
template <int D>
constexpr int kLdOut = D + 4;           // f32 O accumulator (16 × D per warp)

template <typename T>
using FragA = wmma::fragment<wmma::matrix_a, 16, 16, 16, T, wmma::row_major>;
template <typename T>
using FragBRow = wmma::fragment<wmma::matrix_b, 16, 16, 16, T, wmma::row_major>;
template <typename T>
using FragBCol = wmma::fragment<wmma::matrix_b, 16, 16, 16, T, wmma::col_major>;
using FragC = wmma::fragment<wmma::accumulator, 16, 16, 16, float>;

// Rows [row0, row0 + 64) of a (T, width) matrix at `base` (already offset
// to the head's first column), D columns, into a 64 × D tile; rows past T
// are zeros. 16-byte loads and stores.
template <typename T, int D>
__device__ void load_tile(T* tile, const T* base, int64_t row0, int64_t rows, int64_t width) {
  constexpr int kPerRow = D * int(sizeof(T)) / 16;
  for (int idx = threadIdx.x; idx < kTile * kPerRow; idx += kFlashThreads) {
    const int r = idx / kPerRow, v = idx % kPerRow;
    const int64_t t = row0 + r;
    uint4 value = make_uint4(0, 0, 0, 0);
    if (t < rows) value = reinterpret_cast<const uint4*>(base + t * width)[v];
    reinterpret_cast<uint4*>(tile + r * kLdTile<D>)[v] = value;
  }
}

// out (16 × 64, f32) = a (16 × D rows of a tile) · b_tileᵀ (b: 64 × D).
template <typename T, int D>
__device__ void mma_abt(float* out, const T* a, const T* b) {
#pragma unroll
  for (int nb = 0; nb < kTile / 16; ++nb) {
    FragC acc;
    wmma::fill_fragment(acc, 0.f);
#pragma unroll
    for (int kb = 0; kb < D / 16; ++kb) {
      FragA<T> fa;
      FragBCol<T> fb;
      wmma::load_matrix_sync(fa, a + kb * 16, kLdTile<D>);
      wmma::load_matrix_sync(fb, b + nb * 16 * kLdTile<D> + kb * 16, kLdTile<D>);
      wmma::mma_sync(acc, fa, fb, acc);
    }
    wmma::store_matrix_sync(out + nb * 16, acc, kLdScores, wmma::mem_row_major);
  }
}

// acc[db] (16 × 16 blocks of a 16 × D result) += a (16 × 64) · b (64 × D).
template <typename T, int D>
__device__ void mma_ab_accumulate(FragC (&acc)[D / 16], const T* a, const T* b) {
#pragma unroll
  for (int kb = 0; kb < kTile / 16; ++kb) {
    FragA<T> fa;
    wmma::load_matrix_sync(fa, a + kb * 16, kLdProbs);
#pragma unroll
    for (int db = 0; db < D / 16; ++db) {
      FragBRow<T> fb;
      wmma::load_matrix_sync(fb, b + kb * 16 * kLdTile<D> + db * 16, kLdTile<D>);
      wmma::mma_sync(acc[db], fa, fb, acc[db]);
    }
  }
}

// Writes a warp's 16 × D accumulator (times `scale`) to rows row0.. of a
// (T, width) matrix at `base`, through a 16 × 16 f32 staging block.
template <typename T, int D>
__device__ void store_rows(FragC (&acc)[D / 16], float* stage, T* base, int64_t row0, int64_t rows, int64_t width,
                           float scale) {
  const int lane = threadIdx.x & 31;
#pragma unroll
  for (int db = 0; db < D / 16; ++db) {
    wmma::store_matrix_sync(stage, acc[db], 16, wmma::mem_row_major);
    __syncwarp();
    for (int e = lane; e < 256; e += 32) {
      const int r = e / 16, c = e % 16;
      if (row0 + r < rows) base[(row0 + r) * width + db * 16 + c] = from_float<T>(stage[e] * scale);
    }
    __syncwarp();
  }
}

// ---- forward ---------------------------------------------------------------
// Block: (query tile, batch·head); warp w owns queries tile·64 + 16w ... + 15.
// Each row is handled by two lanes (32 columns of a key tile each), which
// keep that row's running max m and sum l in registers.
template <typename T, int D>
__global__ void __launch_bounds__(kFlashThreads) flash_forward_kernel(const T* qkv, T* out, float* lse, int64_t T_,
                                                                     int64_t H, float scale) {
  extern __shared__ __align__(128) unsigned char smem[];
  constexpr int kTileElems = kTile * kLdTile<D>;
  T* q_tile = reinterpret_cast<T*>(smem);
  T* k_tile = q_tile + kTileElems;
  T* v_tile = k_tile + kTileElems;
  float* s_all = reinterpret_cast<float*>(v_tile + kTileElems);  // per warp 16 × 64
  float* o_all = s_all + kWarps * 16 * kLdScores;                  // per warp 16 × D
  T* p_all = reinterpret_cast<T*>(o_all + kWarps * 16 * kLdOut<D>);  // per warp 16 × 64

  const int warp = threadIdx.x / 32, lane = threadIdx.x & 31;
  const int64_t tile = blockIdx.x, bh = blockIdx.y, b = bh / H, h = bh % H;
  const int64_t C = H * D, width = 3 * C;
  const T* q_base = qkv + b * T_ * width + h * D;
  float* s = s_all + warp * 16 * kLdScores;
  float* o = o_all + warp * 16 * kLdOut<D>;
  T* p = p_all + warp * 16 * kLdProbs;

  load_tile<T, D>(q_tile, q_base, tile * kTile, T_, width);
  for (int e = lane; e < 16 * kLdOut<D>; e += 32) o[e] = 0.f;
  const int r = lane / 2, half = lane & 1;
  const int64_t q = tile * kTile + warp * 16 + r;
  float m = -INFINITY, l = 0.f;

  for (int64_t kt = 0; kt <= tile; ++kt) {  // causal: key tiles up to the diagonal
    __syncthreads();  // every warp is done with the previous K and V
    load_tile<T, D>(k_tile, q_base + C, kt * kTile, T_, width);
    load_tile<T, D>(v_tile, q_base + 2 * C, kt * kTile, T_, width);
    __syncthreads();
    mma_abt<T, D>(s, q_tile + warp * 16 * kLdTile<D>, k_tile);
    __syncwarp();
    float mx = -INFINITY;
    for (int c = half * 32; c < half * 32 + 32; ++c) {
      const int64_t k = kt * kTile + c;
      const float v = (k <= q && k < T_) ? s[r * kLdScores + c] * scale : -INFINITY;
      s[r * kLdScores + c] = v;
      mx = fmaxf(mx, v);
    }
    mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 1));
    const float m_new = fmaxf(m, mx);  // finite: key 0 is never masked
    const float alpha = __expf(m - m_new);
    float sum = 0.f;
    for (int c = half * 32; c < half * 32 + 32; ++c) {
      const float e = __expf(s[r * kLdScores + c] - m_new);
      p[r * kLdProbs + c] = from_float<T>(e);
      sum += e;
    }
    sum += __shfl_xor_sync(0xffffffffu, sum, 1);
    l = l * alpha + sum;
    m = m_new;
    for (int d = half * (D / 2); d < (half + 1) * (D / 2); ++d) o[r * kLdOut<D> + d] *= alpha;
    __syncwarp();
    FragC acc[D / 16];
#pragma unroll
    for (int db = 0; db < D / 16; ++db)
      wmma::load_matrix_sync(acc[db], o + db * 16, kLdOut<D>, wmma::mem_row_major);
    mma_ab_accumulate<T, D>(acc, p, v_tile);
#pragma unroll
    for (int db = 0; db < D / 16; ++db)
      wmma::store_matrix_sync(o + db * 16, acc[db], kLdOut<D>, wmma::mem_row_major);
    __syncwarp();
  }
  if (q < T_) {
    const float inv = 1.f / l;
    T* out_row = out + (b * T_ + q) * C + h * D;
    for (int d = half * (D / 2); d < (half + 1) * (D / 2); ++d)
      out_row[d] = from_float<T>(o[r * kLdOut<D> + d] * inv);
    if (half == 0) lse[bh * T_ + q] = m + logf(l);
  }
}

// ---- backward ----------------------------------------------------------------
// Dq[bh, t] = Σ_d dO·O over the head's columns of row t: the row term of
// the softmax backward, dS = P ∘ (dP − Dq). One warp per row.
template <typename T, int D>
__global__ void flash_row_dot_kernel(const T* dout, const T* out, float* dq_term, int64_t B, int64_t T_, int64_t H) {
  const int64_t row = (blockIdx.x * int64_t(blockDim.x) + threadIdx.x) / 32;  // over (b, h, t)
  const int lane = threadIdx.x & 31;
  if (row >= B * H * T_) return;
  const int64_t t = row % T_, bh = row / T_, b = bh / H, h = bh % H;
  const int64_t offset = (b * T_ + t) * H * D + h * D;
  float acc = 0.f;
  for (int d = lane; d < D; d += 32) acc += to_float(dout[offset + d]) * to_float(out[offset + d]);
  acc = warp_sum(acc);
  if (lane == 0) dq_term[row] = acc;
}

// dK and dV for one key tile: block (key tile, batch·head), warp w owns
// keys tile·64 + 16w ... + 15, and walks the query tiles from the diagonal
// on. Products are taken transposed (keys as rows): Sᵀ = K·Qᵀ, dPᵀ = V·dOᵀ.
template <typename T, int D>
__global__ void __launch_bounds__(kFlashThreads)
    flash_backward_kv_kernel(const T* qkv, const T* dout, const float* lse, const float* dq_term, T* dqkv, int64_t T_,
                             int64_t H, float scale) {
  extern __shared__ __align__(128) unsigned char smem[];
  constexpr int kTileElems = kTile * kLdTile<D>;
  T* k_tile = reinterpret_cast<T*>(smem);
  T* v_tile = k_tile + kTileElems;
  T* q_tile = v_tile + kTileElems;
  T* do_tile = q_tile + kTileElems;
  float* s_all = reinterpret_cast<float*>(do_tile + kTileElems);  // per warp 16 × 64: Sᵀ
  float* dp_all = s_all + kWarps * 16 * kLdScores;                  // per warp 16 × 64: dPᵀ
  float* row_terms = dp_all + kWarps * 16 * kLdScores;              // L and Dq of the 64 queries
  T* p_all = reinterpret_cast<T*>(row_terms + 2 * kTile);           // per warp 16 × 64: Pᵀ
  T* ds_all = p_all + kWarps * 16 * kLdProbs;                       // per warp 16 × 64: dSᵀ

  const int warp = threadIdx.x / 32, lane = threadIdx.x & 31;
  const int64_t tile = blockIdx.x, bh = blockIdx.y, b = bh / H, h = bh % H;
  const int64_t C = H * D, width = 3 * C;
  const T* q_base = qkv + b * T_ * width + h * D;
  const T* do_base = dout + b * T_ * C + h * D;
  float* st = s_all + warp * 16 * kLdScores;
  float* dpt = dp_all + warp * 16 * kLdScores;
  T* pt = p_all + warp * 16 * kLdProbs;
  T* dst = ds_all + warp * 16 * kLdProbs;

  load_tile<T, D>(k_tile, q_base + C, tile * kTile, T_, width);
  load_tile<T, D>(v_tile, q_base + 2 * C, tile * kTile, T_, width);
  FragC dk[D / 16], dv[D / 16];
#pragma unroll
  for (int db = 0; db < D / 16; ++db) {
    wmma::fill_fragment(dk[db], 0.f);
    wmma::fill_fragment(dv[db], 0.f);
  }
  const int64_t n_tiles = (T_ + kTile - 1) / kTile;
  for (int64_t qt = tile; qt < n_tiles; ++qt) {
    __syncthreads();
    load_tile<T, D>(q_tile, q_base, qt * kTile, T_, width);
    load_tile<T, D>(do_tile, do_base, qt * kTile, T_, C);
    for (int i = threadIdx.x; i < kTile; i += kFlashThreads) {
      const int64_t q = qt * kTile + i;
      row_terms[i] = q < T_ ? lse[bh * T_ + q] : 0.f;
      row_terms[kTile + i] = q < T_ ? dq_term[bh * T_ + q] : 0.f;
    }
    __syncthreads();
    mma_abt<T, D>(st, k_tile + warp * 16 * kLdTile<D>, q_tile);   // Sᵀ (16 keys × 64 queries)
    mma_abt<T, D>(dpt, v_tile + warp * 16 * kLdTile<D>, do_tile); // dPᵀ
    __syncwarp();
    for (int e = lane; e < 16 * kTile; e += 32) {
      const int kr = e / kTile, c = e % kTile;
      const int64_t k = tile * kTile + warp * 16 + kr, q = qt * kTile + c;
      const float pv =
          (k <= q && q < T_ && k < T_) ? __expf(st[kr * kLdScores + c] * scale - row_terms[c]) : 0.f;
      pt[kr * kLdProbs + c] = from_float<T>(pv);
      dst[kr * kLdProbs + c] = from_float<T>(pv * (dpt[kr * kLdScores + c] - row_terms[kTile + c]));
    }
    __syncwarp();
    mma_ab_accumulate<T, D>(dv, pt, do_tile);  // dV += Pᵀ dO
    mma_ab_accumulate<T, D>(dk, dst, q_tile);  // dK += dSᵀ Q (× scale at the end)
  }
  __syncwarp();
  const int64_t k0 = tile * kTile + warp * 16;
  T* dk_base = dqkv + b * T_ * width + C + h * D;
  store_rows<T, D>(dk, st, dk_base, k0, T_, width, scale);
  store_rows<T, D>(dv, st, dk_base + C, k0, T_, width, 1.f);
}

// dQ for one query tile: block (query tile, batch·head), warp w owns
// queries tile·64 + 16w ... + 15, and walks the key tiles up to the diagonal.
template <typename T, int D>
__global__ void __launch_bounds__(kFlashThreads)
    flash_backward_q_kernel(const T* qkv, const T* dout, const float* lse, const float* dq_term, T* dqkv, int64_t T_,
                            int64_t H, float scale) {
  extern __shared__ __align__(128) unsigned char smem[];
  constexpr int kTileElems = kTile * kLdTile<D>;
  T* q_tile = reinterpret_cast<T*>(smem);
  T* do_tile = q_tile + kTileElems;
  T* k_tile = do_tile + kTileElems;
  T* v_tile = k_tile + kTileElems;
  float* s_all = reinterpret_cast<float*>(v_tile + kTileElems);
  float* dp_all = s_all + kWarps * 16 * kLdScores;
  T* ds_all = reinterpret_cast<T*>(dp_all + kWarps * 16 * kLdScores);

  const int warp = threadIdx.x / 32, lane = threadIdx.x & 31;
  const int64_t tile = blockIdx.x, bh = blockIdx.y, b = bh / H, h = bh % H;
  const int64_t C = H * D, width = 3 * C;
  const T* q_base = qkv + b * T_ * width + h * D;
  float* s = s_all + warp * 16 * kLdScores;
  float* dp = dp_all + warp * 16 * kLdScores;
  T* ds = ds_all + warp * 16 * kLdProbs;

  load_tile<T, D>(q_tile, q_base, tile * kTile, T_, width);
  load_tile<T, D>(do_tile, dout + b * T_ * C + h * D, tile * kTile, T_, C);
  // L and Dq are read per element from global memory (the lanes stride over all 16 rows); they stay in cache.
  FragC dq[D / 16];
#pragma unroll
  for (int db = 0; db < D / 16; ++db) wmma::fill_fragment(dq[db], 0.f);
  for (int64_t kt = 0; kt <= tile; ++kt) {
    __syncthreads();
    load_tile<T, D>(k_tile, q_base + C, kt * kTile, T_, width);
    load_tile<T, D>(v_tile, q_base + 2 * C, kt * kTile, T_, width);
    __syncthreads();
    mma_abt<T, D>(s, q_tile + warp * 16 * kLdTile<D>, k_tile);    // S (16 queries × 64 keys)
    mma_abt<T, D>(dp, do_tile + warp * 16 * kLdTile<D>, v_tile);  // dP
    __syncwarp();
    for (int e = lane; e < 16 * kTile; e += 32) {
      const int qr = e / kTile, c = e % kTile;
      const int64_t q = tile * kTile + warp * 16 + qr, k = kt * kTile + c;
      float dsv = 0.f;
      if (k <= q && q < T_ && k < T_) {
        const float pv = __expf(s[qr * kLdScores + c] * scale - lse[bh * T_ + q]);
        dsv = pv * (dp[qr * kLdScores + c] - dq_term[bh * T_ + q]);
      }
      ds[qr * kLdProbs + c] = from_float<T>(dsv);
    }
    __syncwarp();
    mma_ab_accumulate<T, D>(dq, ds, k_tile);  // dQ += dS K (× scale at the end)
  }
  __syncwarp();
  store_rows<T, D>(dq, s, dqkv + b * T_ * width + h * D, tile * kTile + warp * 16, T_, width, scale);
}

template <int D, typename T>
size_t forward_smem() {
  return size_t(3 * kTile * kLdTile<D>) * sizeof(T) + size_t(kWarps * 16 * (kLdScores + kLdOut<D>)) * sizeof(float) +
         size_t(kWarps * 16 * kLdProbs) * sizeof(T);
}
template <int D, typename T>
size_t backward_kv_smem() {
  return size_t(4 * kTile * kLdTile<D>) * sizeof(T) + size_t(2 * kWarps * 16 * kLdScores + 2 * kTile) * sizeof(float) +
         size_t(2 * kWarps * 16 * kLdProbs) * sizeof(T);
}
template <int D, typename T>
size_t backward_q_smem() {
  return size_t(4 * kTile * kLdTile<D>) * sizeof(T) + size_t(2 * kWarps * 16 * kLdScores) * sizeof(float) +
         size_t(kWarps * 16 * kLdProbs) * sizeof(T);
}

// The kernels load 16 bytes at a time and put batch·head on the grid's y axis.
void check_launchable(std::initializer_list<const Tensor*> ts, int64_t B, int64_t H) {
  for (const Tensor* t : ts)
    TRIDENT_CHECK(reinterpret_cast<uintptr_t>(t->raw()) % 16 == 0,
                  "fused attention needs 16-byte aligned tensors (a view at an odd offset?)");
  TRIDENT_CHECK(B * H <= 65535, "fused attention of batch ", B, " x ", H, " heads: at most 65535 per call");
}

template <typename Kernel>
void allow_smem(Kernel kernel, size_t bytes) {
  TRIDENT_LIB_CHECK(CudaRuntime,
                    cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, int(bytes)));
}

template <typename T, int D>
void forward_for(const Tensor& qkv, int64_t B, int64_t T_, int64_t H, Tensor& out, Tensor& lse, cudaStream_t stream) {
  const size_t smem = forward_smem<D, T>();
  static const bool allowed = (allow_smem(flash_forward_kernel<T, D>, smem), true);  // once per kernel
  (void)allowed;
  const dim3 grid(unsigned((T_ + kTile - 1) / kTile), unsigned(B * H));
  flash_forward_kernel<T, D><<<grid, kFlashThreads, smem, stream>>>(in<T>(qkv), cuda::out<T>(out), f32_out(lse), T_, H,
                                                                    1.f / std::sqrt(float(D)));
  TRIDENT_LIB_CHECK(CudaRuntime, cudaGetLastError());
}

template <typename T, int D>
void backward_for(const Tensor& dout, const Tensor& qkv, const Tensor& out, const Tensor& lse, Tensor& dq_term,
                  int64_t B, int64_t T_, int64_t H, Tensor& dqkv, cudaStream_t stream) {
  const int64_t rows = B * H * T_;
  flash_row_dot_kernel<T, D><<<unsigned((rows * 32 + kThreads - 1) / kThreads), kThreads, 0, stream>>>(
      in<T>(dout), in<T>(out), f32_out(dq_term), B, T_, H);
  TRIDENT_LIB_CHECK(CudaRuntime, cudaGetLastError());
  const dim3 grid(unsigned((T_ + kTile - 1) / kTile), unsigned(B * H));
  const float scale = 1.f / std::sqrt(float(D));
  const size_t kv_smem = backward_kv_smem<D, T>(), q_smem = backward_q_smem<D, T>();
  static const bool allowed = (allow_smem(flash_backward_kv_kernel<T, D>, kv_smem),
                               allow_smem(flash_backward_q_kernel<T, D>, q_smem), true);  // once per kernel
  (void)allowed;
  flash_backward_kv_kernel<T, D><<<grid, kFlashThreads, kv_smem, stream>>>(
      in<T>(qkv), in<T>(dout), f32_in(lse), f32_in(dq_term), cuda::out<T>(dqkv), T_, H, scale);
  TRIDENT_LIB_CHECK(CudaRuntime, cudaGetLastError());
  flash_backward_q_kernel<T, D><<<grid, kFlashThreads, q_smem, stream>>>(
      in<T>(qkv), in<T>(dout), f32_in(lse), f32_in(dq_term), cuda::out<T>(dqkv), T_, H, scale);
  TRIDENT_LIB_CHECK(CudaRuntime, cudaGetLastError());
}

}  // namespace

bool flash_attention_applies(DType dtype, int64_t head_dim, int64_t n_heads, int64_t n_kv_heads) {
  static const bool enabled = [] {  // TRIDENT_FUSED_ATTENTION=0: the unfused path, for comparison
    const char* v = std::getenv("TRIDENT_FUSED_ATTENTION");
    return !(v && std::string(v) == "0");
  }();
  return enabled && (dtype == DType::bf16 || dtype == DType::f16) && (head_dim == 64 || head_dim == 128) &&
         n_kv_heads == n_heads;  // grouped-query attention: the unfused path
}

void flash_attention_forward(const Tensor& qkv, int n_heads, Tensor& out, Tensor& lse, cudaStream_t stream) {
  const int64_t B = qkv.size(0), T_ = qkv.size(1), C = qkv.size(2) / 3, H = n_heads, D = C / H;
  TRIDENT_CHECK(flash_attention_applies(qkv.dtype(), D, H, H) && lse.numel() == B * H * T_ && lse.dtype() == DType::f32,
                "flash attention of ", dtype_name(qkv.dtype()), " heads of ", D);
  check_launchable({&qkv, &out}, B, H);
  dispatch_float(qkv.dtype(), "flash attention", [&]<typename T>() {
    if constexpr (!std::is_same_v<T, float>) {
      if (D == 64) forward_for<T, 64>(qkv, B, T_, H, out, lse, stream);
      else forward_for<T, 128>(qkv, B, T_, H, out, lse, stream);
    }
  });
}

void flash_attention_backward(const Tensor& dout, const Tensor& qkv, const Tensor& out, const Tensor& lse,
                              Tensor& dq_term, int n_heads, Tensor& dqkv, cudaStream_t stream) {
  const int64_t B = qkv.size(0), T_ = qkv.size(1), C = qkv.size(2) / 3, H = n_heads, D = C / H;
  TRIDENT_CHECK(flash_attention_applies(qkv.dtype(), D, H, H) && dq_term.numel() >= B * H * T_,
                "flash attention backward");
  check_launchable({&dout, &qkv, &out, &dqkv}, B, H);
  dispatch_float(qkv.dtype(), "flash attention backward", [&]<typename T>() {
    if constexpr (!std::is_same_v<T, float>) {
      if (D == 64) backward_for<T, 64>(dout, qkv, out, lse, dq_term, B, T_, H, dqkv, stream);
      else backward_for<T, 128>(dout, qkv, out, lse, dq_term, B, T_, H, dqkv, stream);
    }
  });
}

}  // namespace trident::backend::cuda
