#include "launch/memory_model.h"

#include <algorithm>
#include <map>

#include "framework/parallel/bucket_layout.h"
#include "framework/pipeline/simulator.h"

namespace trident::launch {
namespace {

using enum MemoryCategory;

// The sizes every formula below speaks in (docs/memory.md, "Notation").
struct Sizes {
  int64_t B, T, C, t, e;  // micro-batch, sequence, hidden, TP degree, bytes per activation element
  int64_t N;              // B·T token rows
  int64_t Ns;             // rows a rank holds between the TP regions: N, or N/t under sequence parallelism
  int64_t Cl, F;          // C/t and F/t: this rank's attention width (H·D/t) and MLP width
  int64_t QKV, F1;        // (H+2G)·D/t and F/t or 2F/t with SwiGLU: the qkv and fc1 outputs' widths
  int64_t stats;          // f32 statistics per row a norm keeps: mean and rstd, RMSNorm rstd only
  int64_t V;              // V_padded/t: this rank's vocabulary slice
  int64_t attn_saved;     // bytes attention keeps for backward (f32)
  bool sp, wide_sums;     // sequence parallel; 16-bit TP sums go through an f32 copy
  gpt::Recompute recompute;
};

Sizes sizes_of(const MemoryModelInput& in) {
  const gpt::GptConfig& m = in.model;
  Sizes s{};
  s.B = in.micro_batch_size, s.T = m.seq_length, s.C = m.hidden_size, s.t = in.tp;
  s.e = int64_t(dtype_size(m.dtype));
  s.N = s.B * s.T;
  s.sp = in.sequence_parallel && in.tp > 1;
  s.Ns = s.sp ? s.N / s.t : s.N;
  s.Cl = s.C / s.t, s.F = m.ffn_hidden() / s.t, s.V = m.padded_vocab_size(in.tp) / in.tp;
  s.QKV = m.qkv_rows() / s.t, s.F1 = (m.swiglu ? 2 : 1) * s.F, s.stats = m.rms_norm() ? 1 : 2;
  const int64_t heads = m.num_attention_heads / in.tp, head_dim = m.head_dim();
  // Backend::attention_saved_shape: the probabilities (B, heads, T, T), or on the GPU's
  // fused kernel (16-bit, head dim 64 or 128, no query groups) the log-sum-exp (B, heads, T).
  const bool fused = m.device == Device::cuda && m.dtype != DType::f32 && (head_dim == 64 || head_dim == 128) &&
                     m.kv_heads() == m.num_attention_heads;
  s.attn_saved = s.B * heads * s.T * (fused ? 1 : s.T) * 4;
  s.wide_sums = in.tp > 1 && m.dtype != DType::f32;
  s.recompute = m.recompute;
  return s;
}

// One block's forward keeps (no recompute): ln1.out, h, ln2.out, out (Ns, C)
// and the norms' statistics (Ns) f32; qkv (N, QKV), y (N, C/t), fc1_out
// (N, F1) and act (N, F); attention's saved state. The input x is the
// previous block's out, counted there.
int64_t block_kept_all(const Sizes& s) {
  return 4 * s.Ns * s.C * s.e + 2 * s.stats * s.Ns * 4 + s.N * (s.QKV + s.Cl + s.F1 + s.F) * s.e + s.attn_saved;
}

int64_t block_kept(const Sizes& s) {
  switch (s.recompute) {
    case gpt::Recompute::none: return block_kept_all(s);
    case gpt::Recompute::selective: return block_kept_all(s) - s.attn_saved;
    case gpt::Recompute::full: return s.Ns * s.C * s.e;  // out only: the next block's input
  }
  return 0;
}

// Inside a block's forward, on top of what it keeps: under SP the gathered
// input of qkv and fc1, or the row layers' partial sums, (N, C) one at a
// time; 16-bit TP sums widen to f32 first.
int64_t block_forward_extra(const Sizes& s) {
  int64_t extra = s.sp ? s.N * s.C * s.e : 0;
  if (s.wide_sums) extra += s.sp ? s.N * s.C * 4 + s.Ns * s.C * 4 : s.N * s.C * 4;
  return extra;
}

// Inside a block's backward (TransformerBlock::backward_all), on top of the
// kept set: the MLP phase holds d_ln2 (Ns, C) and dact (N, F), with SwiGLU
// also dfc1 (N, F1); the attention phase d_ln2, dh, d_ln1 (Ns, C), dy (N, C/t) and dqkv (N, QKV),
// plus under selective recompute the probabilities and y again. Under SP the
// column layers' backward holds the re-gathered input and dx_full (N, C).
int64_t block_backward_extra(const Sizes& s) {
  const int64_t sp_cols = s.sp ? 2 * s.N * s.C * s.e : 0;
  const int64_t widen = s.wide_sums ? s.N * s.C * 4 : 0;
  const int64_t mlp = s.Ns * s.C * s.e + s.N * (s.F + (s.F1 > s.F ? s.F1 : 0)) * s.e + sp_cols + widen;
  int64_t attn = 3 * s.Ns * s.C * s.e + s.N * (s.Cl + s.QKV) * s.e + sp_cols + widen;
  if (s.recompute == gpt::Recompute::selective) attn += s.attn_saved + s.N * s.Cl * s.e;
  // Full recompute first runs the block again: its whole set exists while its backward runs.
  const int64_t again = s.recompute == gpt::Recompute::full ? block_kept_all(s) : 0;
  return again + std::max(mlp, attn);
}

// The persistent work buffers the CPU backend makes on first use (under
// the activations scope of the first step): attention's q, k, v, y, dq,
// dk, dv (B·heads, T, head dim) and dprobs (B·heads, T, T), all f32. In
// 16-bit, where the CPU has no native 16-bit GEMM, also the f32 copy of
// every GEMM weight (Note [fixed weights]) and the widening slots, each as
// large as the largest tensor it widens: a GEMM's activation input (N, F),
// the weight-gradient GEMM's input (N, F), a 16-bit GEMM's f32 result
// (N, max(F1, QKV)) and linear backward's dy (N, max(F1, QKV)), or on the
// last stage the logits' gradient (N, V/t) if wider.
int64_t backend_workspace(const MemoryModelInput& in, const Sizes& s, const std::vector<Shape>& shapes,
                          bool first_stage, bool last_stage) {
  if (in.model.device != Device::cpu) return 0;  // the CUDA backend's work buffers are not modelled
  const int64_t heads = in.model.num_attention_heads / in.tp;
  int64_t bytes = 7 * s.N * s.Cl * 4 + s.B * heads * s.T * s.T * 4;
  if (in.model.dtype == DType::f32) return bytes;
  // Widened on first use in a GEMM: not the positions, nor a token table only looked up here.
  for (size_t i = 0; i < shapes.size(); ++i) {
    if (shapes[i].size() != 2) continue;
    if (first_stage && i == 0 && !(in.model.tied_output() && last_stage)) continue;
    if (first_stage && i == 1 && !in.model.rope()) continue;
    bytes += shape_numel(shapes[i]) * 4;
  }
  const int64_t input = std::max(s.F, s.C), output = std::max(s.F1, s.QKV);
  return bytes + s.N * (2 * input + output + std::max(output, last_stage ? s.V : 0)) * 4;
}

}  // namespace

ChunkActivationBytes chunk_activation_bytes(const MemoryModelInput& in, int64_t layers, bool first_stage,
                                            bool last_stage) {
  const Sizes s = sizes_of(in);
  ChunkActivationBytes c;
  c.kept = layers * block_kept(s);
  c.forward = block_forward_extra(s) + (s.recompute == gpt::Recompute::full ? block_kept_all(s) : 0);
  // GptModel::backward holds dprev (Ns, C) through the blocks, and on the last stage dblock too.
  c.backward = s.Ns * s.C * s.e * (last_stage ? 2 : 1) + block_backward_extra(s);
  if (first_stage) c.kept += s.N * 4 + s.Ns * s.C * s.e;  // tokens (B, T) i32, the embedding's output
  else c.sent = s.Ns * s.C * s.e;
  if (last_stage) {
    // targets i32, final_ln out (Ns, C) with mean and rstd, probs (N, V/t) f32, per-token losses f32.
    c.kept += s.N * 4 + s.Ns * s.C * s.e + s.stats * s.Ns * 4 + s.N * s.V * 4 + s.N * 4;
    c.forward = std::max(c.forward, 3 * s.N * 4);  // the loss's row maxima and statistics
    // Before the blocks: dx (N, C) and, in 16-bit, the logits' gradient in the compute dtype.
    const int64_t head = s.N * s.C * s.e + (s.e < 4 ? s.N * s.V * s.e : 0);
    c.backward = std::max(c.backward, 2 * s.Ns * s.C * s.e + head);
  }
  return c;
}

std::vector<Shape> local_parameter_shapes(const gpt::GptConfig& m, int tp, const gpt::PipelineStages& stages,
                                          int pp_rank) {
  const int64_t C = m.hidden_size, V = m.padded_vocab_size(tp) / tp, Cl = C / tp, F = m.ffn_hidden() / tp,
                QKV = m.qkv_rows() / tp, F1 = (m.swiglu ? 2 : 1) * F;
  const bool norm_bias = !m.rms_norm(), bias = m.bias_linear();
  std::vector<Shape> out;
  // The order of GptModel::params(): each part's weight, then its bias if it has one.
  auto add = [&](Shape weight, bool has_bias) {
    out.push_back(weight);
    if (has_bias) out.push_back({weight[0]});
  };
  if (pp_rank == 0) {
    out.push_back({V, C});                               // token table (V_padded/t, C)
    if (!m.rope()) out.push_back({m.seq_length, C});     // positions (T, C)
  }
  for (int c = 0; c < stages.chunks; ++c) {
    const int stage = stages.stage_of(pp_rank, c);
    for (int64_t i = 0; i < stages.layers[size_t(stage)]; ++i) {
      add({C}, norm_bias), add({QKV, C}, bias), add({C, Cl}, bias);
      add({C}, norm_bias), add({F1, C}, bias), add({C, F}, bias);
    }
  }
  if (pp_rank == stages.pp - 1) {
    add({C}, norm_bias);                                  // final_ln
    if (!m.tied_output() || pp_rank != 0) out.push_back({V, C});  // output layer, or the copy of the token table
  }
  return out;
}

namespace {

// Weights, main gradients and optimizer state of one pipeline rank
// (docs/memory.md, "Model state"). The distributed optimizer's collectives
// run in place in the buckets: no buffers of their own.
void add_model_state(const MemoryModelInput& in, const std::vector<Shape>& shapes, MemoryByCategory& out) {
  const int64_t e = int64_t(dtype_size(in.model.dtype));
  const int64_t state = in.model.dtype == DType::f32 ? 8 : 12;  // m, v (+ the f32 master copy in 16-bit)
  if (!in.distributed_optimizer || in.dp == 1) {
    int64_t n = 0;
    for (const Shape& shape : shapes) n += shape_numel(shape);
    out[weights] += n * e, out[gradients] += n * 4, out[optimizer] += n * state;
    return;
  }
  // ZeRO-1: values and gradients in padded buckets (dp·S_b each), the optimizer over this rank's shard.
  const parallel::BucketLayout layout = parallel::layout_buckets(shapes, in.bucket_elements, in.dp);
  int64_t padded = 0, owned = 0;
  for (const parallel::Bucket& b : layout.buckets) padded += b.size;
  for (int r = 0; r < in.dp; ++r) {  // the data-parallel rank that owns the most
    int64_t mine = 0;
    for (const parallel::OwnedRows& o : layout.owned_by(r, shapes))
      mine += o.rows * parallel::row_elements(shapes[o.param]);
    owned = std::max(owned, mine);
  }
  out[weights] += padded * e, out[gradients] += padded * 4, out[optimizer] += owned * state;
}

// Walks a rank's actions as the executor runs them: activation sets live
// from their forward to the end of their backward, a sent input gradient
// until the next backward ends (the executor tests its sends only between
// compute actions, and a large message completes only once the receiver,
// busy computing, has taken part: measured, it often outlives the next
// forward); the received pipeline
// buffers (communication) from their posting, one compute action ahead of
// the one that needs them, until the backward of their micro-batch ends.
// Returns the peak activation and communication bytes.
std::pair<int64_t, int64_t> walk_schedule(const std::vector<pipeline::Action>& actions,
                                          const std::vector<ChunkActivationBytes>& chunks, int64_t boundary) {
  using pipeline::ActionKind;
  std::vector<size_t> computes;
  for (size_t i = 0; i < actions.size(); ++i)
    if (actions[i].is_compute()) computes.push_back(i);
  std::map<std::pair<int, int>, int64_t> received;  // (micro-batch, chunk) -> buffer bytes held
  int64_t live = 0, peak = 0, comm = 0, comm_peak = 0, sending = 0;
  size_t posted = 0;
  for (size_t k = 0; k < computes.size(); ++k) {
    const size_t i = computes[k], until = k + 1 < computes.size() ? computes[k + 1] : actions.size();
    for (; posted < until; ++posted) {
      const pipeline::Action& r = actions[posted];
      if (r.kind != ActionKind::recv_activation && r.kind != ActionKind::recv_grad) continue;
      received[{r.micro_batch, r.chunk}] += boundary;
      comm += boundary;
    }
    comm_peak = std::max(comm_peak, comm);
    const pipeline::Action& a = actions[i];
    const ChunkActivationBytes& c = chunks[size_t(a.chunk)];
    if (a.kind == ActionKind::forward) {
      live += c.kept;
      peak = std::max(peak, live + sending + c.forward);
    } else {
      peak = std::max(peak, live + sending + c.backward);
      live -= c.kept;
      sending = c.sent;
      comm -= received[{a.micro_batch, a.chunk}];
      received.erase({a.micro_batch, a.chunk});
    }
  }
  return {peak, comm_peak};
}

}  // namespace

MemoryPrediction predict_memory(const MemoryModelInput& in) {
  const gpt::PipelineStages stages =
      in.layers_per_stage.empty()
          ? gpt::PipelineStages::even(in.model.num_layers, in.pp, in.virtual_stages)
          : gpt::PipelineStages::uneven(in.layers_per_stage, in.model.num_layers, in.pp, in.virtual_stages);
  const pipeline::ScheduleShape shape{in.pp, int(in.micro_batches), in.virtual_stages};
  const pipeline::Schedule schedule = pipeline::make_schedule(in.schedule, shape);
  const Sizes s = sizes_of(in);
  MemoryPrediction out;
  for (int r = 0; r < in.pp; ++r) {
    PipelineRankMemory rank;
    const std::vector<Shape> shapes = local_parameter_shapes(in.model, in.tp, stages, r);
    add_model_state(in, shapes, rank.bytes);
    std::vector<ChunkActivationBytes> chunks;
    for (int c = 0; c < in.virtual_stages; ++c) {
      const int stage = stages.stage_of(r, c);
      chunks.push_back(chunk_activation_bytes(in, stages.layers[size_t(stage)], stage == 0,
                                              stage == stages.num_stages() - 1));
    }
    // A received activation or gradient: (B, T, C), or this rank's rows under SP.
    const auto [activations_peak, received] = walk_schedule(schedule[size_t(r)], chunks, s.Ns * s.C * s.e);
    rank.bytes[activations] += activations_peak + backend_workspace(in, s, shapes, r == 0, r == in.pp - 1);
    rank.bytes[communication] += received;
    rank.in_flight = pipeline::peak_live_activations(schedule[size_t(r)]);
    out.ranks.push_back(rank);
  }
  return out;
}

int MemoryPrediction::max_rank() const {
  int best = 0;
  for (size_t r = 1; r < ranks.size(); ++r)
    if (ranks[r].bytes.total() > ranks[size_t(best)].bytes.total()) best = int(r);
  return best;
}

}  // namespace trident::launch
