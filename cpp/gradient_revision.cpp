// skdcore::gradient_revision: argument parsing and validation shared by every device.
#include "gradient_revision.h"

#include <string>

#include "checks.h"

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

}  // namespace skdcore
