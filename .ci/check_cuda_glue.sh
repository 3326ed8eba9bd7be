#!/usr/bin/env bash
# Syntax-checks the CUDA glue (cpp/*_cuda.cpp: ATen + c10/cuda + the torch-free kernels' headers)
# against the installed CPU torch's headers, so broken glue fails CI without a CUDA torch.
# The CPU wheel lacks one generated header of a CUDA build; a stub with its content stands in.
set -euo pipefail
cd "$(dirname "$0")/.."
python=${1:-.venv/bin/python}
cuda_include=$(nvcc -dryrun -c -x cu /dev/null 2>&1 | grep -o 'INCLUDES="-I[^"]*' | head -n 1 | sed 's/INCLUDES="-I//')
stub=$(mktemp -d)
trap 'rm -rf "$stub"' EXIT
mkdir -p "$stub/c10/cuda/impl"
printf '#pragma once\n#define C10_CUDA_BUILD_SHARED_LIBS\n' >"$stub/c10/cuda/impl/cuda_cmake_macros.h"
read -r -a torch_includes < <("$python" -c \
  "import torch.utils.cpp_extension as e; print(' '.join('-isystem' + p for p in e.include_paths()))")
for source in cpp/*_cuda.cpp; do
  echo "   $source"
  g++ -std=c++17 -fsyntax-only -DSKDCORE_WITH_CUDA -I"$stub" "${torch_includes[@]}" -I"$cuda_include" \
    -Icpp -Icuda "$source"
done
