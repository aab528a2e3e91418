#include "launch/resume_flags.h"

#include <spdlog/fmt/fmt.h>

#include "framework/core/error.h"
#include "launch/config_file.h"
#include "launch/train_flags.h"

namespace trident::launch {
namespace {

// The model's shape: the checkpoint's weights fix it.
const std::vector<std::string> kShape = {"num_layers", "hidden_size", "num_attention_heads", "seq_length",
                                         "vocab_size", "make_vocab_size_divisible_by", "position_embedding_type",
                                         "rotary_base", "normalization", "norm_epsilon", "swiglu", "ffn_hidden_size",
                                         "group_query_attention", "num_query_groups",
                                         "untie_embeddings_and_output_weights", "disable_bias_linear"};
// The LR schedule: the checkpoint's continues unless told otherwise.
const std::vector<std::string> kSchedule = {"lr", "min_lr", "lr_warmup_iters", "lr_decay_iters", "lr_decay_style"};
// The rest of what the run was: taken unless given.
const std::vector<std::string> kTraining = {
    "loss_scale", "initial_loss_scale", "min_loss_scale", "loss_scale_window", "hysteresis",
    "micro_batch_size", "global_batch_size", "seed", "weight_decay", "adam_beta1", "adam_beta2", "adam_eps",
    "clip_grad", "init_method_std", "data_path", "split", "valid_data_path"};
// What the token ids mean: taken with the shape, --finetune too.
const std::vector<std::string> kTokenizer = {"tokenizer_type", "vocab_file", "merge_file"};
// The precision is one choice: giving either flag replaces both.
const std::vector<std::string> kPrecision = {"fp16", "bf16"};

std::string joined(const std::vector<std::string>& parts, const char* sep) {
  std::string out;
  for (const std::string& p : parts) out += (out.empty() ? "" : sep) + p;
  return out;
}

// The checkpoint's flags, its model object being authoritative for the shape.
nlohmann::json saved_flags(const nlohmann::json& state) {
  nlohmann::json saved = state.value("flags", nlohmann::json::object());
  if (!state.contains("model")) return saved;
  const nlohmann::json& model = state.at("model");
  for (const std::string& key : kShape) {
    if (model.contains(key)) saved[key] = model.at(key);
    // A setting the saved model does not use (query groups without GQA, a rotary base without RoPE): not
    // compared. Other keys the model object never holds (--make-vocab-size-divisible-by) come from the flags.
    else if (model.contains("position_embedding_type") && (key == "num_query_groups" || key == "rotary_base"))
      saved.erase(key);
  }
  return saved;
}

}  // namespace

std::string flag_setting(const std::string& key, const nlohmann::json& value) {
  std::string name = key;
  for (char& ch : name)
    if (ch == '_') ch = '-';
  if (value.is_boolean()) return value.get<bool>() ? "--" + name : "no --" + name;
  // Floats at float's precision: --lr 0.003, not 0.003000000026077032.
  auto text = [](const nlohmann::json& v) {
    return v.is_string()         ? v.get<std::string>()
           : v.is_number_float() ? fmt::format("{:.7g}", v.get<double>())
                                 : v.dump();
  };
  if (!value.is_array()) return "--" + name + " " + text(value);
  std::string out = "--" + name;  // --data-path A B, --pipeline-layers-per-stage 3 5
  for (const nlohmann::json& v : value) out += " " + text(v);
  return out;
}

std::vector<std::string> take_flags_from_checkpoint(TrainConfig& cfg, const nlohmann::json& state,
                                                    const std::string& checkpoint_dir) {
  const nlohmann::json ours = cfg.to_json();
  const nlohmann::json saved = saved_flags(state);
  // --ffn-hidden-size 0 is the default width, resolved from the other flags: as good as not given.
  auto given = [&](const std::string& key) {
    return cfg.flags_given.count(key) > 0 && !(key == "ffn_hidden_size" && cfg.model.ffn_hidden_size == 0);
  };
  auto differs = [&](const std::string& key) { return saved.contains(key) && saved[key] != ours[key]; };
  nlohmann::json take = nlohmann::json::object();
  std::vector<std::string> taken, kept, theirs, mine;
  for (const std::string& key : kShape) {
    if (!saved.contains(key)) continue;
    if (!given(key)) take[key] = saved[key];
    else if (differs(key))
      theirs.push_back(flag_setting(key, saved[key])), mine.push_back(flag_setting(key, ours[key]));
  }
  TRIDENT_USAGE_CHECK(theirs.empty(), "checkpoint ", checkpoint_dir, " holds a model with ", joined(theirs, " and "),
                      ", but this run has ", joined(mine, " and "),
                      ": leave the model flags out (they come from the checkpoint) or give the checkpoint's");
  for (const std::string& key : kTokenizer)
    if (saved.contains(key) && !given(key)) take[key] = saved[key];
  if (!cfg.finetune) {  // --finetune starts a new run from the weights alone
    for (const std::string& key : kSchedule) {
      if (!saved.contains(key)) continue;
      if (!given(key) || cfg.use_checkpoint_opt_param_scheduler) {
        take[key] = saved[key];
        if (given(key) && differs(key)) kept.push_back(flag_setting(key, ours[key]) + " ignored");
        continue;
      }
      TRIDENT_USAGE_CHECK(!differs(key) || cfg.override_opt_param_scheduler, flag_setting(key, ours[key]),
                          " differs from checkpoint ", checkpoint_dir, "'s ", flag_setting(key, saved[key]),
                          ": the LR schedule continues from the checkpoint unless you add "
                          "--override-opt-param-scheduler (use the new flags) or --use-checkpoint-opt-param-scheduler");
      if (differs(key))
        kept.push_back(flag_setting(key, ours[key]) + " (checkpoint: " + flag_setting(key, saved[key]) + ")");
    }
    const bool precision_given = given("fp16") || given("bf16");
    for (const std::string& key : kPrecision)
      if (saved.contains(key) && !precision_given) take[key] = saved[key];
    for (const std::string& key : kTraining) {
      if (!saved.contains(key)) continue;
      if (!given(key)) take[key] = saved[key];
      else if (differs(key))
        kept.push_back(flag_setting(key, ours[key]) + " (checkpoint: " + flag_setting(key, saved[key]) + ")");
    }
  }
  for (const auto& [key, value] : take.items())  // (the default FFN width resolves to the saved one: not news)
    if (value != ours[key] && !(key == "ffn_hidden_size" && ours[key] == 0))
      taken.push_back(flag_setting(key, value));
  CLI::App app;
  add_train_flags(app, cfg);
  std::vector<std::string> args = flags_from_json(app, take, "checkpoint " + checkpoint_dir + "'s flags");
  std::reverse(args.begin(), args.end());  // CLI11 takes a vector last-first
  app.parse(args);
  std::vector<std::string> lines;
  if (!taken.empty()) lines.push_back("resume: from the checkpoint: " + joined(taken, ", "));
  if (!kept.empty()) lines.push_back("resume: from the command line: " + joined(kept, ", "));
  return lines;
}

}  // namespace trident::launch
