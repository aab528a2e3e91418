// The flag table is the one place a flag is written down: every flag's
// value comes back out of TrainConfig::to_json() under its name, and that
// JSON, given back as a --config file, sets every field again.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <unistd.h>

#include "launch/config_file.h"
#include "launch/resume_flags.h"
#include "launch/train_flags.h"

namespace trident::launch {
namespace {

// A value of the same kind as `v` that differs from it.
nlohmann::json other_value(const nlohmann::json& v) {
  if (v.is_boolean()) return !v.get<bool>();
  if (v.is_number_unsigned()) return v.get<uint64_t>() + 3;
  if (v.is_number_integer()) return v.get<int64_t>() + 3;
  if (v.is_number_float()) return v.get<double>() * 2.0 + 0.5;  // 0.5 steps are exact in float too
  if (v.is_string()) return v.get<std::string>() + "x";
  return nlohmann::json::array({"3", "5"});  // list flags: ints and strings both parse "3"
}

// Floats pass through float fields, lists of numbers through strings: compare what they mean.
bool same(const nlohmann::json& a, const nlohmann::json& b) {
  if (a.is_number_float() || b.is_number_float())  // through a float field: float's rounding
    return std::abs(a.get<double>() - b.get<double>()) <= 1e-6 * std::abs(a.get<double>());
  if (a.is_array() && b.is_array()) {
    if (a.size() != b.size()) return false;
    for (size_t i = 0; i < a.size(); ++i)
      if ((a[i].is_string() ? a[i].get<std::string>() : a[i].dump()) !=
          (b[i].is_string() ? b[i].get<std::string>() : b[i].dump()))
        return false;
    return true;
  }
  return a == b;
}

nlohmann::json parse_config_file(const nlohmann::json& j, TrainConfig& cfg) {
  const std::string path = (std::filesystem::temp_directory_path() /
                            ("trident_flags_" + std::to_string(::getpid()) + ".json")).string();
  std::ofstream(path) << j.dump();
  CLI::App app;
  add_train_flags(app, cfg);
  std::vector<std::string> args = expand_config_file(app, {"--config", path});
  std::reverse(args.begin(), args.end());  // CLI11 takes a vector last-first
  app.parse(args);
  std::filesystem::remove(path);
  return cfg.to_json();
}

TEST(TrainFlags, EveryFlagRoundTripsThroughTheConfigJson) {
  TrainConfig defaults;
  CLI::App app;
  const nlohmann::json before = add_train_flags(app, defaults).to_json();
  // Every long flag of the table has its key.
  size_t flags = 0;
  for (const CLI::Option* o : app.get_options()) {
    if (o->get_lnames().empty() || o->get_lnames().front() == "help") continue;
    const std::string key = FlagTable::key_of(*o);
    EXPECT_TRUE(before.contains(key)) << key;
    ++flags;
  }
  EXPECT_EQ(before.size(), flags);
  nlohmann::json changed = nlohmann::json::object();
  for (const auto& [key, value] : before.items()) changed[key] = other_value(value);
  TrainConfig cfg;
  const nlohmann::json after = parse_config_file(changed, cfg);
  for (const auto& [key, value] : changed.items()) {
    ASSERT_TRUE(after.contains(key)) << key;
    EXPECT_TRUE(same(after[key], value)) << key << ": set " << value << ", read back " << after[key];
    EXPECT_FALSE(same(after[key], before[key])) << key << " kept its default";
  }
  EXPECT_EQ(cfg.model.num_layers, defaults.model.num_layers + 3);  // the fields themselves changed
  EXPECT_EQ(cfg.overlap_grad_reduce, !defaults.overlap_grad_reduce);
}

// What the user gave (and only that) is recorded, as keys; a setting prints as the user would write it.
TEST(TrainFlags, FlagsGivenAndTheirSettings) {
  TrainConfig cfg;
  CLI::App app;
  add_train_flags(app, cfg);
  // --num-layers 6 --swiglu --lr 0.003 --data-path a b (CLI11 takes a vector last-first)
  app.parse(std::vector<std::string>{"b", "a", "--data-path", "0.003", "--lr", "--swiglu", "6", "--num-layers"});
  record_flags_given(app, cfg);
  EXPECT_EQ(cfg.flags_given, (std::set<std::string>{"num_layers", "swiglu", "lr", "data_path"}));
  const nlohmann::json j = cfg.to_json();
  EXPECT_EQ(flag_setting("num_layers", j["num_layers"]), "--num-layers 6");
  EXPECT_EQ(flag_setting("lr", j["lr"]), "--lr 0.003");  // at float's precision
  EXPECT_EQ(flag_setting("swiglu", j["swiglu"]), "--swiglu");
  EXPECT_EQ(flag_setting("swiglu", false), "no --swiglu");
  EXPECT_EQ(flag_setting("data_path", j["data_path"]), "--data-path a b");
  EXPECT_EQ(flag_setting("pipeline_layers_per_stage", nlohmann::json::array({3, 5})),
            "--pipeline-layers-per-stage 3 5");
}

TEST(TrainFlags, TheReferenceListsEveryGroup) {
  TrainConfig cfg;
  CLI::App app;
  add_train_flags(app, cfg);
  const std::string reference = flag_reference(app);
  for (const char* group : {"model", "training", "data", "evaluation", "parallelism", "device", "precision",
                            "checkpointing", "divergence guard", "logging"})
    EXPECT_NE(reference.find(std::string("\n## ") + group + "\n"), std::string::npos) << group;
  EXPECT_NE(reference.find("`--eval-interval`"), std::string::npos);
}

// The shipped --config files: each parses and validates, and Llama-3-8B's
// shape has its published parameter count, 8,030,261,248 (Meta's model
// card: "8B"; embed_tokens and lm_head untied, 128256 ids).
TEST(TrainFlags, TheLlamaConfigFilesDescribeTheirModels) {
  for (const char* name : {"llama-tiny.json", "llama3-8b.json"}) {
    const std::string path = std::string(TRIDENT_SOURCE_DIR) + "/models/gpt/configs/" + name;
    TrainConfig cfg;
    CLI::App app;
    add_train_flags(app, cfg);
    std::vector<std::string> args = expand_config_file(app, {"--config", path});
    std::reverse(args.begin(), args.end());
    app.parse(args);
    cfg.validate_and_resolve(1, 1);
    EXPECT_TRUE(cfg.model.rope() && cfg.model.rms_norm() && cfg.model.swiglu && !cfg.model.tied_output() &&
                !cfg.model.bias_linear())
        << name;
    if (std::string(name) == "llama3-8b.json") {
      EXPECT_EQ(cfg.model.num_parameters(), 8'030'261'248) << cfg.model.summary();
      EXPECT_EQ(cfg.model.kv_heads(), 8);
      EXPECT_EQ(cfg.model.dtype, DType::bf16);
    } else {
      EXPECT_EQ(cfg.model.hidden_size, 256);
      EXPECT_EQ(cfg.model.kv_heads(), 2);
      EXPECT_EQ(cfg.model.ffn_hidden(), 704);
    }
  }
}

}  // namespace
}  // namespace trident::launch
