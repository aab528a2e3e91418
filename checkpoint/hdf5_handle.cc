#include "checkpoint/hdf5_handle.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <mutex>
#include <vector>

#include "framework/core/error.h"

namespace trident::checkpoint {

void quiet_hdf5_errors() {
  static std::once_flag once;
  std::call_once(once, [] { H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr); });
}

std::string hdf5_error_stack() {
  std::vector<std::string> messages;
  H5Ewalk2(
      H5E_DEFAULT, H5E_WALK_UPWARD,
      [](unsigned, const H5E_error2_t* e, void* out) -> herr_t {
        auto& list = *static_cast<std::vector<std::string>*>(out);
        if (e->desc && *e->desc) list.emplace_back(e->desc);
        return 0;
      },
      &messages);
  H5Eclear2(H5E_DEFAULT);
  // Innermost first: the lowest-level cause is the most telling; two are enough.
  std::string out;
  for (size_t i = 0; i < messages.size() && i < 2; ++i) out += (i ? "; " : "") + messages[i];
  std::replace(out.begin(), out.end(), '\n', ' ');  // HDF5's I/O messages span lines; ours are one
  return out.empty() ? "no detail from HDF5" : out;
}

void H5Handle::close(const std::string& what) {
  if (id_ < 0) return;
  const hid_t id = std::exchange(id_, H5I_INVALID_HID);
  TRIDENT_LIB_CHECK(Hdf5, close_(id), what);
}

H5Handle h5_memory_file_create(const std::string& name) {
  quiet_hdf5_errors();
  H5Handle fapl(TRIDENT_LIB_CHECK(Hdf5, H5Pcreate(H5P_FILE_ACCESS)), H5Pclose);
  TRIDENT_LIB_CHECK(Hdf5, H5Pset_fapl_core(fapl, size_t(64) << 20, /*backing_store=*/0));
  return {TRIDENT_LIB_CHECK(Hdf5, H5Fcreate(name.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, fapl), "creating ", name),
          H5Fclose};
}

int64_t h5_memory_file_write(H5Handle& file, const std::string& path) {
  TRIDENT_LIB_CHECK(Hdf5, H5Fflush(file, H5F_SCOPE_GLOBAL), "flushing ", path);
  const hid_t size = TRIDENT_LIB_CHECK(Hdf5, H5Fget_file_image(file, nullptr, 0), "sizing ", path);
  std::vector<char> image(static_cast<size_t>(size));
  TRIDENT_LIB_CHECK(Hdf5, H5Fget_file_image(file, image.data(), image.size()), "imaging ", path);
  file.close("closing " + path);
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL, 0644);
  if (fd < 0) throw Error("cannot create " + path + ": " + std::strerror(errno));
  size_t done = 0;
  while (done < image.size()) {
    const ssize_t n = ::write(fd, image.data() + done, image.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      const int err = errno;
      ::close(fd);
      throw Error("writing " + path + " failed after " + std::to_string(done) + " of " + std::to_string(image.size()) +
                  " bytes: " + std::strerror(err));
    }
    done += size_t(n);
  }
  const int synced = ::fsync(fd), err = errno;
  if (::close(fd) != 0 || synced != 0)
    throw Error("syncing " + path + " failed: " + std::strerror(synced != 0 ? err : errno));
  return int64_t(image.size());
}

H5Handle h5_file_open(const std::string& path) {
  quiet_hdf5_errors();
  const hid_t f = H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
  if (f < 0)
    throw UsageError("cannot open checkpoint file " + path + " (" + hdf5_error_stack() +
                     "): it is damaged or truncated; load an earlier checkpoint with --load-iteration");
  return {f, H5Fclose};
}

void write_string_attribute(hid_t object, const std::string& name, const std::string& value) {
  H5Handle type(TRIDENT_LIB_CHECK(Hdf5, H5Tcopy(H5T_C_S1)), H5Tclose);
  TRIDENT_LIB_CHECK(Hdf5, H5Tset_size(type, H5T_VARIABLE));
  TRIDENT_LIB_CHECK(Hdf5, H5Tset_cset(type, H5T_CSET_UTF8));
  H5Handle space(TRIDENT_LIB_CHECK(Hdf5, H5Screate(H5S_SCALAR)), H5Sclose);
  H5Handle attr(TRIDENT_LIB_CHECK(Hdf5, H5Acreate2(object, name.c_str(), type, space, H5P_DEFAULT, H5P_DEFAULT),
                                  "attribute ", name),
                H5Aclose);
  const char* data = value.c_str();
  TRIDENT_LIB_CHECK(Hdf5, H5Awrite(attr, type, &data), "attribute ", name);
}

std::string read_string_attribute(hid_t object, const std::string& name) {
  H5Handle attr(TRIDENT_LIB_CHECK(Hdf5, H5Aopen(object, name.c_str(), H5P_DEFAULT), "attribute ", name),
                H5Aclose);
  H5Handle type(TRIDENT_LIB_CHECK(Hdf5, H5Tcopy(H5T_C_S1)), H5Tclose);
  TRIDENT_LIB_CHECK(Hdf5, H5Tset_size(type, H5T_VARIABLE));
  TRIDENT_LIB_CHECK(Hdf5, H5Tset_cset(type, H5T_CSET_UTF8));
  char* data = nullptr;
  TRIDENT_LIB_CHECK(Hdf5, H5Aread(attr, type, &data), "attribute ", name);
  std::string out = data ? data : "";
  H5free_memory(data);
  return out;
}

}  // namespace trident::checkpoint
