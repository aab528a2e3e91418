// --config FILE: a JSON object whose keys are trident-train's flag names
// ("num-layers" or "num_layers") and whose values are the flags' values
// (true/false for switches, a list for list flags). The file's flags go
// before the command line's, so a flag given on the command line wins (the
// last value of a repeated flag is taken). Unknown keys and unknown flags
// are errors that name the nearest valid flag.
#pragma once

#include <CLI/CLI.hpp>
#include <string>
#include <vector>

namespace trident::launch {

// The command line (without the program name) with any --config FILE
// replaced by the flags the file holds, placed first. UsageError for a
// missing or malformed file or an unknown key.
std::vector<std::string> expand_config_file(const CLI::App& app, const std::vector<std::string>& args);

// The valid long flag nearest to `unknown` (edit distance), e.g. "--num-layers" for "--num-layer".
std::string nearest_flag(const CLI::App& app, const std::string& unknown);

}  // namespace trident::launch
