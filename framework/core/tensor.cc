#include "framework/core/tensor.h"

#include "framework/core/device_memory.h"
#include "framework/core/host_allocator.h"
#include "framework/core/memory_category.h"

#include <cstdlib>
#include <cstring>
#include <sstream>

namespace trident {

int64_t shape_numel(const Shape& shape) {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

std::string shape_str(const Shape& shape) {
  std::ostringstream out;
  out << "(";
  for (size_t i = 0; i < shape.size(); ++i) out << (i ? ", " : "") << shape[i];
  out << (shape.size() == 1 ? ",)" : ")");
  return out.str();
}

Storage::Storage(size_t bytes, Device device)
    : bytes_(bytes), device_(device), category_(current_memory_category()) {
  data_ = device == Device::cpu ? host_allocator().allocate(bytes) : device_memory(device).allocate(bytes);
  count_allocation(device_, category_, int64_t(bytes_));  // after: a failed allocation counts nothing
}

Storage::~Storage() {
  count_release(device_, category_, int64_t(bytes_));
  if (device_ == Device::cpu) host_allocator().release(data_, bytes_);
  else device_memory(device_).release(data_, bytes_);
}

Tensor Tensor::empty(Shape shape, DType dtype, Device device) {
  for (int64_t d : shape) TRIDENT_CHECK(d >= 0, "negative dimension in shape ", shape_str(shape));
  Tensor t;
  t.shape_ = std::move(shape);
  t.dtype_ = dtype;
  t.storage_ = std::make_shared<Storage>(t.bytes(), device);
  return t;
}

Tensor Tensor::zeros(Shape shape, DType dtype, Device device) {
  Tensor t = empty(std::move(shape), dtype, device);
  t.zero_();
  return t;
}

int64_t Tensor::size(int64_t d) const {
  if (d < 0) d += dim();
  TRIDENT_CHECK(d >= 0 && d < dim(), "dimension ", d, " of a tensor of shape ", shape_str(shape_));
  return shape_[size_t(d)];
}

void* Tensor::raw() const {
  TRIDENT_CHECK(storage_, "use of an undefined tensor");
  return static_cast<char*>(storage_->data()) + offset_ * dtype_size(dtype_);
}

Tensor Tensor::view(Shape shape) const {
  TRIDENT_CHECK(shape_numel(shape) == numel(), "view ", shape_str(shape), " of a tensor of shape ",
                shape_str(shape_));
  Tensor t = *this;
  t.shape_ = std::move(shape);
  return t;
}

Tensor Tensor::slice(int64_t begin, int64_t end) const {
  TRIDENT_CHECK(dim() >= 1 && 0 <= begin && begin <= end && end <= shape_[0], "slice [", begin, ", ",
                end, ") of a tensor of shape ", shape_str(shape_));
  Tensor t = *this;
  t.shape_[0] = end - begin;
  t.offset_ += size_t(begin) * size_t(numel() / std::max<int64_t>(shape_[0], 1));
  return t;
}

void Tensor::zero_() {
  if (device() == Device::cpu) std::memset(raw(), 0, bytes());
  else device_memory(device()).zero(raw(), bytes());
}

void Tensor::copy_from(const Tensor& src) {
  TRIDENT_CHECK(src.numel() == numel(), "copy of ", shape_str(src.shape()), " into ", shape_str(shape_));
  if (device() == Device::cpu && src.device() == Device::cpu) {
    convert(src.raw(), src.dtype(), raw(), dtype_, size_t(numel()));
    return;
  }
  if (src.dtype() != dtype_ && src.device() == device()) {  // both on one device: convert there
    device_memory(device()).convert(src.raw(), src.dtype(), raw(), dtype_, size_t(numel()));
    return;
  }
  if (src.dtype() != dtype_) {  // convert on the host side, then move
    copy_from(src.device() == Device::cpu ? src.to(dtype_) : src.to(Device::cpu).to(dtype_));
    return;
  }
  const Device dev = device() != Device::cpu ? device() : src.device();
  device_memory(dev).copy(raw(), device(), src.raw(), src.device(), bytes());
}

Tensor Tensor::to(DType dtype) const {
  Tensor t = empty(shape_, dtype, device());
  t.copy_from(*this);
  return t;
}

Tensor Tensor::to(Device device) const {
  Tensor t = empty(shape_, dtype_, device);
  t.copy_from(*this);
  return t;
}

Tensor Tensor::clone() const { return to(dtype_); }

float Tensor::item(int64_t i) const {
  TRIDENT_CHECK(i >= 0 && i < numel(), "index ", i, " of ", numel());
  if (device() != Device::cpu) return view({numel()}).slice(i, i + 1).to(Device::cpu).item(0);
  float v;
  convert(static_cast<const char*>(raw()) + size_t(i) * dtype_size(dtype_), dtype_, &v, DType::f32, 1);
  return v;
}

void Tensor::set(int64_t i, float value) {
  TRIDENT_CHECK(i >= 0 && i < numel(), "index ", i, " of ", numel());
  if (device() != Device::cpu) {
    Tensor one = Tensor::from_vector({value}, {1}, dtype_);
    Tensor dst = view({numel()}).slice(i, i + 1);
    dst.copy_from(one);
    return;
  }
  convert(&value, DType::f32, static_cast<char*>(raw()) + size_t(i) * dtype_size(dtype_), dtype_, 1);
}

std::vector<float> Tensor::to_vector() const {
  if (device() != Device::cpu) return to(Device::cpu).to_vector();
  std::vector<float> out(static_cast<size_t>(numel()));
  convert(raw(), dtype_, out.data(), DType::f32, out.size());
  return out;
}

Tensor Tensor::from_vector(const std::vector<float>& values, Shape shape, DType dtype) {
  Tensor t = empty(std::move(shape), dtype);
  TRIDENT_CHECK(int64_t(values.size()) == t.numel(), values.size(), " values for shape ",
                shape_str(t.shape()));
  convert(values.data(), DType::f32, t.raw(), dtype, values.size());
  return t;
}

}  // namespace trident
