// Tokenizer, corpus loading and the layout-independent sampler.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "framework/core/error.h"
#include "framework/data/batch_source.h"
#include "framework/data/byte_tokenizer.h"
#include "framework/data/sampler.h"
#include "framework/data/text_corpus.h"

namespace trident::data {
namespace {

namespace fs = std::filesystem;

fs::path temp_dir(const std::string& name) {
  fs::path d = fs::temp_directory_path() / (name + "_" + std::to_string(::getpid()));
  fs::remove_all(d);
  fs::create_directories(d);
  return d;
}

TEST(ByteTokenizer, RoundTripsAnyBytes) {
  std::string text = "héllo\n%\0x";
  text.push_back(char(0xFF));
  const auto tokens = ByteTokenizer::encode(text);
  EXPECT_EQ(tokens.size(), text.size());
  EXPECT_EQ(tokens.back(), 255);
  EXPECT_EQ(ByteTokenizer::decode(tokens), text);
}

TEST(TextCorpus, ReadsADirectoryInNameOrderSkippingIndexes) {
  const fs::path d = temp_dir("trident_corpus");
  std::ofstream(d / "b") << "second";
  std::ofstream(d / "a") << "first ";
  std::ofstream(d / "a.dat") << "INDEX";
  fs::create_symlink(d / "a", d / "a.u8");
  const TextCorpus c = TextCorpus::load(d.string(), 4);
  EXPECT_EQ(std::string(c.bytes().begin(), c.bytes().end()), "first second");
  EXPECT_EQ(c.files().size(), 2u);
  fs::remove_all(d);
}

TEST(TextCorpus, MissingOrTooSmallDataIsAUsageError) {
  const fs::path d = temp_dir("trident_corpus_bad");
  EXPECT_THROW(TextCorpus::load((d / "nope.txt").string(), 1), UsageError);
  std::ofstream(d / "empty.txt").close();
  try {
    TextCorpus::load((d / "empty.txt").string(), 17);
    FAIL() << "an empty file must be rejected";
  } catch (const UsageError& e) {
    EXPECT_NE(std::string(e.what()).find("--seq-length"), std::string::npos) << e.what();
  }
  fs::remove_all(d);
}

// --split a,b,c: training reads the first share, evaluation the second; the
// third is nobody's.
TEST(TextCorpus, SplitGivesTrainingThenValidationShares) {
  const fs::path d = temp_dir("trident_corpus_split");
  std::ofstream(d / "t.txt") << std::string(1000, 'x');
  const TextCorpus c = TextCorpus::load((d / "t.txt").string(), 17, 256, "80,15,5");
  EXPECT_EQ(c.train_tokens().size, 800);
  EXPECT_EQ(c.valid_tokens().size, 150);
  EXPECT_EQ(c.valid_tokens().data, c.train_tokens().data + 800);  // right after the training share
  EXPECT_EQ(TextCorpus::load((d / "t.txt").string(), 17).valid_tokens().size, 0);  // "100,0,0"
  fs::remove_all(d);
}

// The validation view: consecutive windows in order, the same for any split
// of the batch among ranks, wrapping around at the end of the data.
TEST(SequentialBatches, ReadConsecutiveWindowsAndWrapAround) {
  std::vector<uint8_t> bytes(103);
  for (size_t i = 0; i < bytes.size(); ++i) bytes[i] = uint8_t(i);
  const TokenView view{bytes.data(), int64_t(bytes.size()), 1};
  const SequentialBatches batches(view, /*seq_len=*/10);
  EXPECT_EQ(batches.num_windows(), 10);  // (103 − 1) / 10 windows of 11 tokens
  EXPECT_EQ(batches.window_start(0), 0);
  EXPECT_EQ(batches.window_start(3), 30);
  EXPECT_EQ(batches.window_start(9), 90);   // the last whole window
  EXPECT_EQ(batches.window_start(10), 0);   // wraps to the first
  Tensor whole_in = Tensor::empty({4, 10}, DType::i32), whole_tg = Tensor::empty({4, 10}, DType::i32);
  batches.fill(4, 4, whole_in, whole_tg);  // the second batch of 4
  Tensor half_in = Tensor::empty({2, 10}, DType::i32), half_tg = Tensor::empty({2, 10}, DType::i32);
  batches.fill(6, 2, half_in, half_tg);
  for (int64_t i = 0; i < 20; ++i) {
    EXPECT_EQ(half_in.data<int32_t>()[i], whole_in.data<int32_t>()[20 + i]);
    EXPECT_EQ(half_tg.data<int32_t>()[i], whole_tg.data<int32_t>()[20 + i]);
  }
  EXPECT_EQ(whole_in.data<int32_t>()[0], 40);  // batch 1 starts at window 4
  EXPECT_EQ(whole_tg.data<int32_t>()[9], 50);  // the last target: the window's 11th token
}

// Note [blends]: each dataset's share of 10,000 samples is its weight
// within 2%, the same whoever asks, and each window lies in its dataset.
TEST(GlobalBatchSampler, ABlendSamplesEachDatasetByItsWeight) {
  std::vector<uint8_t> a(3000, 'a'), b(500, 'b');
  const std::vector<TokenView> views = {TokenView{a.data(), int64_t(a.size()), 1}, TokenView{b.data(), int64_t(b.size()), 1}};
  const GlobalBatchSampler sampler(views, {0.7, 0.3}, 16, 42, 8);
  const int64_t n = 10000;
  int64_t from_b = 0;
  for (int64_t g = 0; g < n; ++g) {
    const int d = sampler.dataset_of(g);
    from_b += d;
    ASSERT_LE(sampler.window_start(g) + 17, views[size_t(d)].size);
  }
  EXPECT_NEAR(double(from_b) / double(n), 0.3, 0.02);
  Tensor in = Tensor::empty({4, 16}, DType::i32), tg = Tensor::empty({4, 16}, DType::i32);
  sampler.fill(100, 4, in, tg);
  for (int64_t s = 0; s < 4; ++s)
    EXPECT_EQ(in.data<int32_t>()[s * 16], sampler.dataset_of(100 + s) == 0 ? 'a' : 'b');
  // Another seed draws other datasets for the same samples; the same seed, the same ones.
  const GlobalBatchSampler same(views, {0.7, 0.3}, 16, 42, 8), other(views, {0.7, 0.3}, 16, 43, 8);
  int differ = 0;
  for (int64_t g = 0; g < 100; ++g) {
    ASSERT_EQ(same.dataset_of(g), sampler.dataset_of(g));
    differ += other.dataset_of(g) != sampler.dataset_of(g);
  }
  EXPECT_GT(differ, 10);
}

// Note [layout-independent sampling]: any split of the global batch into
// pieces sees the same samples as the whole.
TEST(GlobalBatchSampler, SplitsOfTheGlobalBatchSeeTheSameSamples) {
  std::vector<uint8_t> text(5000);
  for (size_t i = 0; i < text.size(); ++i) text[i] = uint8_t((i * 7919) % 251);
  const int64_t G = 8;
  const GlobalBatchSampler sampler(TokenView{text.data(), int64_t(text.size()), 1}, 16, 42, G);
  Tensor in_all = Tensor::empty({G, 16}, DType::i32), tg_all = Tensor::empty({G, 16}, DType::i32);
  sampler.fill(2 * G, G, in_all, tg_all);  // the third global batch
  for (int64_t first = 0; first < G; first += 2) {
    Tensor in = Tensor::empty({2, 16}, DType::i32), tg = Tensor::empty({2, 16}, DType::i32);
    sampler.fill(2 * G + first, 2, in, tg);
    for (int64_t i = 0; i < 32; ++i) {
      ASSERT_EQ(in.data<int32_t>()[i], in_all.data<int32_t>()[first * 16 + i]);
      ASSERT_EQ(tg.data<int32_t>()[i], tg_all.data<int32_t>()[first * 16 + i]);
    }
  }
  // Targets are the inputs shifted by one byte of the corpus.
  const int64_t start = sampler.window_start(2 * G);
  EXPECT_EQ(in_all.data<int32_t>()[0], text[size_t(start)]);
  EXPECT_EQ(tg_all.data<int32_t>()[0], text[size_t(start) + 1]);
  EXPECT_EQ(tg_all.data<int32_t>()[14], in_all.data<int32_t>()[15]);
  // Other iterations and seeds draw other windows; windows stay inside the text.
  EXPECT_NE(sampler.window_start(3 * G), start);
  EXPECT_NE(GlobalBatchSampler(TokenView{text.data(), int64_t(text.size()), 1}, 16, 43, G).window_start(2 * G), start);
  for (int64_t g = 0; g < 200 * G; ++g) ASSERT_LE(sampler.window_start(g) + 17, int64_t(text.size()));
  // Sample g is sample g mod B of data batch g / B + 1, as the sampler has always drawn them,
  // whoever asks and whatever global batch the run uses now.
  const Philox rng(42, "sampler");
  for (int64_t g : {0, 7, 8, 1000})
    EXPECT_EQ(sampler.window_start(g), int64_t(rng.below(uint64_t(text.size() - 16), uint64_t(g / G + 1), uint64_t(g % G))));
}

}  // namespace
}  // namespace trident::data
