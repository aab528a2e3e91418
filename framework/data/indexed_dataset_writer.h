// Writes a Megatron-LM indexed dataset, PREFIX.bin + PREFIX.idx (layout in
// REFERENCE.md; indexed_dataset.h reads it), one document at a time, as
// Megatron's preprocess_data.py does: each document is one sequence.
// Both files are written under temporary names and renamed into place by
// finish(), so PREFIX.bin/.idx is never a half-written dataset; a writer
// destroyed before finish() removes its temporary files.
#pragma once

#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

namespace trident::data {

class IndexedDatasetWriter {
 public:
  // Tokens are stored as uint16 when vocab_size < 65,500 (Megatron's
  // best_fitting_dtype), else as int32. UsageError if PREFIX's directory
  // cannot be written.
  IndexedDatasetWriter(const std::string& prefix, int64_t vocab_size);
  ~IndexedDatasetWriter();
  IndexedDatasetWriter(const IndexedDatasetWriter&) = delete;
  IndexedDatasetWriter& operator=(const IndexedDatasetWriter&) = delete;

  // Appends a document (ids in 0 .. vocab_size-1). An empty one is recorded
  // as a document without sequences, as Megatron records it.
  void add_document(const std::vector<int32_t>& tokens);
  // Writes the index, syncs both files and renames them to PREFIX.bin/.idx.
  void finish();

  int width() const { return width_; }  // bytes per token: 2 or 4
  int64_t num_documents() const { return int64_t(documents_.size()) - 1; }
  int64_t num_tokens() const { return tokens_; }

 private:
  void write(std::FILE* f, const std::string& name, const void* data, size_t bytes);

  std::string prefix_, bin_tmp_, idx_tmp_;
  int64_t vocab_size_;
  int width_;
  std::FILE* bin_ = nullptr;
  std::vector<int32_t> sizes_;      // [N] tokens per sequence
  std::vector<int64_t> pointers_;   // [N] byte offset of each sequence in .bin
  std::vector<int64_t> documents_;  // [D] 0, then the sequence count after each document
  int64_t tokens_ = 0;
  bool finished_ = false;
};

}  // namespace trident::data
