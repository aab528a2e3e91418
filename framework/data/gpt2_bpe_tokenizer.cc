#include "framework/data/gpt2_bpe_tokenizer.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <limits>
#include <sstream>

#include "framework/core/error.h"
#include "framework/data/unicode_classes.h"

namespace trident::data {
namespace fs = std::filesystem;
using unicode::CharClass;

namespace {

constexpr size_t kCacheEntries = 1 << 16;  // encode_piece results kept; the cache starts over when full

void append_utf8(std::string& out, char32_t c) {
  if (c < 0x80) {
    out += char(c);
  } else if (c < 0x800) {
    out += char(0xC0 | (c >> 6)), out += char(0x80 | (c & 0x3F));
  } else if (c < 0x10000) {
    out += char(0xE0 | (c >> 12)), out += char(0x80 | ((c >> 6) & 0x3F)), out += char(0x80 | (c & 0x3F));
  } else {
    out += char(0xF0 | (c >> 18)), out += char(0x80 | ((c >> 12) & 0x3F));
    out += char(0x80 | ((c >> 6) & 0x3F)), out += char(0x80 | (c & 0x3F));
  }
}

// The file's bytes; a UsageError naming it and its flag if there are none to read.
std::string read_file(const std::string& path, const char* flag, const char* what) {
  TRIDENT_USAGE_CHECK(!path.empty(), "--tokenizer-type GPT2BPETokenizer needs ", flag, " (", what, ")");
  std::error_code ec;
  TRIDENT_USAGE_CHECK(fs::is_regular_file(path, ec), flag, " ", path,
                      fs::exists(path, ec) ? " is not a regular file" : " does not exist", ": give ", what);
  std::ifstream in(path, std::ios::binary);
  TRIDENT_USAGE_CHECK(in.good(), flag, " ", path, " cannot be read: check its permissions");
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// A symbol's text made printable for a message: the characters as they are,
// control characters and quotes escaped.
std::string printable(std::string_view s) {
  std::ostringstream out;
  out << '\'';
  for (const char c : s) {
    if (static_cast<unsigned char>(c) < 0x20 || c == '\'' || c == '\\')
      out << "\\x" << "0123456789abcdef"[(c >> 4) & 0xF] << "0123456789abcdef"[c & 0xF];
    else
      out << c;
  }
  out << '\'';
  return out.str();
}

uint64_t pair_key(int32_t left, int32_t right) { return (uint64_t(uint32_t(left)) << 32) | uint32_t(right); }

}  // namespace

const std::array<char32_t, 256>& Gpt2BpeTokenizer::byte_chars() {
  // encoder.py's bytes_to_unicode(): '!'..'~', '¡'..'¬' and '®'..'ÿ' stand
  // for themselves; the other 68 bytes, in order, for U+0100, U+0101, ...
  static const std::array<char32_t, 256> chars = [] {
    std::array<char32_t, 256> c{};
    char32_t next = 256;
    for (int b = 0; b < 256; ++b) {
      const bool printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
      c[size_t(b)] = printable ? char32_t(b) : next++;
    }
    return c;
  }();
  return chars;
}

std::vector<std::string_view> Gpt2BpeTokenizer::pretokenize(std::string_view text) {
  // The code points: where each starts, its value and class; starts.back() is text.size().
  std::vector<size_t> starts;
  std::vector<char32_t> values;
  std::vector<CharClass> classes;
  for (size_t at = 0; at < text.size();) {
    const unicode::CodePoint c = unicode::decode_utf8(text, at);
    starts.push_back(at), values.push_back(c.value), classes.push_back(unicode::char_class(c));
    at += size_t(c.length);
  }
  const size_t n = values.size();
  starts.push_back(text.size());
  const auto is = [&](size_t k, char c) { return k < n && values[k] == char32_t(c); };
  const auto run_end = [&](size_t k) {  // the end of the run of k's class starting at k
    const CharClass c = classes[k];
    while (k < n && classes[k] == c) ++k;
    return k;
  };
  // Where the pattern's match starting at code point i ends. It always
  // starts at i: every code point is matched by one of the alternatives.
  const auto match_end = [&](size_t i) -> size_t {
    // 's|'t|'re|'ve|'m|'ll|'d
    if (is(i, '\'')) {
      if (is(i + 1, 's') || is(i + 1, 't') || is(i + 1, 'm') || is(i + 1, 'd')) return i + 2;
      if ((is(i + 1, 'r') && is(i + 2, 'e')) || (is(i + 1, 'v') && is(i + 2, 'e')) || (is(i + 1, 'l') && is(i + 2, 'l')))
        return i + 3;
    }
    // | ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+ : an optional space, then a run of one class
    const size_t first = is(i, ' ') && i + 1 < n && classes[i + 1] != CharClass::space ? i + 1 : i;
    if (classes[first] != CharClass::space) return run_end(first);
    // |\s+(?!\S) : a run of white space, less its last character when a non-space follows ...
    const size_t end = run_end(i);
    if (end < n && end - i >= 2) return end - 1;
    // |\s+ : ... unless that would leave nothing
    return end;
  };
  std::vector<std::string_view> pieces;
  for (size_t i = 0; i < n;) {
    const size_t end = match_end(i);
    pieces.push_back(text.substr(starts[i], starts[end] - starts[i]));
    i = end;
  }
  return pieces;
}

Gpt2BpeTokenizer::Gpt2BpeTokenizer(const std::string& vocab_file, const std::string& merge_file) {
  read_vocab(vocab_file);
  const std::array<char32_t, 256>& chars = byte_chars();
  for (size_t b = 0; b < 256; ++b) {
    std::string s;
    append_utf8(s, chars[b]);
    byte_symbol_[b] = intern(s);
  }
  read_merges(merge_file, vocab_file);
  std::error_code ec;
  vocab_file_ = fs::absolute(vocab_file, ec).string();
  merge_file_ = fs::absolute(merge_file, ec).string();
}

int32_t Gpt2BpeTokenizer::intern(const std::string& symbol) {
  const auto [it, added] = symbol_index_.emplace(symbol, int32_t(symbols_.size()));
  if (added) {
    symbols_.push_back(symbol);
    const auto v = vocab_.find(symbol);
    symbol_id_.push_back(v == vocab_.end() ? -1 : v->second);
  }
  return it->second;
}

void Gpt2BpeTokenizer::read_vocab(const std::string& vocab_file) {
  const std::string text = read_file(vocab_file, "--vocab-file", "GPT-2's vocab.json");
  const auto bad = [&](const std::string& why) {
    return UsageError("--vocab-file " + vocab_file + " is not a GPT-2 vocab.json (an object of token -> id): " + why);
  };
  nlohmann::json json;
  try {
    json = nlohmann::json::parse(text);
  } catch (const nlohmann::json::exception& e) {
    throw bad(e.what());
  }
  if (!json.is_object() || json.empty()) throw bad(json.is_object() ? "it is empty" : "it is not a JSON object");
  int64_t largest = -1;
  for (const auto& [token, id] : json.items()) {
    if (!id.is_number_integer() || id.get<int64_t>() < 0 || id.get<int64_t>() >= std::numeric_limits<int32_t>::max())
      throw bad("the id of " + printable(token) + " is " + id.dump() + ", not an integer from 0 to 2^31-2");
    vocab_.emplace(token, int32_t(id.get<int64_t>()));
    largest = std::max(largest, id.get<int64_t>());
  }
  // The bytes of each id: its characters through the inverse of byte_chars().
  std::unordered_map<char32_t, char> byte_of;
  for (size_t b = 0; b < 256; ++b) byte_of[byte_chars()[b]] = char(b);
  id_bytes_.assign(size_t(largest + 1), std::string());
  id_decodable_.assign(size_t(largest + 1), 0);
  for (const auto& [token, id] : vocab_) {
    if (id_decodable_[size_t(id)] != 0)
      throw bad("the id " + std::to_string(id) + " is given to two tokens, one of them " + printable(token));
    std::string bytes;
    bool decodable = true;
    for (size_t at = 0; at < token.size();) {
      const unicode::CodePoint c = unicode::decode_utf8(token, at);
      const auto b = byte_of.find(c.value);
      decodable = decodable && b != byte_of.end();
      if (decodable) bytes += b->second;
      at += size_t(c.length);
    }
    id_bytes_[size_t(id)] = decodable ? bytes : token;
    id_decodable_[size_t(id)] = decodable ? 1 : 2;
  }
  if (const auto e = vocab_.find("<|endoftext|>"); e != vocab_.end()) eod_ = e->second;
}

void Gpt2BpeTokenizer::read_merges(const std::string& merge_file, const std::string& vocab_file) {
  std::istringstream lines(read_file(merge_file, "--merge-file", "GPT-2's merges.txt"));
  std::string line;
  int32_t rank = 0;
  for (int64_t number = 1; std::getline(lines, line); ++number) {
    if (number == 1 && line.rfind("#version", 0) == 0) continue;
    std::istringstream fields(line);
    std::vector<std::string> parts{std::istream_iterator<std::string>(fields), std::istream_iterator<std::string>()};
    if (parts.empty()) continue;
    TRIDENT_USAGE_CHECK(parts.size() == 2, "--merge-file ", merge_file, " line ", number, " has ", parts.size(),
                        " fields; a GPT-2 merges.txt line is two symbols separated by a space, such as 'Ġ t'");
    const std::string merged = parts[0] + parts[1];
    TRIDENT_USAGE_CHECK(vocab_.count(merged), "--merge-file ", merge_file, " line ", number, " merges ",
                        printable(parts[0]), " and ", printable(parts[1]), " into ", printable(merged), ", which --vocab-file ",
                        vocab_file, " does not hold: are they the files of one tokenizer?");
    // As encoder.py's dict(zip(merges, ranks)): a repeated line takes the later rank.
    merges_[pair_key(intern(parts[0]), intern(parts[1]))] = Merge{rank++, intern(merged)};
  }
  TRIDENT_USAGE_CHECK(!merges_.empty(), "--merge-file ", merge_file,
                      " holds no merges: give GPT-2's merges.txt ('#version' line, then 'a b' per line)");
}

std::vector<int32_t> Gpt2BpeTokenizer::encode_piece(std::string_view piece) const {
  std::vector<int32_t> word;  // symbols
  for (const char c : piece) word.push_back(byte_symbol_[static_cast<unsigned char>(c)]);
  std::vector<int32_t> merged;
  while (word.size() > 1) {
    const Merge* best = nullptr;
    int32_t left = -1, right = -1;
    for (size_t i = 0; i + 1 < word.size(); ++i) {
      const auto m = merges_.find(pair_key(word[i], word[i + 1]));
      if (m != merges_.end() && (!best || m->second.rank < best->rank))
        best = &m->second, left = word[i], right = word[i + 1];
    }
    if (!best) break;
    merged.clear();
    for (size_t i = 0; i < word.size(); ++i) {
      if (i + 1 < word.size() && word[i] == left && word[i + 1] == right) {
        merged.push_back(best->result);
        ++i;
      } else {
        merged.push_back(word[i]);
      }
    }
    word.swap(merged);
  }
  for (int32_t& s : word) {
    const int32_t id = symbol_id_[size_t(s)];
    TRIDENT_USAGE_CHECK(id >= 0, "--vocab-file ", vocab_file_, " has no id for the symbol ", printable(symbols_[size_t(s)]),
                        " that BPE leaves of the text ", printable(piece),
                        ": a GPT-2 vocab.json holds all 256 byte symbols and every merge");
    s = id;
  }
  return word;
}

std::vector<int32_t> Gpt2BpeTokenizer::encode(std::string_view text) const {
  std::vector<int32_t> ids;
  for (const std::string_view piece : pretokenize(text)) {
    std::vector<int32_t> piece_ids;
    {
      std::lock_guard<std::mutex> lock(cache_mutex_);
      if (const auto hit = cache_.find(std::string(piece)); hit != cache_.end()) piece_ids = hit->second;
    }
    if (piece_ids.empty()) {
      piece_ids = encode_piece(piece);
      std::lock_guard<std::mutex> lock(cache_mutex_);
      if (cache_.size() >= kCacheEntries) cache_.clear();
      cache_.emplace(piece, piece_ids);
    }
    ids.insert(ids.end(), piece_ids.begin(), piece_ids.end());
  }
  return ids;
}

std::string Gpt2BpeTokenizer::decode(const std::vector<int32_t>& ids) const {
  std::string text;
  for (const int32_t id : ids) {
    TRIDENT_USAGE_CHECK(id >= 0 && id < int32_t(id_bytes_.size()) && id_decodable_[size_t(id)] != 0, "token id ", id,
                        " is not in the vocabulary of --vocab-file ", vocab_file_, " (ids 0..", id_bytes_.size() - 1,
                        ")");
    TRIDENT_USAGE_CHECK(id_decodable_[size_t(id)] == 1, "token id ", id, " of --vocab-file ", vocab_file_, " is ",
                        printable(id_bytes_[size_t(id)]), ", which is not made of GPT-2's byte characters");
    text += id_bytes_[size_t(id)];
  }
  return text;
}

nlohmann::json Gpt2BpeTokenizer::describe() const {
  return {{"type", "GPT2BPETokenizer"}, {"vocab_file", vocab_file_}, {"merge_file", merge_file_}};
}

}  // namespace trident::data
