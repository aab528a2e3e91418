// Which transformer layers each virtual pipeline stage holds (Note [virtual
// stages] in framework/pipeline/schedule.h): stage s = chunk·pp + pp rank.
// Layers keep their global index (and so their parameter names) whatever
// the split, so every layout initialises and names the same model. The
// embedding belongs to stage 0; the final norm, output projection and loss
// to the last stage.
#pragma once

#include <cstdint>
#include <vector>

namespace trident::gpt {

struct PipelineStages {
  int pp = 1;      // pipeline ranks
  int chunks = 1;  // model chunks per rank (interleaved schedule)
  std::vector<int64_t> layers;  // [virtual stage] layer count; empty: split evenly (GptModel fills it in)

  // num_layers split evenly over pp·chunks stages; UsageError (naming the
  // flags) when it does not divide or a stage would have no layer.
  static PipelineStages even(int64_t num_layers, int pp, int chunks = 1);
  // An explicit per-stage list (--pipeline-layers-per-stage): one count of
  // at least 1 per virtual stage, summing to num_layers.
  static PipelineStages uneven(const std::vector<int64_t>& layers, int64_t num_layers, int pp, int chunks = 1);

  int num_stages() const { return pp * chunks; }
  int stage_of(int pp_rank, int chunk) const { return chunk * pp + pp_rank; }
  int64_t first_layer(int stage) const;
  int64_t num_layers() const;
  int rank_of_layer(int64_t layer) const;  // pipeline rank holding it
};

}  // namespace trident::gpt
