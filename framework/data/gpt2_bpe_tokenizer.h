// GPT-2's byte-level BPE, as OpenAI's encoder.py and Megatron's
// GPT2BPETokenizer compute it:
//  1. pretokenize: the text is cut where GPT-2's pattern
//       's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
//     finds its matches, by hand over code points (Note [Unicode classes]);
//  2. each piece's bytes become symbols, one character per byte
//     (bytes_to_unicode: printable bytes stand for themselves, the others
//     for U+0100 onwards, so a space is "Ġ");
//  3. the adjacent pair of lowest rank in merges.txt is merged, everywhere
//     in the piece, left to right, until no pair has a rank;
//  4. each symbol's id is its entry in vocab.json.
// "<|endoftext|>" in vocab.json is the end-of-document id; in text it is
// ordinary characters, as in encoder.py. tests/data/gpt2_bpe_reference.py
// is an independent Python version that must agree with this one on every
// id (tests/data/bpe_agreement.sh).
#pragma once

#include <array>
#include <mutex>
#include <string>
#include <unordered_map>

#include "framework/data/tokenizer.h"

namespace trident::data {

class Gpt2BpeTokenizer final : public Tokenizer {
 public:
  // vocab.json (token -> id) and merges.txt ("#version" line, then "a b"
  // per line, highest priority first); a one-line UsageError naming the file
  // and its flag (--vocab-file, --merge-file) if either cannot be used.
  Gpt2BpeTokenizer(const std::string& vocab_file, const std::string& merge_file);

  std::vector<int32_t> encode(std::string_view text) const override;
  std::string decode(const std::vector<int32_t>& ids) const override;
  int64_t vocab_size() const override { return int64_t(id_bytes_.size()); }
  int32_t eod() const override { return eod_; }
  nlohmann::json describe() const override;

  // Step 1: the pieces of `text`, in order; they concatenate to `text`.
  static std::vector<std::string_view> pretokenize(std::string_view text);
  // Step 2's mapping: the character (code point) that stands for each byte.
  static const std::array<char32_t, 256>& byte_chars();

 private:
  struct Merge {
    int32_t rank;    // line order in merges.txt, 0 first
    int32_t result;  // symbol
  };
  // A symbol is an index into symbols_: every byte's character, and both
  // sides and the result of every merge, interned by their text.
  int32_t intern(const std::string& symbol);
  void read_vocab(const std::string& vocab_file);
  void read_merges(const std::string& merge_file, const std::string& vocab_file);
  std::vector<int32_t> encode_piece(std::string_view piece) const;  // steps 2-4

  std::string vocab_file_, merge_file_;                // absolute paths, for describe()
  std::unordered_map<std::string, int32_t> vocab_;     // vocab.json
  std::vector<std::string> id_bytes_;                  // [vocab size] the bytes each id decodes to
  std::vector<uint8_t> id_decodable_;                  // [vocab size] 0: no entry or not byte characters
  int32_t eod_ = -1;
  std::unordered_map<std::string, int32_t> symbol_index_;
  std::vector<int32_t> symbol_id_;                     // [symbols] vocab id, -1 if vocab.json lacks it
  std::vector<std::string> symbols_;                   // [symbols] text (UTF-8)
  std::array<int32_t, 256> byte_symbol_{};             // [256] the symbol of each byte
  std::unordered_map<uint64_t, Merge> merges_;         // (left symbol, right symbol) -> merge
  // encode_piece's results by piece (encoder.py's cache); bounded, shared by threads.
  mutable std::mutex cache_mutex_;
  mutable std::unordered_map<std::string, std::vector<int32_t>> cache_;
};

}  // namespace trident::data
