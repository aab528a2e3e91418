// --config files and unknown flags (launch/config_file.h): a value of the
// wrong kind names its key and the file; a Megatron-LM flag trident lacks
// is refused by name (Note [Megatron-LM flags trident lacks]), a typo gets
// the nearest flag.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <set>
#include <unistd.h>

#include "framework/core/error.h"
#include "launch/config_file.h"
#include "launch/train_flags.h"

namespace trident::launch {
namespace {

// Writes `json` to a --config file; expands it with trident-train's flags.
class ConfigFile : public ::testing::Test {
 protected:
  std::vector<std::string> expand(const std::string& json) {
    std::ofstream(path_) << json;
    return expand_config_file(app_, {"--config", path_});
  }
  // The UsageError's message for `json` ("" when it expands).
  std::string error_of(const std::string& json) {
    try {
      expand(json);
    } catch (const UsageError& e) {
      return e.what();
    }
    return "";
  }
  void TearDown() override { std::filesystem::remove(path_); }

  const std::string path_ = (std::filesystem::temp_directory_path() /
                             ("trident_config_" + std::to_string(::getpid()) + ".json")).string();
  TrainConfig cfg_;
  CLI::App app_;
  FlagTable flags_ = add_train_flags(app_, cfg_);
};

TEST(MissingMegatronFlags, NoneIsAFlagOfTrident) {
  TrainConfig cfg;
  CLI::App app;
  add_train_flags(app, cfg);
  std::set<std::string_view> seen;
  size_t names = 0;
  for (const MissingMegatronFlags& group : missing_megatron_flags()) {
    EXPECT_TRUE(group.issue == 0 || !group.note.empty()) << "issue " << group.issue << " needs its topic";
    for (std::string_view name : group.names) {
      ++names;
      EXPECT_TRUE(seen.insert(name).second) << name << " is in the table twice";
      EXPECT_FALSE(name.starts_with("-") || name.find('_') != std::string_view::npos) << name;
      EXPECT_EQ(app.get_option_no_throw("--" + std::string(name)), nullptr)
          << "--" << name << " is a trident flag now: take it out of missing_megatron_flags()";
    }
  }
  EXPECT_GE(names, 35u);
}

TEST(MissingMegatronFlags, MessagesSayWhy) {
  EXPECT_EQ(missing_megatron_flag_message("--rotary-percent"),
            "--rotary-percent is a Megatron-LM flag not supported by trident: RoPE rotates the whole head "
            "(Megatron's --rotary-percent 1.0)");
  EXPECT_EQ(missing_megatron_flag_message("--hidden-dropout"),
            "--hidden-dropout is a Megatron-LM flag not supported by trident: trident trains without dropout");
  // As the user wrote it: with a value, with underscores, or as a --config key.
  EXPECT_EQ(missing_megatron_flag_message("--use_rope_scaling=true"), missing_megatron_flag_message("--use-rope-scaling"));
  EXPECT_EQ(missing_megatron_flag_message("kv_channels"), missing_megatron_flag_message("--kv-channels"));
  EXPECT_NE(missing_megatron_flag_message("--kv-channels")->find("head size"), std::string::npos);
  // Others are not Megatron flags trident lacks: typos, and trident's own flags (Llama's among them now).
  for (const char* other : {"--num-layer", "--num-layers", "--hidden-size", "--exit-interval", "--micro-batch-size",
                            "--swiglu", "--group-query-attention", "--ffn-hidden-size"})
    EXPECT_EQ(missing_megatron_flag_message(other), std::nullopt) << other;
}

TEST_F(ConfigFile, ValuesOfTheirKindBecomeFlags) {
  EXPECT_EQ(expand(R"({"num-layers": "4", "lr": "1e-3", "seed": 7, "bf16": true, "fp16": false,
                       "overlap-grad-reduce": false, "split": 100, "pipeline-layers-per-stage": [3, "5"],
                       "inject-fault": ["nan@3", "spike@5"]})"),
            (std::vector<std::string>{"--bf16", "--inject-fault", "nan@3", "spike@5", "--lr", "1e-3",
                                      "--num-layers", "4", "--no-overlap-grad-reduce", "--pipeline-layers-per-stage",
                                      "3", "5", "--seed", "7", "--split", "100"}));
  EXPECT_EQ(expand(R"({"pipeline_layers_per_stage": "3,5"})"),
            (std::vector<std::string>{"--pipeline-layers-per-stage", "3,5"}));
}

// A flag of several values given twice: the last occurrence wins whole (the
// command line's over the file's); a repeatable flag keeps every occurrence.
TEST_F(ConfigFile, TheLastOccurrenceOfAManyValuedFlagWins) {
  std::ofstream(path_) << R"({"pipeline-layers-per-stage": [3, 5], "data-path": ["0.5", "A", "0.5", "B"],
                             "inject-fault": ["nan@3"]})";
  const std::vector<std::string> args =
      expand_config_file(app_, {"--config", path_, "--pipeline-layers-per-stage", "4", "4", "--data-path=C",
                                "--inject-fault", "spike@5"});
  EXPECT_EQ(args, (std::vector<std::string>{"--inject-fault", "nan@3", "--pipeline-layers-per-stage", "4", "4",
                                            "--data-path=C", "--inject-fault", "spike@5"}));
}

TEST_F(ConfigFile, AValueOfTheWrongKindNamesKeyAndFile) {
  const std::string in = "' in --config " + path_ + ": ";
  const std::pair<const char*, std::string> cases[] = {
      {R"({"bf16": "true"})", "key 'bf16" + in + R"(expected true or false, got "true")"},
      {R"({"bf16": [true]})", "key 'bf16" + in + "expected true or false, got [true]"},
      {R"({"num-layers": "four"})", "key 'num-layers" + in + R"(expected an integer, got "four")"},
      {R"({"num_layers": true})", "key 'num_layers" + in + "expected an integer, got true"},
      {R"({"num-layers": 2.5})", "key 'num-layers" + in + "expected an integer, got 2.5"},
      {R"({"num-layers": "4 "})", "key 'num-layers" + in + R"(expected an integer, got "4 ")"},
      {R"({"num-layers": null})", "key 'num-layers" + in + "expected an integer, got null"},
      {R"({"num-layers": [1, 2]})", "key 'num-layers" + in + "expected one integer, got a list: [1,2]"},
      {R"({"seed": -1})", "key 'seed" + in + "expected a non-negative integer, got -1"},
      {R"({"seed": "-1"})", "key 'seed" + in + R"(expected a non-negative integer, got "-1")"},
      {R"({"lr": "fast"})", "key 'lr" + in + R"(expected a number, got "fast")"},
      {R"({"lr": {"peak": 1}})", "key 'lr" + in + R"(expected a number, got {"peak":1})"},
      {R"({"data-path": false})", "key 'data-path" + in + "expected a list of strings, got false"},
      {R"({"pipeline-layers-per-stage": [1, "x"]})",
       "key 'pipeline-layers-per-stage" + in + R"(expected a list of integers, got "x")"},
      {R"({"pipeline-layers-per-stage": "3,x"})",
       "key 'pipeline-layers-per-stage" + in + R"(expected a list of integers, got "3,x")"},
  };
  for (const auto& [json, message] : cases) EXPECT_EQ(error_of(json), message) << json;
}

TEST_F(ConfigFile, UnknownKeysAreMegatronFlagsOrTypos) {
  EXPECT_EQ(error_of(R"({"use_rope_scaling": true})"),
            "key 'use_rope_scaling' in --config " + path_ + ": " + *missing_megatron_flag_message("--use-rope-scaling"));
  EXPECT_EQ(error_of(R"({"num-layer": 3})"),
            "unknown key 'num-layer' in --config " + path_ + ": did you mean 'num-layers'?");
  EXPECT_EQ(nearest_flag(app_, "--num_layer=3"), "--num-layers");
}

}  // namespace
}  // namespace trident::launch
