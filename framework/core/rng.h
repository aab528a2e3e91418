// Counter-based random numbers (Philox-4x32-10, Salmon et al., SC'11).
//
// Note [layout-invariant initialisation]
// A value is a pure function of (seed, stream name, counter): element i of
// the global tensor "layers.3.mlp.fc1.weight" gets the same number whether
// one process initialises the whole tensor or rank 5 initialises only its
// TP slice. That is what lets every (tp, pp, dp) layout train the same model
// (DESIGN.md idea 3). The data sampler uses the same generator keyed by
// (seed, "sampler") with the iteration as counter.
#pragma once

#include <array>
#include <cstdint>
#include <string_view>

namespace trident {

class Philox {
 public:
  // The key is derived from the seed and a stream name (e.g. a parameter's
  // global name), so distinct tensors get independent streams.
  Philox(uint64_t seed, std::string_view stream);
  // A raw Philox key, for the published known-answer tests.
  Philox(uint32_t key0, uint32_t key1) : key0_(key0), key1_(key1) {}

  // Four 32-bit words for the 128-bit counter (c0 | c1 << 64).
  std::array<uint32_t, 4> bits(uint64_t c0, uint64_t c1 = 0) const;
  // Uniform in (0, 1], 24 bits of randomness from word w of bits(c0, c1).
  float uniform(uint64_t c0, uint64_t c1 = 0, int w = 0) const;
  // Standard normal for counter c0 (Box-Muller on two words of one draw).
  float normal(uint64_t c0, uint64_t c1 = 0) const;
  // Uniform integer in [0, n) from the first 64 bits of bits(c0, c1).
  uint64_t below(uint64_t n, uint64_t c0, uint64_t c1 = 0) const;

 private:
  uint32_t key0_, key1_;
};

// 64-bit FNV-1a of a string: turns stream names into key material.
uint64_t fnv1a64(std::string_view text);

}  // namespace trident
