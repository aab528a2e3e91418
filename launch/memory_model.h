// The memory model: the tensor bytes one rank will hold, by category
// (framework/core/memory_category.h), computed from the model's shape and
// the parallel layout alone — no model is built, so a planner can call it
// for layouts it will never run. The trainer logs it at start and compares
// it with the allocator's counts after the first iteration.
//
// The formulas are written from the layers (what each keeps from forward to
// backward, and the temporaries its backward makes) and compared with
// Korthikanti et al. 2022 in docs/memory.md; that page is the reference for
// every term below.
#pragma once

#include <cstdint>
#include <vector>

#include "framework/core/memory_category.h"
#include "framework/pipeline/schedule.h"
#include "models/gpt/config.h"
#include "models/gpt/pipeline_stages.h"

namespace trident::launch {

struct MemoryModelInput {
  gpt::GptConfig model;  // shape, dtype, recompute and device (the backend decides what attention keeps)
  int tp = 1, pp = 1, dp = 1;
  int virtual_stages = 1;                // model chunks per pipeline rank
  std::vector<int64_t> layers_per_stage; // [virtual stage]; empty: an even split
  pipeline::ScheduleKind schedule = pipeline::ScheduleKind::one_f_one_b;
  int64_t micro_batch_size = 1;
  int64_t micro_batches = 1;             // per data-parallel rank and iteration
  bool distributed_optimizer = false;
  bool sequence_parallel = false;        // only with tp > 1
  int64_t bucket_elements = 4'000'000;   // data-parallel gradient bucket size
};

struct PipelineRankMemory {
  MemoryByCategory bytes;  // `other` is always 0: the model predicts nothing there
  // The most micro-batches whose activations this rank holds at once, from
  // its schedule's actions (pipeline::peak_live_activations).
  int in_flight = 0;
};

struct MemoryPrediction {
  std::vector<PipelineRankMemory> ranks;  // [pipeline rank]; every TP and DP rank of it alike
  int max_rank() const;                   // the pipeline rank with the largest total
};

MemoryPrediction predict_memory(const MemoryModelInput& in);

// The local parameter shapes of pipeline rank `pp_rank`, in model order
// (GptModel::params()'s order: the DP buckets are laid out from it).
std::vector<Shape> local_parameter_shapes(const gpt::GptConfig& model, int tp, const gpt::PipelineStages& stages,
                                          int pp_rank);

// What one micro-batch's activations of one chunk cost, for the docs and
// tests: `kept` lives from the chunk's forward to its backward; `forward`
// and `backward` are the most bytes the chunk allocates on top of what is
// kept while its forward or backward runs.
struct ChunkActivationBytes {
  int64_t kept = 0;
  int64_t forward = 0;
  int64_t backward = 0;
  // Off virtual stage 0, backward's gradient of the chunk's input, held until
  // its send completes (counted until the next backward ends).
  int64_t sent = 0;
};
ChunkActivationBytes chunk_activation_bytes(const MemoryModelInput& in, int64_t layers, bool first_stage,
                                            bool last_stage);

}  // namespace trident::launch
