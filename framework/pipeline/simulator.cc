#include "framework/pipeline/simulator.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <sstream>
#include <tuple>

namespace trident::pipeline {

double Simulation::bubble_fraction() const {
  if (makespan <= 0.0 || busy.empty()) return 0.0;
  double total = 0.0;
  for (double b : busy) total += b;
  return 1.0 - total / (double(busy.size()) * makespan);
}

int peak_live_activations(const std::vector<Action>& actions) {
  int live = 0, peak = 0;
  for (const Action& a : actions) {
    if (a.kind == ActionKind::forward) peak = std::max(peak, ++live);
    if (a.kind == ActionKind::backward) --live;
  }
  return peak;
}

Simulation simulate(const Schedule& schedule, const ScheduleShape& shape, const Costs& costs) {
  const int p = int(schedule.size());
  Simulation sim;
  sim.busy.assign(size_t(p), 0.0);
  sim.timeline.resize(size_t(p));
  std::vector<size_t> next(size_t(p), 0);
  std::vector<double> clock(size_t(p), 0.0);
  // In flight: (from, to, tag) -> arrival times, oldest first.
  std::map<std::tuple<int, int, int>, std::vector<double>> messages;
  bool progressed = true;
  while (progressed) {
    progressed = false;
    for (int r = 0; r < p; ++r) {
      auto& list = schedule[size_t(r)];
      double& t = clock[size_t(r)];
      for (size_t& i = next[size_t(r)]; i < list.size(); ++i) {
        const Action& a = list[i];
        const int tag = message_tag(a, shape);
        if (a.kind == ActionKind::recv_activation || a.kind == ActionKind::recv_grad) {
          auto it = messages.find({a.peer, r, tag});
          if (it == messages.end() || it->second.empty()) break;  // wait; other ranks go on
          t = std::max(t, it->second.front());
          it->second.erase(it->second.begin());
        } else if (a.kind == ActionKind::send_activation || a.kind == ActionKind::send_grad) {
          messages[{r, a.peer, tag}].push_back(t + costs.transfer);
        } else {
          const double cost = a.kind == ActionKind::forward ? costs.forward : costs.backward;
          sim.timeline[size_t(r)].push_back({a, t, t + cost});
          t += cost;
          sim.busy[size_t(r)] += cost;
        }
        progressed = true;
      }
    }
  }
  std::ostringstream blocked;
  for (int r = 0; r < p; ++r) {
    const auto& list = schedule[size_t(r)];
    if (next[size_t(r)] < list.size()) {
      const Action& a = list[next[size_t(r)]];
      blocked << (sim.deadlock ? "; " : "") << "rank " << r << " waits in " << action_kind_name(a.kind)
              << " of micro-batch " << a.micro_batch << " chunk " << a.chunk << " from rank " << a.peer;
      sim.deadlock = true;
    }
    sim.makespan = std::max(sim.makespan, clock[size_t(r)]);
    sim.peak_live.push_back(peak_live_activations(list));
  }
  sim.deadlock_report = blocked.str();
  return sim;
}

std::string format_timeline(const Simulation& sim, const ScheduleShape& shape, double quantum) {
  const int cells = int(std::ceil(sim.makespan / quantum - 1e-9));
  const size_t width = shape.chunks > 1 ? 6 : 4;
  const std::string idle = ".", busy = "-";
  std::ostringstream out;
  for (size_t r = 0; r < sim.timeline.size(); ++r) {
    std::vector<std::string> row(size_t(cells), idle);
    for (const TimedAction& ta : sim.timeline[r]) {
      const int first = int(std::lround(ta.start / quantum)), last = int(std::lround(ta.end / quantum));
      for (int c = first; c < last && c < cells; ++c) row[size_t(c)] = busy;
      std::ostringstream label;
      label << (ta.action.kind == ActionKind::forward ? 'F' : 'B') << ta.action.micro_batch;
      if (shape.chunks > 1) label << '.' << ta.action.chunk;
      if (first < cells) row[size_t(first)] = label.str();
    }
    out << "rank " << r << " |";
    for (const std::string& cell : row) out << cell << std::string(width - std::min(width - 1, cell.size()), ' ');
    out << "\n";
  }
  return out.str();
}

}  // namespace trident::pipeline
