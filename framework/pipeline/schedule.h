// Pipeline schedules as data (DESIGN.md idea 4): for every pipeline rank,
// the ordered list of what it does in one iteration — forward and backward
// of (micro-batch, chunk), and the sends and receives of activations and
// of their gradients between neighbouring stages. Pure functions make them;
// the simulator checks and times them; the executor only interprets one
// rank's list.
//
// Note [virtual stages]: with p pipeline ranks and v chunks per rank the
// model is cut into S = p·v virtual stages; chunk c of rank r is virtual
// stage s = c·p + r (Megatron's interleaving), so an activation leaves
// stage s for stage s + 1 on rank (r + 1) mod p. With v = 1, chunk 0 of rank
// r is simply stage r.
#pragma once

#include <string>
#include <vector>

namespace trident::pipeline {

enum class ActionKind { forward, backward, send_activation, recv_activation, send_grad, recv_grad };
const char* action_kind_name(ActionKind kind);

struct Action {
  ActionKind kind;
  int micro_batch;
  int chunk;      // this rank's model chunk, 0..v-1
  int peer = -1;  // pipeline rank sent to or received from; -1 for compute
  bool is_compute() const { return kind == ActionKind::forward || kind == ActionKind::backward; }
  bool operator==(const Action&) const = default;
};

enum class ScheduleKind { gpipe, one_f_one_b, interleaved };
ScheduleKind schedule_kind_from_name(const std::string& name);  // UsageError naming the choices
const char* schedule_kind_name(ScheduleKind kind);

struct ScheduleShape {
  int stages = 1;         // p: pipeline ranks
  int micro_batches = 1;  // m: per iteration and data-parallel rank
  int chunks = 1;         // v: model chunks per rank (interleaved only)
  int virtual_stages() const { return stages * chunks; }
};

// [pipeline rank] -> that rank's actions, in order.
using Schedule = std::vector<std::vector<Action>>;

// Throws UsageError (naming the flag) for shapes the schedule cannot run:
// interleaved needs v ≥ 2, p ≥ 2 and m divisible by p; the others v = 1.
void check_shape(ScheduleKind kind, const ScheduleShape& shape);

// GPipe: every forward, then every backward (m activation sets live at once).
Schedule gpipe_schedule(const ScheduleShape& shape);
// 1F1B (PipeDream-Flush): p − r − 1 warm-up forwards on rank r, then one
// forward / one backward alternately, then the remaining backwards.
Schedule one_f_one_b_schedule(const ScheduleShape& shape);
// Interleaved 1F1B (Narayanan et al. 2021, Megatron-LM's order): v chunks per
// rank, micro-batches taken in groups of p per chunk.
Schedule interleaved_schedule(const ScheduleShape& shape);
Schedule make_schedule(ScheduleKind kind, const ScheduleShape& shape);
// Forward only (evaluation): each micro-batch through every chunk in order,
// no backward; the executor frees each activation set when its forward returns.
Schedule forward_only_schedule(const ScheduleShape& shape);

// Message tag of a send/recv action: unique per (direction, micro-batch,
// chunk of the receiving stage) within an iteration, below MPI's 32767.
int message_tag(const Action& a, const ScheduleShape& shape);

}  // namespace trident::pipeline
