// CUDA kernels of skdcore::graph_conv behind the shared entry points (graph_conv.cpp): the current
// stream, the launches, their checks. Built only against a CUDA torch (SKDCORE_WITH_CUDA); the
// kernels are in cuda/graph_conv.cu. Paths (common/op_paths.h: graph_conv_cuda,
// SKDCORE_GRAPH_CONV_CUDA): gemm (default): cuBLAS matrix products (graph_conv_gemm.cpp), 5-20x
// faster than the kernels on an H100; fused: the kernels (no (K, N, C_in, T, V) intermediate).
#include <ATen/Dispatch.h>
#include <c10/cuda/CUDAStream.h>
#include <torch/library.h>

#include "common/cuda_launch.h"
#include "graph_conv.cuh"
#include "graph_conv.h"
#include "graph_conv_gemm.h"
#include "common/op_paths.h"

namespace skdcore {
namespace {

// ATen's 16-bit float types -> the CUDA types the torch-free kernels are compiled for
// (same 16-bit layout).
template <typename T>
struct CudaScalar {
  using type = T;
};
template <>
struct CudaScalar<at::Half> {
  using type = __half;
};
template <>
struct CudaScalar<at::BFloat16> {
  using type = __nv_bfloat16;
};

template <typename scalar_t>
const typename CudaScalar<scalar_t>::type* cuda_ptr(const at::Tensor& t) {
  return t.defined() ? reinterpret_cast<const typename CudaScalar<scalar_t>::type*>(
                           t.const_data_ptr<scalar_t>())
                     : nullptr;
}
template <typename scalar_t>
typename CudaScalar<scalar_t>::type* cuda_mutable_ptr(at::Tensor& t) {
  return reinterpret_cast<typename CudaScalar<scalar_t>::type*>(t.mutable_data_ptr<scalar_t>());
}

// Appended to a rejected launch configuration's error.
constexpr const char* kTileHint = " (K * V too large for the kernel's shared-memory tiles)";

void forward_cuda(const at::Tensor& x_c, const at::Tensor& w_c, const at::Tensor& a_eff, const at::Tensor& b_c,
                  at::Tensor& y) {
  const GraphConvShape shape = graph_conv_shape(x_c, w_c);
  const cudaStream_t stream = c10::cuda::getCurrentCUDAStream();
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, x_c.scalar_type(), "graph_conv_forward_cuda", [&] {
    using cuda_t = typename CudaScalar<scalar_t>::type;
    check_launch(cuda::graph_conv_forward<cuda_t>(
                     cuda_ptr<scalar_t>(x_c), cuda_ptr<scalar_t>(w_c),
                     a_eff.const_data_ptr<cuda::graph_conv_acc_t<cuda_t>>(),
                     cuda_ptr<scalar_t>(b_c), cuda_mutable_ptr<scalar_t>(y), shape, stream),
                 "skdcore.graph_conv", kTileHint);
  });
}

void backward_cuda(const at::Tensor& g_c, const at::Tensor& x_c, const at::Tensor& w_c, const at::Tensor& a_eff,
                   const GraphConvNeeds& needs, at::Tensor& grad_x, at::Tensor& grad_w_acc, at::Tensor& grad_a_acc) {
  constexpr const char* op = "skdcore._graph_conv_backward";
  const GraphConvShape shape = graph_conv_shape(x_c, w_c);
  const cudaStream_t stream = c10::cuda::getCurrentCUDAStream();
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, x_c.scalar_type(), "graph_conv_backward_cuda", [&] {
    using cuda_t = typename CudaScalar<scalar_t>::type;
    using acc_t = cuda::graph_conv_acc_t<cuda_t>;
    if (needs.x) {
      // grad_x = sum_k W_k^T grad A_k^T: the forward kernel with transposed operands.
      const at::Tensor w_t = w_c.transpose(1, 2).contiguous();  // (K, C_in, C_out)
      const at::Tensor a_t = a_eff.transpose(1, 2).contiguous();
      check_launch(cuda::graph_conv_forward<cuda_t>(
                       cuda_ptr<scalar_t>(g_c), cuda_ptr<scalar_t>(w_t),
                       a_t.const_data_ptr<acc_t>(), nullptr, cuda_mutable_ptr<scalar_t>(grad_x),
                       shape.transposed(), stream),
                   op, kTileHint);
    }
    if (needs.weight) {
      check_launch(cuda::graph_conv_weight_grad<cuda_t>(
                       cuda_ptr<scalar_t>(g_c), cuda_ptr<scalar_t>(x_c),
                       a_eff.const_data_ptr<acc_t>(), grad_w_acc.mutable_data_ptr<acc_t>(),
                       shape, stream),
                   op, kTileHint);
    }
    if (needs.adjacency()) {
      check_launch(cuda::graph_conv_adjacency_grad<cuda_t>(
                       cuda_ptr<scalar_t>(g_c), cuda_ptr<scalar_t>(x_c), cuda_ptr<scalar_t>(w_c),
                       grad_a_acc.mutable_data_ptr<acc_t>(), shape, stream),
                   op, kTileHint);
    }
  });
}

// The path from op_paths.h (graph_conv_cuda): cuBLAS products (default) or the kernels above.
const GraphConvProducts* products_cuda() {
  return op_path(OpPath::GraphConvCuda) == kGraphConvCudaGemm ? &kGraphConvGemm : nullptr;
}

constexpr GraphConvKernels kCudaKernels{c10::kCUDA, &products_cuda, &forward_cuda, &backward_cuda};

}  // namespace

TORCH_LIBRARY_IMPL(skdcore, CUDA, m) { register_graph_conv<kCudaKernels>(m); }

}  // namespace skdcore
