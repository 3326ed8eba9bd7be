// skdcore::graph_matching_loss through batched matrix products (see graph_matching_gemm.h).
//
// Chunking: samples go in groups and rows in chunks so that the two Gram chunks (student, teacher;
// group x rows x P entries each) fit the workspace. When whole P x P blocks fit, one product per
// group serves both forward passes (normalisers, then loss); otherwise each pass recomputes its
// chunks, over the upper band only (columns j >= the chunk's first row: D is symmetric). The
// backward needs every column: W is formed for all pairs, so each row block's gradient is written
// once, grad_I = 4 (rowsum(W) f_I - W F), with no accumulation across chunks.
#include "graph_matching_gemm.h"

#include <ATen/Context.h>
#include <c10/core/DeviceGuard.h>
#include <torch/library.h>

#include <algorithm>

namespace skdcore {
namespace {

// Features as (N, P, C) node matrices, read in place: (N, C, T, V) is a transposed (N, C, P) view.
at::Tensor node_matrices(const at::Tensor& contiguous_features) {
  const GraphShape shape = graph_shape(contiguous_features);
  if (shape.channel_major) return contiguous_features.view({shape.N, shape.C, shape.P}).transpose(1, 2);
  return contiguous_features;
}

struct ChunkPlan {
  int64_t group, rows;  // samples per group, rows per chunk
};

// Largest sample group and (balanced) row chunk whose two Gram chunks fit workspace_bytes.
ChunkPlan plan_chunks(int64_t N, int64_t P, int64_t element_size, int64_t workspace_bytes) {
  const int64_t per_graph = std::max<int64_t>(workspace_bytes / (2 * element_size), 1);
  if (P * P <= per_graph) return {std::clamp<int64_t>(per_graph / (P * P), 1, N), P};
  // Rows per chunk: 256 keeps each batched GEMM large; fewer only if one row block of P columns
  // would not fit.
  int64_t rows = std::min<int64_t>(P, 256);
  if (rows * P > per_graph) rows = std::max<int64_t>(per_graph / P, 1);
  const int64_t group = std::clamp<int64_t>(per_graph / (rows * P), 1, N);
  const int64_t chunks = (P + rows - 1) / rows;
  return {group, (P + chunks - 1) / chunks};
}

// Gram chunk out (samples, rows, cols) = F[g0:, r0:r0+rows] . F[g0:, c0:c0+cols]^T in a workspace slice.
at::Tensor gram_chunk(const at::Tensor& nodes, const GramChunk& chunk, int64_t g0, at::Tensor& workspace) {
  const at::Tensor group = nodes.narrow(0, g0, chunk.samples);
  at::Tensor out = workspace.narrow(0, 0, chunk.samples * chunk.rows * chunk.cols)
                       .view({chunk.samples, chunk.rows, chunk.cols});
  at::bmm_out(out, group.narrow(1, chunk.row0, chunk.rows), group.narrow(1, chunk.col0, chunk.cols).transpose(1, 2));
  return out;
}

// mu = sum / count of the positive entries, 1 when there is none or normalisation is off
// (gm_normaliser, on tensors).
at::Tensor normaliser(const at::Tensor& sum, const at::Tensor& count, GraphNormalize normalize) {
  if (normalize == GraphNormalize::None) return at::ones_like(sum);
  return at::where(count > 0, sum / count.clamp_min(1), at::ones_like(sum));
}

int64_t workspace_or_default(int64_t workspace_bytes) {
  return workspace_bytes > 0 ? workspace_bytes : kGraphMatchingGemmWorkspaceBytes;
}

}  // namespace

std::tuple<at::Tensor, at::Tensor> graph_matching_gemm_forward(const at::Tensor& student, const at::Tensor& teacher,
                                                               const GraphMatchingOptions& options,
                                                               const GraphMatchingChunkSteps& steps,
                                                               int64_t workspace_bytes) {
  // Plain tensor maths below the autograd layer (the op has its own backward; bmm_out has none),
  // products in full fp32 (graph_matching_gemm.h).
  at::AutoDispatchBelowADInplaceOrView guard;
  const at::NoTF32Guard full_fp32_products;
  const at::Tensor s = student.contiguous();
  const at::Tensor t = teacher.detach().contiguous();
  const GraphShape shape = graph_shape(s);
  const int64_t N = shape.N, P = shape.P;
  at::Tensor stats = at::zeros({N, kStatsColumns}, s.options().dtype(at::kDouble));
  at::Tensor per_sample = at::zeros({N}, s.options().dtype(at::kDouble));
  if (N > 0 && P > 0) {
    const at::Tensor nodes_s = node_matrices(s), nodes_t = node_matrices(t);
    const at::Tensor norms_s = nodes_s.square().sum(2), norms_t = nodes_t.square().sum(2);  // (N, P)
    const ChunkPlan plan = plan_chunks(N, P, s.element_size(), workspace_bytes);
    const bool one_chunk = plan.rows == P;  // both passes reuse the same Gram blocks
    at::Tensor work_s = at::empty({plan.group * plan.rows * P}, s.options());
    at::Tensor work_t = at::empty({plan.group * plan.rows * P}, s.options());
    const double entries = static_cast<double>(P * P);
    for (int64_t g0 = 0; g0 < N; g0 += plan.group) {
      const int64_t samples = std::min(plan.group, N - g0);
      const at::Tensor ns = norms_s.narrow(0, g0, samples), nt = norms_t.narrow(0, g0, samples);
      at::Tensor st = stats.narrow(0, g0, samples);
      at::Tensor sums = at::zeros({samples, kChunkSumColumns}, stats.options());
      for (const ChunkPass pass : {ChunkPass::Normaliser, ChunkPass::Loss}) {
        sums.zero_();
        for (int64_t r0 = 0; r0 < P; r0 += plan.rows) {
          const GramChunk chunk{samples, std::min(plan.rows, P - r0), P - r0, r0, r0, P};
          at::Tensor gram_s, gram_t;
          if (one_chunk && pass == ChunkPass::Loss) {
            gram_s = work_s.narrow(0, 0, samples * P * P).view({samples, P, P});
            gram_t = work_t.narrow(0, 0, samples * P * P).view({samples, P, P});
          } else {
            gram_s = gram_chunk(nodes_s, chunk, g0, work_s);
            gram_t = gram_chunk(nodes_t, chunk, g0, work_t);
          }
          at::Tensor per_row = at::empty({samples, chunk.rows, kChunkSumColumns}, stats.options());
          steps.row_sums(gram_s, gram_t, ns, nt, st, chunk, options, pass, per_row);
          sums.add_(per_row.sum(1));
        }
        if (pass == ChunkPass::Normaliser) {
          st.select(1, kStatStudentMean).copy_(normaliser(sums.select(1, 0), sums.select(1, 1), options.normalize));
          st.select(1, kStatTeacherMean).copy_(normaliser(sums.select(1, 2), sums.select(1, 3), options.normalize));
          st.select(1, kStatStudentCount).copy_(sums.select(1, 1));
        } else {
          per_sample.narrow(0, g0, samples).copy_(sums.select(1, 0) / entries);
          st.select(1, kStatLossMoment).copy_(sums.select(1, 1));
        }
      }
    }
  }
  return {reduce_graph_matching_loss(per_sample, options.reduction, s.scalar_type()), stats};
}

at::Tensor graph_matching_gemm_backward(const at::Tensor& grad, const at::Tensor& student, const at::Tensor& teacher,
                                        const at::Tensor& stats, const GraphMatchingOptions& options,
                                        const GraphMatchingChunkSteps& steps, int64_t workspace_bytes) {
  at::AutoDispatchBelowADInplaceOrView guard;
  const at::NoTF32Guard full_fp32_products;
  const at::Tensor s = student.contiguous();
  const at::Tensor t = teacher.detach().contiguous();
  const GraphShape shape = graph_shape(s);
  const int64_t N = shape.N, P = shape.P;
  at::Tensor grad_student = at::zeros_like(s, at::MemoryFormat::Contiguous);
  if (N == 0 || P == 0 || shape.C == 0) return grad_student;
  const at::Tensor sample_grad = graph_matching_sample_grad(grad, N, options.reduction);
  const at::Tensor stats_c = stats.contiguous();
  const at::Tensor nodes_s = node_matrices(s), nodes_t = node_matrices(t);
  at::Tensor grad_nodes = node_matrices(grad_student);
  const at::Tensor norms_s = nodes_s.square().sum(2), norms_t = nodes_t.square().sum(2);
  const ChunkPlan plan = plan_chunks(N, P, s.element_size(), workspace_bytes);
  at::Tensor work_s = at::empty({plan.group * plan.rows * P}, s.options());
  at::Tensor work_t = at::empty({plan.group * plan.rows * P}, s.options());
  for (int64_t g0 = 0; g0 < N; g0 += plan.group) {
    const int64_t samples = std::min(plan.group, N - g0);
    const at::Tensor group_nodes = nodes_s.narrow(0, g0, samples);
    for (int64_t r0 = 0; r0 < P; r0 += plan.rows) {
      const GramChunk chunk{samples, std::min(plan.rows, P - r0), P, r0, 0, P};
      at::Tensor w = gram_chunk(nodes_s, chunk, g0, work_s);  // becomes W in place
      const at::Tensor gram_t = gram_chunk(nodes_t, chunk, g0, work_t);
      at::Tensor rowsum = at::empty({samples, chunk.rows}, s.options());
      steps.weights(w, gram_t, norms_s.narrow(0, g0, samples), norms_t.narrow(0, g0, samples),
                    stats_c.narrow(0, g0, samples), sample_grad.narrow(0, g0, samples), chunk, options, rowsum);
      // grad_i = 4 sum_j W_ij (f_i - f_j) = 4 (rowsum_i f_i - (W F)_i)
      at::Tensor out = grad_nodes.narrow(0, g0, samples).narrow(1, r0, chunk.rows);
      out.baddbmm_(w, group_nodes, /*beta=*/0, /*alpha=*/-4);
      out.addcmul_(rowsum.unsqueeze(2), group_nodes.narrow(1, r0, chunk.rows), 4);
    }
  }
  return grad_student;
}

namespace {

const GraphMatchingChunkSteps& chunk_steps(const char* op, const at::Tensor& features) {
  if (features.device().is_cpu()) return kCpuChunkSteps;
#ifdef SKDCORE_WITH_CUDA
  if (features.device().is_cuda()) return kCudaChunkSteps;
#endif
  TORCH_CHECK_VALUE(false, op, ": no kernels for device ", features.device(), "; use CPU or CUDA tensors");
}

std::tuple<at::Tensor, at::Tensor> gemm_forward_entry(const at::Tensor& student, const at::Tensor& teacher,
                                                      c10::string_view distance, c10::string_view loss, double beta,
                                                      c10::string_view normalize, c10::string_view reduction,
                                                      int64_t workspace_bytes) {
  constexpr const char* op = "skdcore._graph_matching_gemm_forward";
  const GraphMatchingOptions options = checked_forward_options(op, student.device().type(), student, teacher,
                                                               distance, loss, beta, normalize, reduction);
  const c10::DeviceGuard device_guard(student.device());
  return graph_matching_gemm_forward(student, teacher, options, chunk_steps(op, student),
                                     workspace_or_default(workspace_bytes));
}

at::Tensor gemm_backward_entry(const at::Tensor& grad, const at::Tensor& student, const at::Tensor& teacher,
                               const at::Tensor& stats, c10::string_view distance, c10::string_view loss, double beta,
                               c10::string_view normalize, c10::string_view reduction, int64_t workspace_bytes) {
  constexpr const char* op = "skdcore._graph_matching_gemm_backward";
  const GraphMatchingOptions options = checked_backward_options(op, student.device().type(), grad, student, teacher,
                                                                stats, distance, loss, beta, normalize, reduction);
  const c10::DeviceGuard device_guard(student.device());
  return graph_matching_gemm_backward(grad, student, teacher, stats, options, chunk_steps(op, student),
                                      workspace_or_default(workspace_bytes));
}

}  // namespace

// One registration for every device: the drivers call the device's steps, whose tensor ops dispatch.
TORCH_LIBRARY_IMPL(skdcore, CompositeExplicitAutograd, m) {
  m.impl("_graph_matching_gemm_forward", &gemm_forward_entry);
  m.impl("_graph_matching_gemm_backward", &gemm_backward_entry);
}

}  // namespace skdcore
