// skdcore::gradient_revision: argument parsing and validation shared by every device, and the
// composite entry points. A device registers only the two stages (gradient_revision_gram and
// gradient_revision_apply_); gradient_revision, gradient_revision_ and gradient_revision_apply are
// those stages in sequence, registered once as CompositeExplicitAutograd.
#include "gradient_revision.h"

#include <ATen/core/dispatch/Dispatcher.h>
#include <c10/core/DeviceGuard.h>
#include <torch/library.h>

#include <string>
#include <tuple>

#include "common/checks.h"

namespace skdcore {

GradientRevisionMode parse_gradient_revision_mode(const char* op, c10::string_view mode) {
  if (mode == "skd") return GradientRevisionMode::Skd;
  if (mode == "pcgrad") return GradientRevisionMode::PcGrad;
  TORCH_CHECK_VALUE(false, op, ": mode must be 'skd' or 'pcgrad', got '", std::string(mode), "'");
}

namespace {

std::string distill_name(int64_t k, int64_t i) {
  return "distill_grads[" + std::to_string(k) + "][" + std::to_string(i) + "]";
}

std::string indexed(const char* arg, int64_t i) {
  return std::string(arg) + "[" + std::to_string(i) + "]";
}

void check_gradient_dtype(const char* op, const std::string& arg, const at::Tensor& t) {
  TORCH_CHECK_TYPE(t.scalar_type() == at::kFloat || t.scalar_type() == at::kDouble, op, ": ", arg,
                   " must be float32 or float64, got ", t.scalar_type(),
                   "; keep parameter gradients in float32 (e.g. AMP's master weights)");
}

}  // namespace

int64_t check_gradient_lists(const char* op, at::TensorList task, at::TensorList distill,
                             int64_t num_losses) {
  TORCH_CHECK_VALUE(num_losses >= 0 && num_losses <= kGradientRevisionMaxLosses, op,
                    ": num_losses must be in [0, ", kGradientRevisionMaxLosses, "], got ",
                    num_losses);
  const int64_t N = static_cast<int64_t>(task.size());
  TORCH_CHECK_VALUE(static_cast<int64_t>(distill.size()) == num_losses * N, op,
                    ": distill_grads must hold num_losses * len(task_grads) = ", num_losses, " * ",
                    N, " tensors (loss-major), got ", distill.size(),
                    "; pass one gradient per parameter for every distillation loss");
  if (N == 0) return num_losses;
  const at::Tensor& ref = task[0];
  for (int64_t i = 0; i < N; ++i) {
    const std::string name = indexed("task_grads", i);
    check_gradient_dtype(op, name, task[i]);
    checks::check_same_dtype(op, name.c_str(), task[i], "task_grads[0]", ref);
    checks::check_same_device(op, name.c_str(), task[i], "task_grads[0]", ref);
  }
  for (int64_t k = 0; k < num_losses; ++k) {
    for (int64_t i = 0; i < N; ++i) {
      const at::Tensor& g = distill[k * N + i];
      const std::string name = distill_name(k, i);
      const std::string task_name = indexed("task_grads", i);
      checks::check_same_shape(op, name.c_str(), g, task_name.c_str(), task[i]);
      checks::check_same_dtype(op, name.c_str(), g, "task_grads[0]", ref);
      checks::check_same_device(op, name.c_str(), g, "task_grads[0]", ref);
    }
  }
  return num_losses;
}

void check_gradient_outputs(const char* op, at::TensorList out, at::TensorList task) {
  TORCH_CHECK_VALUE(out.size() == task.size(), op, ": out must hold one tensor per parameter (",
                    task.size(), "), got ", out.size());
  for (size_t i = 0; i < out.size(); ++i) {
    const std::string name = indexed("out", static_cast<int64_t>(i));
    const std::string task_name = indexed("task_grads", static_cast<int64_t>(i));
    checks::check_same_shape(op, name.c_str(), out[i], task_name.c_str(), task[i]);
    checks::check_same_dtype(op, name.c_str(), out[i], task_name.c_str(), task[i]);
    checks::check_same_device(op, name.c_str(), out[i], task_name.c_str(), task[i]);
  }
}

void check_gram(const char* op, const at::Tensor& gram, int64_t K, at::TensorList task) {
  TORCH_CHECK_VALUE(gram.dim() == 2 && gram.size(0) == K + 1 && gram.size(1) == K + 1, op,
                    ": gram must have shape (K+1, K+1) = (", K + 1, ", ", K + 1, "), got ",
                    gram.sizes(), "; pass the output of gradient_revision_gram");
  TORCH_CHECK_TYPE(gram.scalar_type() == at::kDouble, op, ": gram must be float64, got ",
                   gram.scalar_type());
  if (!task.empty()) checks::check_same_device(op, "gram", gram, "task_grads[0]", task[0]);
}

int64_t losses_from_gram(const char* op, const at::Tensor& gram) {
  TORCH_CHECK_VALUE(gram.dim() == 2 && gram.size(0) >= 1, op,
                    ": gram must have shape (K+1, K+1), got ", gram.sizes());
  return gram.size(0) - 1;
}

std::vector<std::pair<int64_t, int64_t>> gradient_revision_pairs(int64_t K,
                                                                 GradientRevisionMode mode) {
  const int64_t P = gradient_revision_num_pairs(K, mode);
  std::vector<std::pair<int64_t, int64_t>> pairs(static_cast<size_t>(P));
  for (int64_t p = 0; p < P; ++p) gradient_revision_pair(p, K, mode, &pairs[p].first, &pairs[p].second);
  return pairs;
}

ContiguousGradients::ContiguousGradients(at::TensorList task, at::TensorList distill) {
  vectors.reserve(task.size() + distill.size());
  for (const auto& t : task) {
    vectors.push_back(t.contiguous());
    numel.push_back(t.numel());
    total += t.numel();
  }
  for (const auto& t : distill) vectors.push_back(t.contiguous());
}

at::Tensor gradient_revision_gram_on(const GradientRevisionKernels& kernels, at::TensorList task,
                                     at::TensorList distill, int64_t num_losses, c10::string_view mode) {
  constexpr const char* op = "skdcore.gradient_revision_gram";
  const int64_t K = check_gradient_lists(op, task, distill, num_losses);
  const GradientRevisionMode parsed = parse_gradient_revision_mode(op, mode);
  if (task.empty()) return at::zeros({K + 1, K + 1}, at::TensorOptions().dtype(at::kDouble));
  checks::check_device(op, "task_grads[0]", task[0], kernels.device);
  const c10::DeviceGuard device_guard(task[0].device());
  at::Tensor gram = at::zeros({K + 1, K + 1}, task[0].options().dtype(at::kDouble));
  const ContiguousGradients gradients(task, distill);
  if (gradients.total > 0) kernels.gram(gradients, K, parsed, gram);
  return gram;
}

at::Tensor gradient_revision_apply_on(const GradientRevisionKernels& kernels, at::TensorList out,
                                      at::TensorList task, at::TensorList distill, const at::Tensor& gram,
                                      double eps, c10::string_view mode, int64_t seed) {
  constexpr const char* op = "skdcore.gradient_revision_apply_";
  const int64_t K = check_gradient_lists(op, task, distill, losses_from_gram(op, gram));
  check_gram(op, gram, K, task);
  check_gradient_outputs(op, out, task);
  const GradientRevisionMode parsed = parse_gradient_revision_mode(op, mode);
  if (!task.empty()) checks::check_device(op, "task_grads[0]", task[0], kernels.device);
  checks::check_device(op, "gram", gram, kernels.device);
  const c10::DeviceGuard device_guard(gram.device());
  const at::TensorOptions double_options = gram.options().dtype(at::kDouble);
  at::Tensor weights = at::empty({K + 1}, double_options);
  at::Tensor stats = at::empty({2, K}, double_options);
  kernels.weights(gram.contiguous(), K, eps, parsed, seed, weights, stats);
  const ContiguousGradients gradients(task, distill);
  if (gradients.total == 0) return stats;
  std::vector<at::Tensor> targets;  // contiguous outputs: `out` itself, or a buffer copied back
  targets.reserve(out.size());
  for (const auto& o : out) targets.push_back(o.is_contiguous() ? o : at::empty_like(o, at::MemoryFormat::Contiguous));
  kernels.apply(gradients, K, weights, targets);
  for (size_t i = 0; i < out.size(); ++i) {
    if (!out[i].is_same(targets[i])) out[i].copy_(targets[i]);
  }
  return stats;
}

namespace {

// The two device stages, called through the dispatcher (so each device's kernel runs).
at::Tensor gram_stage(at::TensorList task, at::TensorList distill, int64_t num_losses,
                      c10::string_view projection) {
  static const auto op = c10::Dispatcher::singleton()
                             .findSchemaOrThrow("skdcore::gradient_revision_gram", "")
                             .typed<at::Tensor(at::TensorList, at::TensorList, int64_t, c10::string_view)>();
  return op.call(task, distill, num_losses, projection);
}

at::Tensor apply_stage(at::TensorList out, at::TensorList task, at::TensorList distill,
                       const at::Tensor& gram, double eps, c10::string_view projection, int64_t seed) {
  static const auto op =
      c10::Dispatcher::singleton()
          .findSchemaOrThrow("skdcore::gradient_revision_apply_", "")
          .typed<at::Tensor(at::TensorList, at::TensorList, at::TensorList, const at::Tensor&, double,
                            c10::string_view, int64_t)>();
  return op.call(out, task, distill, gram, eps, projection, seed);
}

std::vector<at::Tensor> empty_outputs(at::TensorList task) {
  std::vector<at::Tensor> out;
  out.reserve(task.size());
  for (const auto& t : task) out.push_back(at::empty_like(t, at::MemoryFormat::Contiguous));
  return out;
}

at::Tensor gradient_revision_inplace(at::TensorList out, at::TensorList task, at::TensorList distill,
                                     int64_t num_losses, double eps, c10::string_view projection,
                                     int64_t seed) {
  check_gradient_outputs("skdcore.gradient_revision_", out, task);
  const at::Tensor gram = gram_stage(task, distill, num_losses, projection);
  return apply_stage(out, task, distill, gram, eps, projection, seed);
}

std::tuple<std::vector<at::Tensor>, at::Tensor> gradient_revision_out_of_place(
    at::TensorList task, at::TensorList distill, int64_t num_losses, double eps,
    c10::string_view projection, int64_t seed) {
  auto out = empty_outputs(task);
  at::Tensor stats = gradient_revision_inplace(out, task, distill, num_losses, eps, projection, seed);
  return {out, stats};
}

std::tuple<std::vector<at::Tensor>, at::Tensor> gradient_revision_apply_out_of_place(
    at::TensorList task, at::TensorList distill, const at::Tensor& gram, double eps,
    c10::string_view projection, int64_t seed) {
  auto out = empty_outputs(task);
  at::Tensor stats = apply_stage(out, task, distill, gram, eps, projection, seed);
  return {out, stats};
}

}  // namespace

TORCH_LIBRARY_IMPL(skdcore, CompositeExplicitAutograd, m) {
  m.impl("gradient_revision", &gradient_revision_out_of_place);
  m.impl("gradient_revision_", &gradient_revision_inplace);
  m.impl("gradient_revision_apply", &gradient_revision_apply_out_of_place);
}

}  // namespace skdcore
