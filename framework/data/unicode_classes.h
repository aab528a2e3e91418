// The Unicode facts GPT-2's pre-tokenizer needs: UTF-8 decoding that never
// fails, and whether a code point is a letter (\p{L}), a number (\p{N}),
// white space (\s) or something else. See Note [Unicode classes].
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace trident::data::unicode {

// Note [Unicode classes]
// GPT-2's pattern is run by Python's `regex` module, whose \p{L} and \p{N}
// are Unicode general categories L* and N* and whose \s is the White_Space
// property. We use the same definitions, not the C library's: glibc's
// iswalpha under C.UTF-8 differs from \p{L} on 2,290 code points (it
// counts non-ASCII decimal digits and combining vowel signs as letters).
// The ranges come from Python's unicodedata (unicode_classes_table.inc,
// written by unicode_classes_gen.py; Unicode 14.0.0), so
// tests/data/gpt2_bpe_reference.py, which asks unicodedata directly, agrees
// by construction, up to the Unicode version of the Python that runs it.
// Text need not be valid UTF-8: each byte that does not start a well-formed
// sequence (Unicode's table 3-7: no overlongs, surrogates or values past
// U+10FFFF) is a code point of its own in class `other` — as Python's
// decode("utf-8", "surrogateescape") makes it a lone surrogate.
enum class CharClass : uint8_t { letter, number, space, other };

CharClass char_class(char32_t c);

// Version of the Unicode database the classes come from.
const char* unicode_version();

struct CodePoint {
  char32_t value;  // kInvalidByte for a byte that starts no well-formed sequence
  int length;      // bytes, 1..4
};
constexpr char32_t kInvalidByte = 0xFFFFFFFF;

// The code point starting at text[at] (at < text.size()).
CodePoint decode_utf8(std::string_view text, size_t at);

// CharClass of the code point at text[at], invalid bytes being `other`.
inline CharClass char_class(const CodePoint& c) {
  return c.value == kInvalidByte ? CharClass::other : char_class(c.value);
}

}  // namespace trident::data::unicode
