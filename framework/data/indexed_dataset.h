// Megatron-LM's indexed dataset: PREFIX.idx (the index, layout in
// REFERENCE.md) and PREFIX.bin (the tokens of every sequence, concatenated),
// memory-mapped, read-only. The index is checked completely before use — a
// malformed or truncated .idx, or one that points outside the .bin, is a
// one-line UsageError naming the file and the field, never a crash
// (tests/data/test_indexed_dataset.cc fuzzes it).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "framework/data/token_view.h"

namespace trident::data {

struct MegatronIndex {
  int width = 2;                  // bytes per token (dtype code 1 u8, 8 u16, 4 i32; others are refused)
  std::vector<int32_t> sizes;     // [N] tokens per sequence
  std::vector<int64_t> pointers;  // [N] byte offset of each sequence in .bin
  std::vector<int64_t> documents; // [D] document boundaries, as sequence indices 0 … N
  int64_t total_tokens = 0;       // of all sequences (the .bin may hold nothing else)
};

// Parses and checks an .idx image against a .bin of `bin_bytes` bytes.
// `name` is the file name for messages.
MegatronIndex parse_megatron_index(const std::string& name, const uint8_t* data, size_t size, uint64_t bin_bytes);

class IndexedDataset {
 public:
  // PREFIX.idx and PREFIX.bin; UsageError naming the file on any problem.
  static std::unique_ptr<IndexedDataset> open(const std::string& prefix);
  ~IndexedDataset();
  IndexedDataset(const IndexedDataset&) = delete;
  IndexedDataset& operator=(const IndexedDataset&) = delete;

  const MegatronIndex& index() const { return index_; }
  // Every sequence's tokens, in order (sequences are stored back to back).
  TokenView tokens() const { return {bin_, index_.total_tokens, index_.width}; }
  // The token offset where document `d` starts (d = number of documents: the end).
  int64_t document_start(int64_t d) const;
  int64_t num_documents() const { return int64_t(index_.documents.size()) - 1; }

 private:
  IndexedDataset() = default;
  MegatronIndex index_;
  const uint8_t* bin_ = nullptr;
  int64_t bin_bytes_ = 0;
};

}  // namespace trident::data
