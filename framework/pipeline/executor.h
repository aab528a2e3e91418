// The pipeline executor: interprets one rank's action list (schedule.h)
// over a PipelineStage, the model's side of the contract. Activations and
// their gradients travel by non-blocking Comm send/recv: a receive is posted
// one compute action ahead of the one that needs it, so the transfer
// overlaps the compute before it; a send is waited for only when its buffer
// is done with. Each (micro-batch, chunk)'s activation set lives from its
// forward to its backward and is freed there (DESIGN.md idea 1); under a
// forward-only schedule (evaluation) it is freed as soon as its forward returns.
#pragma once

#include <map>
#include <memory>
#include <vector>

#include "framework/core/tensor.h"
#include "framework/dist/comm.h"
#include "framework/pipeline/simulator.h"

namespace trident::pipeline {

class PipelineStage {
 public:
  // Everything one (micro-batch, chunk)'s backward needs; destroying it frees it.
  struct Activations {
    virtual ~Activations() = default;
  };
  virtual ~PipelineStage() = default;
  // input: the previous stage's output (empty on virtual stage 0). Sets
  // `output` to what the next stage receives (left empty on the last stage).
  virtual std::unique_ptr<Activations> forward(int micro_batch, int chunk, const Tensor& input, Tensor& output) = 0;
  // grad_output: the gradient of `output` from the next stage (empty on the
  // last stage). Sets grad_input, the gradient of `input` (left empty on
  // virtual stage 0). `act` is destroyed when this returns.
  virtual void backward(int micro_batch, int chunk, Activations& act, const Tensor& grad_output,
                        Tensor& grad_input) = 0;
  // A fresh buffer shaped like a boundary activation (and its gradient).
  virtual Tensor boundary_buffer() = 0;
};

class Executor {
 public:
  // `pp`: the pipeline group, group rank = pipeline rank.
  Executor(std::vector<Action> actions, const ScheduleShape& shape, dist::Comm& pp);

  // One iteration: every action of the list, in order.
  void run(PipelineStage& stage);

  // Of the last run: the most activation sets held at once, and the start
  // and end of each compute action, each send posted and each wait for a receive
  // (steady-clock seconds, comparable across the processes of one node).
  int peak_live() const { return peak_live_; }
  const std::vector<TimedAction>& timings() const { return timings_; }
  const std::vector<Action>& actions() const { return actions_; }

 private:
  struct InFlight {
    Tensor buffer;
    std::unique_ptr<dist::Request> request;
  };
  // Posts every receive that comes before the compute action after `compute_index`.
  void post_receives_through(size_t compute_index);

  std::vector<Action> actions_;
  ScheduleShape shape_;
  dist::Comm& pp_;
  std::vector<size_t> compute_positions_;  // indices of compute actions in actions_
  bool forward_only_ = false;              // no backward in the list: activation sets die with their forward
  PipelineStage* stage_ = nullptr;
  size_t posted_ = 0;                      // receives before this index are posted
  std::map<size_t, InFlight> receives_;    // by action index
  std::vector<InFlight> sends_;
  int peak_live_ = 0;
  std::vector<TimedAction> timings_;
};

}  // namespace trident::pipeline
