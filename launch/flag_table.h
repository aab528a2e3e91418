// FlagTable: a program's flags, each bound to the config field it sets, in
// groups (model, parallelism, ...). The one place a flag is written down:
// CLI11 parses through it, --help and docs/flags.md list it by group, and
// to_json() writes every field back under its flag name (the resolved
// config a run logs and stores in its checkpoints).
#pragma once

#include <CLI/CLI.hpp>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

namespace trident::launch {

class FlagTable {
 public:
  explicit FlagTable(CLI::App& app) : app_(app) {
    // A flag given twice takes its last value, so a wrapper's defaults can be overridden.
    app_.option_defaults()->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);
  }

  // Flags added from now on belong to `name` (a heading of --help and docs/flags.md).
  void group(std::string name) { group_ = std::move(name); }

  // "--name[,--alias]" bound to `value`; its JSON key is the first long name with '_'.
  template <class T>
  CLI::Option* option(const std::string& names, T& value, const std::string& description) {
    CLI::Option* o = app_.add_option(names, value, description)->group(group_);
    values_.emplace_back(key_of(*o), [&value] { return nlohmann::json(value); });
    return o;
  }
  // A switch; names may include a negation ("--x,!--no-x").
  CLI::Option* flag(const std::string& names, bool& value, const std::string& description) {
    CLI::Option* o = app_.add_flag(names, value, description)->group(group_);
    values_.emplace_back(key_of(*o), [&value] { return nlohmann::json(value); });
    return o;
  }

  // Every flag's current value by key ("num_layers"), in table order.
  nlohmann::json to_json() const {
    nlohmann::json j = nlohmann::json::object();
    for (const auto& [key, get] : values_) j[key] = get();
    return j;
  }

  // A flag's JSON key: its first long name with '_' ("num_layers").
  static std::string key_of(const CLI::Option& o) {
    std::string key = o.get_lnames().front();
    for (char& ch : key)
      if (ch == '-') ch = '_';
    return key;
  }

 private:

  CLI::App& app_;
  std::string group_;
  std::vector<std::pair<std::string, std::function<nlohmann::json()>>> values_;
};

}  // namespace trident::launch
