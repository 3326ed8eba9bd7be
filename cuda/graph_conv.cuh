// Torch-free CUDA launchers of skdcore::graph_conv (raw pointers, sizes, a stream, an error code).
//
// y[n, o, t, w] = sum_k sum_c sum_v weight[k, o, c] * x[n, c, t, v] * a_eff[k, v, w] + bias[o]
// Every pointer is to a contiguous row-major array. scalar_t: float, double, __half or
// __nv_bfloat16; acc_t (accumulate_t) is double for double, float otherwise: the
// adjacency and the gradient buffers of weight/adjacency are passed in acc_t.
#pragma once

#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <cstdint>

#include "accumulate.cuh"
#include "graph_conv_math.h"

namespace skdcore {
namespace cuda {

template <typename scalar_t>
using graph_conv_acc_t = accumulate_t<scalar_t>;

using skdcore::GraphConvShape;  // (cpp/graph_conv_math.h)

// x (N, C_in, T, V), weight (K, C_out, C_in), a_eff (K, V, V), bias (C_out,) or nullptr,
// y (N, C_out, T, V). Also computes grad_x: pass (grad, weight^T (K, C_in, C_out), a_eff^T,
// nullptr) with C_in and C_out swapped.
template <typename scalar_t>
cudaError_t graph_conv_forward(const scalar_t* x, const scalar_t* weight,
                               const graph_conv_acc_t<scalar_t>* a_eff, const scalar_t* bias,
                               scalar_t* y, GraphConvShape shape, cudaStream_t stream);

// grad_weight (K, C_out, C_in), zero-filled by the caller, += sum_{n,t,w} grad[n,o,t,w] *
// (x[n] a_eff[k])[c,t,w]. grad (N, C_out, T, V).
template <typename scalar_t>
cudaError_t graph_conv_weight_grad(const scalar_t* grad, const scalar_t* x,
                                   const graph_conv_acc_t<scalar_t>* a_eff,
                                   graph_conv_acc_t<scalar_t>* grad_weight, GraphConvShape shape,
                                   cudaStream_t stream);

// grad_a_eff (K, V, V), zero-filled by the caller, += sum_{n,c,t} x[n,c,t,v] *
// (weight[k]^T grad[n])[c,t,w].
template <typename scalar_t>
cudaError_t graph_conv_adjacency_grad(const scalar_t* grad, const scalar_t* x,
                                      const scalar_t* weight,
                                      graph_conv_acc_t<scalar_t>* grad_a_eff,
                                      GraphConvShape shape, cudaStream_t stream);

}  // namespace cuda
}  // namespace skdcore
