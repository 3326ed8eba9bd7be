// Every skdcore operator schema, in one place. Kernels register per device in their own files
// (TORCH_LIBRARY_IMPL(skdcore, CPU|CUDA|Autograd, m)); fake kernels live in python/skdcore/ops/.
#include <torch/library.h>

TORCH_LIBRARY(skdcore, m) {
  // A: (K, V, V) adjacency partitions -> same shape, degree-normalised. mode: in_degree | symmetric
  m.def("normalize_adjacency(Tensor A, str mode=\"in_degree\") -> Tensor");
  m.def("_normalize_adjacency_backward(Tensor grad, Tensor A, str mode) -> Tensor");
  // x: (N, C_in, T, V), weight: (K, C_out, C_in), A/edge_importance: (K, V, V), bias: (C_out,)
  // -> (N, C_out, T, V). Backward returns grads of (x, weight, A, bias, edge_importance);
  // output_mask[i] false -> that grad is not computed and comes back as an empty tensor.
  m.def("graph_conv(Tensor x, Tensor weight, Tensor A, Tensor? bias=None, "
        "Tensor? edge_importance=None) -> Tensor");
  m.def("_graph_conv_backward(Tensor grad, Tensor x, Tensor weight, Tensor A, "
        "Tensor? edge_importance, bool[5] output_mask) -> (Tensor, Tensor, Tensor, Tensor, Tensor)");
  // The same maths as plain matrix products (the CUDA op's default path), any device; for tests.
  m.def("_graph_conv_gemm(Tensor x, Tensor weight, Tensor A, Tensor? bias=None, "
        "Tensor? edge_importance=None) -> Tensor");
  m.def("_graph_conv_gemm_backward(Tensor grad, Tensor x, Tensor weight, Tensor A, "
        "Tensor? edge_importance, bool[5] output_mask) -> (Tensor, Tensor, Tensor, Tensor, Tensor)");
  // x: (N, C, T, V), shift: (C,) -> (N, C, T // stride, V): per-channel fractional shift in time.
  m.def("temporal_shift(Tensor x, Tensor shift, int stride=1) -> Tensor");
  m.def("_temporal_shift_backward(Tensor grad, Tensor x, Tensor shift, int stride) -> (Tensor, Tensor)");
  // student, teacher: (N, C, T, V) or (N, P, C) -> () for reduction mean|sum, (N,) for none.
  // The private forward also returns stats (N, 4) float64 for the backward (teacher: no grad).
  m.def("graph_matching_loss(Tensor student, Tensor teacher, *, str distance=\"euclidean\", "
        "str loss=\"smooth_l1\", float beta=1.0, str normalize=\"mean_positive\", "
        "str reduction=\"mean\") -> Tensor");
  m.def("_graph_matching_loss_forward(Tensor student, Tensor teacher, str distance, str loss, "
        "float beta, str normalize, str reduction) -> (Tensor, Tensor)");
  m.def("_graph_matching_loss_backward(Tensor grad, Tensor student, Tensor teacher, Tensor stats, "
        "str distance, str loss, float beta, str normalize, str reduction) -> Tensor");
  // The same loss through batched Gram products in a bounded workspace (the CUDA op's matrix-product
  // path), on any device that implements its elementwise steps; for tests and benchmarks.
  // workspace_bytes <= 0: the default (128 MiB).
  m.def("_graph_matching_gemm_forward(Tensor student, Tensor teacher, str distance, str loss, float beta, "
        "str normalize, str reduction, int workspace_bytes=0) -> (Tensor, Tensor)");
  m.def("_graph_matching_gemm_backward(Tensor grad, Tensor student, Tensor teacher, Tensor stats, "
        "str distance, str loss, float beta, str normalize, str reduction, int workspace_bytes=0) -> Tensor");

  // Gradient revision (SKD): task_grads: N tensors (one per parameter); distill_grads: K * N
  // tensors, loss-major (distill_grads[k * N + i] is parameter i's gradient of loss k), each shaped
  // like task_grads[i]; one dtype (float32/float64) and device for all. Returns the revised
  // gradients (N tensors) and stats (2, K) float64: [cosine(g_k, g_task); projections applied].
  // The trailing-underscore variants write the result into `out` (may be task_grads itself).
  // projection: "skd" | "pcgrad" (named so to not clash with the dispatcher's own `mode` args).
  m.def("gradient_revision(Tensor[] task_grads, Tensor[] distill_grads, int num_losses, "
        "float eps=1e-12, str projection=\"skd\", int seed=0) -> (Tensor[], Tensor)");
  m.def("gradient_revision_(Tensor(a!)[] out, Tensor[] task_grads, Tensor[] distill_grads, "
        "int num_losses, float eps=1e-12, str projection=\"skd\", int seed=0) -> Tensor");
  // The two stages of the fused op, so a distributed driver can all-reduce the (K+1, K+1)
  // float64 Gram matrix between them (parameters sharded across ranks).
  m.def("gradient_revision_gram(Tensor[] task_grads, Tensor[] distill_grads, int num_losses, "
        "str projection=\"skd\") -> Tensor");
  m.def("gradient_revision_apply(Tensor[] task_grads, Tensor[] distill_grads, Tensor gram, "
        "float eps=1e-12, str projection=\"skd\", int seed=0) -> (Tensor[], Tensor)");
  m.def("gradient_revision_apply_(Tensor(a!)[] out, Tensor[] task_grads, Tensor[] distill_grads, "
        "Tensor gram, float eps=1e-12, str projection=\"skd\", int seed=0) -> Tensor");
}
