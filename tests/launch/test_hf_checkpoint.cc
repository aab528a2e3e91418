// HuggingFace interop (launch/hf_checkpoint.h) without MPI: Llama's query
// head permutation and its inverse, GPT-2's Conv1D transposes, config.json
// both ways, the flags --load-hf takes, the directory --export-hf writes and
// --load-hf reads, and the one-line errors for what no HF class (or trident) has.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <functional>
#include <fstream>
#include <set>

#include "launch/hf_checkpoint.h"
#include "models/gpt/gpt_model.h"
#include "tests/support/small_configs.h"

namespace trident::launch {
namespace {

namespace fs = std::filesystem;

// The Llama of the brief: 8 query heads in 2 key/value groups of head size 4.
gpt::GptConfig llama(int64_t heads = 8, int64_t groups = 2, bool tied = false, bool bias = false) {
  gpt::GptConfig c;
  c.num_layers = 2;
  c.hidden_size = 4 * heads;
  c.num_attention_heads = heads;
  c.seq_length = 16;
  c.vocab_size = 37;  // not a multiple of anything: padding is never exported
  c = test::with_llama_pieces(c, 24, groups);
  c.group_query_attention = groups != heads;
  c.rotary_base = 500000.f;
  c.untie_embeddings_and_output_weights = !tied;
  c.disable_bias_linear = !bias;
  return c;
}

gpt::GptConfig gpt2(int64_t ffn = 0) {
  gpt::GptConfig c;  // GPT-2's pieces are the defaults
  c.num_layers = 2;
  c.hidden_size = 16;
  c.num_attention_heads = 4;
  c.seq_length = 12;
  c.vocab_size = 37;
  c.ffn_hidden_size = ffn;
  return c;
}

// Each parameter's whole, unpadded shape, written down here independently of the model code.
Shape trident_shape(const gpt::GptConfig& c, const std::string& name) {
  const int64_t C = c.hidden_size, D = c.head_dim(), H = c.num_attention_heads, G = c.kv_heads(), F = c.ffn_hidden();
  const int64_t fc1 = c.swiglu ? 2 * F : F;
  if (name.starts_with("embedding.word") || name.starts_with("output_layer")) return {c.vocab_size, C};
  if (name.starts_with("embedding.position")) return {c.seq_length, C};
  if (name.ends_with("attn.qkv.weight")) return {(H + 2 * G) * D, C};
  if (name.ends_with("attn.qkv.bias")) return {(H + 2 * G) * D};
  if (name.ends_with("attn.proj.weight")) return {C, H * D};
  if (name.ends_with("mlp.fc1.weight")) return {fc1, C};
  if (name.ends_with("mlp.fc1.bias")) return {fc1};
  if (name.ends_with("mlp.fc2.weight")) return {C, F};
  return {C};  // norms, and the output projections' biases
}

// Every parameter with values that tell every element apart: parameter p's element k is p + k / 2^16.
checkpoint::TensorMap numbered_params(const gpt::GptConfig& c) {
  checkpoint::TensorMap out;
  int index = 0;
  for (const std::string& name : gpt::parameter_names(c)) {
    Tensor t = Tensor::empty(trident_shape(c, name));
    for (int64_t k = 0; k < t.numel(); ++k) t.data<float>()[k] = float(index) + float(k) / 65536.f;
    out.emplace(name, t);
    ++index;
  }
  return out;
}

bool identical(const Tensor& a, const Tensor& b) {
  if (a.shape() != b.shape() || a.dtype() != b.dtype()) return false;
  return std::memcmp(a.raw(), b.raw(), a.bytes()) == 0;
}

// Rows [r0, r1) of a 2-D (or 1-D) f32 tensor, as a vector.
std::vector<float> rows(const Tensor& t, int64_t r0, int64_t r1) {
  const int64_t w = t.numel() / t.size(0);
  return std::vector<float>(t.data<float>() + r0 * w, t.data<float>() + r1 * w);
}

std::vector<float> columns(const Tensor& t, int64_t c0, int64_t c1) {
  std::vector<float> out;
  for (int64_t r = 0; r < t.size(0); ++r)
    for (int64_t c = c0; c < c1; ++c) out.push_back(t.data<float>()[r * t.size(1) + c]);
  return out;
}

std::string usage_error(const std::function<void()>& f) {
  try {
    f();
  } catch (const UsageError& e) {
    return e.what();
  }
  return "(no error)";
}

class HfDir : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("trident_hf_" + std::to_string(::getpid()));
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  fs::path dir_;
};

TEST(HfQueryHeads, PairEachHfHeadWithTheSameKeyValueHead) {
  const std::vector<int64_t> perm = hf_query_heads(8, 2);
  EXPECT_EQ(perm, (std::vector<int64_t>{0, 2, 4, 6, 1, 3, 5, 7}));
  for (auto [H, G] : {std::pair<int64_t, int64_t>{8, 2}, {8, 4}, {8, 1}, {12, 3}}) {
    const std::vector<int64_t> p = hf_query_heads(H, G);
    EXPECT_EQ(std::set<int64_t>(p.begin(), p.end()).size(), size_t(H)) << "not a permutation for H=" << H;
    // HF's head j uses key/value head j / (H/G); trident's head t uses t mod G.
    for (int64_t j = 0; j < H; ++j) EXPECT_EQ(p[size_t(j)] % G, j / (H / G)) << "H=" << H << " G=" << G << " j=" << j;
  }
  const std::vector<int64_t> same = hf_query_heads(8, 8);
  for (int64_t j = 0; j < 8; ++j) EXPECT_EQ(same[size_t(j)], j) << "G = H must be the identity";
}

TEST(HfTensors, LlamaPermutesQueryRowsAndOutputColumnsAndRoundTrips) {
  for (const auto& [groups, bias] : {std::pair<int64_t, bool>{2, true}, {2, false}, {8, true}}) {
    const gpt::GptConfig c = llama(8, groups, false, bias);
    const checkpoint::TensorMap ours = numbered_params(c);
    const checkpoint::TensorMap hf = hf_tensors_from_trident(c, ours, DType::f32);
    // Names and shapes are what hf_tensor_shapes promises, nothing more.
    const auto shapes = hf_tensor_shapes(c);
    ASSERT_EQ(hf.size(), shapes.size());
    for (const auto& [name, shape] : shapes) ASSERT_EQ(hf.at(name).shape(), shape) << name;
    const int64_t D = 4, H = 8, G = groups, F = 24;
    const std::vector<int64_t> perm = hf_query_heads(H, G);
    const Tensor& qkv = ours.at("layers.1.attn.qkv.weight");
    const Tensor& proj = ours.at("layers.1.attn.proj.weight");
    const std::string l = "model.layers.1.";
    for (int64_t j = 0; j < H; ++j) {  // HF head j is trident head perm[j]
      const int64_t t = perm[size_t(j)];
      EXPECT_EQ(rows(hf.at(l + "self_attn.q_proj.weight"), j * D, (j + 1) * D), rows(qkv, t * D, (t + 1) * D)) << j;
      EXPECT_EQ(columns(hf.at(l + "self_attn.o_proj.weight"), j * D, (j + 1) * D), columns(proj, t * D, (t + 1) * D)) << j;
      if (bias)
        EXPECT_EQ(rows(hf.at(l + "self_attn.q_proj.bias"), j * D, (j + 1) * D),
                  rows(ours.at("layers.1.attn.qkv.bias"), t * D, (t + 1) * D));
    }
    if (G < H) EXPECT_NE(rows(hf.at(l + "self_attn.q_proj.weight"), D, 2 * D), rows(qkv, D, 2 * D));
    // K and V follow Q unpermuted; gate and up are fc1's halves.
    EXPECT_EQ(rows(hf.at(l + "self_attn.k_proj.weight"), 0, G * D), rows(qkv, H * D, (H + G) * D));
    EXPECT_EQ(rows(hf.at(l + "self_attn.v_proj.weight"), 0, G * D), rows(qkv, (H + G) * D, (H + 2 * G) * D));
    EXPECT_EQ(rows(hf.at(l + "mlp.gate_proj.weight"), 0, F), rows(ours.at("layers.1.mlp.fc1.weight"), 0, F));
    EXPECT_EQ(rows(hf.at(l + "mlp.up_proj.weight"), 0, F), rows(ours.at("layers.1.mlp.fc1.weight"), F, 2 * F));
    EXPECT_TRUE(identical(hf.at("lm_head.weight"), ours.at("output_layer.weight")));
    EXPECT_EQ(hf.count("model.layers.0.self_attn.o_proj.bias"), size_t(bias));
    // And back: every parameter bit for bit.
    for (const auto& [name, t] : ours) {
      const Tensor back = trident_tensor_from_hf(c, name, [&](const std::string& n) { return hf.at(n); });
      EXPECT_TRUE(identical(back, t)) << name << " (groups " << G << ", bias " << bias << ")";
    }
  }
}

TEST(HfTensors, TiedLlamaHasNoLmHeadAndExportsInTheComputeDtype) {
  const gpt::GptConfig c = llama(4, 4, /*tied=*/true);
  const checkpoint::TensorMap hf = hf_tensors_from_trident(c, numbered_params(c), DType::bf16);
  EXPECT_EQ(hf.count("lm_head.weight"), 0u);
  for (const auto& [name, t] : hf) EXPECT_EQ(t.dtype(), DType::bf16) << name;
}

TEST(HfTensors, Gpt2TransposesConv1DWeightsAndRoundTrips) {
  for (int64_t ffn : {0, 24}) {
    const gpt::GptConfig c = gpt2(ffn);
    const checkpoint::TensorMap ours = numbered_params(c);
    const checkpoint::TensorMap hf = hf_tensors_from_trident(c, ours, DType::f32);
    EXPECT_EQ(hf.size(), hf_tensor_shapes(c).size());
    EXPECT_EQ(hf.count("lm_head.weight"), 0u);
    const std::pair<const char*, const char*> linears[] = {{"attn.qkv", "attn.c_attn"}, {"attn.proj", "attn.c_proj"},
                                                           {"mlp.fc1", "mlp.c_fc"}, {"mlp.fc2", "mlp.c_proj"}};
    for (const auto& [t_name, hf_name] : linears) {
      const Tensor& w = ours.at(std::string("layers.0.") + t_name + ".weight");  // (out, in)
      const Tensor& conv = hf.at(std::string("transformer.h.0.") + hf_name + ".weight");  // (in, out)
      ASSERT_EQ(conv.shape(), (Shape{w.size(1), w.size(0)})) << hf_name;
      for (int64_t o = 0; o < w.size(0); ++o)
        for (int64_t i = 0; i < w.size(1); ++i)
          ASSERT_EQ(conv.data<float>()[i * w.size(0) + o], w.data<float>()[o * w.size(1) + i]) << hf_name;
      EXPECT_TRUE(identical(hf.at(std::string("transformer.h.0.") + hf_name + ".bias"),
                            ours.at(std::string("layers.0.") + t_name + ".bias")));
    }
    EXPECT_TRUE(identical(hf.at("transformer.wpe.weight"), ours.at("embedding.position_embeddings.weight")));
    EXPECT_TRUE(identical(hf.at("transformer.ln_f.bias"), ours.at("final_ln.bias")));
    for (const auto& [name, t] : ours)
      EXPECT_TRUE(identical(trident_tensor_from_hf(c, name, [&](const std::string& n) { return hf.at(n); }), t)) << name;
  }
}

TEST(HfConfig, RoundTripsEveryArchitecture) {
  gpt::GptConfig bf16_llama = llama(8, 2, true, true);
  bf16_llama.dtype = DType::bf16;
  for (const gpt::GptConfig& c : {llama(), llama(8, 8, true, true), bf16_llama, gpt2(), gpt2(24)}) {
    const nlohmann::json j = hf_config_json(c);
    const gpt::GptConfig back = gpt_config_from_hf(nlohmann::json::parse(j.dump()), "config.json");
    EXPECT_EQ(back.architecture(), c.architecture()) << j.dump();
  }
  const nlohmann::json l = hf_config_json(llama(), 50256);
  EXPECT_EQ(l.at("architectures"), nlohmann::json::array({"LlamaForCausalLM"}));
  EXPECT_EQ(l.at("num_key_value_heads"), 2);
  EXPECT_EQ(l.at("head_dim"), 4);
  EXPECT_EQ(l.at("intermediate_size"), 24);
  EXPECT_EQ(l.at("vocab_size"), 37);
  EXPECT_EQ(l.at("hidden_act"), "silu");
  EXPECT_EQ(l.at("rms_norm_eps").get<double>(), 1e-5);  // the decimal, not float's 9.99999974e-06
  EXPECT_EQ(l.at("rope_theta").get<double>(), 500000.0);
  EXPECT_TRUE(l.at("rope_scaling").is_null());
  EXPECT_EQ(l.at("tie_word_embeddings"), false);
  EXPECT_EQ(l.at("attention_bias"), false);
  EXPECT_EQ(l.at("mlp_bias"), false);
  EXPECT_EQ(l.at("torch_dtype"), "float32");
  EXPECT_EQ(l.at("eos_token_id"), 50256);
  EXPECT_EQ(hf_config_json(bf16_llama).at("torch_dtype"), "bfloat16");
  EXPECT_FALSE(hf_config_json(llama()).contains("eos_token_id")) << "bos/eos only when known";
  const nlohmann::json g = hf_config_json(gpt2());
  EXPECT_EQ(g.at("architectures"), nlohmann::json::array({"GPT2LMHeadModel"}));
  EXPECT_TRUE(g.at("n_inner").is_null()) << "4h is null";
  EXPECT_EQ(hf_config_json(gpt2(24)).at("n_inner"), 24);
  EXPECT_EQ(g.at("n_positions"), 12);
  EXPECT_EQ(g.at("activation_function"), "gelu_new");
  EXPECT_EQ(g.at("tie_word_embeddings"), true);
}

TEST(HfConfig, ReadsHfDefaultsForAbsentKeys) {
  const gpt::GptConfig c = gpt_config_from_hf(
      {{"model_type", "llama"}, {"hidden_size", 64}, {"num_attention_heads", 4}, {"num_hidden_layers", 2}}, "x");
  EXPECT_EQ(c.kv_heads(), 4);  // num_key_value_heads defaults to the heads
  EXPECT_FALSE(c.group_query_attention);
  EXPECT_EQ(c.norm_epsilon, 1e-6f);  // LlamaConfig's rms_norm_eps
  EXPECT_EQ(c.rotary_base, 10000.f);
  EXPECT_TRUE(c.untie_embeddings_and_output_weights);
  EXPECT_TRUE(c.disable_bias_linear);
  const gpt::GptConfig g = gpt_config_from_hf({{"model_type", "gpt2"}}, "x");
  EXPECT_EQ(g.hidden_size, 768);
  EXPECT_EQ(g.vocab_size, 50257);
  EXPECT_EQ(g.ffn_hidden(), 3072);
}

TEST(HfErrors, NameWhatNoHfClassOrNoTridentFeatureHas) {
  gpt::GptConfig rope_layernorm = gpt2();
  rope_layernorm.position_embedding_type = "rope";
  const std::string e1 = usage_error([&] { hf_model_of(rope_layernorm); });
  EXPECT_NE(e1.find("--export-hf: HuggingFace has no model with RoPE, LayerNorm and a GELU MLP"), std::string::npos) << e1;
  EXPECT_NE(e1.find("--normalization RMSNorm --swiglu"), std::string::npos) << e1;
  EXPECT_NE(e1.find("--position-embedding-type learned_absolute"), std::string::npos) << e1;
  gpt::GptConfig untied = gpt2();
  untied.untie_embeddings_and_output_weights = true;
  const std::string e2 = usage_error([&] { hf_model_of(untied); });
  EXPECT_NE(e2.find("no --untie-embeddings-and-output-weights"), std::string::npos) << e2;
  EXPECT_EQ(hf_model_of(llama()), HfModel::llama);
  EXPECT_EQ(hf_model_of(gpt2()), HfModel::gpt2);

  const nlohmann::json base = hf_config_json(llama(8, 2, false, true));
  auto with = [&](const char* key, const nlohmann::json& value) {
    nlohmann::json j = base;
    j[key] = value;
    return usage_error([&] { gpt_config_from_hf(j, "m/config.json"); });
  };
  const std::pair<std::string, std::string> cases[] = {
      {with("rope_scaling", {{"rope_type", "llama3"}, {"factor", 8.0}}), "rope_scaling"},
      {with("hidden_act", "gelu"), "hidden_act \"gelu\""},
      {with("mlp_bias", false), "mlp_bias false"},
      {with("head_dim", 8), "head_dim 8"},
      {with("sliding_window", 4096), "sliding_window"},
      {with("model_type", "mistral"), "model_type 'mistral'"},
      {with("num_hidden_layers", "two"), "num_hidden_layers is \"two\""},
      {usage_error([&] { gpt_config_from_hf({{"model_type", "gpt2"}, {"tie_word_embeddings", false}}, "m"); }),
       "tie_word_embeddings false"},
      {usage_error([&] { gpt_config_from_hf({{"model_type", "gpt2"}, {"activation_function", "relu"}}, "m"); }),
       "activation_function \"relu\""},
  };
  for (const auto& [message, names] : cases) {
    EXPECT_NE(message.find(names), std::string::npos) << message;
    EXPECT_EQ(message.find('\n'), std::string::npos) << "one line: " << message;
    EXPECT_NE(message, "(no error)") << names;
  }
}

TEST(HfFlags, TakesWhatIsNotGivenAndRefusesWhatDiffers) {
  const nlohmann::json config = hf_config_json(llama(8, 2));
  TrainConfig cfg;
  const std::vector<std::string> lines = take_flags_from_hf(cfg, config, "m");
  EXPECT_EQ(cfg.model.architecture(), llama(8, 2).architecture());
  ASSERT_FALSE(lines.empty());
  EXPECT_NE(lines[0].find("--num-query-groups 2"), std::string::npos) << lines[0];

  TrainConfig same;
  same.model.num_layers = 2;
  same.model.group_query_attention = true;
  same.model.num_query_groups = 2;
  same.model.seq_length = 64;  // RoPE has no table: another length is allowed
  same.flags_given = {"num_layers", "group_query_attention", "num_query_groups", "seq_length"};
  EXPECT_NO_THROW(take_flags_from_hf(same, config, "m"));
  EXPECT_EQ(same.model.seq_length, 64);
  EXPECT_EQ(same.model.hidden_size, 32);

  TrainConfig differs;
  differs.model.num_layers = 3;
  differs.model.swiglu = false;
  differs.flags_given = {"num_layers", "swiglu"};  // (a flag "given" as false is what a --config file can do)
  const std::string e = usage_error([&] { take_flags_from_hf(differs, config, "m"); });
  EXPECT_NE(e.find("--num-layers 2 in config.json, --num-layers 3 given"), std::string::npos) << e;
  EXPECT_NE(e.find("--swiglu in config.json, no --swiglu given"), std::string::npos) << e;

  TrainConfig groups;
  groups.model.group_query_attention = true;
  groups.model.num_query_groups = 4;
  groups.flags_given = {"group_query_attention", "num_query_groups"};
  EXPECT_NE(usage_error([&] { take_flags_from_hf(groups, config, "m"); }).find("2 key/value heads in config.json, 4 given"),
            std::string::npos);

  TrainConfig positions;  // GPT-2's position table fixes the length
  positions.model.seq_length = 64;
  positions.flags_given = {"seq_length"};
  EXPECT_NE(usage_error([&] { take_flags_from_hf(positions, hf_config_json(gpt2()), "m"); }).find("--seq-length 12"),
            std::string::npos);
}

TEST_F(HfDir, ExportReadsBackAndReplacesOnlyItsOwnExports) {
  const gpt::GptConfig c = llama(8, 2, false, true);
  const checkpoint::TensorMap ours = numbered_params(c);
  const std::string out = (dir_ / "export").string();
  EXPECT_NO_THROW(check_hf_export_dir(out));
  write_hf_export(out, c, ours);
  EXPECT_FALSE(fs::exists(out + ".tmp"));
  std::set<std::string> files;
  for (const auto& e : fs::directory_iterator(out)) files.insert(e.path().filename().string());
  EXPECT_EQ(files, (std::set<std::string>{"config.json", "model.safetensors"}));
  HfCheckpoint hf(out);
  EXPECT_EQ(hf.config(), hf_config_json(c));
  EXPECT_NO_THROW(hf.check_tensors(c));
  for (const auto& [name, t] : ours) EXPECT_TRUE(identical(hf.read(c, name), t)) << name;
  EXPECT_GT(hf.bytes_read(), 0);
  // A previous export is replaced (the trailing slash is the same directory); anything else is refused.
  EXPECT_NO_THROW(check_hf_export_dir(out + "/"));
  write_hf_export(out + "/", llama(8, 2, true, true), numbered_params(llama(8, 2, true, true)));
  EXPECT_EQ(HfCheckpoint(out).config().at("tie_word_embeddings"), true);
  EXPECT_FALSE(fs::exists(out + ".tmp") || fs::exists(out + ".old"));
  std::ofstream(fs::path(out) / "tokenizer.json") << "{}";
  const std::string e = usage_error([&] { check_hf_export_dir(out); });
  EXPECT_NE(e.find("holds something other than a previous trident export"), std::string::npos) << e;
  fs::create_directories(dir_ / "empty");
  EXPECT_NO_THROW(check_hf_export_dir((dir_ / "empty").string()));
  EXPECT_NE(usage_error([&] { check_hf_export_dir((dir_ / "no" / "such").string()); }).find("parent directory"),
            std::string::npos);
}

TEST_F(HfDir, LoadNamesUnknownMissingAndMisshapedTensors) {
  const gpt::GptConfig c = gpt2();
  const std::string out = (dir_ / "m").string();
  write_hf_export(out, c, numbered_params(c));
  checkpoint::TensorMap tensors = checkpoint::load_safetensors(out + "/model.safetensors");
  tensors.erase("transformer.h.1.mlp.c_fc.bias");
  tensors["transformer.h.0.ln_2.weight"] = Tensor::zeros({7});
  tensors["transformer.h.0.extra.weight"] = Tensor::zeros({2});
  tensors["transformer.h.0.attn.bias"] = Tensor::zeros({1, 1, 12, 12});  // GPT-2's mask buffer: ignored
  checkpoint::save_safetensors(out + "/model.safetensors", tensors);
  const std::string e = usage_error([&] { HfCheckpoint(out).check_tensors(c); });
  EXPECT_NE(e.find("unknown tensors transformer.h.0.extra.weight"), std::string::npos) << e;
  EXPECT_NE(e.find("missing tensors transformer.h.1.mlp.c_fc.bias"), std::string::npos) << e;
  EXPECT_NE(e.find("mis-shaped tensors transformer.h.0.ln_2.weight (7,) (expected (16,))"), std::string::npos) << e;
  EXPECT_EQ(e.find("attn.bias"), std::string::npos) << e;
  EXPECT_EQ(e.find('\n'), std::string::npos) << e;
  EXPECT_NE(usage_error([&] { HfCheckpoint((dir_ / "none").string()); }).find("is not a directory"), std::string::npos);
  fs::create_directories(dir_ / "bin");
  std::ofstream(dir_ / "bin" / "config.json") << hf_config_json(c).dump();
  EXPECT_NE(usage_error([&] { HfCheckpoint((dir_ / "bin").string()); }).find("neither model.safetensors"),
            std::string::npos);
}

TEST_F(HfDir, LoadsBaseModelNamesAndShardedFiles) {
  // A base LlamaModel saved without "model.", split over two files with an index.
  const gpt::GptConfig c = llama(4, 2, /*tied=*/true);
  const checkpoint::TensorMap ours = numbered_params(c);
  const checkpoint::TensorMap hf = hf_tensors_from_trident(c, ours, DType::bf16);
  checkpoint::TensorMap first, second;
  nlohmann::json index = {{"metadata", nlohmann::json::object()}, {"weight_map", nlohmann::json::object()}};
  for (const auto& [name, t] : hf) {
    const std::string bare = name.substr(std::string("model.").size());
    const bool one = name.find("layers.1.") == std::string::npos;
    (one ? first : second).emplace(bare, t);
    index["weight_map"][bare] = one ? "model-00001-of-00002.safetensors" : "model-00002-of-00002.safetensors";
  }
  checkpoint::save_safetensors((dir_ / "model-00001-of-00002.safetensors").string(), first);
  checkpoint::save_safetensors((dir_ / "model-00002-of-00002.safetensors").string(), second);
  std::ofstream(dir_ / "model.safetensors.index.json") << index.dump();
  std::ofstream(dir_ / "config.json") << hf_config_json(c).dump();
  HfCheckpoint loaded(dir_.string());
  EXPECT_NO_THROW(loaded.check_tensors(c));
  for (const auto& [name, t] : ours)  // through bf16: the rounding of the numbered values
    EXPECT_TRUE(identical(loaded.read(c, name), t.to(DType::bf16).to(DType::f32))) << name;
}

}  // namespace
}  // namespace trident::launch
