// Accumulation type of the CUDA kernels: double for double, float for float/half/bfloat16.
// Torch-free; shared by every cuda/*.cu.
#pragma once

namespace skdcore {
namespace cuda {

template <typename scalar_t>
struct Accumulate {
  using type = float;
};
template <>
struct Accumulate<double> {
  using type = double;
};
template <typename scalar_t>
using accumulate_t = typename Accumulate<scalar_t>::type;

}  // namespace cuda
}  // namespace skdcore
