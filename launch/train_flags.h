// trident-train's flags (launch/train_flags.cc holds the table, by group).
#pragma once

#include <CLI/CLI.hpp>
#include <string>

#include "launch/flag_table.h"
#include "launch/train_config.h"

namespace trident::launch {

// Registers every flag on `app`, bound to the fields of `cfg`.
FlagTable add_train_flags(CLI::App& app, TrainConfig& cfg);

// Records in cfg.flags_given the flags `app` parsed from the command line (and
// --config), as snake_case keys: what --load and --load-hf must not replace,
// and what trident-plan keeps fixed.
void record_flags_given(const CLI::App& app, TrainConfig& cfg);

// docs/flags.md: every flag of `app` by group, with its default and
// description, as Markdown tables (trident-train --print-flag-reference; a
// test keeps the committed file equal to it).
std::string flag_reference(const CLI::App& app);

}  // namespace trident::launch
