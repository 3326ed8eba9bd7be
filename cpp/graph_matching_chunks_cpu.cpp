// CPU elementwise steps (kCpuChunkSteps) of graph_matching_loss's matrix-product path
// (graph_matching_gemm.h, whose private ops run them on CPU tensors). The CPU op itself runs the fused tiled kernel
// (graph_matching_cpu.cpp, faster here); this path exists on the CPU so the tests check the very
// driver the CUDA op runs, with the per-entry maths of cpp/graph_matching_math.h (as the CUDA
// kernels in cuda/graph_matching_chunks.cu).
#include <ATen/Dispatch.h>
#include <ATen/Parallel.h>

#include "graph_matching_gemm.h"

namespace skdcore {
namespace {

// Row b of the chunk: sample b / rows, node i = row0 + b % rows.
template <typename T>
struct ChunkRow {
  const T* gram_s;  // the row's cols entries
  const T* gram_t;
  T sq_i_s, sq_i_t;  // |f_i|^2
  const T* norms_s;  // |f_j|^2 for the row's columns
  const T* norms_t;
  int64_t s, i;

  ChunkRow(const at::Tensor& gs, const at::Tensor& gt, const at::Tensor& ns, const at::Tensor& nt,
           const GramChunk& chunk, int64_t b) {
    s = b / chunk.rows;
    i = chunk.row0 + b % chunk.rows;
    gram_s = gs.const_data_ptr<T>() + b * chunk.cols;
    gram_t = gt.const_data_ptr<T>() + b * chunk.cols;
    const T* norms_s_all = ns.const_data_ptr<T>() + s * chunk.P;
    const T* norms_t_all = nt.const_data_ptr<T>() + s * chunk.P;
    sq_i_s = norms_s_all[i];
    sq_i_t = norms_t_all[i];
    norms_s = norms_s_all + chunk.col0;
    norms_t = norms_t_all + chunk.col0;
  }
  T d2_s(int64_t q) const { return sq_i_s + norms_s[q] - T(2) * gram_s[q]; }
  T d2_t(int64_t q) const { return sq_i_t + norms_t[q] - T(2) * gram_t[q]; }
};

void row_sums_cpu(const at::Tensor& gram_s, const at::Tensor& gram_t, const at::Tensor& norms_s,
                  const at::Tensor& norms_t, const at::Tensor& stats, const GramChunk& chunk,
                  const GraphMatchingOptions& options, ChunkPass pass, at::Tensor& per_row) {
  const bool squared = options.distance == GraphDistance::SquaredEuclidean;
  AT_DISPATCH_FLOATING_TYPES(gram_s.scalar_type(), "graph_matching_chunk_sums_cpu", [&] {
    using T = scalar_t;
    const T beta = static_cast<T>(options.beta), inv_beta = gm_inverse_beta(beta);
    const double* st_all = stats.const_data_ptr<double>();
    double* out_all = per_row.mutable_data_ptr<double>();
    at::parallel_for(0, chunk.samples * chunk.rows, 16, [&](int64_t begin, int64_t end) {
      for (int64_t b = begin; b < end; ++b) {
        const ChunkRow<T> row(gram_s, gram_t, norms_s, norms_t, chunk, b);
        const double* st = st_all + row.s * kStatsColumns;
        const T inv_mu_s = pass == ChunkPass::Loss ? static_cast<T>(1.0 / st[kStatStudentMean]) : T(1);
        const T inv_mu_t = pass == ChunkPass::Loss ? static_cast<T>(1.0 / st[kStatTeacherMean]) : T(1);
        double* out = out_all + b * kChunkSumColumns;
        for (int64_t k = 0; k < kChunkSumColumns; ++k) out[k] = 0;
        for (int64_t q = std::max<int64_t>(row.i + 1 - chunk.col0, 0); q < chunk.cols; ++q) {  // pairs j > i
          gm_add_pair_sums(row.d2_s(q), row.d2_t(q), pass, squared, options.loss, beta, inv_beta, inv_mu_s,
                           inv_mu_t, out);
        }
      }
    });
  });
}

void weights_cpu(at::Tensor& gram_s, const at::Tensor& gram_t, const at::Tensor& norms_s, const at::Tensor& norms_t,
                 const at::Tensor& stats, const at::Tensor& sample_grad, const GramChunk& chunk,
                 const GraphMatchingOptions& options, at::Tensor& rowsum) {
  const bool squared = options.distance == GraphDistance::SquaredEuclidean;
  AT_DISPATCH_FLOATING_TYPES(gram_s.scalar_type(), "graph_matching_chunk_weights_cpu", [&] {
    using T = scalar_t;
    const T beta = static_cast<T>(options.beta), inv_beta = gm_inverse_beta(beta);
    T* w_all = gram_s.mutable_data_ptr<T>();
    T* rowsum_all = rowsum.mutable_data_ptr<T>();
    at::parallel_for(0, chunk.samples * chunk.rows, 16, [&](int64_t begin, int64_t end) {
      for (int64_t b = begin; b < end; ++b) {
        const ChunkRow<T> row(gram_s, gram_t, norms_s, norms_t, chunk, b);
        const GmBackwardCoefficients k = gm_backward_coefficients(
            sample_grad.const_data_ptr<double>()[row.s], stats.const_data_ptr<double>() + row.s * kStatsColumns,
            chunk.P, options.normalize);
        T* w = w_all + b * chunk.cols;  // overwrites the row's gram_s entries, each after reading it
        T total = 0;
        for (int64_t q = 0; q < chunk.cols; ++q) {
          const T value = chunk.col0 + q == row.i
                              ? T(0)
                              : gm_pair_weight(row.d2_s(q), row.d2_t(q), squared, options.loss, beta, inv_beta,
                                               static_cast<T>(k.inv_mu_s), static_cast<T>(k.inv_mu_t),
                                               static_cast<T>(k.scale), static_cast<T>(k.c));
          w[q] = value;
          total += value;
        }
        rowsum_all[b] = total;
      }
    });
  });
}

}  // namespace

const GraphMatchingChunkSteps kCpuChunkSteps{&row_sums_cpu, &weights_cpu};

}  // namespace skdcore
