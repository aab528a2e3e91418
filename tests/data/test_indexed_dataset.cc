// Megatron indexed datasets (.bin + .idx, REFERENCE.md): written here by the
// documented layout, read back token for token in each stored width; every
// kind of malformed index is a UsageError naming the file; 20,000 random
// mutations of a valid index never crash the parser (run it under
// -DTRIDENT_SANITIZE=address,undefined to see that no read strays); and a
// model trains on one.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>

#include "framework/core/error.h"
#include "framework/data/indexed_dataset.h"
#include "framework/data/text_corpus.h"
#include "framework/dist/world.h"
#include "launch/trainer.h"
#include "tests/support/small_configs.h"

namespace trident::data {
namespace {

namespace fs = std::filesystem;

template <typename T>
void put(std::vector<uint8_t>& out, T v) {
  const auto* p = reinterpret_cast<const uint8_t*>(&v);
  out.insert(out.end(), p, p + sizeof(T));
}

// Documents of one sequence each; returns the .idx image and writes both files.
std::vector<uint8_t> write_dataset(const std::string& prefix, const std::vector<std::vector<int32_t>>& docs, int width) {
  std::vector<uint8_t> bin, idx(reinterpret_cast<const uint8_t*>("MMIDIDX\0\0"),
                                reinterpret_cast<const uint8_t*>("MMIDIDX\0\0") + 9);
  put<uint64_t>(idx, 1);
  put<uint8_t>(idx, width == 1 ? 1 : width == 2 ? 8 : 4);
  put<uint64_t>(idx, docs.size());
  put<uint64_t>(idx, docs.size() + 1);
  for (const auto& d : docs) put<int32_t>(idx, int32_t(d.size()));
  int64_t offset = 0;
  for (const auto& d : docs) {
    put<int64_t>(idx, offset);
    offset += int64_t(d.size()) * width;
  }
  for (size_t i = 0; i <= docs.size(); ++i) put<int64_t>(idx, int64_t(i));
  for (const auto& d : docs)
    for (int32_t t : d) {
      if (width == 1) put<uint8_t>(bin, uint8_t(t));
      if (width == 2) put<uint16_t>(bin, uint16_t(t));
      if (width == 4) put<int32_t>(bin, t);
    }
  std::ofstream(prefix + ".bin", std::ios::binary).write(reinterpret_cast<const char*>(bin.data()), long(bin.size()));
  std::ofstream(prefix + ".idx", std::ios::binary).write(reinterpret_cast<const char*>(idx.data()), long(idx.size()));
  return idx;
}

class Megatron : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("trident_megatron_" + std::to_string(::getpid()));
    fs::create_directories(dir_);
    std::mt19937 gen(5);
    for (int d = 0; d < 40; ++d) {
      docs_.emplace_back(size_t(20 + gen() % 60));
      for (int32_t& t : docs_.back()) t = int32_t(gen() % 1000);
    }
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::string prefix(const std::string& name) const { return (dir_ / name).string(); }
  fs::path dir_;
  std::vector<std::vector<int32_t>> docs_;
};

TEST_F(Megatron, ReadsEveryWidthTokenForToken) {
  for (int width : {2, 4}) {
    write_dataset(prefix("w"), docs_, width);
    auto ds = IndexedDataset::open(prefix("w"));
    std::vector<int32_t> all;
    for (const auto& d : docs_) all.insert(all.end(), d.begin(), d.end());
    const TokenView v = ds->tokens();
    ASSERT_EQ(v.size, int64_t(all.size()));
    for (int64_t i = 0; i < v.size; ++i) ASSERT_EQ(v.at(i), all[size_t(i)]) << "width " << width << " token " << i;
    EXPECT_EQ(ds->num_documents(), 40);
    EXPECT_EQ(ds->document_start(1), int64_t(docs_[0].size()));
    EXPECT_EQ(ds->document_start(40), v.size);
  }
  auto bytes = docs_;
  for (auto& d : bytes)
    for (int32_t& t : d) t %= 256;
  write_dataset(prefix("u8"), bytes, 1);
  EXPECT_EQ(IndexedDataset::open(prefix("u8"))->tokens().at(3), bytes[0][3]);
}

TEST_F(Megatron, MalformedIndexesAreOneLineErrors) {
  const std::vector<uint8_t> good = write_dataset(prefix("m"), docs_, 2);
  const uint64_t bin = fs::file_size(prefix("m") + ".bin");
  auto expect_error = [&](std::vector<uint8_t> image, const std::string& want) {
    try {
      parse_megatron_index("m.idx", image.data(), image.size(), bin);
      ADD_FAILURE() << "accepted; expected: " << want;
    } catch (const UsageError& e) {
      EXPECT_NE(std::string(e.what()).find(want), std::string::npos) << e.what();
      EXPECT_EQ(std::string(e.what()).find('\n'), std::string::npos);
      EXPECT_NE(std::string(e.what()).find("m.idx"), std::string::npos);
    }
  };
  auto with = [&](size_t at, auto v) {
    std::vector<uint8_t> image = good;
    std::memcpy(image.data() + at, &v, sizeof(v));
    return image;
  };
  expect_error({good.begin(), good.begin() + 5}, "truncated");
  expect_error(with(0, uint8_t('X')), "MMIDIDX");
  expect_error(with(9, uint64_t(2)), "version 2");
  expect_error(with(17, uint8_t(6)), "dtype code 6");
  expect_error(with(18, uint64_t(1) << 60), "runs past the end");
  expect_error({good.begin(), good.end() - 3}, "runs past the end");
  expect_error(with(34 + 4 * 40 + 8, int64_t(7)), "starts at byte 7");
  expect_error(with(34, int32_t(-4)), "negative length");
  try {
    parse_megatron_index("m.idx", good.data(), good.size(), bin - 1);
    ADD_FAILURE() << "a short .bin was accepted";
  } catch (const UsageError& e) {
    EXPECT_NE(std::string(e.what()).find("past the end of the .bin"), std::string::npos) << e.what();
  }
}

TEST_F(Megatron, FuzzedIndexesNeverCrash) {
  const std::vector<uint8_t> good = write_dataset(prefix("f"), docs_, 2);
  const uint64_t bin = fs::file_size(prefix("f") + ".bin");
  std::mt19937_64 gen(11);
  int accepted = 0, refused = 0;
  for (int trial = 0; trial < 20000; ++trial) {
    std::vector<uint8_t> image = good;
    switch (gen() % 4) {
      case 0:  // flip a few bytes
        for (int k = 0; k < 1 + int(gen() % 4); ++k) image[gen() % image.size()] ^= uint8_t(1 + gen() % 255);
        break;
      case 1:  // truncate
        image.resize(gen() % image.size());
        break;
      case 2: {  // a random count or offset in the header
        const uint64_t v = gen() >> (gen() % 64);
        std::memcpy(image.data() + (gen() % 2 ? 18 : 26), &v, 8);
        break;
      }
      default: {  // a random 8-byte word anywhere
        const uint64_t v = gen();
        const size_t at = gen() % (image.size() - 8);
        std::memcpy(image.data() + at, &v, 8);
      }
    }
    try {
      const MegatronIndex index = parse_megatron_index("f.idx", image.data(), image.size(), bin);
      ASSERT_LE(uint64_t(index.total_tokens * index.width), bin);  // what it accepts stays inside the .bin
      ++accepted;
    } catch (const UsageError&) {
      ++refused;
    }
  }
  EXPECT_GT(refused, 10000);
  EXPECT_GT(accepted, 0);  // some flips land in token-irrelevant places (e.g. equal document entries)
}

TEST_F(Megatron, CorpusChecksTheVocabularyAndSplitsByDocument) {
  write_dataset(prefix("c"), docs_, 2);
  EXPECT_THROW(TextCorpus::load(prefix("c"), 17, 500), UsageError);  // ids up to 999
  const TextCorpus all = TextCorpus::load(prefix("c"), 17, 1000);
  EXPECT_TRUE(all.indexed());
  EXPECT_EQ(all.train_tokens().size, all.tokens().size);
  const TextCorpus split = TextCorpus::load(prefix("c"), 17, 1000, "3,1,0");  // 30 of 40 documents
  int64_t first30 = 0;
  for (int d = 0; d < 30; ++d) first30 += int64_t(docs_[size_t(d)].size());
  EXPECT_EQ(split.train_tokens().size, first30);
  EXPECT_EQ(split.valid_tokens().size, split.tokens().size - first30);  // documents 30..39
  EXPECT_THROW(TextCorpus::load(prefix("c"), 17, 1000, "0,1,0"), UsageError);
  EXPECT_THROW(TextCorpus::load(prefix("missing"), 17, 1000), UsageError);
}

// A path to the .bin or the .idx means the dataset; a directory holding one
// is refused with the prefix to give; binary data is never read as text.
TEST_F(Megatron, DataPathsCannotBeMisreadAsText) {
  write_dataset(prefix("toy"), docs_, 2);
  const TextCorpus by_prefix = TextCorpus::load(prefix("toy"), 17, 1000);
  for (const char* ext : {".bin", ".idx"}) {
    const TextCorpus c = TextCorpus::load(prefix("toy") + ext, 17, 1000);
    EXPECT_TRUE(c.indexed()) << ext;
    EXPECT_EQ(c.size(), by_prefix.size()) << ext;
  }
  auto message = [&](const std::string& path) {
    try {
      TextCorpus::load(path, 17, 1000);
    } catch (const UsageError& e) {
      return std::string(e.what());
    }
    return std::string("loaded");
  };
  EXPECT_NE(message(dir_.string()).find("give the prefix of one, e.g. --data-path " + prefix("toy")), std::string::npos)
      << message(dir_.string());
  fs::remove(prefix("toy") + ".idx");
  EXPECT_NE(message(prefix("toy") + ".bin").find(prefix("toy") + ".idx is missing"), std::string::npos)
      << message(prefix("toy") + ".bin");
}

TEST_F(Megatron, AModelTrainsOnIt) {
  write_dataset(prefix("t"), docs_, 2);
  launch::TrainConfig cfg = test::small_train_config(1, 32, 2, 16);
  cfg.model.vocab_size = 1000;
  cfg.data_path = {prefix("t")};
  const dist::World& world = dist::World::init(nullptr, nullptr);
  launch::Trainer trainer(cfg, world);
  const launch::IterationStats s = trainer.step(1);
  EXPECT_NEAR(s.loss, std::log(1000.0), 0.5);  // untrained: about ln V
}

}  // namespace
}  // namespace trident::data
