// Tensor: a shape, a dtype, a device and a view into reference-counted
// storage. Tensors are always contiguous (row-major); views are reshapes
// and ranges of the leading dimension, which is all the model needs and
// keeps every kernel free of stride arithmetic.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <memory>
#include <string>
#include <vector>

#include "framework/core/dtype.h"
#include "framework/core/error.h"

namespace trident {

enum class Device : uint8_t { cpu, cuda };

using Shape = std::vector<int64_t>;
enum class MemoryCategory;  // memory_category.h

int64_t shape_numel(const Shape& shape);
std::string shape_str(const Shape& shape);  // "(3, 7, 13)"

// Owned bytes on one device, from that device's caching allocator
// (host_allocator.h, or the one the device's backend registers), counted
// under the memory category current when it was made (memory_category.h).
class Storage {
 public:
  Storage(size_t bytes, Device device);
  ~Storage();
  Storage(const Storage&) = delete;
  Storage& operator=(const Storage&) = delete;
  void* data() const { return data_; }
  size_t bytes() const { return bytes_; }
  Device device() const { return device_; }

 private:
  void* data_ = nullptr;
  size_t bytes_ = 0;
  Device device_;
  MemoryCategory category_;
};

class Tensor {
 public:
  Tensor() = default;

  static Tensor empty(Shape shape, DType dtype = DType::f32, Device device = Device::cpu);
  static Tensor zeros(Shape shape, DType dtype = DType::f32, Device device = Device::cpu);

  bool defined() const { return storage_ != nullptr; }
  const Shape& shape() const { return shape_; }
  int64_t dim() const { return int64_t(shape_.size()); }
  int64_t size(int64_t d) const;  // negative d counts from the end
  int64_t numel() const { return shape_numel(shape_); }
  size_t bytes() const { return size_t(numel()) * dtype_size(dtype_); }
  DType dtype() const { return dtype_; }
  Device device() const { return storage_ ? storage_->device() : Device::cpu; }

  void* raw() const;
  template <typename T>
  T* data() const {
    TRIDENT_CHECK(dtype_of<T>() == dtype_, "data<", dtype_name(dtype_of<T>()), ">() of a ", dtype_name(dtype_),
                  " tensor");
    return static_cast<T*>(raw());
  }

  // Same elements, new shape (numel must match). Shares storage.
  Tensor view(Shape shape) const;
  // Rows [begin, end) of the leading dimension. Shares storage.
  Tensor slice(int64_t begin, int64_t end) const;
  // Whether two tensors overlap in memory.
  bool shares_storage(const Tensor& other) const { return storage_ == other.storage_; }

  void zero_();
  void copy_from(const Tensor& src);     // same shape; converts dtype
  Tensor to(DType dtype) const;           // new tensor, converted (on its own device)
  Tensor to(Device device) const;         // new tensor on `device`, same dtype
  Tensor clone() const;

  // Element access for tests and small host-side work; converts to float.
  // On device tensors these copy through the host: slow, never in a loop.
  float item(int64_t flat_index) const;
  void set(int64_t flat_index, float value);
  std::vector<float> to_vector() const;
  static Tensor from_vector(const std::vector<float>& values, Shape shape, DType dtype = DType::f32);

 private:
  std::shared_ptr<Storage> storage_;
  size_t offset_ = 0;  // in elements
  Shape shape_;
  DType dtype_ = DType::f32;
};

}  // namespace trident
