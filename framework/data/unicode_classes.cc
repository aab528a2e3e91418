#include "framework/data/unicode_classes.h"

#include <algorithm>
#include <iterator>

namespace trident::data::unicode {
namespace {

struct CodePointRange {
  char32_t first, last;
};

#include "framework/data/unicode_classes_table.inc"

template <size_t N>
bool in(const CodePointRange (&ranges)[N], char32_t c) {
  // The first range ending at or after c.
  const CodePointRange* r = std::lower_bound(std::begin(ranges), std::end(ranges), c,
                                             [](const CodePointRange& range, char32_t v) { return range.last < v; });
  return r != std::end(ranges) && r->first <= c;
}

}  // namespace

CharClass char_class(char32_t c) {
  if (c < 0x80) {  // ASCII, the common case, without a search
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) return CharClass::letter;
    if (c >= '0' && c <= '9') return CharClass::number;
    if (c == ' ' || (c >= '\t' && c <= '\r')) return CharClass::space;
    return CharClass::other;
  }
  if (in(kLetterRanges, c)) return CharClass::letter;
  if (in(kNumberRanges, c)) return CharClass::number;
  if (in(kWhiteSpaceRanges, c)) return CharClass::space;
  return CharClass::other;
}

const char* unicode_version() { return kUnicodeVersion; }

CodePoint decode_utf8(std::string_view text, size_t at) {
  const auto byte = [&](size_t i) { return i < text.size() ? static_cast<unsigned char>(text[i]) : 0u; };
  const unsigned b0 = byte(at);
  if (b0 < 0x80) return {b0, 1};
  // Well-formed sequences (Unicode table 3-7): the second byte's range depends on the first.
  int length;
  unsigned lo = 0x80, hi = 0xBF;
  char32_t value;
  if (b0 >= 0xC2 && b0 <= 0xDF) {
    length = 2, value = b0 & 0x1F;
  } else if (b0 >= 0xE0 && b0 <= 0xEF) {
    length = 3, value = b0 & 0x0F;
    if (b0 == 0xE0) lo = 0xA0;  // no overlongs
    if (b0 == 0xED) hi = 0x9F;  // no surrogates
  } else if (b0 >= 0xF0 && b0 <= 0xF4) {
    length = 4, value = b0 & 0x07;
    if (b0 == 0xF0) lo = 0x90;  // no overlongs
    if (b0 == 0xF4) hi = 0x8F;  // nothing past U+10FFFF
  } else {
    return {kInvalidByte, 1};  // a continuation byte, C0, C1 or F5..FF
  }
  for (int k = 1; k < length; ++k) {
    const unsigned b = byte(at + size_t(k));
    if (at + size_t(k) >= text.size() || b < (k == 1 ? lo : 0x80u) || b > (k == 1 ? hi : 0xBFu))
      return {kInvalidByte, 1};
    value = (value << 6) | (b & 0x3F);
  }
  return {value, length};
}

}  // namespace trident::data::unicode
