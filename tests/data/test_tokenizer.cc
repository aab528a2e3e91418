// Tokenizers behind make_tokenizer, and the Megatron dataset writer:
//  - bytes: a round trip of every byte; an id past 255 is a UsageError naming it;
//  - GPT-2 BPE on a vocabulary small enough to work every id out by hand
//    (below, beside each case): the pre-tokenizer's rules ('s, numbers,
//    punctuation, " ?" before a word, \s+(?!\S) for runs of white space),
//    merge priority, the Unicode classes, and one-line errors for every kind
//    of bad file;
//  - GPT-2 BPE with all 256 byte symbols: decode(encode(x)) == x for any
//    bytes, invalid UTF-8 included;
//  - IndexedDatasetWriter -> IndexedDataset, token for token, in both widths.
// tests/data/bpe_agreement.sh compares the BPE with an independent Python one
// on a real corpus.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <random>

#include "framework/core/error.h"
#include "framework/data/gpt2_bpe_tokenizer.h"
#include "framework/data/indexed_dataset.h"
#include "framework/data/indexed_dataset_writer.h"
#include "framework/data/tokenizer.h"
#include "framework/data/unicode_classes.h"

namespace trident::data {
namespace {

namespace fs = std::filesystem;
using Ids = std::vector<int32_t>;

class TempDir {
 public:
  TempDir() : path_(fs::temp_directory_path() / ("trident_tokenizer_" + std::to_string(::getpid()))) {
    fs::remove_all(path_);
    fs::create_directories(path_);
  }
  ~TempDir() { fs::remove_all(path_); }
  std::string file(const std::string& name, const std::string& text) const {
    std::ofstream(path_ / name, std::ios::binary) << text;
    return (path_ / name).string();
  }
  std::string path(const std::string& name) const { return (path_ / name).string(); }
  const fs::path& dir() const { return path_; }

 private:
  fs::path path_;
};

// The message of the UsageError `f` throws ("" if none), checked to be one line.
template <typename F>
std::string usage_error(F&& f) {
  try {
    f();
  } catch (const UsageError& e) {
    const std::string what = e.what();
    EXPECT_EQ(what.find('\n'), std::string::npos) << what;
    return what;
  }
  return "";
}

#define EXPECT_CONTAINS(text, part) EXPECT_NE(std::string(text).find(part), std::string::npos) << (text)

TEST(ByteTokenizer, RoundTripsEveryByteAndNamesABadId) {
  const auto t = make_tokenizer("ByteTokenizer", "", "");
  std::string all;
  for (int b = 0; b < 256; ++b) all += char(b);
  const Ids ids = t->encode(all);
  ASSERT_EQ(ids.size(), 256u);
  EXPECT_EQ(ids[200], 200);
  EXPECT_EQ(t->decode(ids), all);
  EXPECT_EQ(t->vocab_size(), 256);
  EXPECT_EQ(t->eod(), -1);
  EXPECT_EQ(t->describe().at("type"), "ByteTokenizer");
  EXPECT_CONTAINS(usage_error([&] { t->decode({65, 256}); }), "token id 256");
  EXPECT_CONTAINS(usage_error([&] { t->decode({-3}); }), "token id -3");
}

TEST(Tokenizer, UnknownTypeNamesTheChoices) {
  EXPECT_CONTAINS(usage_error([] { make_tokenizer("SentencePieceTokenizer", "", ""); }),
                  "choose ByteTokenizer or GPT2BPETokenizer");
}

TEST(UnicodeClasses, MatchTheGeneralCategoriesAndWhiteSpace) {
  using unicode::CharClass;
  for (char32_t c : {U'a', U'Z', U'é', U'ß', U'東', U'ǅ', U'ʰ', char32_t(0x20000), char32_t(0x2FA1D)})  // Lu Ll Lt Lm Lo
    EXPECT_EQ(unicode::char_class(c), CharClass::letter) << std::hex << uint32_t(c);
  for (char32_t c : {U'0', U'9', U'٣', U'Ⅻ', U'²', U'½'})  // Nd, Nl, No
    EXPECT_EQ(unicode::char_class(c), CharClass::number) << std::hex << uint32_t(c);
  for (char32_t c : {U' ', U'\t', U'\n', U'\v', U'\f', U'\r', char32_t(0x85), char32_t(0xA0), char32_t(0x2028), U'\u3000'})
    EXPECT_EQ(unicode::char_class(c), CharClass::space) << std::hex << uint32_t(c);
  // U+001C..U+001F: Python's isspace() says yes, White_Space (and GPT-2's \s) no.
  for (char32_t c : {char32_t(0x1C), char32_t(0x1F), U'_', U'\'', char32_t(0x301), U'€', char32_t(0x1F600), char32_t(0x10FFFF)})
    EXPECT_EQ(unicode::char_class(c), CharClass::other) << std::hex << uint32_t(c);
  EXPECT_STREQ(unicode::unicode_version(), "14.0.0");
}

TEST(UnicodeClasses, InvalidUtf8IsOneByteAtATime) {
  struct Case {
    std::string bytes;
    char32_t value;
    int length;
  };
  for (const Case& c : std::vector<Case>{{"A", U'A', 1},
                                         {"\xC3\xA9", U'é', 2},
                                         {"\xE6\x9D\xB1", U'東', 3},
                                         {"\xF0\x9F\x98\x80", char32_t(0x1F600), 4},
                                         {"\x80", unicode::kInvalidByte, 1},          // a continuation byte
                                         {"\xC0\x80", unicode::kInvalidByte, 1},      // overlong
                                         {"\xE0\x80\x80", unicode::kInvalidByte, 1},  // overlong
                                         {"\xED\xA0\x80", unicode::kInvalidByte, 1},  // a surrogate
                                         {"\xF4\x90\x80\x80", unicode::kInvalidByte, 1},  // past U+10FFFF
                                         {"\xF5\x80\x80\x80", unicode::kInvalidByte, 1},
                                         {"\xE2\x82", unicode::kInvalidByte, 1},  // truncated
                                         {"\xE2\x82" "A", unicode::kInvalidByte, 1}}) {
    const unicode::CodePoint p = unicode::decode_utf8(c.bytes, 0);
    EXPECT_EQ(uint32_t(p.value), uint32_t(c.value)) << c.bytes;
    EXPECT_EQ(p.length, c.length) << c.bytes;
  }
}

TEST(Gpt2Bpe, ByteCharactersAreEncoderPys) {
  const auto& chars = Gpt2BpeTokenizer::byte_chars();
  EXPECT_EQ(uint32_t(chars['!']), uint32_t('!'));
  EXPECT_EQ(uint32_t(chars['~']), uint32_t('~'));
  EXPECT_EQ(uint32_t(chars[0xE9]), 0xE9u);   // 'é' stands for itself
  EXPECT_EQ(uint32_t(chars[0x00]), 0x100u);  // the first of the 68 others
  EXPECT_EQ(uint32_t(chars['\n']), 0x10Au);  // 'Ċ'
  EXPECT_EQ(uint32_t(chars[' ']), 0x120u);   // 'Ġ'
  EXPECT_EQ(uint32_t(chars[0x7F]), 0x121u);
  EXPECT_EQ(uint32_t(chars[0xAD]), 0x143u);  // the last: soft hyphen
}

// GPT-2's pattern, piece by piece.
TEST(Gpt2Bpe, PretokenizesAsGpt2sPattern) {
  using V = std::vector<std::string_view>;
  auto pieces = [](std::string_view s) { return Gpt2BpeTokenizer::pretokenize(s); };
  EXPECT_EQ(pieces("Hello world"), (V{"Hello", " world"}));
  EXPECT_EQ(pieces("he's don't we're I've I'm you'll he'd"),
            (V{"he", "'s", " don", "'t", " we", "'re", " I", "'ve", " I", "'m", " you", "'ll", " he", "'d"}));
  EXPECT_EQ(pieces("'S ''s 'x"), (V{"'", "S", " ''", "s", " '", "x"}));  // case-sensitive; no contraction after '
  EXPECT_EQ(pieces("abc123 4.5 x_y"), (V{"abc", "123", " 4", ".", "5", " x", "_", "y"}));
  EXPECT_EQ(pieces("wow!!! ?! (a)"), (V{"wow", "!!!", " ?!", " (", "a", ")"}));
  // White space: a run before a non-space gives its last space to the next piece.
  EXPECT_EQ(pieces("a  b"), (V{"a", " ", " b"}));
  EXPECT_EQ(pieces("a   b"), (V{"a", "  ", " b"}));
  EXPECT_EQ(pieces("a\n\nb"), (V{"a", "\n", "\n", "b"}));
  EXPECT_EQ(pieces("a\n\n b"), (V{"a", "\n\n", " b"}));
  EXPECT_EQ(pieces("a\tb"), (V{"a", "\t", "b"}));
  EXPECT_EQ(pieces("a \t b"), (V{"a", " \t", " b"}));
  EXPECT_EQ(pieces("end  \n"), (V{"end", "  \n"}));  // at the end: the whole run
  EXPECT_EQ(pieces(" "), (V{" "}));
  EXPECT_EQ(pieces(""), (V{}));
  // Beyond ASCII: letters, numbers of every kind, marks, spaces, invalid bytes.
  EXPECT_EQ(pieces("naïve café 東京 ١٢٣ Ⅻ² e\u0301"),
            (V{"naïve", " café", " 東京", " ١٢٣", " Ⅻ²", " e", "\u0301"}));
  EXPECT_EQ(pieces("a\u00A0b\u3000 c"), (V{"a", "\u00A0", "b", "\u3000", " c"}));
  EXPECT_EQ(pieces("a\x1c" "b"), (V{"a", "\x1c", "b"}));  // not \s in GPT-2's pattern
  EXPECT_EQ(pieces("ab\xFF\xFE" "cd \xC3(x"), (V{"ab", "\xFF\xFE", "cd", " \xC3(", "x"}));
}

// The hand vocabulary: ids 0..30, merges ranked 0..12 (Ġ is a space, Ċ a newline).
struct HandVocab {
  TempDir dir;
  std::string vocab = dir.file("vocab.json", R"({
    "h": 0, "e": 1, "l": 2, "o": 3, "w": 4, "r": 5, "d": 6, "Ġ": 7, "'": 8, "s": 9, "t": 10,
    "1": 11, "2": 12, "3": 13, "!": 14, ",": 15, "Ċ": 16,
    "he": 17, "hel": 18, "hell": 19, "hello": 20, "Ġw": 21, "or": 22, "Ġwor": 23, "Ġworl": 24, "Ġworld": 25,
    "'s": 26, "12": 27, "ĠĠ": 28, "ĊĊ": 29, "<|endoftext|>": 30})");
  std::string merges = dir.file("merges.txt",
                                "#version: 0.2\n"
                                "h e\nhe l\nhel l\nhell o\n"         // 0..3
                                "Ġ w\no r\nĠw or\nĠwor l\nĠworl d\n"  // 4..8
                                "' s\n1 2\nĠ Ġ\nĊ Ċ\n");             // 9..12
  Gpt2BpeTokenizer tokenizer{vocab, merges};
};

TEST(Gpt2Bpe, EncodesTheHandVocabularyAsWorkedOut) {
  HandVocab v;
  const Gpt2BpeTokenizer& t = v.tokenizer;
  EXPECT_EQ(t.vocab_size(), 31);
  EXPECT_EQ(t.eod(), 30);
  // "hello": h e l l o -> he l l o -> hel l o -> hell o -> hello.
  // " world": Ġ w o r l d -> Ġw (rank 4) -> or (5) -> Ġwor (6) -> Ġworl (7) -> Ġworld (8).
  EXPECT_EQ(t.encode("hello world"), (Ids{20, 25}));
  // " hello": no merge joins Ġ to hello.
  EXPECT_EQ(t.encode(" hello"), (Ids{7, 20}));
  // "world" without its space: only o r merges.
  EXPECT_EQ(t.encode("world"), (Ids{4, 22, 2, 6}));
  // Contractions are pieces of their own: "he" + "'s"; "'st" -> "'s" + "t".
  EXPECT_EQ(t.encode("he's"), (Ids{17, 26}));
  EXPECT_EQ(t.encode("hello'st"), (Ids{20, 26, 10}));
  // Numbers: "123" is one piece (12 3); " 3" keeps its space apart.
  EXPECT_EQ(t.encode("hello123 3"), (Ids{20, 27, 13, 7, 13}));
  // Punctuation: "," and "!" are pieces; " !!" one piece of three symbols.
  EXPECT_EQ(t.encode("hello, world! !!"), (Ids{20, 15, 25, 14, 7, 14, 14}));
  // Two spaces before a word: " " + " world"; three: "  " (ĠĠ) + " world"; at the end: the whole run.
  EXPECT_EQ(t.encode("hello  world"), (Ids{20, 7, 25}));
  EXPECT_EQ(t.encode("hello   world"), (Ids{20, 28, 25}));
  EXPECT_EQ(t.encode("hello  "), (Ids{20, 28}));
  // Newlines before a word: "\n" + "\n"; before " world": "\n\n\n" merges left to right, ĊĊ Ċ.
  EXPECT_EQ(t.encode("hello\n\nworld"), (Ids{20, 16, 16, 4, 22, 2, 6}));
  EXPECT_EQ(t.encode("hello\n\n\n world"), (Ids{20, 29, 16, 25}));
  // "<|endoftext|>" in text is characters, never the eod id (as encoder.py); this vocabulary lacks '<'.
  EXPECT_CONTAINS(usage_error([&] { t.encode("<|endoftext|>"); }), "has no id for the symbol '<'");
  for (const char* s : {"hello world", "he's", "hello123 3", "hello, world! !!", "hello\n\n\n world", "hello  "})
    EXPECT_EQ(t.decode(t.encode(s)), s);
  EXPECT_EQ(t.decode({30}), "<|endoftext|>");
  EXPECT_CONTAINS(usage_error([&] { t.decode({20, 31}); }), "token id 31 is not in the vocabulary");
  EXPECT_CONTAINS(usage_error([&] { t.decode({-1}); }), "token id -1");
  const nlohmann::json d = t.describe();
  EXPECT_EQ(d.at("type"), "GPT2BPETokenizer");
  EXPECT_EQ(d.at("vocab_file"), fs::absolute(v.vocab).string());
  EXPECT_EQ(d.at("merge_file"), fs::absolute(v.merges).string());
  const auto again = make_tokenizer(d.at("type"), d.at("vocab_file"), d.at("merge_file"));
  EXPECT_EQ(again->encode("hello   world"), (Ids{20, 28, 25}));
}

TEST(Gpt2Bpe, MergePriorityIsTheLineOrder) {
  TempDir dir;
  const std::string vocab = dir.file("v.json", R"({"a": 0, "b": 1, "c": 2, "ab": 3, "bc": 4, "abc": 5})");
  // "abc": whichever of "a b" and "b c" comes first wins, and the other never applies.
  EXPECT_EQ(Gpt2BpeTokenizer(vocab, dir.file("m1.txt", "#version: 0.2\na b\nb c\n")).encode("abc"), (Ids{3, 2}));
  EXPECT_EQ(Gpt2BpeTokenizer(vocab, dir.file("m2.txt", "#version: 0.2\nb c\na b\n")).encode("abc"), (Ids{0, 4}));
  // A later merge may build on an earlier one's result: a b, then ab c.
  EXPECT_EQ(Gpt2BpeTokenizer(vocab, dir.file("m3.txt", "#version: 0.2\na b\nab c\n")).encode("abc"), (Ids{5}));
  // Repeats merge left to right without overlapping: "aaa" -> "aa" "a".
  const std::string vocab2 = dir.file("v2.json", R"({"a": 0, "aa": 1})");
  EXPECT_EQ(Gpt2BpeTokenizer(vocab2, dir.file("m4.txt", "#version: 0.2\na a\n")).encode("aaaaa"), (Ids{1, 1, 0}));
}

TEST(Gpt2Bpe, BadFilesAreOneLineErrorsNamingTheFileAndFlag) {
  TempDir dir;
  const std::string merges = dir.file("merges.txt", "#version: 0.2\na b\n");
  const std::string vocab = dir.file("vocab.json", R"({"a": 0, "b": 1, "ab": 2})");
  auto error = [&](const std::string& v, const std::string& m) {
    return usage_error([&] { Gpt2BpeTokenizer(v, m); });
  };
  EXPECT_EQ(error(vocab, merges), "");
  EXPECT_CONTAINS(error(dir.path("none.json"), merges), "--vocab-file " + dir.path("none.json") + " does not exist");
  EXPECT_CONTAINS(error(vocab, dir.path("none.txt")), "--merge-file " + dir.path("none.txt") + " does not exist");
  EXPECT_CONTAINS(error(dir.dir().string(), merges), "is not a regular file");
  EXPECT_CONTAINS(error("", merges), "needs --vocab-file");
  EXPECT_CONTAINS(error(vocab, ""), "needs --merge-file");
  const std::string vocab_flag = "--vocab-file " + dir.path("bad.json") + " is not a GPT-2 vocab.json";
  EXPECT_CONTAINS(error(dir.file("bad.json", "{\"a\": 0,"), merges), vocab_flag);
  EXPECT_CONTAINS(error(dir.file("bad.json", "[1, 2]"), merges), "it is not a JSON object");
  EXPECT_CONTAINS(error(dir.file("bad.json", "{}"), merges), "it is empty");
  EXPECT_CONTAINS(error(dir.file("bad.json", R"({"a": "0"})"), merges), "the id of 'a' is \"0\"");
  EXPECT_CONTAINS(error(dir.file("bad.json", R"({"a": -1})"), merges), "the id of 'a' is -1");
  EXPECT_CONTAINS(error(dir.file("bad.json", R"({"a": 0, "b": 0})"), merges), "the id 0 is given to two tokens");
  const std::string merge_flag = "--merge-file " + dir.path("bad.txt") + " line ";
  EXPECT_CONTAINS(error(vocab, dir.file("bad.txt", "#version: 0.2\na b c\n")), merge_flag + "2 has 3 fields");
  EXPECT_CONTAINS(error(vocab, dir.file("bad.txt", "#version: 0.2\na b\nb\n")), merge_flag + "3 has 1 fields");
  EXPECT_CONTAINS(error(vocab, dir.file("bad.txt", "#version: 0.2\nb a\n")),
                  merge_flag + "2 merges 'b' and 'a' into 'ba', which --vocab-file " + vocab + " does not hold");
  EXPECT_CONTAINS(error(vocab, dir.file("bad.txt", "#version: 0.2\n")), "holds no merges");
  // A first line that is not "#version" is a merge; blank lines are skipped.
  EXPECT_EQ(Gpt2BpeTokenizer(vocab, dir.file("ok.txt", "a b\n\n")).encode("ab"), (Ids{2}));
  EXPECT_EQ(Gpt2BpeTokenizer(vocab, dir.file("ok.txt", "a b")).encode("ab"), (Ids{2}));  // no final newline
}

// All 256 byte symbols and a few merges: any bytes encode, and decode back.
TEST(Gpt2Bpe, AnyBytesRoundTripWhenTheVocabularyHoldsEveryByte) {
  TempDir dir;
  nlohmann::json vocab = nlohmann::json::object();
  auto symbol = [](std::initializer_list<unsigned char> bytes) {
    std::string s;
    for (unsigned char b : bytes) {
      const char32_t c = Gpt2BpeTokenizer::byte_chars()[b];
      if (c < 0x80) s += char(c);
      else s += char(0xC0 | (c >> 6)), s += char(0x80 | (c & 0x3F));  // every byte character is below U+0800
    }
    return s;
  };
  for (int b = 0; b < 256; ++b) vocab[symbol({static_cast<unsigned char>(b)})] = b;
  std::string merges = "#version: 0.2\n";
  for (const auto& [x, y] : std::vector<std::pair<unsigned char, unsigned char>>{{' ', 't'}, {'h', 'e'}, {0xC3, 0xA9},
                                                                                  {'\n', '\n'}, {0xFF, 0xFE}}) {
    vocab[symbol({x, y})] = int(vocab.size());
    merges += symbol({x}) + " " + symbol({y}) + "\n";
  }
  vocab["<|endoftext|>"] = int(vocab.size());
  const auto t = make_tokenizer("GPT2BPETokenizer", dir.file("vocab.json", vocab.dump()), dir.file("merges.txt", merges));
  EXPECT_EQ(t->vocab_size(), 262);
  EXPECT_EQ(t->eod(), 261);
  EXPECT_EQ(t->encode(" the\xC3\xA9"), (Ids{256, 257, 258}));  // "Ġt", "he", "Ã©"
  std::mt19937 gen(3);
  const std::string alphabet = std::string("  \n\n\t'sdt0123abcXYZ.,!") + "\xC3\xA9\xE6\x9D\xB1\x80\xBF\xC0\xED\xA0\xF4\x90\xFF\xFE";
  for (int trial = 0; trial < 300; ++trial) {
    std::string text;
    const size_t n = gen() % 64;
    for (size_t i = 0; i < n; ++i)
      text += trial % 2 ? char(gen() % 256) : alphabet[gen() % alphabet.size()];
    const Ids ids = t->encode(text);
    for (int32_t id : ids) ASSERT_TRUE(id >= 0 && id < 261) << id;
    ASSERT_EQ(t->decode(ids), text) << "trial " << trial;
  }
}

TEST(IndexedDatasetWriter, WritesWhatTheReaderReadsInBothWidths) {
  TempDir dir;
  std::mt19937 gen(9);
  for (const int64_t vocab : {int64_t(1000), int64_t(65499), int64_t(65500), int64_t(200000)}) {
    std::vector<Ids> docs(25);
    for (size_t d = 0; d < docs.size(); ++d) {
      if (d == 3 || d == 24) continue;  // empty documents: boundaries without a sequence
      docs[d].resize(1 + gen() % 50);
      for (int32_t& t : docs[d]) t = int32_t(gen() % uint32_t(vocab));
    }
    docs[0][0] = int32_t(vocab - 1);
    const std::string prefix = dir.path("ds" + std::to_string(vocab));
    IndexedDatasetWriter writer(prefix, vocab);
    for (const Ids& d : docs) writer.add_document(d);
    EXPECT_FALSE(fs::exists(prefix + ".bin"));  // not before finish()
    writer.finish();
    EXPECT_EQ(writer.width(), vocab < 65500 ? 2 : 4) << vocab;
    const auto ds = IndexedDataset::open(prefix);
    ASSERT_EQ(ds->num_documents(), 25);
    EXPECT_EQ(ds->index().width, writer.width());
    EXPECT_EQ(ds->index().sizes.size(), 23u);  // the empty documents hold no sequence
    const TokenView v = ds->tokens();
    ASSERT_EQ(v.size, writer.num_tokens());
    for (int64_t d = 0; d < 25; ++d) {
      const int64_t start = ds->document_start(d);
      ASSERT_EQ(ds->document_start(d + 1) - start, int64_t(docs[size_t(d)].size())) << "document " << d;
      for (size_t i = 0; i < docs[size_t(d)].size(); ++i) ASSERT_EQ(v.at(start + int64_t(i)), docs[size_t(d)][i]);
    }
  }
  // Only finished datasets are left: no temporary files.
  for (const auto& entry : fs::directory_iterator(dir.dir()))
    EXPECT_TRUE(entry.path().extension() == ".bin" || entry.path().extension() == ".idx") << entry.path();
}

TEST(IndexedDatasetWriter, LeavesNothingUnlessFinishedAndReplacesAnOldDataset) {
  TempDir dir;
  const std::string prefix = dir.path("d");
  {
    IndexedDatasetWriter writer(prefix, 100);
    writer.add_document({1, 2, 3});
  }  // never finished
  EXPECT_TRUE(fs::is_empty(dir.dir()));
  for (const Ids& doc : {Ids{1, 2, 3, 4, 5}, Ids{7}}) {
    IndexedDatasetWriter writer(prefix, 100);
    writer.add_document(doc);
    writer.finish();
  }
  const auto ds = IndexedDataset::open(prefix);
  ASSERT_EQ(ds->tokens().size, 1);
  EXPECT_EQ(ds->tokens().at(0), 7);
  EXPECT_CONTAINS(usage_error([&] { IndexedDatasetWriter(dir.path("no/such/dir/x"), 100); }), "--output-prefix");
  IndexedDatasetWriter writer(dir.path("e"), 100);
  EXPECT_THROW(writer.add_document({100}), Error);  // outside the vocabulary
}

}  // namespace
}  // namespace trident::data
