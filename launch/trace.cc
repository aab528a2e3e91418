#include "launch/trace.h"

#include <chrono>
#include <fstream>
#include <nlohmann/json.hpp>

#include "framework/core/error.h"
#include "framework/dist/string_gather.h"

namespace trident::launch {

double trace_clock() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

void Trace::span(const std::string& name, const char* category, double start_s, double end_s) {
  events_.push_back({name, category, start_s, end_s});
}

void Trace::pipeline_actions(const std::vector<pipeline::TimedAction>& timings, bool name_chunks) {
  for (const pipeline::TimedAction& t : timings) {
    const pipeline::Action& a = t.action;
    const bool send = a.kind == pipeline::ActionKind::send_activation || a.kind == pipeline::ActionKind::send_grad;
    span(std::string(pipeline::action_kind_name(a.kind)) + " mb " + std::to_string(a.micro_batch) +
             (name_chunks ? " chunk " + std::to_string(a.chunk) : std::string()),
         a.is_compute() ? pipeline::action_kind_name(a.kind) : send ? "pipeline send" : "pipeline wait", t.start,
         t.end);
  }
}

void Trace::write(const std::string& path, const std::string& track_name, dist::Comm& world) const {
  nlohmann::json mine = {{"name", track_name}, {"events", nlohmann::json::array()}};
  for (const Event& e : events_)
    mine["events"].push_back({e.name, e.category, e.start_s, e.end_s});
  const std::vector<std::string> all = dist::all_gather_strings(mine.dump(), world);
  if (world.rank() != 0) return;
  nlohmann::json trace = {{"displayTimeUnit", "ms"}, {"traceEvents", nlohmann::json::array()}};
  auto& events = trace["traceEvents"];
  double origin = 1e300;  // the job's first moment: timestamps start near zero
  std::vector<nlohmann::json> ranks;
  for (const std::string& s : all) {
    ranks.push_back(nlohmann::json::parse(s));
    for (const auto& e : ranks.back()["events"]) origin = std::min(origin, e[2].get<double>());
  }
  for (size_t r = 0; r < ranks.size(); ++r) {
    events.push_back({{"ph", "M"}, {"name", "process_name"}, {"pid", r}, {"args", {{"name", ranks[r]["name"]}}}});
    events.push_back({{"ph", "M"}, {"name", "process_sort_index"}, {"pid", r}, {"args", {{"sort_index", r}}}});
    for (const auto& e : ranks[r]["events"]) {
      const double start = e[2].get<double>(), end = e[3].get<double>();
      events.push_back({{"ph", "X"}, {"name", e[0]}, {"cat", e[1]}, {"pid", r}, {"tid", 0},
                        {"ts", (start - origin) * 1e6}, {"dur", (end - start) * 1e6}});
    }
  }
  std::ofstream out(path, std::ios::trunc);
  out << trace.dump() << '\n';
  TRIDENT_CHECK(out.good(), "cannot write --trace ", path);
}

}  // namespace trident::launch
