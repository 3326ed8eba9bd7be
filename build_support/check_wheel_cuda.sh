#!/usr/bin/env bash
# `make check-wheel-cuda`: the CUDA wheel installed in a fresh venv next to the CUDA torch ($1: its
# python), checked on this machine, GPU or not: it imports from outside the source tree, `skd info`
# lists the compiled archs, the CPU test subset passes on it, and tests/test_cuda_wheel.py (CUDA kernels
# registered; a CUDA request without a GPU is a clear error).
set -euo pipefail
cd "$(dirname "$0")/.."
python=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
repo=$PWD
cd /tmp  # `import skdcore` must find the wheel, not python/ of this checkout
"$python" - <<'PY'
import torch, skdcore
info = skdcore.build_info()
assert info["cuda"], f"{skdcore.__file__}: a CPU build ({info})"
print(f"skdcore {skdcore.__version__} from {skdcore.__file__}")
print(f"torch {torch.__version__} (CUDA {torch.version.cuda}), GPU: {torch.cuda.is_available()}")
PY
"$(dirname "$python")/skd" info
cd "$repo"
# The CPU subset: the ops (CPU kernels of this build), the nn modules, the CLI's info and the wheel's own
# CUDA checks; -p no:cacheprovider keeps the checkout clean. skdcore comes from the venv: python/ of
# this checkout is never on sys.path (tests/test_build.py checks that it is an installed build).
"$python" -m pytest -q -p no:cacheprovider -m "not slow" \
  tests/test_cuda_wheel.py tests/test_build.py tests/ops tests/models
