// The memory report of a run: the memory model's prediction for its layout
// (memory_model.h), logged at start, and after the first iteration the
// allocator's per-category peaks (memory_category.h) of the rank that holds
// the most, beside the prediction for that rank's pipeline stage. Both also
// go to the metrics file, with every rank's figures: the prediction as the
// start record's "memory_predicted", the peaks as the first iteration
// record's "memory_peak" (not records of their own: readers of the file
// take every other record for an iteration or an event of the run).
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "framework/dist/process_groups.h"
#include "launch/memory_model.h"
#include "launch/train_config.h"

namespace trident::launch {

// The memory model's input for a validated run on `dp` data-parallel ranks.
MemoryModelInput memory_model_input(const TrainConfig& cfg, int dp);

// {"weights": bytes, ..., "other": bytes}: the metrics file's form of a rank's memory.
nlohmann::json memory_by_name(const MemoryByCategory& m);

// "memory predicted per rank: weights 0.8 MiB, ... (pipeline rank P)", and its record.
std::string predicted_memory_line(const MemoryPrediction& p, const TrainConfig& cfg);
nlohmann::json predicted_memory_record(const MemoryPrediction& p);

// Collective over the world: every rank's peaks on `device`, [world rank].
std::vector<MemoryByCategory> gather_memory_peaks(dist::ProcessGroups& groups, Device device);

// "memory measured peak per rank (rank K, the most): weights 0.8 MiB (1.00 of predicted), ...", and its record.
std::string measured_memory_line(const std::vector<MemoryByCategory>& peaks, const MemoryPrediction& p,
                                 const dist::Layout& layout);
nlohmann::json measured_memory_record(const std::vector<MemoryByCategory>& peaks, const dist::Layout& layout);

}  // namespace trident::launch
