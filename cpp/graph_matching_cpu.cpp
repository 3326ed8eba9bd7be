// CPU kernels of skdcore::graph_matching_loss and its backward.
//
// Flash-attention style: the (P, P) distance matrices are never stored. Each sample's node
// matrix F (P, C) is cut into row tiles of kTile nodes; a tile pair (I, J) gets its Gram block
// F_I F_J^T from one GEMM, distances are formed in a (kTile, kTile) scratch and reduced at once.
// Only tiles with I <= J are visited (D is symmetric; inside a diagonal tile only j > i), every
// visited entry standing for the pair (i, j) and (j, i).
//   forward pass 1: positive sums and counts of D_s and D_t -> normalisers mu_s, mu_t
//   forward pass 2: sum of l(D_s/mu_s - D_t/mu_t) and the moment sum l'(x) D_s/mu_s
//   backward      : recomputes the tiles, forms dL/dd2 in the scratch and accumulates
//                   grad_I -= 4 W F_J, grad_J -= 4 W^T F_I (two GEMMs), grad_i += 4 rowsum_i f_i.
// Memory: O(P) per sample besides the gradient, O(kTile^2) scratch per thread; (N, C, T, V) input
// is read in place (channel-major), no transposed copy.
#include <ATen/Dispatch.h>
#include <ATen/Parallel.h>
#include <torch/library.h>

#include <algorithm>
#include <type_traits>
#include <vector>

#include "common/blas_gemm.h"
#include "graph_matching.h"

namespace skdcore {
namespace {

using blas::MatrixView;
using blas::gemm;

// Nodes per tile: a (128, 128) block keeps the three scratch blocks (192 KiB in float32) in L2 and
// the GEMMs large enough for MKL (profile at C=256: ~90% of the op's time is in sgemm, ~5% in the
// elementwise loops). Measured fwd+bwd, N=32 P=625, two interleaved rounds on the noisy 2-core box:
// C=256: 128 -> 0.91/1.14 s, 256 -> 1.00/1.27 s, 64 -> 0.94/1.10 s; C=64: 0.35/0.37, 0.36/0.41, 0.40/0.44.
constexpr int64_t kTile = 128;

// One sample's graph: node features with strides (node-major (P, C) or channel-major (C, P)) and
// their squared norms (P).
template <typename T>
struct Graph {
  const T* nodes;
  const T* square_norms;
  int64_t node_stride, channel_stride, C;
  // Rows [begin, begin + count) as a (count, C) matrix.
  MatrixView<T> rows(int64_t begin, int64_t count) const {
    return {nodes + begin * node_stride, count, C, node_stride, channel_stride};
  }
};

// gram (bi, bj) row-major = F_I . F_J^T
template <typename T>
void tile_gram(const Graph<T>& g, int64_t i_begin, int64_t bi, int64_t j_begin, int64_t bj, T* gram) {
  gemm<T>({gram, bi, bj, bj, 1}, g.rows(i_begin, bi), g.rows(j_begin, bj).transposed(), T(1), T(0));
}

// Tile rows of a sample visited by one work item k, balanced: item k = 0, 1, 2, 3 ... takes row
// 0, R-1, 1, R-2 ... so the contiguous chunks at::parallel_for hands out cost about the same
// (row I has R - I tiles).
inline int64_t balanced_row(int64_t k, int64_t rows) {
  return (k % 2 == 0) ? k / 2 : rows - 1 - k / 2;
}

inline int64_t tile_rows(int64_t P) { return (P + kTile - 1) / kTile; }

// Per-thread scratch: the two Gram blocks (turned into distances in place) and the W block.
template <typename T>
struct TileScratch {
  std::vector<T> gram_s, gram_t, w;
  TileScratch() : gram_s(kTile * kTile), gram_t(kTile * kTile), w(kTile * kTile) {}
};

// out[j] = D from the Gram row (may alias gram_row) for j in [j0, j1).
template <typename T, bool kSquared>
inline void distance_row(const T* gram_row, T sq_i, const T* sq_j, int64_t j0, int64_t j1, T* out) {
#pragma omp simd
  for (int64_t j = j0; j < j1; ++j) {
    const T d2 = sq_i + sq_j[j] - T(2) * gram_row[j];
    out[j] = gm_distance<T>(d2, kSquared);
  }
}

// ---------------------------------------------------------------------------------------------
// Both forward passes walk the same pairs: rows I against tiles J >= I (upper triangle, j > i
// inside the diagonal tile). row(ds, dt, j0, bj) gets one row's student and teacher distances,
// entries [j0, bj) valid; each stands for (i, j) and (j, i).
template <typename T, bool kSquared, typename RowFn>
void for_each_upper_distance_row(const Graph<T>& s, const Graph<T>& t, int64_t P, int64_t I,
                                 TileScratch<T>& scratch, RowFn&& row) {
  const int64_t R = tile_rows(P);
  const int64_t i_begin = I * kTile, bi = std::min(kTile, P - i_begin);
  for (int64_t J = I; J < R; ++J) {
    const int64_t j_begin = J * kTile, bj = std::min(kTile, P - j_begin);
    tile_gram(s, i_begin, bi, j_begin, bj, scratch.gram_s.data());
    tile_gram(t, i_begin, bi, j_begin, bj, scratch.gram_t.data());
    for (int64_t i = 0; i < bi; ++i) {
      const int64_t j0 = (I == J) ? i + 1 : 0;
      T* __restrict__ ds = scratch.gram_s.data() + i * bj;
      T* __restrict__ dt = scratch.gram_t.data() + i * bj;
      distance_row<T, kSquared>(ds, s.square_norms[i_begin + i], s.square_norms + j_begin, j0, bj, ds);
      distance_row<T, kSquared>(dt, t.square_norms[i_begin + i], t.square_norms + j_begin, j0, bj, dt);
      row(static_cast<const T*>(ds), static_cast<const T*>(dt), j0, bj);
    }
  }
}

// forward pass 1: sum and count of positive distances, student and teacher, over rows I, J >= I.
template <typename T, bool kSquared>
void normaliser_sums_row(const Graph<T>& s, const Graph<T>& t, int64_t P, int64_t I,
                         TileScratch<T>& scratch, double* out /* 4: sum_s cnt_s sum_t cnt_t */) {
  double sum_s = 0, cnt_s = 0, sum_t = 0, cnt_t = 0;
  for_each_upper_distance_row<T, kSquared>(s, t, P, I, scratch,
                                           [&](const T* __restrict__ ds, const T* __restrict__ dt,
                                               int64_t j0, int64_t bj) {
    T rs = 0, rt = 0, ns = 0, nt = 0;
#pragma omp simd reduction(+ : rs, rt, ns, nt)
    for (int64_t j = j0; j < bj; ++j) {
      rs += ds[j] > T(0) ? ds[j] : T(0);
      ns += ds[j] > T(0) ? T(1) : T(0);
      rt += dt[j] > T(0) ? dt[j] : T(0);
      nt += dt[j] > T(0) ? T(1) : T(0);
    }
    sum_s += rs;
    cnt_s += ns;
    sum_t += rt;
    cnt_t += nt;
  });
  // Each visited entry stands for (i, j) and (j, i).
  out[0] = 2 * sum_s;
  out[1] = 2 * cnt_s;
  out[2] = 2 * sum_t;
  out[3] = 2 * cnt_t;
}

// forward pass 2: sum of l(x) and of l'(x) * D_s/mu_s, x = D_s/mu_s - D_t/mu_t.
template <typename T, bool kSquared, PointwiseLoss kLoss>
void loss_sums_row(const Graph<T>& s, const Graph<T>& t, int64_t P, int64_t I, T inv_mu_s, T inv_mu_t,
                   T beta, TileScratch<T>& scratch, double* out /* 2 */) {
  const T inv_beta = gm_inverse_beta(beta);
  double loss_sum = 0, moment_sum = 0;
  for_each_upper_distance_row<T, kSquared>(s, t, P, I, scratch,
                                           [&](const T* __restrict__ ds, const T* __restrict__ dt,
                                               int64_t j0, int64_t bj) {
    T row_loss = 0, row_moment = 0;
#pragma omp simd reduction(+ : row_loss, row_moment)
    for (int64_t j = j0; j < bj; ++j) {
      const T ns = ds[j] * inv_mu_s;
      const T x = ns - dt[j] * inv_mu_t;
      row_loss += gm_pointwise_loss<T>(x, kLoss, beta, inv_beta);
      row_moment += gm_pointwise_loss_grad<T>(x, kLoss, beta, inv_beta) * ns;
    }
    loss_sum += row_loss;
    moment_sum += row_moment;
  });
  out[0] = 2 * loss_sum;
  out[1] = 2 * moment_sum;
}

// backward of rows I (tiles J >= I) into grad (P, C) and rowsum (P) of one sample.
// W_ij = dL/dd2_ij = inv_mu_s * (scale * l'(x) - c * [D_s > 0]) * dD/dd2 for j > i (pairs).
template <typename T, bool kSquared, PointwiseLoss kLoss>
void backward_row(const Graph<T>& s, const Graph<T>& t, int64_t P, int64_t C, int64_t I, T inv_mu_s,
                  T inv_mu_t, T beta, T scale, T c, TileScratch<T>& scratch, T* grad, T* rowsum) {
  const int64_t R = tile_rows(P);
  const int64_t i_begin = I * kTile, bi = std::min(kTile, P - i_begin);
  const T inv_beta = gm_inverse_beta(beta);
  for (int64_t J = I; J < R; ++J) {
    const int64_t j_begin = J * kTile, bj = std::min(kTile, P - j_begin);
    tile_gram(s, i_begin, bi, j_begin, bj, scratch.gram_s.data());
    tile_gram(t, i_begin, bi, j_begin, bj, scratch.gram_t.data());
    T* w_tile = scratch.w.data();
    for (int64_t i = 0; i < bi; ++i) {
      const int64_t j0 = (I == J) ? i + 1 : 0;
      const T* __restrict__ gs = scratch.gram_s.data() + i * bj;
      const T* __restrict__ gt = scratch.gram_t.data() + i * bj;
      T* __restrict__ w = w_tile + i * bj;
      const T sq_i_s = s.square_norms[i_begin + i], sq_i_t = t.square_norms[i_begin + i];
      const T* __restrict__ sq_j_s = s.square_norms + j_begin;
      const T* __restrict__ sq_j_t = t.square_norms + j_begin;
      for (int64_t j = 0; j < j0; ++j) w[j] = T(0);
      T row_total = 0;
#pragma omp simd reduction(+ : row_total)
      for (int64_t j = j0; j < bj; ++j) {
        const T d2_s = sq_i_s + sq_j_s[j] - T(2) * gs[j];
        const T d2_t = sq_i_t + sq_j_t[j] - T(2) * gt[j];
        const T value = gm_pair_weight<T>(d2_s, d2_t, kSquared, kLoss, beta, inv_beta, inv_mu_s, inv_mu_t, scale, c);
        w[j] = value;
        row_total += value;
      }
      rowsum[i_begin + i] += row_total;
    }
    // Column sums of W go to the J rows.
    for (int64_t i = 0; i < bi; ++i) {
      const T* w = w_tile + i * bj;
      T* r = rowsum + j_begin;
#pragma omp simd
      for (int64_t j = 0; j < bj; ++j) r[j] += w[j];
    }
    // grad_I -= 4 W F_J, grad_J -= 4 W^T F_I (grad has the layout of the student nodes)
    const MatrixView<T> w_view{w_tile, bi, bj, bj, 1};
    gemm<T>({grad + i_begin * s.node_stride, bi, s.C, s.node_stride, s.channel_stride}, w_view, s.rows(j_begin, bj),
            T(-4), T(1));
    gemm<T>({grad + j_begin * s.node_stride, bj, s.C, s.node_stride, s.channel_stride}, w_view.transposed(),
            s.rows(i_begin, bi), T(-4), T(1));
  }
}

// grad_i += 4 rowsum_i f_i (the f_i term of 4 sum_j W_ij (f_i - f_j)); grad has the nodes' layout.
template <typename T>
void add_rowsum_term(const Graph<T>& g, const T* rowsum, int64_t P, T* grad) {
  if (g.channel_stride == 1) {
    for (int64_t i = 0; i < P; ++i) {
      const T r = T(4) * rowsum[i];
      const T* f = g.nodes + i * g.node_stride;
      T* out = grad + i * g.node_stride;
#pragma omp simd
      for (int64_t c = 0; c < g.C; ++c) out[c] += r * f[c];
    }
    return;
  }
  for (int64_t c = 0; c < g.C; ++c) {  // channel-major: contiguous over nodes
    const T* f = g.nodes + c * g.channel_stride;
    T* out = grad + c * g.channel_stride;
#pragma omp simd
    for (int64_t i = 0; i < P; ++i) out[i] += T(4) * rowsum[i] * f[i];
  }
}

// A batch of N graphs in one tensor: (N, P, C) node-major or (N, C, P) channel-major (a contiguous
// (N, C, T, V) feature map read in place, no transposed copy).
template <typename T>
struct GraphBatch {
  const T* data;
  int64_t N, P, C;
  bool channel_major;
  std::vector<T> norms;  // (N, P) squared norms

  GraphBatch(const T* data_, int64_t N_, int64_t P_, int64_t C_, bool channel_major_)
      : data(data_), N(N_), P(P_), C(C_), channel_major(channel_major_), norms(N_ * P_) {
    at::parallel_for(0, N, 1, [&](int64_t begin, int64_t end) {
      for (int64_t n = begin; n < end; ++n) {
        const Graph<T> g = sample(n);
        T* out = norms.data() + n * P;
        if (channel_major) {
          std::fill(out, out + P, T(0));
          for (int64_t c = 0; c < C; ++c) {
            const T* f = g.nodes + c * P;
#pragma omp simd
            for (int64_t i = 0; i < P; ++i) out[i] += f[i] * f[i];
          }
        } else {
          for (int64_t i = 0; i < P; ++i) {
            const T* f = g.nodes + i * C;
            T acc = 0;
#pragma omp simd reduction(+ : acc)
            for (int64_t k = 0; k < C; ++k) acc += f[k] * f[k];
            out[i] = acc;
          }
        }
      }
    });
  }

  Graph<T> sample(int64_t n) const {
    return {data + n * P * C, norms.data() + n * P, channel_major ? 1 : C, channel_major ? P : 1, C};
  }
};

// Calls fn(squared, loss) with the options as compile-time constants (std::integral_constant), so
// the elementwise loops vectorise without per-element branches.
template <typename Fn>
void dispatch_options(const GraphMatchingOptions& options, Fn&& fn) {
  using L2 = std::integral_constant<PointwiseLoss, PointwiseLoss::L2>;
  using SmoothL1 = std::integral_constant<PointwiseLoss, PointwiseLoss::SmoothL1>;
  const bool squared = options.distance == GraphDistance::SquaredEuclidean;
  const bool l2 = options.loss == PointwiseLoss::L2;
  if (squared && l2) {
    fn(std::true_type{}, L2{});
  } else if (squared) {
    fn(std::true_type{}, SmoothL1{});
  } else if (l2) {
    fn(std::false_type{}, L2{});
  } else {
    fn(std::false_type{}, SmoothL1{});
  }
}

template <typename T>
void graph_matching_forward_kernel(const GraphBatch<T>& student, const GraphBatch<T>& teacher,
                                   const GraphMatchingOptions& options, double* per_sample, double* stats) {
  const int64_t N = student.N, P = student.P, C = student.C;
  const int64_t R = tile_rows(P);
  const T beta = static_cast<T>(options.beta);
  dispatch_options(options, [&](auto squared_constant, auto loss_constant) {
    constexpr bool kSquared = decltype(squared_constant)::value;
    constexpr PointwiseLoss kLoss = decltype(loss_constant)::value;
    // Pass 1: normalisers. Partial sums per (sample, row item), reduced in a fixed order.
    std::vector<double> partial(N * R * 4, 0.0);
    at::parallel_for(0, N * R, 1, [&](int64_t begin, int64_t end) {
      TileScratch<T> scratch;
      for (int64_t item = begin; item < end; ++item) {
        const int64_t n = item / R, I = balanced_row(item % R, R);
        normaliser_sums_row<T, kSquared>(student.sample(n), teacher.sample(n), P, I, scratch,
                                         partial.data() + (n * R + I) * 4);
      }
    });
    std::vector<T> inv_mu_s(N), inv_mu_t(N);
    for (int64_t n = 0; n < N; ++n) {
      double acc[4] = {0, 0, 0, 0};
      for (int64_t I = 0; I < R; ++I) {
        for (int k = 0; k < 4; ++k) acc[k] += partial[(n * R + I) * 4 + k];
      }
      const double mu_s = gm_normaliser(acc[0], acc[1], options.normalize);
      const double mu_t = gm_normaliser(acc[2], acc[3], options.normalize);
      stats[n * kStatsColumns + kStatStudentMean] = mu_s;
      stats[n * kStatsColumns + kStatTeacherMean] = mu_t;
      stats[n * kStatsColumns + kStatStudentCount] = acc[1];
      inv_mu_s[n] = static_cast<T>(1.0 / mu_s);
      inv_mu_t[n] = static_cast<T>(1.0 / mu_t);
    }
    // Pass 2: loss and moment.
    std::vector<double> partial_loss(N * R * 2, 0.0);
    at::parallel_for(0, N * R, 1, [&](int64_t begin, int64_t end) {
      TileScratch<T> scratch;
      for (int64_t item = begin; item < end; ++item) {
        const int64_t n = item / R, I = balanced_row(item % R, R);
        loss_sums_row<T, kSquared, kLoss>(student.sample(n), teacher.sample(n), P, I, inv_mu_s[n],
                                          inv_mu_t[n], beta, scratch, partial_loss.data() + (n * R + I) * 2);
      }
    });
    const double entries = static_cast<double>(std::max<int64_t>(P * P, 1));
    for (int64_t n = 0; n < N; ++n) {
      double loss_sum = 0, moment = 0;
      for (int64_t I = 0; I < R; ++I) {
        loss_sum += partial_loss[(n * R + I) * 2];
        moment += partial_loss[(n * R + I) * 2 + 1];
      }
      per_sample[n] = loss_sum / entries;
      stats[n * kStatsColumns + kStatLossMoment] = moment;
    }
  });
}

// grad: zero-initialised, the layout of student.
template <typename T>
void graph_matching_backward_kernel(const double* sample_grad, const GraphBatch<T>& student,
                                    const GraphBatch<T>& teacher, const double* stats,
                                    const GraphMatchingOptions& options, T* grad) {
  const int64_t N = student.N, P = student.P, C = student.C;
  const int64_t R = tile_rows(P);
  const T beta = static_cast<T>(options.beta);
  dispatch_options(options, [&](auto squared_constant, auto loss_constant) {
    constexpr bool kSquared = decltype(squared_constant)::value;
    constexpr PointwiseLoss kLoss = decltype(loss_constant)::value;
    // Per-sample constants: scale = dOut/dL_n / P^2, c = scale * moment / count (normaliser term).
    auto run_rows = [&](int64_t n, int64_t I, TileScratch<T>& scratch, T* g, T* rowsum) {
      const GmBackwardCoefficients k =
          gm_backward_coefficients(sample_grad[n], stats + n * kStatsColumns, P, options.normalize);
      backward_row<T, kSquared, kLoss>(student.sample(n), teacher.sample(n), P, C, I, static_cast<T>(k.inv_mu_s),
                                       static_cast<T>(k.inv_mu_t), beta, static_cast<T>(k.scale),
                                       static_cast<T>(k.c), scratch, g, rowsum);
    };
    const int64_t threads = at::get_num_threads();
    if (N >= threads) {
      // Samples in parallel: each writes only its own gradient rows.
      at::parallel_for(0, N, 1, [&](int64_t begin, int64_t end) {
        TileScratch<T> scratch;
        std::vector<T> rowsum(P);
        for (int64_t n = begin; n < end; ++n) {
          std::fill(rowsum.begin(), rowsum.end(), T(0));
          T* g = grad + n * P * C;
          for (int64_t I = 0; I < R; ++I) run_rows(n, I, scratch, g, rowsum.data());
          add_rowsum_term(student.sample(n), rowsum.data(), P, g);
        }
      });
      return;
    }
    // Few samples: tile rows in parallel, each thread into its own (P, C) buffer, summed after.
    std::vector<T> buffers(threads * P * (C + 1));
    for (int64_t n = 0; n < N; ++n) {
      std::fill(buffers.begin(), buffers.end(), T(0));
      at::parallel_for(0, R, 1, [&](int64_t begin, int64_t end) {
        TileScratch<T> scratch;
        T* own = buffers.data() + at::get_thread_num() * P * (C + 1);
        for (int64_t k = begin; k < end; ++k) run_rows(n, balanced_row(k, R), scratch, own, own + P * C);
      });
      T* g = grad + n * P * C;
      std::vector<T> rowsum(P, T(0));
      for (int64_t thread = 0; thread < threads; ++thread) {
        const T* own = buffers.data() + thread * P * (C + 1);
        for (int64_t e = 0; e < P * C; ++e) g[e] += own[e];
        for (int64_t i = 0; i < P; ++i) rowsum[i] += own[P * C + i];
      }
      add_rowsum_term(student.sample(n), rowsum.data(), P, g);
    }
  });
}

// Contiguous features read in place: (N, C, T, V) channel-major, (N, P, C) node-major.
template <typename T>
GraphBatch<T> graph_batch(const at::Tensor& contiguous_features) {
  const GraphShape shape = graph_shape(contiguous_features);
  return GraphBatch<T>(contiguous_features.const_data_ptr<T>(), shape.N, shape.P, shape.C, shape.channel_major);
}

void forward_cpu(const at::Tensor& s, const at::Tensor& t, const GraphMatchingOptions& options,
                 at::Tensor& per_sample, at::Tensor& stats) {
  AT_DISPATCH_FLOATING_TYPES(s.scalar_type(), "graph_matching_forward_cpu", [&] {
    graph_matching_forward_kernel<scalar_t>(graph_batch<scalar_t>(s), graph_batch<scalar_t>(t), options,
                                            per_sample.mutable_data_ptr<double>(), stats.mutable_data_ptr<double>());
  });
}

void backward_cpu(const at::Tensor& sample_grad, const at::Tensor& s, const at::Tensor& t, const at::Tensor& stats,
                  const GraphMatchingOptions& options, at::Tensor& grad_student) {
  AT_DISPATCH_FLOATING_TYPES(s.scalar_type(), "graph_matching_backward_cpu", [&] {
    graph_matching_backward_kernel<scalar_t>(sample_grad.const_data_ptr<double>(), graph_batch<scalar_t>(s),
                                             graph_batch<scalar_t>(t), stats.const_data_ptr<double>(), options,
                                             grad_student.mutable_data_ptr<scalar_t>());
  });
}

// NB: the CPU op always runs the tiled kernels (faster here than the matrix-product path).
constexpr GraphMatchingKernels kCpuKernels{c10::kCPU, nullptr, &forward_cpu, &backward_cpu};

}  // namespace

TORCH_LIBRARY_IMPL(skdcore, CPU, m) { register_graph_matching<kCpuKernels>(m); }

}  // namespace skdcore
