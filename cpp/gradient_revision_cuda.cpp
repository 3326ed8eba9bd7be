// CUDA glue of skdcore::gradient_revision: checks, device guard, current stream, one small
// host->device copy of the tensor table (pointers, sizes, chunks, pairs), then the launches.
// Built only against a CUDA torch (SKDCORE_WITH_CUDA); the kernels are in cuda/.
#include <ATen/Dispatch.h>
#include <c10/cuda/CUDAStream.h>
#include <c10/cuda/CUDAGuard.h>
#include <torch/library.h>

#include <algorithm>
#include <cstdint>
#include <tuple>
#include <vector>

#include "checks.h"
#include "cuda_launch.h"
#include "gradient_revision.cuh"
#include "gradient_revision.h"

namespace skdcore {
namespace {

// Device-side description of all gradient tensors; `owned` keeps contiguous inputs alive.
struct DeviceTable {
  std::vector<at::Tensor> owned;
  std::vector<at::Tensor> targets;  // contiguous outputs (apply only)
  at::Tensor meta;                  // int64 on the device
  int64_t num_tensors = 0, num_vectors = 0, num_chunks = 0, num_pairs = 0;
  int64_t off_vectors = 0, off_outputs = 0, off_numel = 0, off_chunk_tensor = 0,
          off_chunk_begin = 0, off_pairs = 0;

  DeviceTable(at::TensorList task, at::TensorList distill, int64_t K, GradientRevisionMode mode,
              at::TensorList out) {
    num_tensors = static_cast<int64_t>(task.size());
    num_vectors = K + 1;
    for (const auto& t : task) owned.push_back(t.contiguous());
    for (const auto& t : distill) owned.push_back(t.contiguous());
    for (const auto& o : out) {
      targets.push_back(o.is_contiguous() ? o : at::empty_like(o, at::MemoryFormat::Contiguous));
    }
    std::vector<int64_t> chunk_tensor, chunk_begin;
    for (int64_t i = 0; i < num_tensors; ++i) {
      for (int64_t b = 0; b < task[i].numel(); b += cuda::kGradientRevisionChunk) {
        chunk_tensor.push_back(i);
        chunk_begin.push_back(b);
      }
    }
    num_chunks = static_cast<int64_t>(chunk_tensor.size());
    const auto pairs = gradient_revision_pairs(K, mode);
    num_pairs = static_cast<int64_t>(pairs.size());

    std::vector<int64_t> host;
    off_vectors = 0;
    for (const auto& t : owned) host.push_back(reinterpret_cast<int64_t>(t.const_data_ptr()));
    off_outputs = static_cast<int64_t>(host.size());
    for (auto& t : targets) host.push_back(reinterpret_cast<int64_t>(t.mutable_data_ptr()));
    off_numel = static_cast<int64_t>(host.size());
    for (const auto& t : task) host.push_back(t.numel());
    off_chunk_tensor = static_cast<int64_t>(host.size());
    host.insert(host.end(), chunk_tensor.begin(), chunk_tensor.end());
    off_chunk_begin = static_cast<int64_t>(host.size());
    host.insert(host.end(), chunk_begin.begin(), chunk_begin.end());
    off_pairs = static_cast<int64_t>(host.size());
    for (const auto& p : pairs) {
      host.push_back(p.first);
      host.push_back(p.second);
    }
    // NB: a synchronous (pageable) copy: `host` may be freed right after, and the table is tiny.
    meta = at::tensor(host, at::TensorOptions().dtype(at::kLong))
               .to(task[0].device(), /*non_blocking=*/false);
  }

  const int64_t* at_offset(int64_t offset) const { return meta.const_data_ptr<int64_t>() + offset; }
  template <typename scalar_t>
  const scalar_t* const* vectors() const {
    return reinterpret_cast<const scalar_t* const*>(at_offset(off_vectors));
  }
  template <typename scalar_t>
  scalar_t* const* outputs() const {
    return reinterpret_cast<scalar_t* const*>(at_offset(off_outputs));
  }
};

at::TensorOptions double_options(const at::Device& device) {
  return at::TensorOptions().dtype(at::kDouble).device(device);
}

at::Tensor gram_cuda_impl(const char* op, at::TensorList task, at::TensorList distill, int64_t K,
                          GradientRevisionMode mode) {
  at::Tensor gram = at::zeros({K + 1, K + 1}, double_options(task[0].device()));
  const DeviceTable table(task, distill, K, mode, {});
  if (table.num_chunks == 0) return gram;
  at::Tensor partials = at::empty({table.num_chunks * table.num_pairs}, double_options(task[0].device()));
  const cudaStream_t stream = c10::cuda::getCurrentCUDAStream();
  AT_DISPATCH_FLOATING_TYPES(task[0].scalar_type(), "gradient_revision_gram_cuda", [&] {
    check_launch(cuda::gradient_revision_gram<scalar_t>(
                     table.vectors<scalar_t>(), table.at_offset(table.off_numel),
                     table.num_tensors, table.at_offset(table.off_chunk_tensor),
                     table.at_offset(table.off_chunk_begin), table.num_chunks,
                     table.at_offset(table.off_pairs), table.num_pairs, K,
                     partials.mutable_data_ptr<double>(), gram.mutable_data_ptr<double>(), stream),
                 op);
  });
  return gram;
}

at::Tensor apply_cuda_impl(const char* op, at::TensorList out, at::TensorList task,
                           at::TensorList distill, const at::Tensor& gram, int64_t K, double eps,
                           GradientRevisionMode mode, int64_t seed) {
  const cudaStream_t stream = c10::cuda::getCurrentCUDAStream();
  const at::Tensor gram_c = gram.contiguous();
  at::Tensor weights = at::empty({K + 1}, double_options(gram.device()));
  at::Tensor stats = at::empty({2, K}, double_options(gram.device()));
  check_launch(cuda::gradient_revision_weights(gram_c.const_data_ptr<double>(), K, eps, mode,
                                               static_cast<uint64_t>(seed),
                                               weights.mutable_data_ptr<double>(),
                                               stats.mutable_data_ptr<double>(), stream),
               op);
  if (task.empty()) return stats;
  const DeviceTable table(task, distill, K, mode, out);
  if (table.num_chunks == 0) return stats;
  AT_DISPATCH_FLOATING_TYPES(task[0].scalar_type(), "gradient_revision_apply_cuda", [&] {
    check_launch(cuda::gradient_revision_apply<scalar_t>(
                     table.vectors<scalar_t>(), table.outputs<scalar_t>(),
                     table.at_offset(table.off_numel), table.num_tensors,
                     table.at_offset(table.off_chunk_tensor),
                     table.at_offset(table.off_chunk_begin), table.num_chunks, K,
                     weights.const_data_ptr<double>(), stream),
                 op);
  });
  for (size_t i = 0; i < out.size(); ++i) {
    if (!out[i].is_same(table.targets[i])) out[i].copy_(table.targets[i]);
  }
  return stats;
}

at::Tensor gradient_revision_gram_cuda(at::TensorList task, at::TensorList distill, int64_t num_losses,
                                       c10::string_view mode) {
  const GradientRevisionCall call = checked_gram_call(c10::kCUDA, task, distill, num_losses, mode);
  TORCH_CHECK_VALUE(!task.empty(), "skdcore.gradient_revision_gram: needs at least one gradient tensor");
  const c10::cuda::CUDAGuard device_guard(task[0].device());
  return gram_cuda_impl("skdcore.gradient_revision_gram", task, distill, call.K, call.mode);
}

at::Tensor gradient_revision_apply_cuda_(at::TensorList out, at::TensorList task, at::TensorList distill,
                                         const at::Tensor& gram, double eps, c10::string_view mode, int64_t seed) {
  const GradientRevisionCall call = checked_apply_call(c10::kCUDA, out, task, distill, gram, mode);
  const c10::cuda::CUDAGuard device_guard(gram.device());
  return apply_cuda_impl("skdcore.gradient_revision_apply_", out, task, distill, gram, call.K, eps, call.mode,
                         seed);
}

}  // namespace

TORCH_LIBRARY_IMPL(skdcore, CUDA, m) {
  // gradient_revision, gradient_revision_, gradient_revision_apply: composites of these two
  // (gradient_revision.cpp).
  m.impl("gradient_revision_gram", &gradient_revision_gram_cuda);
  m.impl("gradient_revision_apply_", &gradient_revision_apply_cuda_);
}

}  // namespace skdcore
