// skdcore._prep: numpy-only data preparation kernels (no torch tensors, so DataLoader workers and
// `skd prepare` can call them without touching torch). Releases the GIL while computing.
#include <nanobind/nanobind.h>
#include <nanobind/ndarray.h>

#include <stdexcept>
#include <string>

#include "prep/impute.h"
#include "prep/skd_occlusion.h"

namespace nb = nanobind;

namespace {

template <typename scalar_t>
using Array3 = nb::ndarray<const scalar_t, nb::numpy, nb::ndim<3>, nb::c_contig, nb::device::cpu>;

template <typename scalar_t>
using OutArray3 = nb::ndarray<nb::numpy, scalar_t, nb::ndim<3>>;

template <typename scalar_t>
OutArray3<scalar_t> impute_window_mean(Array3<scalar_t> x, int64_t window) {
  if (window < 0) {
    throw std::invalid_argument("impute_window_mean: window must be >= 0, got " +
                                std::to_string(window));
  }
  const int64_t outer = static_cast<int64_t>(x.shape(0));
  const int64_t T = static_cast<int64_t>(x.shape(1));
  const int64_t inner = static_cast<int64_t>(x.shape(2));
  scalar_t* out = new scalar_t[outer * T * inner > 0 ? outer * T * inner : 1];
  nb::capsule owner(out, [](void* p) noexcept { delete[] static_cast<scalar_t*>(p); });
  {
    nb::gil_scoped_release release;
    skdcore::prep::impute_window_mean(x.data(), out, outer, T, inner, window);
  }
  return OutArray3<scalar_t>(out, {x.shape(0), x.shape(1), x.shape(2)}, owner);
}

using Mask2 = nb::ndarray<const bool, nb::numpy, nb::ndim<2>, nb::c_contig, nb::device::cpu>;

template <typename scalar_t>
OutArray3<scalar_t> skd_occlude_impute(Array3<scalar_t> x, Mask2 mask, int64_t window) {
  if (window < 0) {
    throw std::invalid_argument("skd_occlude_impute: window must be >= 0, got " +
                                std::to_string(window));
  }
  const int64_t C = static_cast<int64_t>(x.shape(0));
  const int64_t T = static_cast<int64_t>(x.shape(1));
  const int64_t inner = static_cast<int64_t>(x.shape(2));
  if (static_cast<int64_t>(mask.shape(0)) != T || static_cast<int64_t>(mask.shape(1)) != inner) {
    throw std::invalid_argument(
        "skd_occlude_impute: mask must be (T, inner) = (" + std::to_string(T) + ", " +
        std::to_string(inner) + ") to match x (C, T, inner), got (" +
        std::to_string(mask.shape(0)) + ", " + std::to_string(mask.shape(1)) +
        "); reshape a (T, V, M) mask to (T, V*M)");
  }
  scalar_t* out = new scalar_t[C * T * inner > 0 ? C * T * inner : 1];
  nb::capsule owner(out, [](void* p) noexcept { delete[] static_cast<scalar_t*>(p); });
  {
    nb::gil_scoped_release release;
    skdcore::prep::skd_occlude_impute(x.data(), reinterpret_cast<const uint8_t*>(mask.data()), out,
                                      C, T, inner, window);
  }
  return OutArray3<scalar_t>(out, {x.shape(0), x.shape(1), x.shape(2)}, owner);
}

}  // namespace

NB_MODULE(_prep, m) {
  m.doc() = "skdcore numpy-only data preparation kernels (C++ via nanobind)";
  m.def("impute_window_mean", &impute_window_mean<float>, nb::arg("x"), nb::arg("window"),
        "x: (outer, T, inner) float32 C-contiguous. NaN-aware centred window mean over T.");
  m.def("impute_window_mean", &impute_window_mean<double>, nb::arg("x"), nb::arg("window"),
        "x: (outer, T, inner) float64 C-contiguous. NaN-aware centred window mean over T.");
  m.def("skd_occlude_impute", &skd_occlude_impute<float>, nb::arg("x"), nb::arg("mask"),
        nb::arg("window"),
        "x: (C, T, V*M) float32, mask: (T, V*M) bool (True = occluded). SKD reference LQ in one "
        "pass: occlude, zeros missing, window-mean imputation, remaining missing -> 0.");
  m.def("skd_occlude_impute", &skd_occlude_impute<double>, nb::arg("x"), nb::arg("mask"),
        nb::arg("window"),
        "x: (C, T, V*M) float64, mask: (T, V*M) bool (True = occluded). SKD reference LQ in one "
        "pass: occlude, zeros missing, window-mean imputation, remaining missing -> 0.");
}
