// check_launch: the one error check after a cuda/ launcher, for the CUDA glue (cpp/*_cuda.cpp,
// built only against a CUDA torch).
#pragma once

#include <c10/util/Exception.h>
#include <cuda_runtime.h>

namespace skdcore {

// `config_hint` (optional) is appended when the launch configuration was rejected, e.g. an op
// whose shared-memory tiles grow with its sizes says which size was too large.
inline void check_launch(cudaError_t err, const char* op, const char* config_hint = nullptr) {
  const bool bad_config = err == cudaErrorInvalidConfiguration || err == cudaErrorInvalidValue;
  TORCH_CHECK(err == cudaSuccess, op, ": CUDA kernel launch failed: ", cudaGetErrorString(err),
              bad_config && config_hint != nullptr ? config_hint : "");
}

}  // namespace skdcore
