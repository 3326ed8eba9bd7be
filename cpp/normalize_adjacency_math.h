// Degree normalisation of one (V, V) adjacency matrix, shared by the CPU and CUDA kernels.
// Torch-free: included by cuda/normalize_adjacency.cu.
//
// A[v, w] is the weight of the message from joint v to joint w.
//   in_degree : out[v, w] = A[v, w] / deg[w],  deg[w] = sum_v A[v, w]  (ST-GCN normalize_digraph)
//   symmetric : out[v, w] = A[v, w] * d[v]^-1/2 * d[w]^-1/2,  d[i] = sum_j A[i, j]  (Kipf & Welling)
// NB: a degree <= 0 gives a scale of 0 (an isolated joint sends/receives nothing), never inf;
// a NaN degree stays NaN (NaN policy: propagate, never hide).
#pragma once

#include <cmath>
#include <cstdint>

#include "host_device.h"

namespace skdcore {

enum class AdjacencyNorm : int32_t { InDegree = 0, Symmetric = 1 };

template <typename acc_t>
SKD_HOST_DEVICE acc_t inverse_or_zero(acc_t degree) {
  return degree <= acc_t(0) ? acc_t(0) : acc_t(1) / degree;
}

template <typename acc_t>
SKD_HOST_DEVICE acc_t inverse_sqrt_or_zero(acc_t degree) {
  return degree <= acc_t(0) ? acc_t(0) : acc_t(1) / sqrt(degree);
}

// Per-joint scale: 1/deg for in_degree (indexed by target w), d^-1/2 for symmetric.
template <typename acc_t>
SKD_HOST_DEVICE acc_t adjacency_scale(AdjacencyNorm mode, acc_t degree) {
  return mode == AdjacencyNorm::InDegree ? inverse_or_zero(degree) : inverse_sqrt_or_zero(degree);
}

}  // namespace skdcore
