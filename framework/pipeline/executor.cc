#include "framework/pipeline/executor.h"

#include <chrono>

#include "framework/core/error.h"
#include "framework/core/memory_category.h"

namespace trident::pipeline {
namespace {
double now_seconds() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}
bool is_receive(const Action& a) { return a.kind == ActionKind::recv_activation || a.kind == ActionKind::recv_grad; }
using Key = std::pair<int, int>;  // (micro-batch, chunk)
}  // namespace

Executor::Executor(std::vector<Action> actions, const ScheduleShape& shape, dist::Comm& pp)
    : actions_(std::move(actions)), shape_(shape), pp_(pp) {
  forward_only_ = true;
  for (size_t i = 0; i < actions_.size(); ++i) {
    if (actions_[i].is_compute()) compute_positions_.push_back(i);
    if (actions_[i].kind == ActionKind::backward) forward_only_ = false;
  }
}

void Executor::post_receives_through(size_t compute_index) {
  const size_t until = compute_index + 1 < compute_positions_.size() ? compute_positions_[compute_index + 1]
                                                                      : actions_.size();
  for (; posted_ < until; ++posted_) {
    const Action& a = actions_[posted_];
    if (!is_receive(a)) continue;
    // Counted as communication for as long as it lives, also as the input a forward keeps (docs/memory.md).
    const MemoryCategoryScope scope(MemoryCategory::communication);
    InFlight r{stage_->boundary_buffer(), nullptr};
    r.request = pp_.irecv(r.buffer, a.peer, message_tag(a, shape_));
    receives_.emplace(posted_, std::move(r));
  }
}

void Executor::run(PipelineStage& stage) {
  // A run that threw leaves requests behind; the job is going down then, not running again.
  TRIDENT_CHECK(receives_.empty() && sends_.empty(), "pipeline executor reused after a failed iteration");
  stage_ = &stage;
  posted_ = 0;
  timings_.clear();
  int live = 0;
  peak_live_ = 0;
  std::map<Key, std::unique_ptr<PipelineStage::Activations>> activations;
  std::map<Key, Tensor> inputs, grad_outputs, to_send;  // received, and computed but not yet sent
  size_t compute_index = 0;
  if (!compute_positions_.empty()) post_receives_through(0);
  for (size_t i = 0; i < actions_.size(); ++i) {
    const Action& a = actions_[i];
    const Key key{a.micro_batch, a.chunk};
    switch (a.kind) {
      case ActionKind::recv_activation:
      case ActionKind::recv_grad: {
        auto it = receives_.find(i);
        TRIDENT_CHECK(it != receives_.end(), "pipeline receive ", i, " was never posted");
        const double start = now_seconds();
        it->second.request->wait();
        timings_.push_back({a, start, now_seconds()});  // time spent waiting for the neighbour
        (a.kind == ActionKind::recv_activation ? inputs : grad_outputs)[key] = std::move(it->second.buffer);
        receives_.erase(it);
        break;
      }
      case ActionKind::send_activation:
      case ActionKind::send_grad: {
        auto it = to_send.find(key);
        TRIDENT_CHECK(it != to_send.end() && it->second.defined(), "pipeline ", action_kind_name(a.kind),
                      " of micro-batch ", a.micro_batch, " chunk ", a.chunk, " has nothing to send");
        InFlight s{std::move(it->second), nullptr};
        to_send.erase(it);
        const double start = now_seconds();
        s.request = pp_.isend(s.buffer, a.peer, message_tag(a, shape_));
        timings_.push_back({a, start, now_seconds()});  // posting it; the transfer overlaps what follows
        sends_.push_back(std::move(s));
        break;
      }
      case ActionKind::forward:
      case ActionKind::backward: {
        post_receives_through(compute_index++);
        const double start = now_seconds();
        Tensor out;
        if (a.kind == ActionKind::forward) {
          Tensor input = inputs.count(key) ? std::move(inputs[key]) : Tensor();
          inputs.erase(key);
          std::unique_ptr<PipelineStage::Activations> act = stage.forward(a.micro_batch, a.chunk, input, out);
          peak_live_ = std::max(peak_live_, live + 1);
          if (!forward_only_) {  // else no backward will need it: freed now
            activations[key] = std::move(act);
            ++live;
          }
        } else {
          auto it = activations.find(key);
          TRIDENT_CHECK(it != activations.end(), "backward of micro-batch ", a.micro_batch, " chunk ", a.chunk,
                        " before its forward");
          Tensor grad_output = grad_outputs.count(key) ? std::move(grad_outputs[key]) : Tensor();
          grad_outputs.erase(key);
          stage.backward(a.micro_batch, a.chunk, *it->second, grad_output, out);
          activations.erase(it);  // frees the activation set
          --live;
        }
        timings_.push_back({a, start, now_seconds()});
        if (out.defined()) to_send[key] = std::move(out);
        // Drop finished sends (and let MPI progress the others).
        std::erase_if(sends_, [](InFlight& s) { return s.request->test(); });
        break;
      }
    }
  }
  for (InFlight& s : sends_) s.request->wait();
  sends_.clear();
  TRIDENT_CHECK(activations.empty() && receives_.empty() && to_send.empty(), "pipeline iteration ended with ",
                activations.size(), " activation sets, ", receives_.size(), " receives and ", to_send.size(),
                " unsent outputs left");
  stage_ = nullptr;
}

}  // namespace trident::pipeline
