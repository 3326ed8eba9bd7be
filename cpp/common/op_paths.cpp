// The op path table (op_paths.h).
#include "op_paths.h"

#include <c10/util/Exception.h>

#include <array>
#include <atomic>
#include <cstdlib>

namespace skdcore {
namespace {

struct Entry {
  const char* name;
  const char* variable;
  std::vector<std::string> choices;  // [0] is the default
};

const std::array<Entry, 3>& entries() {
  static const std::array<Entry, 3> table{{
      {"graph_conv_cuda", "SKDCORE_GRAPH_CONV_CUDA", {"gemm", "fused"}},
      {"graph_matching_cuda", "SKDCORE_GRAPH_MATCHING_CUDA", {"gemm", "fused"}},
      {"graph_matching_cpu_gemm", "SKDCORE_GM_GEMM", {"blas", "aten"}},
  }};
  return table;
}

int parse_choice(const Entry& entry, const char* what, const std::string& value) {
  if (value.empty()) return 0;
  for (size_t i = 0; i < entry.choices.size(); ++i) {
    if (entry.choices[i] == value) return static_cast<int>(i);
  }
  std::string valid = "'" + entry.choices[0] + "' (default)";
  for (size_t i = 1; i < entry.choices.size(); ++i) {
    valid += (i + 1 == entry.choices.size() ? " or '" : ", '") + entry.choices[i] + "'";
  }
  TORCH_CHECK_VALUE(false, what, " must be ", valid, ", got '", value, "'");
}

int initial_choice(size_t i) {
  const char* value = std::getenv(entries()[i].variable);
  return parse_choice(entries()[i], entries()[i].variable, value == nullptr ? "" : value);
}

std::array<std::atomic<int>, 3>& chosen() {
  static std::array<std::atomic<int>, 3> table{initial_choice(0), initial_choice(1), initial_choice(2)};
  return table;
}

}  // namespace

int op_path(OpPath which) { return chosen()[static_cast<size_t>(which)].load(std::memory_order_relaxed); }

void set_op_path(const std::string& name, const std::string& choice) {
  for (size_t i = 0; i < entries().size(); ++i) {
    if (name == entries()[i].name) {
      chosen()[i] = parse_choice(entries()[i], entries()[i].name, choice);
      return;
    }
  }
  TORCH_CHECK_VALUE(false, "set_op_path: unknown path '", name,
                    "'; choose graph_conv_cuda, graph_matching_cuda or graph_matching_cpu_gemm");
}

std::vector<std::pair<std::string, std::string>> op_path_table() {
  std::vector<std::pair<std::string, std::string>> table;
  for (size_t i = 0; i < entries().size(); ++i) {
    table.emplace_back(entries()[i].name, entries()[i].choices[static_cast<size_t>(chosen()[i].load())]);
  }
  return table;
}

}  // namespace skdcore
