// The fused attention kernels (flash_attention.cu) behind
// CudaBackend::attention_forward/backward, for 16-bit activations with
// head size 64 or 128, and multi-head attention only (n_kv_heads =
// n_heads): other cases, grouped-query attention among them, take the
// unfused path (attention.cu).
#pragma once

#include <cuda_runtime.h>

#include "framework/backend/cuda/element.cuh"

namespace trident::backend::cuda {

// Whether the fused kernels handle this activation dtype, head size and
// head counts (never when TRIDENT_FUSED_ATTENTION=0 is in the environment).
bool flash_attention_applies(DType dtype, int64_t head_dim, int64_t n_heads, int64_t n_kv_heads);

// Multi-head attention: qkv (B, T, 3C) -> out (B, T, C); lse (B, H, T) f32: log Σ_k exp(q·k/√D) per query row.
void flash_attention_forward(const Tensor& qkv, int n_heads, Tensor& out, Tensor& lse, cudaStream_t stream);

// dqkv (B, T, 3C) overwritten, from dout and the forward's qkv, out and lse;
// dq_term: a device work buffer of at least B·H·T f32.
void flash_attention_backward(const Tensor& dout, const Tensor& qkv, const Tensor& out, const Tensor& lse,
                              Tensor& dq_term, int n_heads, Tensor& dqkv, cudaStream_t stream);

}  // namespace trident::backend::cuda
