// Export: the trained model as whole tensors (TP shards gathered, each
// parameter from the pipeline rank that owns it, padding rows dropped),
// identical on every rank; --export-safetensors writes them.
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

}  // namespace trident::launch
