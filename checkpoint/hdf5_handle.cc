#include "checkpoint/hdf5_handle.h"

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
  return out.empty() ? "no detail from HDF5" : out;
}

hid_t h5_check(hid_t status, const std::string& what) {
  if (status < 0) throw Error(what + ": " + hdf5_error_stack());
  return status;
}

void H5Handle::close(const std::string& what) {
  if (id_ < 0) return;
  const herr_t status = close_(id_);
  id_ = H5I_INVALID_HID;
  h5_check(status, what);
}

H5Handle h5_file_create(const std::string& path) {
  quiet_hdf5_errors();
  return {h5_check(H5Fcreate(path.c_str(), H5F_ACC_EXCL, H5P_DEFAULT, H5P_DEFAULT), "creating " + path), H5Fclose};
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
  H5Handle type(h5_check(H5Tcopy(H5T_C_S1), "string type"), H5Tclose);
  h5_check(H5Tset_size(type, H5T_VARIABLE), "string type");
  h5_check(H5Tset_cset(type, H5T_CSET_UTF8), "string type");
  H5Handle space(h5_check(H5Screate(H5S_SCALAR), "scalar space"), H5Sclose);
  H5Handle attr(h5_check(H5Acreate2(object, name.c_str(), type, space, H5P_DEFAULT, H5P_DEFAULT),
                         "attribute " + name), H5Aclose);
  const char* data = value.c_str();
  h5_check(H5Awrite(attr, type, &data), "attribute " + name);
}

std::string read_string_attribute(hid_t object, const std::string& name) {
  H5Handle attr(h5_check(H5Aopen(object, name.c_str(), H5P_DEFAULT), "attribute " + name), H5Aclose);
  H5Handle type(h5_check(H5Tcopy(H5T_C_S1), "string type"), H5Tclose);
  h5_check(H5Tset_size(type, H5T_VARIABLE), "string type");
  h5_check(H5Tset_cset(type, H5T_CSET_UTF8), "string type");
  char* data = nullptr;
  h5_check(H5Aread(attr, type, &data), "attribute " + name);
  std::string out = data ? data : "";
  H5free_memory(data);
  return out;
}

}  // namespace trident::checkpoint
