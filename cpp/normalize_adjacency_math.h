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

#include "common/host_device.h"

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

// out[v, w] of the forward from A[v, w] and the degrees of joints v and w. NB: divides by the
// degrees instead of multiplying by the scales: for a denormal degree 1/deg (or the product of two
// d^-1/2) overflows to inf while A[v, w] / deg is finite (three equal denormal entries: 1/3).
template <typename acc_t>
SKD_HOST_DEVICE acc_t normalized_adjacency_entry(AdjacencyNorm mode, acc_t a, acc_t degree_v, acc_t degree_w) {
  if (mode == AdjacencyNorm::InDegree) return degree_w <= acc_t(0) ? acc_t(0) : a / degree_w;
  // NB: NaN != NaN; a NaN degree wins over the other joint's degree <= 0 (NaN policy: propagate).
  if (degree_v != degree_v || degree_w != degree_w) return degree_v + degree_w;
  if (degree_v <= acc_t(0) || degree_w <= acc_t(0)) return acc_t(0);
  return a / skd_sqrt(degree_v) / skd_sqrt(degree_w);
}

}  // namespace skdcore
