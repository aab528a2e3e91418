#include "checkpoint/checkpoint.h"

#include <fcntl.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "checkpoint/hdf5_handle.h"
#include "framework/core/error.h"
#include "framework/core/log.h"
#include "framework/dist/agreement.h"
#include "framework/dist/string_gather.h"

namespace fs = std::filesystem;

namespace trident::checkpoint {
namespace {

// Data and metadata on disk before anything that depends on them.
void fsync_path(const fs::path& p, bool directory = false) {
  const int fd = ::open(p.c_str(), directory ? O_RDONLY | O_DIRECTORY : O_RDONLY);
  TRIDENT_CHECK(fd >= 0, "cannot open ", p.string(), " to sync it: ", std::strerror(errno));
  const int rc = ::fsync(fd);
  const int err = errno;
  ::close(fd);
  TRIDENT_CHECK(rc == 0, "fsync of ", p.string(), " failed: ", std::strerror(err));
}

// Writes a small file through a temporary name and a rename (then syncs the directory).
void write_file_atomically(const fs::path& path, const std::string& text) {
  const fs::path tmp = path.string() + ".tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    out << text;
    out.flush();
    TRIDENT_CHECK(out.good(), "cannot write ", tmp.string());
  }
  fsync_path(tmp);
  fs::rename(tmp, path);
  fsync_path(path.parent_path(), true);
}

bool is_committed(const fs::path& dir) { return fs::exists(dir / "COMMITTED"); }

// Every rank learns whether all succeeded; the failing rank rethrows its error.
void agree(const std::string& error) { dist::agree_all_ranks_ok(error); }

// Committed iter_N directories under root, by iteration.
std::vector<std::pair<int64_t, fs::path>> committed_checkpoints(const fs::path& root) {
  std::vector<std::pair<int64_t, fs::path>> out;
  for (const auto& entry : fs::directory_iterator(root)) {
    const std::string name = entry.path().filename().string();
    if (entry.is_directory() && name.starts_with("iter_") && name.find_first_not_of("0123456789", 5) == std::string::npos &&
        is_committed(entry.path()))
      out.emplace_back(std::stoll(name.substr(5)), entry.path());
  }
  std::sort(out.begin(), out.end());
  return out;
}

// A name under root for a directory set aside: <prefix>.<dir name>.<n>.
fs::path aside_name(const fs::path& root, const std::string& prefix, const fs::path& dir) {
  for (int n = 1;; ++n) {
    fs::path p = root / (prefix + "." + dir.filename().string() + "." + std::to_string(n));
    if (!fs::exists(p)) return p;
  }
}

// Keeps the just-committed checkpoint and the newest keep_last − 1 others.
void remove_old_checkpoints(const fs::path& root, int keep_last, const fs::path& just_committed) {
  std::vector<fs::path> committed;
  for (const auto& [iteration, dir] : committed_checkpoints(root))
    if (dir != just_committed) committed.push_back(dir);
  if (keep_last <= 0 || int(committed.size()) <= keep_last - 1) return;
  for (size_t i = 0; i + size_t(keep_last - 1) < committed.size(); ++i) {
    // COMMITTED goes first: a deletion cut short leaves an uncommitted directory, never a damaged committed one.
    fs::remove(committed[i] / "COMMITTED");
    fsync_path(committed[i], true);
    fs::remove_all(committed[i]);
    spdlog::info("checkpoint: removed {} (--keep-last {})", committed[i].string(), keep_last);
  }
}


// The datasets a shard file holds of the tensor at `path` ("model/x"): the
// whole slice "model/x", or a distributed optimizer's rows "model/x@rows_N".
std::vector<std::string> datasets_of_tensor(hid_t file, const std::string& path) {
  const size_t cut = path.rfind('/');
  const std::string group = cut == std::string::npos ? "/" : path.substr(0, cut);
  const std::string base = path.substr(cut == std::string::npos ? 0 : cut + 1);
  std::vector<std::string> names;
  if (H5Lexists(file, group.c_str(), H5P_DEFAULT) <= 0) return names;
  H5Handle g(TRIDENT_LIB_CHECK(Hdf5, H5Gopen2(file, group.c_str(), H5P_DEFAULT), "opening ", group), H5Gclose);
  struct Found {
    const std::string* base;
    std::vector<std::string> names;
  } found{&base, {}};
  auto visit = [](hid_t, const char* name, const H5L_info_t*, void* data) -> herr_t {
    Found& f = *static_cast<Found*>(data);
    const std::string n = name;
    if (n == *f.base || n.starts_with(*f.base + "@rows_")) f.names.push_back(n);
    return 0;
  };
  TRIDENT_LIB_CHECK(Hdf5, H5Literate(g, H5_INDEX_NAME, H5_ITER_NATIVE, nullptr, visit, &found), "listing ", group);
  for (const std::string& n : found.names) names.push_back(cut == std::string::npos ? n : group + "/" + n);
  return names;
}

}  // namespace

std::string iteration_dir_name(int64_t iteration) {
  char name[32];
  std::snprintf(name, sizeof name, "iter_%07lld", static_cast<long long>(iteration));
  return name;
}

void test_kill_point(const char* point, int rank) {
  const char* spec = std::getenv("TRIDENT_TEST_KILL_AT");
  if (!spec) return;
  const std::string s(spec);
  const auto colon = s.find(':');
  if (colon == std::string::npos || std::atoi(s.substr(0, colon).c_str()) != rank || s.substr(colon + 1) != point)
    return;
  std::fprintf(stderr, "[rank %d] TRIDENT_TEST_KILL_AT: killed at %s\n", rank, point);
  std::fflush(stderr);
  std::raise(SIGKILL);
}

namespace {
SaveResult write_and_commit(const fs::path& tmp, const fs::path& final_dir, const fs::path& root, int64_t iteration,
                            const std::vector<SliceData>& mine, const nlohmann::json& stamped, int keep_last,
                            dist::Comm& world, std::chrono::steady_clock::time_point start);
}  // namespace

SaveResult save_checkpoint(const std::string& root_name, int64_t iteration, const std::vector<SliceData>& mine,
                           const nlohmann::json& state, int keep_last, dist::Comm& world) {
  const auto start = std::chrono::steady_clock::now();
  nlohmann::json stamped = state;
  stamped["format_version"] = kFormatVersion;
  const fs::path root(root_name), final_dir = root / iteration_dir_name(iteration);
  const int rank = world.rank();
  // 1. Rank 0 makes the temporary directory; its name reaches everyone.
  std::string error, tmp_name;
  if (rank == 0) {
    try {
      fs::create_directories(root);
      const fs::path tmp = root / (".tmp." + iteration_dir_name(iteration) + "." + std::to_string(::getpid()));
      fs::remove_all(tmp);  // this process's own leftover of an earlier failed attempt
      fs::create_directories(tmp / "shards");
      tmp_name = tmp.string();
    } catch (const std::exception& e) {
      error = "cannot create a checkpoint directory under --save " + root_name + ": " + e.what();
    }
  }
  agree(error);
  tmp_name = dist::all_gather_strings(rank == 0 ? tmp_name : "", world)[0];
  const fs::path tmp(tmp_name);
  try {
    return write_and_commit(tmp, final_dir, root, iteration, mine, stamped, keep_last, world, start);
  } catch (...) {
    // A save that failed everywhere (the ranks agreed on it) leaves nothing behind.
    std::error_code ignored;
    if (rank == 0) fs::remove_all(tmp, ignored);
    throw;
  }
}

namespace {

SaveResult write_and_commit(const fs::path& tmp, const fs::path& final_dir, const fs::path& root, int64_t iteration,
                            const std::vector<SliceData>& mine, const nlohmann::json& stamped, int keep_last,
                            dist::Comm& world, std::chrono::steady_clock::time_point start) {
  const int rank = world.rank();
  std::string error;

  // 2. Every rank that owns slices writes its shard and syncs it.
  const std::string shard_file = "shards/rank_" + [&] {
    char b[16];
    std::snprintf(b, sizeof b, "%05d", rank);
    return std::string(b);
  }() + ".h5";
  int64_t bytes = 0;
  nlohmann::json listing = nlohmann::json::array();
  try {
    if (const char* limit = std::getenv("TRIDENT_TEST_FSIZE_LIMIT")) {
      // Test-only: a disk that fills up now (set here, after MPI made its shared-memory files).
      const rlim_t bytes_limit = rlim_t(std::atoll(limit));
      const struct rlimit r{bytes_limit, bytes_limit};
      setrlimit(RLIMIT_FSIZE, &r);
    }
    if (!mine.empty()) {
      bytes = write_shard((tmp / shard_file).string(), mine,
                          [&] { test_kill_point("during_shard", rank); });
      for (const SliceData& sd : mine) listing.push_back(sd.slice.to_json());
    }
  } catch (const std::exception& e) {
    error = std::string("saving checkpoint ") + final_dir.string() + " failed: " + e.what() +
            " (the previous checkpoint is intact)";
  }
  agree(error);
  const std::vector<std::string> listings = dist::all_gather_strings(mine.empty() ? "" : listing.dump(), world);

  // 3. Rank 0: index, COMMITTED, rename, latest, retention.
  if (rank == 0) {
    try {
      fsync_path(tmp / "shards", true);
      std::vector<ShardListing> shards;
      for (int r = 0; r < world.size(); ++r) {
        if (listings[size_t(r)].empty()) continue;
        char b[32];
        std::snprintf(b, sizeof b, "shards/rank_%05d.h5", r);
        ShardListing l{b, {}};
        for (const auto& j : nlohmann::json::parse(listings[size_t(r)])) l.slices.push_back(TensorSlice::from_json(j));
        shards.push_back(std::move(l));
      }
      test_kill_point("before_index", rank);
      write_index((tmp / "index.h5").string(), shards, stamped.dump());
      test_kill_point("after_index", rank);
      write_file_atomically(tmp / "COMMITTED", std::to_string(iteration) + "\n");
      fsync_path(tmp, true);
      test_kill_point("before_rename", rank);
      if (fs::exists(final_dir)) {
        // Another timeline's checkpoint of this iteration (a run resumed from an earlier one): never
        // overwritten, never deleted — set aside, so `latest` names this run's.
        const fs::path aside = aside_name(root, "superseded", final_dir);
        fs::rename(final_dir, aside);
        spdlog::warn("checkpoint: {} existed (another run's); moved to {}", final_dir.string(), aside.string());
      }
      fs::rename(tmp, final_dir);
      fsync_path(root, true);
      write_file_atomically(root / "latest", iteration_dir_name(iteration) + "\n");
      try {
        remove_old_checkpoints(root, keep_last, final_dir);
      } catch (const std::exception& e) {  // the new checkpoint is committed: this is no failure of the save
        spdlog::warn("checkpoint: --keep-last {} could not remove an old checkpoint: {}", keep_last, e.what());
      }
    } catch (const std::exception& e) {
      error = std::string("committing checkpoint ") + final_dir.string() + " failed: " + e.what() +
              " (the previous checkpoint is intact)";
    }
  }
  agree(error);
  Tensor total = Tensor::from_vector({float(bytes)}, {1});
  world.all_reduce(total, dist::ReduceOp::sum);
  return {final_dir.string(), int64_t(total.item(0)),
          std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count()};
}

}  // namespace

std::vector<std::string> abandon_checkpoints_after(const std::string& root_name, int64_t iteration) {
  std::vector<std::string> moved;
  if (root_name.empty() || !fs::is_directory(root_name)) return moved;
  const fs::path root(root_name);
  for (const auto& [it, dir] : committed_checkpoints(root)) {
    if (it <= iteration) continue;
    const fs::path aside = aside_name(root, "abandoned", dir);
    fs::rename(dir, aside);
    moved.push_back(aside.string());
  }
  if (fs::exists(root / iteration_dir_name(iteration)))
    write_file_atomically(root / "latest", iteration_dir_name(iteration) + "\n");
  fsync_path(root, true);
  return moved;
}

bool holds_no_checkpoint(const std::string& root_name) {
  const fs::path root(root_name);
  if (!fs::exists(root)) return true;
  if (!fs::is_directory(root) || fs::exists(root / "latest")) return false;
  for (const auto& entry : fs::directory_iterator(root))
    if (entry.path().filename().string().starts_with("iter_")) return false;
  return true;
}

std::string find_checkpoint(const std::string& root_name, int64_t iteration) {
  const fs::path root(root_name);
  TRIDENT_USAGE_CHECK(fs::is_directory(root), "--load ", root_name, " is not a directory");
  std::string name;
  if (iteration >= 0) {
    name = iteration_dir_name(iteration);
  } else {
    std::ifstream latest(root / "latest");
    TRIDENT_USAGE_CHECK(latest.good() && (latest >> name), "--load ", root_name,
                        " has no 'latest' file: point --load at a --save directory, or give --load-iteration");
  }
  const fs::path dir = root / name;
  TRIDENT_USAGE_CHECK(fs::is_directory(dir), "checkpoint ", dir.string(), " does not exist",
                      iteration >= 0 ? " (--load-iteration)" : " (named by 'latest')");
  TRIDENT_USAGE_CHECK(is_committed(dir), "checkpoint ", dir.string(),
                      " has no COMMITTED marker: its save did not finish; load another with --load-iteration");
  // Uncommitted leftovers are reported, never loaded, never deleted.
  for (const auto& entry : fs::directory_iterator(root))
    if (entry.is_directory() && entry.path().filename().string().starts_with(".tmp."))
      spdlog::warn("checkpoint: {} is an unfinished save (no COMMITTED): ignored", entry.path().string());
  return dir.string();
}

// The open index file (HDF5 handles stay out of the header).
class CheckpointReader::Index {
 public:
  explicit Index(const std::string& path) : file(h5_file_open(path)) {}
  H5Handle file;
};

CheckpointReader::CheckpointReader(const std::string& dir) : dir_(dir) {
  const fs::path d(dir), index = d / "index.h5";
  TRIDENT_USAGE_CHECK(is_committed(d), "checkpoint ", dir, " has no COMMITTED marker: it is incomplete");
  TRIDENT_USAGE_CHECK(fs::exists(index), "checkpoint ", dir, " has no index.h5: it is damaged");
  index_ = std::make_shared<Index>(index.string());
  H5Handle root(TRIDENT_LIB_CHECK(Hdf5, H5Gopen2(index_->file, "/", H5P_DEFAULT), "root group of ", index.string()),
                H5Gclose);
  try {
    state_ = nlohmann::json::parse(read_string_attribute(root, "trident_state"));
    for (const auto& s : nlohmann::json::parse(read_string_attribute(root, "shards")))
      shards_.push_back(s.get<std::string>());
  } catch (const std::exception& e) {
    throw UsageError(std::string("checkpoint index ") + index.string() + " is unreadable (" + e.what() +
                     "): it was not written by trident or is damaged");
  }
  TRIDENT_USAGE_CHECK(state_.value("format_version", 0) == kFormatVersion, "checkpoint ", dir,
                      " has format version ", state_.value("format_version", 0), "; this trident reads version ",
                      kFormatVersion);
  for (const std::string& s : shards_) {
    TRIDENT_USAGE_CHECK(fs::exists(d / s), "checkpoint shard ", (d / s).string(),
                        " is missing: the checkpoint is incomplete; load an earlier one with --load-iteration");
    (void)h5_file_open((d / s).string());  // a truncated shard fails here, not as silent zeros
  }
}

void CheckpointReader::read(const TensorSlice& slice, Tensor& out) {
  try {
    read_slice(index_->file, (fs::path(dir_) / "index.h5").string(), slice, out);
  } catch (const UsageError&) {
    // Which shard? Read the tensor's datasets from each shard that has them,
    // directly: whole (`path`) or a distributed optimizer's rows (`path@rows_N`).
    for (const std::string& s : shards_) {
      const std::string path = (fs::path(dir_) / s).string();
      H5Handle f = h5_file_open(path);
      for (const std::string& name : datasets_of_tensor(f, slice.path)) {
        H5Handle ds(TRIDENT_LIB_CHECK(Hdf5, H5Dopen2(f, name.c_str(), H5P_DEFAULT), "opening ", name), H5Dclose);
        H5Handle space(TRIDENT_LIB_CHECK(Hdf5, H5Dget_space(ds)), H5Sclose);
        std::vector<float> buffer(size_t(H5Sget_simple_extent_npoints(space)));
        if (H5Dread(ds, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, buffer.data()) < 0)
          throw UsageError("checkpoint shard " + path + ", dataset '" + name + "': " + hdf5_error_stack() +
                           ": the checkpoint is damaged; load an earlier one with --load-iteration");
      }
    }
    throw;
  }
  bytes_read_ += int64_t(shape_numel(slice.stored_shape())) * 4;
}

}  // namespace trident::checkpoint
