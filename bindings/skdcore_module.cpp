// skdcore._C: importing it runs the static TORCH_LIBRARY registrations of every op (cpp/, cuda/).
// Tensor ops are never bound here: they go through the dispatcher (torch.ops.skdcore.*).
#include <ATen/Parallel.h>
#include <c10/util/Exception.h>
#include <pybind11/pybind11.h>

#include <string>

#include "common/op_paths.h"

namespace py = pybind11;

#ifndef SKDCORE_VERSION
#define SKDCORE_VERSION "unknown"
#endif
#ifndef SKDCORE_TORCH_VERSION
#define SKDCORE_TORCH_VERSION "unknown"
#endif
#ifndef SKDCORE_CUDA_ARCHS
#define SKDCORE_CUDA_ARCHS ""
#endif

namespace {

py::dict build_info() {
  py::dict info;
  info["version"] = SKDCORE_VERSION;
  info["torch_version"] = SKDCORE_TORCH_VERSION;
#ifdef SKDCORE_WITH_CUDA
  info["cuda"] = true;
  info["cuda_archs"] = std::string(SKDCORE_CUDA_ARCHS);
#else
  info["cuda"] = false;
  info["cuda_archs"] = std::string();
#endif
#ifdef _OPENMP
  info["openmp"] = true;
#else
  info["openmp"] = false;
#endif
  info["num_threads"] = at::get_num_threads();
  return info;
}

py::dict op_paths() {
  py::dict table;
  for (const auto& entry : skdcore::op_path_table()) table[py::str(entry.first)] = entry.second;
  return table;
}

void set_op_path(const std::string& name, const std::string& choice) {
  try {
    skdcore::set_op_path(name, choice);
  } catch (const c10::ValueError& error) {
    throw py::value_error(error.what_without_backtrace());
  }
}

}  // namespace

PYBIND11_MODULE(_C, m) {
  m.doc() = "skdcore compiled core: registers torch.ops.skdcore.* and reports build info";
  m.def("build_info", &build_info,
        "dict: version, torch_version (built against), cuda, cuda_archs, openmp, num_threads");
  m.def("op_paths", &op_paths, "dict: the variant each multi-path op runs (cpp/common/op_paths.h)");
  m.def("set_op_path", &set_op_path, py::arg("name"), py::arg("choice"),
        "choose an op's variant, e.g. set_op_path('graph_conv_cuda', 'fused'); ValueError if unknown");
}
