#include "framework/dist/string_gather.h"

#include <algorithm>

namespace trident::dist {

// Padded to the longest: Comm::all_gather takes equal parts.
std::vector<std::string> all_gather_strings(const std::string& mine, Comm& comm) {
  const int n = comm.size();
  Tensor lengths = Tensor::empty({n}, DType::i32), my_length = Tensor::empty({1}, DType::i32);
  my_length.data<int32_t>()[0] = int32_t(mine.size());
  comm.all_gather(my_length, lengths);
  int32_t longest = 1;
  for (int r = 0; r < n; ++r) longest = std::max(longest, lengths.data<int32_t>()[r]);
  // One byte per i32 element: simple, and small.
  Tensor in = Tensor::zeros({longest}, DType::i32), out = Tensor::empty({int64_t(n) * longest}, DType::i32);
  for (size_t i = 0; i < mine.size(); ++i) in.data<int32_t>()[i] = static_cast<unsigned char>(mine[i]);
  comm.all_gather(in, out);
  std::vector<std::string> result(static_cast<size_t>(n));
  for (int r = 0; r < n; ++r)
    for (int32_t i = 0; i < lengths.data<int32_t>()[r]; ++i)
      result[size_t(r)].push_back(char(out.data<int32_t>()[int64_t(r) * longest + i]));
  return result;
}

}  // namespace trident::dist
