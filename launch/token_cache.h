// Text trained through a tokenizer (--tokenizer-type other than
// ByteTokenizer) is tokenized once into a Megatron dataset (documents of
// about 4 KB cut at newlines, an end-of-document token after each file) in
// the cache directory, and memory-mapped from there by every
// later run: --data-cache-path, else DIR/data_cache under --save (or the
// --load directory of a resume without --save), else ./trident_data_cache. The name holds a hash of the text files (paths,
// sizes, modification times) and of the tokenizer (type, files and their
// sizes and times), so a changed input makes a new entry, never a stale read.
#pragma once

#include <string>

#include "framework/data/tokenizer.h"

namespace trident::launch {

// The cache prefix (PREFIX.bin/.idx) for `text_path` read by `tokenizer`.
std::string token_cache_prefix(const std::string& text_path, const data::Tokenizer& tokenizer,
                               const std::string& cache_dir);

// Tokenizes `text_path` into `prefix` unless it is there already; returns
// whether it had to (one process at a time: the trainer's world rank 0).
bool build_token_cache(const std::string& text_path, const data::Tokenizer& tokenizer, const std::string& prefix,
                       int64_t vocab_size);

}  // namespace trident::launch
