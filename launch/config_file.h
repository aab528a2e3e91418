// --config FILE: a JSON object whose keys are trident-train's flag names
// ("num-layers" or "num_layers") and whose values are the flags' values
// (true/false for switches, a list for list flags). The file's flags go
// before the command line's, so a flag given on the command line wins (the
// last value of a repeated flag is taken). A value of the wrong kind is an
// error naming its key and the file. Unknown keys and unknown flags are
// errors: a Megatron-LM flag trident lacks is named as such (with what is
// planned for it), anything else gets the nearest valid flag.
#pragma once

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace trident::launch {

// The command line (without the program name) with any --config FILE
// replaced by the flags the file holds, placed first. UsageError for a
// missing or malformed file, an unknown key or a value of the wrong kind.
std::vector<std::string> expand_config_file(const CLI::App& app, const std::vector<std::string>& args);

// Flag values by key ({"num_layers": 2, "bf16": true}) as command-line
// tokens, checked as a --config file's are; `source` names them in errors.
std::vector<std::string> flags_from_json(const CLI::App& app, const nlohmann::json& values, const std::string& source);

// The valid long flag nearest to `unknown` (edit distance), e.g. "--num-layers" for "--num-layer".
std::string nearest_flag(const CLI::App& app, const std::string& unknown);

// Megatron-LM flags trident does not have, grouped by what is planned for them.
struct MissingMegatronFlags {
  int issue;              // the roadmap issue that brings them; 0: not planned
  std::string_view note;  // planned: the issue's topic; not planned: why not, or empty
  std::vector<std::string_view> names;  // without dashes: "ffn-hidden-size"
};
const std::vector<MissingMegatronFlags>& missing_megatron_flags();

// For a flag of missing_megatron_flags() ("--x", "--x=v", "x", "x_y"), the
// one-line refusal: "--x is a Megatron-LM flag trident does not support yet
// (planned: issue N, topic)" or "--x is a Megatron-LM flag not supported by
// trident: why"; nullopt for any other name.
std::optional<std::string> missing_megatron_flag_message(const std::string& flag);

}  // namespace trident::launch
