// Autograd for skdcore::gradient_revision*: explicitly not differentiable. The ops combine
// parameter gradients after backward; differentiating through them is not a use case, so any
// attempt raises "derivative ... is not implemented" instead of silently returning no gradient.
#include <torch/csrc/autograd/autograd_not_implemented_fallback.h>
#include <torch/library.h>

namespace skdcore {

TORCH_LIBRARY_IMPL(skdcore, Autograd, m) {
  m.impl("gradient_revision", torch::autograd::autogradNotImplementedFallback());
  m.impl("gradient_revision_", torch::autograd::autogradNotImplementedFallback());
  m.impl("gradient_revision_gram", torch::autograd::autogradNotImplementedFallback());
  m.impl("gradient_revision_apply", torch::autograd::autogradNotImplementedFallback());
  m.impl("gradient_revision_apply_", torch::autograd::autogradNotImplementedFallback());
}

// The in-place variants bump the version counters of `out` (so autograd sees the mutation).
TORCH_LIBRARY_IMPL(skdcore, ADInplaceOrView, m) {
  m.impl("gradient_revision_", torch::autograd::autogradNotImplementedInplaceOrViewFallback());
  m.impl("gradient_revision_apply_",
         torch::autograd::autogradNotImplementedInplaceOrViewFallback());
}

}  // namespace skdcore
