// TokenView: a read-only array of token ids stored 1, 2 or 4 bytes wide —
// a byte corpus in memory, or a memory-mapped Megatron .bin (uint16 for
// vocabularies under 65,500). Unaligned reads go through memcpy.
#pragma once

#include <cstdint>
#include <cstring>

namespace trident::data {

struct TokenView {
  const uint8_t* data = nullptr;
  int64_t size = 0;  // tokens
  int width = 1;     // bytes per token: 1 (u8), 2 (u16) or 4 (i32)

  int32_t at(int64_t i) const {
    if (width == 1) return data[i];
    if (width == 2) {
      uint16_t v;
      std::memcpy(&v, data + 2 * i, 2);
      return v;
    }
    int32_t v;
    std::memcpy(&v, data + 4 * i, 4);
    return v;
  }
  // Tokens [begin, end).
  TokenView slice(int64_t begin, int64_t end) const { return {data + begin * width, end - begin, width}; }
};

}  // namespace trident::data
