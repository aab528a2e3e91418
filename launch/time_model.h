// The time model: predicted seconds per training iteration of one layout
// on one cluster, from the model's shape alone (no model is built), so
// that trident-plan can rank layouts it will never run. With the memory
// model (memory_model.h) it is the planner's whole knowledge; docs/planner.md
// states its assumptions and the published tables it was checked against.
//
// One model for every layout and every cluster: the device's GEMM
// efficiency curve and memory bandwidth, and the links' bandwidths and
// latencies, come from a ClusterSpec (datasheets or measurements, each with
// its source); nothing is fitted per layout.
#pragma once

#include <cstdint>
#include <string>

#include "models/gpt/config.h"

namespace trident::launch {

// A cluster of identical devices in nodes.
struct ClusterSpec {
  std::string name;                // "A100-80GB", "H100-80GB", "local", or "custom"
  int gpus = 1;                    // devices in all
  int gpus_per_node = 1;
  double device_memory_gb = 80.0;  // per device, GB (1e9 bytes)
  double peak_tflops = 312.0;      // per device, dense 16-bit (f32 on the CPU), TFLOP/s
  double memory_gbps = 2039.0;     // device memory bandwidth, GB/s, for memory-bound ops
  // GEMM efficiency: the fraction of peak a GEMM of F flops reaches,
  // gemm_max_efficiency · F / (F + gemm_half_flops): small GEMMs are slower.
  double gemm_max_efficiency = 0.8;
  double gemm_half_flops = 2e9;    // the F at which a GEMM reaches half its maximum efficiency
  // Links, per direction and per device, GB/s, and per-message latency, seconds.
  double intra_node_gbps = 300.0;  // NVLink (A100 DGX: 600 GB/s bidirectional)
  double inter_node_gbps = 25.0;   // one 200 Gb/s HDR InfiniBand adapter per GPU
  double intra_node_latency = 5e-6;
  double inter_node_latency = 10e-6;
  // CPU cores per node that the node's ranks share (trident-plan --cluster local, trident-train on the
  // CPU); 0: each rank has a device of its own. With more ranks on a node than its cores the ranks
  // take turns, and peak_tflops and memory_gbps are one rank's while it runs.
  int cores = 0;
  std::string source;              // where these figures come from, for --explain and the docs
};

// One layout to evaluate: the choices trident-train's flags make.
struct LayoutChoice {
  int tp = 1, pp = 1, dp = 1;
  int virtual_stages = 1;          // interleaved schedule when > 1
  int64_t micro_batch_size = 1;
  gpt::Recompute recompute = gpt::Recompute::none;
  bool distributed_optimizer = false;
  bool sequence_parallel = false;
};

// Where an iteration's time goes, seconds (per rank, the slowest pipeline rank).
struct TimePrediction {
  double iteration = 0.0;       // the whole iteration
  double compute = 0.0;         // forward, backward and recompute on one rank, no waiting
  double tensor_parallel = 0.0; // TP (and SP) collectives, exposed (not overlapped)
  double pipeline = 0.0;        // pipeline sends and receives, exposed
  double data_parallel = 0.0;   // the part of the DP reduction (and DO all-gather) not hidden under backward
  double optimizer = 0.0;       // the AdamW step over this rank's parameters
  double bubble_fraction = 0.0; // idle share of the pipeline schedule with these costs
  double model_tflops = 0.0;    // model FLOPs (GptConfig::flops_per_iteration) / iteration / devices, TFLOP/s
  double hardware_tflops = 0.0; // counting recompute FLOPs too (Narayanan et al.'s basis), per device
};

// Predicts one iteration of `global_batch` sequences of `model` in `layout` on `cluster`.
// The layout uses tp·pp·dp devices of the cluster (its per-device figures are over those).
// UsageError when the batch does not split into micro-batches over dp, or the schedule cannot run.
TimePrediction predict_iteration_time(const gpt::GptConfig& model, int64_t global_batch, const LayoutChoice& layout,
                                      const ClusterSpec& cluster);

// A named cluster of `gpus` devices from datasheets and published measurements
// (each figure's source in ClusterSpec::source and docs/planner.md): "A100-80GB"
// and "H100-80GB" (DGX nodes of 8). UsageError naming the choices for any other name.
ClusterSpec cluster_preset(const std::string& name, int gpus);

}  // namespace trident::launch
