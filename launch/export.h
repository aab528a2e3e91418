// Export: the trained model as whole tensors (TP shards gathered, each
// parameter from the pipeline rank that owns it, padding rows dropped),
// identical on every rank; --export-safetensors writes them, and
// --export-hf writes them as a transformers model (launch/hf_checkpoint.h).
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "launch/training_setup.h"

namespace trident::launch {

// Collective over the world.
std::vector<std::pair<std::string, Tensor>> full_parameters(TrainingParts& parts);

// Collective; world rank 0 writes `path`.
void export_safetensors(TrainingParts& parts, const std::string& path);

// Collective; world rank 0 writes the directory `dir` (write_hf_export).
void export_hf(TrainingParts& parts, const std::string& dir);

}  // namespace trident::launch
