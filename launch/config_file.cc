#include "launch/config_file.h"

#include <algorithm>
#include <fstream>
#include <nlohmann/json.hpp>

#include "framework/core/error.h"

namespace trident::launch {
namespace {

size_t edit_distance(const std::string& a, const std::string& b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diagonal = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      const size_t up = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] != b[j - 1])});
      diagonal = up;
    }
  }
  return row[b.size()];
}

const CLI::Option* find_flag(const CLI::App& app, const std::string& name) {
  for (const CLI::Option* o : app.get_options())
    for (const std::string& l : o->get_lnames())
      if (l == name) return o;
  return nullptr;
}

}  // namespace

std::string nearest_flag(const CLI::App& app, const std::string& unknown) {
  std::string bare = unknown;
  bare.erase(0, bare.find_first_not_of('-'));
  bare = bare.substr(0, bare.find('='));
  std::replace(bare.begin(), bare.end(), '_', '-');
  std::string best;
  size_t best_distance = SIZE_MAX;
  for (const CLI::Option* o : app.get_options())
    for (const std::string& l : o->get_lnames())
      if (const size_t d = edit_distance(bare, l); d < best_distance) {
        best_distance = d;
        best = "--" + l;
      }
  return best;
}

std::vector<std::string> expand_config_file(const CLI::App& app, const std::vector<std::string>& args) {
  std::vector<std::string> from_file, rest;
  for (size_t i = 0; i < args.size(); ++i) {
    std::string path;
    if (args[i] == "--config") {
      TRIDENT_USAGE_CHECK(i + 1 < args.size(), "--config needs a file name");
      path = args[++i];
    } else if (args[i].starts_with("--config=")) {
      path = args[i].substr(9);
    } else {
      rest.push_back(args[i]);
      continue;
    }
    std::ifstream in(path);
    TRIDENT_USAGE_CHECK(in.good(), "--config ", path, " cannot be read: check the path");
    nlohmann::json j;
    try {
      in >> j;
    } catch (const std::exception& e) {
      throw UsageError("--config " + path + " is not valid JSON (" + e.what() + ")");
    }
    TRIDENT_USAGE_CHECK(j.is_object(), "--config ", path, " must hold a JSON object of flag names and values");
    for (const auto& [key, value] : j.items()) {
      std::string name = key;
      name.erase(0, name.find_first_not_of('-'));
      std::replace(name.begin(), name.end(), '_', '-');
      const CLI::Option* opt = find_flag(app, name);
      TRIDENT_USAGE_CHECK(opt != nullptr && name != "config", "unknown key '", key, "' in --config ", path,
                          ": did you mean '", nearest_flag(app, name).substr(2), "'?");
      const std::string flag = "--" + name;
      auto token = [&](const nlohmann::json& v) {
        TRIDENT_USAGE_CHECK(v.is_number() || v.is_string(), "key '", key, "' in --config ", path,
                            ": expected a number, a string, true/false or a list, got ", v.dump());
        return v.is_string() ? v.get<std::string>() : v.dump();
      };
      if (value.is_boolean()) {
        if (value.get<bool>()) {
          from_file.push_back(flag);
        } else {
          const bool negatable = find_flag(app, "no-" + name) != nullptr;
          if (negatable) from_file.push_back("--no-" + name);  // else false is the default: nothing to say
        }
      } else if (value.is_array()) {
        for (const auto& v : value) {
          from_file.push_back(flag);
          from_file.push_back(token(v));
        }
      } else {
        from_file.push_back(flag);
        from_file.push_back(token(value));
      }
    }
  }
  from_file.insert(from_file.end(), rest.begin(), rest.end());
  return from_file;
}

}  // namespace trident::launch
