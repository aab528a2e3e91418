#include "framework/pipeline/schedule.h"

#include <algorithm>

#include "framework/core/error.h"

namespace trident::pipeline {

const char* action_kind_name(ActionKind kind) {
  switch (kind) {
    case ActionKind::forward: return "forward";
    case ActionKind::backward: return "backward";
    case ActionKind::send_activation: return "send_activation";
    case ActionKind::recv_activation: return "recv_activation";
    case ActionKind::send_grad: return "send_grad";
    case ActionKind::recv_grad: return "recv_grad";
  }
  return "?";
}

ScheduleKind schedule_kind_from_name(const std::string& name) {
  if (name == "gpipe") return ScheduleKind::gpipe;
  if (name == "1f1b") return ScheduleKind::one_f_one_b;
  if (name == "interleaved") return ScheduleKind::interleaved;
  throw UsageError("unknown --pipeline-schedule '" + name + "': use gpipe, 1f1b or interleaved");
}

const char* schedule_kind_name(ScheduleKind kind) {
  switch (kind) {
    case ScheduleKind::gpipe: return "gpipe";
    case ScheduleKind::one_f_one_b: return "1f1b";
    case ScheduleKind::interleaved: return "interleaved";
  }
  return "?";
}

void check_shape(ScheduleKind kind, const ScheduleShape& s) {
  TRIDENT_USAGE_CHECK(s.stages >= 1 && s.micro_batches >= 1 && s.chunks >= 1,
                      "a pipeline needs at least one stage, micro-batch and chunk");
  if (kind != ScheduleKind::interleaved) {
    TRIDENT_USAGE_CHECK(s.chunks == 1, "--num-virtual-stages-per-pipeline-rank ", s.chunks,
                        " needs --pipeline-schedule interleaved");
    return;
  }
  TRIDENT_USAGE_CHECK(s.chunks >= 2, "the interleaved schedule needs --num-virtual-stages-per-pipeline-rank of at "
                      "least 2 (with one chunk per rank, use 1f1b)");
  TRIDENT_USAGE_CHECK(s.stages >= 2, "--num-virtual-stages-per-pipeline-rank ", s.chunks,
                      " (the interleaved schedule) needs --pipeline-model-parallel-size of at least 2");
  TRIDENT_USAGE_CHECK(s.micro_batches % s.stages == 0, "the interleaved schedule needs the number of micro-batches (",
                      s.micro_batches, " = global batch / (micro-batch size x dp)) divisible by "
                      "--pipeline-model-parallel-size ", s.stages);
}

namespace {

struct Compute {
  bool forward;
  int micro_batch, chunk;
};

// Adds the transfers around each compute action: a stage receives its input
// just before a forward and its output gradient just before a backward, and
// sends as soon as it has computed (Note [virtual stages] for the peers).
std::vector<Action> with_transfers(const std::vector<Compute>& order, int rank, const ScheduleShape& shape) {
  const int p = shape.stages, last = shape.virtual_stages() - 1;
  std::vector<Action> out;
  for (const Compute& c : order) {
    const int stage = c.chunk * p + rank;
    const int prev = (rank + p - 1) % p, next = (rank + 1) % p;
    if (c.forward) {
      if (stage > 0) out.push_back({ActionKind::recv_activation, c.micro_batch, c.chunk, prev});
      out.push_back({ActionKind::forward, c.micro_batch, c.chunk});
      if (stage < last) out.push_back({ActionKind::send_activation, c.micro_batch, c.chunk, next});
    } else {
      if (stage < last) out.push_back({ActionKind::recv_grad, c.micro_batch, c.chunk, next});
      out.push_back({ActionKind::backward, c.micro_batch, c.chunk});
      if (stage > 0) out.push_back({ActionKind::send_grad, c.micro_batch, c.chunk, prev});
    }
  }
  return out;
}

}  // namespace

Schedule gpipe_schedule(const ScheduleShape& shape) {
  check_shape(ScheduleKind::gpipe, shape);
  Schedule out;
  for (int r = 0; r < shape.stages; ++r) {
    std::vector<Compute> order;
    for (int mb = 0; mb < shape.micro_batches; ++mb) order.push_back({true, mb, 0});
    for (int mb = 0; mb < shape.micro_batches; ++mb) order.push_back({false, mb, 0});
    out.push_back(with_transfers(order, r, shape));
  }
  return out;
}

Schedule forward_only_schedule(const ScheduleShape& shape) {
  TRIDENT_USAGE_CHECK(shape.stages >= 1 && shape.micro_batches >= 1 && shape.chunks >= 1,
                      "a pipeline needs at least one stage, micro-batch and chunk");
  Schedule out;
  for (int r = 0; r < shape.stages; ++r) {
    // (micro-batch, chunk) in order on every rank: each waits only for earlier virtual stages.
    std::vector<Compute> order;
    for (int mb = 0; mb < shape.micro_batches; ++mb)
      for (int c = 0; c < shape.chunks; ++c) order.push_back({true, mb, c});
    out.push_back(with_transfers(order, r, shape));
  }
  return out;
}

Schedule one_f_one_b_schedule(const ScheduleShape& shape) {
  check_shape(ScheduleKind::one_f_one_b, shape);
  const int p = shape.stages, m = shape.micro_batches;
  Schedule out;
  for (int r = 0; r < p; ++r) {
    const int warmup = std::min(p - r - 1, m);
    std::vector<Compute> order;
    for (int mb = 0; mb < warmup; ++mb) order.push_back({true, mb, 0});
    for (int i = 0; i < m - warmup; ++i) {
      order.push_back({true, warmup + i, 0});
      order.push_back({false, i, 0});
    }
    for (int mb = m - warmup; mb < m; ++mb) order.push_back({false, mb, 0});
    out.push_back(with_transfers(order, r, shape));
  }
  return out;
}

Schedule interleaved_schedule(const ScheduleShape& shape) {
  check_shape(ScheduleKind::interleaved, shape);
  const int p = shape.stages, m = shape.micro_batches, v = shape.chunks, total = m * v;
  // The k-th forward (backward) of a rank works on micro-batch
  // (k / pv)·p + k mod p of chunk (k mod pv) / p (backward: counted from the last chunk).
  auto micro_batch = [&](int k) { return (k / (p * v)) * p + k % p; };
  auto chunk = [&](int k, bool forward) {
    const int c = (k % (p * v)) / p;
    return forward ? c : v - 1 - c;
  };
  Schedule out;
  for (int r = 0; r < p; ++r) {
    const int warmup = std::min((p - r - 1) * 2 + (v - 1) * p, total);
    std::vector<Compute> order;
    for (int k = 0; k < warmup; ++k) order.push_back({true, micro_batch(k), chunk(k, true)});
    for (int k = 0; k < total - warmup; ++k) {
      order.push_back({true, micro_batch(k + warmup), chunk(k + warmup, true)});
      order.push_back({false, micro_batch(k), chunk(k, false)});
    }
    for (int k = total - warmup; k < total; ++k) order.push_back({false, micro_batch(k), chunk(k, false)});
    out.push_back(with_transfers(order, r, shape));
  }
  return out;
}

Schedule make_schedule(ScheduleKind kind, const ScheduleShape& shape) {
  switch (kind) {
    case ScheduleKind::gpipe: return gpipe_schedule(shape);
    case ScheduleKind::one_f_one_b: return one_f_one_b_schedule(shape);
    case ScheduleKind::interleaved: return interleaved_schedule(shape);
  }
  return {};
}

int message_tag(const Action& a, const ScheduleShape& shape) {
  // Both ends must compute the same tag: name the message by the chunk of
  // its receiving stage, and wrap (messages far apart in time never compete).
  int receiver_chunk = a.chunk;
  const int p = shape.stages;
  if (a.kind == ActionKind::send_activation && a.peer == 0) receiver_chunk = a.chunk + 1;  // wraps to the next chunk
  if (a.kind == ActionKind::send_grad && a.peer == p - 1) receiver_chunk = a.chunk - 1;
  const bool grad = a.kind == ActionKind::send_grad || a.kind == ActionKind::recv_grad;
  return (2 * (a.micro_batch * shape.chunks + receiver_chunk) + int(grad)) % 32768;
}

}  // namespace trident::pipeline
