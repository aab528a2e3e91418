// Checkpoint directories and their atomic commit (DESIGN.md "Checkpoints"):
//
//   <save>/latest                "iter_0000020", replaced by write-then-rename
//   <save>/iter_0000020/index.h5 the global view and the run's state
//   <save>/iter_0000020/shards/rank_NNNNN.h5
//   <save>/iter_0000020/COMMITTED written last
//
// A save writes into <save>/.tmp.iter_0000020.<pid>, fsyncs every file and
// directory, writes COMMITTED, renames the directory into place and only
// then points `latest` at it; a directory without COMMITTED is never
// loaded. Killed at any point, the previous checkpoint stays `latest`.
#pragma once

#include <cstdint>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "checkpoint/shard_io.h"
#include "framework/dist/comm.h"

namespace trident::checkpoint {

std::string iteration_dir_name(int64_t iteration);  // "iter_0000020"

struct SaveResult {
  std::string dir;      // the committed directory
  int64_t bytes = 0;    // tensor data over all ranks
  double seconds = 0.0;
};

// Collective over `world`: every rank passes the slices it owns (none: it
// writes no shard); world rank 0 writes the index and commits. Keeps the
// newest `keep_last` committed checkpoints (0: all). Throws on every rank
// if any rank failed, with that rank's message on that rank; nothing that
// was committed before is touched.
SaveResult save_checkpoint(const std::string& root, int64_t iteration, const std::vector<SliceData>& mine,
                           const nlohmann::json& state, int keep_last, dist::Comm& world);

// After a rollback to `iteration`: committed checkpoints of later
// iterations (the diverged timeline) are renamed aside to
// abandoned.iter_N.<time> (kept for inspection, never loaded) and `latest`
// names iter_<iteration> again. Returns the new names. Rank 0 only.
std::vector<std::string> abandon_checkpoints_after(const std::string& root, int64_t iteration);

// Whether `root` holds no checkpoint yet: it does not exist, or has neither
// `latest` nor any iter_N directory (an unfinished first save's .tmp.
// directory does not count). A job script that passes --load to its first
// start and to every restart then starts fresh the first time.
bool holds_no_checkpoint(const std::string& root);

// The directory to load from `root`: `latest`, or iter_N when iteration ≥ 0.
// UsageError naming the path when there is none or it is not committed.
std::string find_checkpoint(const std::string& root, int64_t iteration = -1);

// A committed checkpoint, checked on open: COMMITTED present, the format
// known, every shard the index lists present and readable (a virtual
// dataset would silently read a missing one as zeros).
class CheckpointReader {
 public:
  explicit CheckpointReader(const std::string& dir);
  const std::string& dir() const { return dir_; }
  const nlohmann::json& state() const { return state_; }
  // Reads a slice; a checksum or read failure names the shard file and
  // dataset. Adds to bytes_read().
  void read(const TensorSlice& slice, Tensor& out);
  int64_t bytes_read() const { return bytes_read_; }

 private:
  std::string dir_;
  nlohmann::json state_;
  std::vector<std::string> shards_;
  class Index;
  std::shared_ptr<Index> index_;
  int64_t bytes_read_ = 0;
};

// Test-only fault (TRIDENT_TEST_KILL_AT="rank:point"): the rank SIGKILLs
// itself at `point` of a save: during_shard, before_index, after_index,
// before_rename. Returns without effect otherwise. (Another test-only
// variable, TRIDENT_TEST_FSIZE_LIMIT=bytes, sets RLIMIT_FSIZE as a save
// starts: a full disk where a small tmpfs cannot be mounted.)
void test_kill_point(const char* point, int rank);

}  // namespace trident::checkpoint
