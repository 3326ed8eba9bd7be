// Autocast rules of every skdcore op (torch.autocast on CPU and on CUDA), in one file so the policy
// reads as one table. Each rule casts its inputs, excludes its autocast key and calls the op again
// through the dispatcher: the casts are recorded by autograd, so gradients reach the inputs in
// their own dtypes. float64 inputs are never cast (autocast leaves them alone).
//   graph_conv                the autocast dtype: matrix work, fp32 accumulation in the kernels
//                             and cuBLAS. The CPU kernels are float32/float64 only: there the
//                             inputs are rounded to the autocast dtype, the sums run in float32
//                             and the result is rounded to the autocast dtype (the same numbers).
//   graph_matching_loss       float32: the Gram-form distances |a|^2 + |b|^2 - 2 a.b cancel.
//   temporal_shift            float32: a fractional shift whose gradient sums over N*T*V.
//   normalize_adjacency       float32: degree sums of a tiny matrix.
//   gradient_revision_gram    float32 gradients (the reductions are float64 as always).
//   gradient_revision_apply_  float32 gradients; a 16-bit `out` gets the float32 result, rounded
//                             once. float32 gradients are untouched: the revision stays exact.
// gradient_revision, gradient_revision_ and gradient_revision_apply are composites of the two
// stages (gradient_revision.cpp), so the stages' rules cover them.
#include <ATen/autocast_mode.h>
#include <ATen/core/dispatch/Dispatcher.h>
#include <c10/core/impl/LocalDispatchKeySet.h>
#include <torch/library.h>

#include <optional>
#include <vector>

#include "graph_conv.h"
#include "graph_matching.h"
#include "normalize_adjacency.h"
#include "temporal_shift.h"

namespace skdcore {
namespace {

// While alive, this device's autocast rules are off (the op called inside runs its real kernels).
template <c10::DeviceType device>
struct NoAutocast {
  const c10::impl::ExcludeDispatchKeyGuard guard{at::autocast::get_autocast_dispatch_key_from_device_type(device)};
};

bool is_16bit(const at::Tensor& t) {
  return t.defined() && (t.scalar_type() == at::kHalf || t.scalar_type() == at::kBFloat16);
}

template <c10::DeviceType device>
at::Tensor to_float32(const at::Tensor& t) {
  return at::autocast::cached_cast(at::kFloat, t, device);
}

std::vector<at::Tensor> to_float32_list(at::TensorList list, c10::DeviceType device) {
  return at::autocast::cached_cast(at::kFloat, list, device);
}

template <c10::DeviceType device>
at::Tensor graph_conv_autocast(const at::Tensor& x, const at::Tensor& weight, const at::Tensor& A,
                               const std::optional<at::Tensor>& bias,
                               const std::optional<at::Tensor>& edge_importance) {
  const NoAutocast<device> no_autocast;
  const at::ScalarType dtype = at::autocast::get_autocast_dtype(device);
  const auto cast = [&](const std::optional<at::Tensor>& t) { return at::autocast::cached_cast(dtype, t, device); };
  std::optional<at::Tensor> operands[] = {cast(x), cast(weight), cast(A), cast(bias), cast(edge_importance)};
  // NB: x decides: float64 features keep the op in float64.
  const bool cpu_low_precision = device == c10::DeviceType::CPU && is_16bit(*operands[0]);
  if (cpu_low_precision) {  // rounded to the autocast dtype, summed by the float32 kernels
    for (auto& t : operands) {
      if (t.has_value() && is_16bit(*t)) t = t->to(at::kFloat);
    }
  }
  const at::Tensor y = graph_conv(*operands[0], *operands[1], *operands[2], operands[3], operands[4]);
  return cpu_low_precision ? y.to(dtype) : y;
}

template <c10::DeviceType device>
at::Tensor graph_matching_loss_autocast(const at::Tensor& student, const at::Tensor& teacher,
                                        c10::string_view distance, c10::string_view loss, double beta,
                                        c10::string_view normalize, c10::string_view reduction) {
  const NoAutocast<device> no_autocast;
  return graph_matching_loss(to_float32<device>(student), to_float32<device>(teacher), distance, loss, beta,
                             normalize, reduction);
}

template <c10::DeviceType device>
at::Tensor temporal_shift_autocast(const at::Tensor& x, const at::Tensor& shift, int64_t stride) {
  const NoAutocast<device> no_autocast;
  return temporal_shift(to_float32<device>(x), to_float32<device>(shift), stride);
}

template <c10::DeviceType device>
at::Tensor normalize_adjacency_autocast(const at::Tensor& A, c10::string_view mode) {
  const NoAutocast<device> no_autocast;
  return normalize_adjacency(to_float32<device>(A), mode);
}

template <c10::DeviceType device>
at::Tensor gradient_revision_gram_autocast(at::TensorList task, at::TensorList distill, int64_t num_losses,
                                           c10::string_view projection) {
  static const auto op = c10::Dispatcher::singleton()
                             .findSchemaOrThrow("skdcore::gradient_revision_gram", "")
                             .typed<at::Tensor(at::TensorList, at::TensorList, int64_t, c10::string_view)>();
  const NoAutocast<device> no_autocast;
  return op.call(to_float32_list(task, device), to_float32_list(distill, device), num_losses, projection);
}

template <c10::DeviceType device>
at::Tensor gradient_revision_apply_autocast(at::TensorList out, at::TensorList task, at::TensorList distill,
                                            const at::Tensor& gram, double eps, c10::string_view projection,
                                            int64_t seed) {
  static const auto op =
      c10::Dispatcher::singleton()
          .findSchemaOrThrow("skdcore::gradient_revision_apply_", "")
          .typed<at::Tensor(at::TensorList, at::TensorList, at::TensorList, const at::Tensor&, double,
                            c10::string_view, int64_t)>();
  const NoAutocast<device> no_autocast;
  const std::vector<at::Tensor> task_f = to_float32_list(task, device), distill_f = to_float32_list(distill, device);
  bool out_16bit = false;
  for (const auto& o : out) out_16bit = out_16bit || is_16bit(o);
  if (!out_16bit) return op.call(out, task_f, distill_f, gram, eps, projection, seed);
  // NB: the revision is computed in float32 and rounded once into the 16-bit `out`.
  std::vector<at::Tensor> out_f;
  out_f.reserve(out.size());
  for (const auto& o : out) out_f.push_back(at::empty_like(o, o.options().dtype(at::kFloat)));
  at::Tensor stats = op.call(out_f, task_f, distill_f, gram, eps, projection, seed);
  for (size_t i = 0; i < out.size(); ++i) out[i].copy_(out_f[i]);
  return stats;
}

template <c10::DeviceType device>
void register_autocast_rules(torch::Library& m) {
  m.impl("graph_conv", &graph_conv_autocast<device>);
  m.impl("graph_matching_loss", &graph_matching_loss_autocast<device>);
  m.impl("temporal_shift", &temporal_shift_autocast<device>);
  m.impl("normalize_adjacency", &normalize_adjacency_autocast<device>);
  m.impl("gradient_revision_gram", &gradient_revision_gram_autocast<device>);
  m.impl("gradient_revision_apply_", &gradient_revision_apply_autocast<device>);
}

}  // namespace

TORCH_LIBRARY_IMPL(skdcore, AutocastCPU, m) { register_autocast_rules<c10::DeviceType::CPU>(m); }
TORCH_LIBRARY_IMPL(skdcore, AutocastCUDA, m) { register_autocast_rules<c10::DeviceType::CUDA>(m); }

}  // namespace skdcore
