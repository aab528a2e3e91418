#include "framework/core/rng.h"

#include <cmath>

namespace trident {
namespace {
constexpr uint32_t kMul0 = 0xD2511F53u, kMul1 = 0xCD9E8D57u;  // Philox-4x32 multipliers
constexpr uint32_t kWeyl0 = 0x9E3779B9u, kWeyl1 = 0xBB67AE85u;  // key schedule increments

uint64_t splitmix64(uint64_t x) {
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}
}  // namespace

uint64_t fnv1a64(std::string_view text) {
  uint64_t h = 0xCBF29CE484222325ull;
  for (unsigned char c : text) h = (h ^ c) * 0x100000001B3ull;
  return h;
}

Philox::Philox(uint64_t seed, std::string_view stream) {
  const uint64_t key = splitmix64(splitmix64(seed) ^ fnv1a64(stream));
  key0_ = uint32_t(key);
  key1_ = uint32_t(key >> 32);
}

std::array<uint32_t, 4> Philox::bits(uint64_t c0, uint64_t c1) const {
  uint32_t x0 = uint32_t(c0), x1 = uint32_t(c0 >> 32), x2 = uint32_t(c1), x3 = uint32_t(c1 >> 32);
  uint32_t k0 = key0_, k1 = key1_;
  for (int round = 0; round < 10; ++round) {
    const uint64_t p0 = uint64_t(kMul0) * x0, p1 = uint64_t(kMul1) * x2;
    const uint32_t y0 = uint32_t(p1 >> 32) ^ x1 ^ k0, y1 = uint32_t(p1);
    const uint32_t y2 = uint32_t(p0 >> 32) ^ x3 ^ k1, y3 = uint32_t(p0);
    x0 = y0; x1 = y1; x2 = y2; x3 = y3;
    k0 += kWeyl0;
    k1 += kWeyl1;
  }
  return {x0, x1, x2, x3};
}

float Philox::uniform(uint64_t c0, uint64_t c1, int w) const {
  return float((bits(c0, c1)[size_t(w)] >> 8) + 1) * 0x1p-24f;
}

float Philox::normal(uint64_t c0, uint64_t c1) const {
  const auto b = bits(c0, c1);
  // Both uniforms in (0, 1]: log never sees zero.
  const double u1 = double((b[0] >> 8) + 1) * 0x1p-24;
  const double u2 = double((b[1] >> 8) + 1) * 0x1p-24;
  return float(std::sqrt(-2.0 * std::log(u1)) * std::cos(6.283185307179586 * u2));
}

uint64_t Philox::below(uint64_t n, uint64_t c0, uint64_t c1) const {
  const auto b = bits(c0, c1);
  const uint64_t r = uint64_t(b[0]) | uint64_t(b[1]) << 32;
  // Modulo bias is below n / 2^64: negligible for any corpus size.
  return r % n;
}

}  // namespace trident
