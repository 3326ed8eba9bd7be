// gemm(out, a, b, alpha, beta) on strided CPU matrix views: MKL's Fortran GEMM when the torch CPU
// wheel exports it (weak symbols, so a torch without MKL still loads), at::mm otherwise.
// Used by the tiled graph matching kernels (graph_matching_cpu.cpp).
#pragma once

#include <ATen/ATen.h>

#include <algorithm>
#include <type_traits>

#include "op_paths.h"

// MKL's Fortran GEMM, exported by the torch CPU wheels (libtorch_cpu). Weak, so a torch without
// it still loads: the tiles then go through at::mm (measured 1.15 s vs 1.37 s fwd+bwd at N=32,
// C=256, P=625 on the 2-core dev box: see benchmarks/RESULTS.md).
extern "C" {
void sgemm_(const char* transa, const char* transb, const int* m, const int* n, const int* k,
            const float* alpha, const float* a, const int* lda, const float* b, const int* ldb,
            const float* beta, float* c, const int* ldc) __attribute__((weak));
void dgemm_(const char* transa, const char* transb, const int* m, const int* n, const int* k,
            const double* alpha, const double* a, const int* lda, const double* b, const int* ldb,
            const double* beta, double* c, const int* ldc) __attribute__((weak));
}

namespace skdcore {
namespace blas {

// MKL's GEMM when the torch has it and the op path table (graph_matching_cpu_gemm, SKDCORE_GM_GEMM)
// does not ask for at::mm.
inline bool use_blas() {
  return sgemm_ != nullptr && dgemm_ != nullptr && op_path(OpPath::GraphMatchingCpuGemm) == kGraphMatchingCpuBlas;
}

template <typename T>
inline void blas_gemm(char ta, char tb, int64_t m, int64_t n, int64_t k, T alpha, const T* a, int64_t lda,
                      const T* b, int64_t ldb, T beta, T* c, int64_t ldc) {
  const int mi = static_cast<int>(m), ni = static_cast<int>(n), ki = static_cast<int>(k);
  const int ldai = static_cast<int>(lda), ldbi = static_cast<int>(ldb), ldci = static_cast<int>(ldc);
  if constexpr (std::is_same_v<T, float>) {
    sgemm_(&ta, &tb, &mi, &ni, &ki, &alpha, a, &ldai, b, &ldbi, &beta, c, &ldci);
  } else {
    dgemm_(&ta, &tb, &mi, &ni, &ki, &alpha, a, &ldai, b, &ldbi, &beta, c, &ldci);
  }
}

// A strided (rows, cols) matrix; one of the strides is 1 (node-major or channel-major features,
// row-major scratch blocks).
template <typename T>
struct MatrixView {
  const T* data;
  int64_t rows, cols, row_stride, col_stride;
  MatrixView transposed() const { return {data, cols, rows, col_stride, row_stride}; }
};

// Column-major BLAS operand: 'N' if columns are contiguous, 'T' if rows are; false if neither.
template <typename T>
inline bool blas_operand(const MatrixView<T>& v, char* trans, int64_t* ld) {
  if ((v.row_stride == 1 || v.rows == 1) && (v.cols == 1 || v.col_stride >= v.rows)) {
    *trans = 'N';
    *ld = v.cols == 1 ? std::max<int64_t>(v.rows, 1) : v.col_stride;
    return true;
  }
  if ((v.col_stride == 1 || v.cols == 1) && (v.rows == 1 || v.row_stride >= v.cols)) {
    *trans = 'T';
    *ld = v.rows == 1 ? std::max<int64_t>(v.cols, 1) : v.row_stride;
    return true;
  }
  return false;
}

template <typename T>
inline at::Tensor as_tensor(const MatrixView<T>& v) {
  return at::from_blob(const_cast<T*>(v.data), {v.rows, v.cols}, {v.row_stride, v.col_stride},
                       at::TensorOptions().dtype(c10::CppTypeToScalarType<T>::value));
}

// out = alpha * a . b + beta * out (beta 0 or 1), out a writable view of a.rows x b.cols.
template <typename T>
inline void gemm(MatrixView<T> out, MatrixView<T> a, MatrixView<T> b, T alpha, T beta) {
  if (a.cols == 0) {  // empty inner dimension (C = 0): a . b = 0
    if (beta == T(0)) as_tensor(out).zero_();
    return;
  }
  if (out.col_stride == 1 && out.row_stride != 1) {
    // Row-major output: compute out^T = b^T a^T into its column-major transpose.
    MatrixView<T> out_t = out.transposed();
    out = out_t;
    const MatrixView<T> a_old = a;
    a = b.transposed();
    b = a_old.transposed();
  }
  char ta, tb, tc;
  int64_t lda, ldb, ldc;
  if (use_blas() && blas_operand(a, &ta, &lda) && blas_operand(b, &tb, &ldb) && blas_operand(out, &tc, &ldc) &&
      tc == 'N') {
    blas_gemm<T>(ta, tb, out.rows, out.cols, a.cols, alpha, a.data, lda, b.data, ldb, beta,
                 const_cast<T*>(out.data), ldc);
    return;
  }
  at::Tensor product = at::mm(as_tensor(a), as_tensor(b));
  if (alpha != T(1)) product.mul_(alpha);
  at::Tensor target = as_tensor(out);
  if (beta == T(0)) {
    target.copy_(product);
  } else {
    target.add_(product);
  }
}

}  // namespace blas
}  // namespace skdcore
