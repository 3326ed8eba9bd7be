// Which variant an op with several implementations runs: one small table, read from the
// environment once (on first use) and changed only through set_op_path (skdcore.ops.paths in
// Python, for tests and benchmarks that compare the variants). Never parsed per call.
//   graph_conv_cuda         SKDCORE_GRAPH_CONV_CUDA      gemm (default) | fused
//   graph_matching_cuda     SKDCORE_GRAPH_MATCHING_CUDA  gemm (default) | fused
//   graph_matching_cpu_gemm SKDCORE_GM_GEMM              blas (default) | aten
#pragma once

#include <string>
#include <utility>
#include <vector>

namespace skdcore {

enum class OpPath { GraphConvCuda = 0, GraphMatchingCuda = 1, GraphMatchingCpuGemm = 2 };

// The choices, in the order op_path() returns them (index 0 is the default).
enum GraphConvCudaPath : int { kGraphConvCudaGemm, kGraphConvCudaFused };
enum GraphMatchingCudaPath : int { kGraphMatchingCudaGemm, kGraphMatchingCudaFused };
enum GraphMatchingCpuGemm : int { kGraphMatchingCpuBlas, kGraphMatchingCpuAten };

// The chosen variant's index. Raises ValueError (naming the variable and the choices) if the
// environment variable holds something else.
int op_path(OpPath which);

// Sets a variant by table name ("graph_conv_cuda") and choice ("fused"); ValueError otherwise.
void set_op_path(const std::string& name, const std::string& choice);

// (name, chosen variant) for every entry.
std::vector<std::pair<std::string, std::string>> op_path_table();

}  // namespace skdcore
