#include "models/gpt/pipeline_stages.h"

#include <numeric>

#include "framework/core/error.h"

namespace trident::gpt {

PipelineStages PipelineStages::even(int64_t num_layers, int pp, int chunks) {
  const int64_t stages = int64_t(pp) * chunks;
  TRIDENT_USAGE_CHECK(num_layers >= stages, "--num-layers ", num_layers, " is fewer than the ", stages,
                      " pipeline stages (--pipeline-model-parallel-size ", pp,
                      " x --num-virtual-stages-per-pipeline-rank ", chunks, "): every stage needs a layer");
  TRIDENT_USAGE_CHECK(num_layers % stages == 0, "--num-layers ", num_layers, " is not divisible by the ", stages,
                      " pipeline stages (--pipeline-model-parallel-size ", pp,
                      " x --num-virtual-stages-per-pipeline-rank ", chunks,
                      "): change the layer count or give --pipeline-layers-per-stage");
  return PipelineStages{pp, chunks, std::vector<int64_t>(size_t(stages), num_layers / stages)};
}

PipelineStages PipelineStages::uneven(const std::vector<int64_t>& layers, int64_t num_layers, int pp, int chunks) {
  const int64_t stages = int64_t(pp) * chunks;
  TRIDENT_USAGE_CHECK(int64_t(layers.size()) == stages, "--pipeline-layers-per-stage has ", layers.size(),
                      " entries: give one per virtual pipeline stage (", stages, ")");
  for (int64_t n : layers)
    TRIDENT_USAGE_CHECK(n >= 1, "--pipeline-layers-per-stage: every stage needs at least one layer, got ", n);
  const int64_t total = std::accumulate(layers.begin(), layers.end(), int64_t{0});
  TRIDENT_USAGE_CHECK(total == num_layers, "--pipeline-layers-per-stage sums to ", total, " layers, but --num-layers is ",
                      num_layers);
  return PipelineStages{pp, chunks, layers};
}

int64_t PipelineStages::first_layer(int stage) const {
  return std::accumulate(layers.begin(), layers.begin() + stage, int64_t{0});
}

int64_t PipelineStages::num_layers() const { return std::accumulate(layers.begin(), layers.end(), int64_t{0}); }

int PipelineStages::rank_of_layer(int64_t layer) const {
  for (int s = 0; s < num_stages(); ++s)
    if (layer < first_layer(s) + layers[size_t(s)]) return s % pp;
  TRIDENT_CHECK(false, "layer ", layer, " is beyond the model's ", num_layers());
  return -1;
}

}  // namespace trident::gpt
