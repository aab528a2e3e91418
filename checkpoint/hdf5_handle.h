// Thin RAII over the HDF5 C API (1.10, the Debian parallel build, used here
// one file per process with the default POSIX driver) and HDF5 as a library
// for TRIDENT_LIB_CHECK (framework/core/error.h): HDF5's own error printing
// is switched off and a failed call throws trident::Error with the rank,
// file:line, the call, what it concerned and the library's innermost
// message. The check's value is the call's result, so an id is checked
// where it is taken:
//
//   H5Handle ds(TRIDENT_LIB_CHECK(Hdf5, H5Dopen2(f, path, H5P_DEFAULT), "opening ", path), H5Dclose);
#pragma once

#include <hdf5.h>

#include <cstdint>
#include <string>
#include <utility>

#include "framework/core/error.h"

namespace trident::checkpoint {

// Owns one hid_t and closes it with the matching H5*close.
class H5Handle {
 public:
  using Closer = herr_t (*)(hid_t);
  H5Handle() = default;
  H5Handle(hid_t id, Closer close) : id_(id), close_(close) {}
  H5Handle(H5Handle&& o) noexcept : id_(std::exchange(o.id_, H5I_INVALID_HID)), close_(o.close_) {}
  H5Handle& operator=(H5Handle&& o) noexcept {
    reset();
    id_ = std::exchange(o.id_, H5I_INVALID_HID);
    close_ = o.close_;
    return *this;
  }
  H5Handle(const H5Handle&) = delete;
  H5Handle& operator=(const H5Handle&) = delete;
  ~H5Handle() { reset(); }
  hid_t id() const { return id_; }
  operator hid_t() const { return id_; }  // NOLINT: pass straight to the C API
  void reset() {
    if (id_ >= 0 && close_) close_(id_);
    id_ = H5I_INVALID_HID;
  }
  // Closes now and reports failure (a close can be where buffered data is written).
  void close(const std::string& what);

 private:
  hid_t id_ = H5I_INVALID_HID;
  Closer close_ = nullptr;
};

// Turns off HDF5's automatic error printing (once per process).
void quiet_hdf5_errors();
// The innermost messages of HDF5's current error stack, in one line.
std::string hdf5_error_stack();

// HDF5's calls return a negative hid_t, herr_t or ssize_t on failure; each
// widens to hid_t.
struct Hdf5 {
  using Status = hid_t;
  static constexpr const char* name = "HDF5";
  static bool ok(Status s) { return s >= 0; }
  static std::string message(Status) { return hdf5_error_stack(); }
};

// Files are built in memory (the core driver) and written by
// h5_memory_file_write with plain POSIX writes and an fsync: a full disk is
// then an ordinary write error. (Written through HDF5 instead, a failed
// flush leaves the file open inside the library, which flushes it again,
// fatally, when it shuts down at MPI_Finalize.) Costs one file of memory.
H5Handle h5_memory_file_create(const std::string& name);
// Closes `file` and writes its image to `path` (which must not exist), synced. Returns the bytes written.
int64_t h5_memory_file_write(H5Handle& file, const std::string& path);
// Opens read-only; throws UsageError naming the file if it is not a readable HDF5 file.
H5Handle h5_file_open(const std::string& path);

// A variable-length UTF-8 string attribute on an object.
void write_string_attribute(hid_t object, const std::string& name, const std::string& value);
std::string read_string_attribute(hid_t object, const std::string& name);

}  // namespace trident::checkpoint
