// Small strings (metadata, trace events) from every rank of a group to
// every rank, through Comm::all_gather.
#pragma once

#include <string>
#include <vector>

#include "framework/dist/comm.h"

namespace trident::dist {

// [group rank] -> that rank's string.
std::vector<std::string> all_gather_strings(const std::string& mine, Comm& comm);

}  // namespace trident::dist
