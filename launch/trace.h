// --trace FILE: a Chrome trace-event JSON file (opens in Perfetto and
// chrome://tracing) with one track per rank: each iteration, forward and
// backward of every (micro-batch, chunk), waits for a pipeline neighbour,
// the data-parallel gradient all-reduce, the optimizer step, checkpoint
// saves. Spans are kept in memory for the first --trace-iterations
// iterations and written by rank 0 when training ends. Times are each
// process's steady clock: one node's ranks share it; across nodes tracks
// are offset by the clocks' difference.
#pragma once

#include <string>
#include <vector>

#include "framework/dist/comm.h"
#include "framework/pipeline/simulator.h"

namespace trident::launch {

class Trace {
 public:
  void span(const std::string& name, const char* category, double start_s, double end_s);
  // One span per executed pipeline action: compute, sends posted, waits for a neighbour.
  void pipeline_actions(const std::vector<pipeline::TimedAction>& timings, bool name_chunks);
  bool empty() const { return events_.empty(); }
  // Collective over `world`: rank 0 writes every rank's spans to `path`,
  // naming each track by `track_name` (this rank's "rank 3 (tp 1, pp 0, dp 1)").
  void write(const std::string& path, const std::string& track_name, dist::Comm& world) const;

 private:
  struct Event {
    std::string name;
    const char* category;
    double start_s, end_s;
  };
  std::vector<Event> events_;
};

double trace_clock();  // seconds of the steady clock

}  // namespace trident::launch
