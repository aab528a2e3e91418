// TextCorpus: the training text as one byte sequence. `path` is a text
// file, or a directory whose regular files are read in name order (that is
// how Debian's fortunes package ships: /usr/share/games/fortunes holds one
// text file per topic beside its .dat indexes and .u8 links, which are
// skipped).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace trident::data {

class TextCorpus {
 public:
  // Throws UsageError naming the path when it is missing, unreadable, or
  // holds fewer than `min_bytes` bytes.
  static TextCorpus load(const std::string& path, size_t min_bytes);

  const std::vector<uint8_t>& bytes() const { return bytes_; }
  size_t size() const { return bytes_.size(); }
  const std::vector<std::string>& files() const { return files_; }

 private:
  std::vector<uint8_t> bytes_;
  std::vector<std::string> files_;
};

}  // namespace trident::data
