// The small models the tests share, so that one shape is written down once:
// every dimension > 1 and more than one head, so no split degenerates, and
// small enough to run in seconds on 2 cores.
#pragma once

#include "launch/train_config.h"
#include "models/gpt/config.h"

namespace trident::test {

// 2 layers, 64 wide, 4 heads, 32 tokens of bytes: the model the backends
// and the PyTorch oracle are compared on.
inline gpt::GptConfig small_gpt(DType dtype = DType::f32, Device device = Device::cpu) {
  gpt::GptConfig c;
  c.num_layers = 2;
  c.hidden_size = 64;
  c.num_attention_heads = 4;
  c.seq_length = 32;
  c.vocab_size = 256;
  c.dtype = dtype;
  c.device = device;
  return c;
}

// Any shape with every Llama piece: RoPE, RMSNorm, SwiGLU of inner width
// `ffn`, `groups` key/value groups, an untied output layer, no linear biases.
inline gpt::GptConfig with_llama_pieces(gpt::GptConfig c, int64_t ffn, int64_t groups) {
  c.position_embedding_type = "rope";
  c.normalization = "RMSNorm";
  c.swiglu = true;
  c.ffn_hidden_size = ffn;
  c.group_query_attention = true;
  c.num_query_groups = groups;
  c.untie_embeddings_and_output_weights = true;
  c.disable_bias_linear = true;
  return c;
}

// small_gpt's shape with Llama's pieces: SwiGLU of F = 96, 2 key/value groups for the 4 query heads.
inline gpt::GptConfig small_llama(DType dtype = DType::f32, Device device = Device::cpu) {
  return with_llama_pieces(small_gpt(dtype, device), 96, 2);
}

// A trainer of that kind of size on the CPU, one thread per rank: micro-batch 2,
// global batch 4, 3 iterations on the fortunes corpus. Tests change what they test.
inline launch::TrainConfig small_train_config(int64_t layers, int64_t hidden, int64_t heads, int64_t seq) {
  launch::TrainConfig c;
  c.model.num_layers = layers;
  c.model.hidden_size = hidden;
  c.model.num_attention_heads = heads;
  c.model.seq_length = seq;
  c.micro_batch_size = 2;
  c.global_batch_size = 4;
  c.train_iters = 3;
  c.threads = 1;
  c.device = "cpu";
  return c;
}

}  // namespace trident::test
