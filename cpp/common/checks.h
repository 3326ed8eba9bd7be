// Input checks shared by every op. Each failure names the op, the argument and what was
// expected, and maps to the Python exception a user expects (ValueError / TypeError).
#pragma once

#include <ATen/ATen.h>

#include <initializer_list>
#include <string>

namespace skdcore {
namespace checks {

// "(N, C, T, V)" style shape string for error messages.
inline std::string shape_string(std::initializer_list<const char*> dims) {
  std::string out = "(";
  bool first = true;
  for (const char* d : dims) {
    if (!first) out += ", ";
    out += d;
    first = false;
  }
  return out + ")";
}

inline void check_dim(const char* op, const char* arg, const at::Tensor& t, int64_t ndim,
                      const std::string& expected_shape) {
  TORCH_CHECK_VALUE(t.dim() == ndim, op, ": ", arg, " must have shape ", expected_shape, " (", ndim,
                    " dims), got shape ", t.sizes());
}

inline void check_size(const char* op, const char* arg, const at::Tensor& t, int64_t dim,
                       int64_t expected, const char* meaning) {
  TORCH_CHECK_VALUE(t.size(dim) == expected, op, ": ", arg, ".size(", dim, ") must equal ", meaning,
                    " = ", expected, ", got shape ", t.sizes());
}

inline void check_same_shape(const char* op, const char* arg, const at::Tensor& t,
                             const char* ref_arg, const at::Tensor& ref,
                             const std::string& expected_shape) {
  TORCH_CHECK_VALUE(t.sizes() == ref.sizes(), op, ": ", arg, " must have the shape of ", ref_arg, " ",
                    expected_shape, " = ", ref.sizes(), ", got shape ", t.sizes());
}

inline void check_floating(const char* op, const char* arg, const at::Tensor& t) {
  TORCH_CHECK_TYPE(t.scalar_type() == at::kFloat || t.scalar_type() == at::kDouble ||
                       (t.is_cuda() && (t.scalar_type() == at::kHalf ||
                                        t.scalar_type() == at::kBFloat16)),
                   op, ": ", arg, " must be float32 or float64 (float16/bfloat16 on CUDA), got ",
                   t.scalar_type(), "; convert it with .float()");
}

inline void check_same_dtype(const char* op, const char* arg, const at::Tensor& t,
                             const char* ref_arg, const at::Tensor& ref) {
  TORCH_CHECK_TYPE(t.scalar_type() == ref.scalar_type(), op, ": ", arg, " has dtype ",
                   t.scalar_type(), " but ", ref_arg, " has dtype ", ref.scalar_type(),
                   "; cast both to the same dtype");
}

inline void check_same_device(const char* op, const char* arg, const at::Tensor& t,
                              const char* ref_arg, const at::Tensor& ref) {
  TORCH_CHECK_VALUE(t.device() == ref.device(), op, ": ", arg, " is on ", t.device(), " but ",
                    ref_arg, " is on ", ref.device(), "; move them to the same device");
}

inline void check_same_shape(const char* op, const char* arg, const at::Tensor& t,
                             const char* ref_arg, const at::Tensor& ref) {
  TORCH_CHECK_VALUE(t.sizes() == ref.sizes(), op, ": ", arg, " has shape ", t.sizes(), " but ",
                    ref_arg, " has shape ", ref.sizes(), "; they must match element for element");
}

inline void check_device(const char* op, const char* arg, const at::Tensor& t,
                         c10::DeviceType expected) {
  TORCH_CHECK_VALUE(t.device().type() == expected, op, ": ", arg, " must be a ",
                    c10::DeviceTypeName(expected, /*lower_case=*/true), " tensor here, got ",
                    t.device());
}

}  // namespace checks
}  // namespace skdcore
