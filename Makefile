# One-command set-up and runs. On a fresh machine with only Python 3: `make demo`, `make test`.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
TORCH_PIN ?= torch==2.13.0
SETUP_STAMP := $(VENV)/.skdcore-setup
BUILD_STAMP := $(VENV)/.skdcore-build-setup

.PHONY: setup build-setup install demo test test-fast wheel wheel-cuda cuda-wheelhouse check-wheel-cuda sdist bench clean

$(PY):
	$(PYTHON) -m venv $(VENV)

# torch first and pinned: an unpinned torch requirement would pull a multi-GB CUDA build.
$(SETUP_STAMP): $(PY) requirements-dev.txt requirements-build.txt
	$(PY) -c "import torch" 2>/dev/null || $(PY) -m pip install $(TORCH_PIN)
	$(PY) -m pip install -r requirements-dev.txt
	touch $@

setup: $(SETUP_STAMP)

# What `make wheel` needs: torch (TORCH_PIN, unless $(VENV) has one) and the build tools only, not the
# dev and test set. The wheel is built against the torch of $(VENV): VENV=<your venv> to use another.
$(BUILD_STAMP): $(PY) requirements-build.txt
	$(PY) -c "import torch" 2>/dev/null || $(PY) -m pip install $(TORCH_PIN)
	$(PY) -m pip install -r requirements-build.txt
	touch $@

build-setup: $(BUILD_STAMP)

# Incremental: the CMake build directory (build/) is reused between installs.
install: setup
	$(PY) -m pip install --no-build-isolation .
	$(PY) -c "import skdcore, sys; print('skdcore', skdcore.__version__, 'from', skdcore.__file__)"

demo: install
	$(VENV)/bin/skd demo

test: install
	$(PY) -m pytest tests

test-fast: install
	$(PY) -m pytest tests -m "not slow"

# A platform wheel: built against the installed torch (its Requires-Dist pins that torch minor), then
# `auditwheel repair` to the lowest manylinux tag it satisfies. torch's libraries, its OpenMP runtime
# and CUDA's libraries are never vendored: the extension must use the very copies torch loads.
WHEEL_EXCLUDES := libtorch*.so libc10*.so libgomp*.so* libcu*.so* libnv*.so*
WHEEL_DIR ?= dist
wheel: build-setup
	rm -rf build/wheel-raw
	$(PY) -m pip wheel --no-build-isolation --no-deps -w build/wheel-raw .
	PATH="$(abspath $(dir $(PY))):$$PATH" $(PY) -m auditwheel repair $(foreach lib,$(WHEEL_EXCLUDES),--exclude '$(lib)') -w $(WHEEL_DIR) build/wheel-raw/skdcore-*.whl
	@ls -l $(WHEEL_DIR)/*.whl

# A CUDA wheel, e.g. skdcore-0.1.0+pt213cu130-cp311-cp311-manylinux_2_24_x86_64.whl (docs/build-cuda.md):
# compiled with the local nvcc (SKDCORE_CUDA=ON) against the registry's CUDA torch, installed into its own
# venv $(CUDA_VENV) (pip --isolated: no local CPU wheel or constraint may stand in for it) from a
# wheelhouse downloaded once ($(CUDA_WHEELHOUSE), ~2.8 GB: check-wheel-cuda reuses it, no second
# download). CUDA headers and libraries a partial toolkit lacks come from that torch's own nvidia wheels
# (cmake/SkdcoreCuda.cmake). CUDA_ARCHS: e.g. "90" or "80;90"; empty: the archs the CUDA torch ships,
# PTX of the newest. The build names that torch and CUDA in the local version and pins that torch
# exactly (build_support/torch_requirement.py); auditwheel vendors no torch or CUDA library.
# CUDA_PY=python3 builds with an existing CUDA torch instead. Its own CMake build folder: the CPU
# build's cache points at the CPU torch.
CUDA_VENV ?= .venv-cuda
CUDA_PY ?= $(CUDA_VENV)/bin/python
CUDA_TORCH_PIN ?= $(TORCH_PIN)
CUDA_WHEELHOUSE ?= build/cuda-wheelhouse
CUDA_ARCHS ?=
CUDA_CHECK_VENV ?= build/check-cuda-venv
PIP_FROM_WHEELHOUSE = -m pip install --isolated --no-index --find-links $(CUDA_WHEELHOUSE)

# NB: a shell step, not a recursive $(MAKE): `make -n wheel-cuda` must only print what it would do.
DOWNLOAD_WHEELHOUSE = [ -f $(CUDA_WHEELHOUSE)/.complete ] || { $(CUDA_PY) -m pip download --isolated \
	  "$(CUDA_TORCH_PIN)" -r requirements-dev.txt -d $(CUDA_WHEELHOUSE) && touch $(CUDA_WHEELHOUSE)/.complete; }

cuda-wheelhouse:
	[ -x "$(CUDA_PY)" ] || $(PYTHON) -m venv $(CUDA_VENV)
	$(DOWNLOAD_WHEELHOUSE)

wheel-cuda:
	[ -x "$(CUDA_PY)" ] || $(PYTHON) -m venv $(CUDA_VENV)
	$(CUDA_PY) -c "import torch; assert torch.version.cuda" 2>/dev/null || { $(DOWNLOAD_WHEELHOUSE) && \
	  $(CUDA_PY) $(PIP_FROM_WHEELHOUSE) "$(CUDA_TORCH_PIN)" -r requirements-dev.txt; }
	$(CUDA_PY) -c "import torch; assert torch.version.cuda, f'torch {torch.__version__} is not a CUDA build'"
	rm -rf build/wheel-cuda-raw
	SKDCORE_CUDA=ON SKDCORE_CUDA_ARCHS="$(CUDA_ARCHS)" PATH="$(abspath $(dir $(CUDA_PY))):$$PATH" \
	  $(CUDA_PY) -m pip wheel --no-build-isolation --no-deps -C build-dir="build/cuda-{wheel_tag}" \
	  -w build/wheel-cuda-raw .
	PATH="$(abspath $(dir $(CUDA_PY))):$$PATH" $(CUDA_PY) -m auditwheel repair \
	  $(foreach lib,$(WHEEL_EXCLUDES),--exclude '$(lib)') -w $(WHEEL_DIR) build/wheel-cuda-raw/skdcore-*.whl
	@ls -l $(WHEEL_DIR)/*+pt*cu*.whl

# The CUDA wheel in a fresh venv next to the CUDA torch (from the wheelhouse), on this machine with or
# without a GPU: import, `skd info` (compiled archs), the CPU test subset, tests/test_cuda_wheel.py.
check-wheel-cuda: cuda-wheelhouse
	rm -rf $(CUDA_CHECK_VENV)
	$(PYTHON) -m venv $(CUDA_CHECK_VENV)
	$(CUDA_CHECK_VENV)/bin/python $(PIP_FROM_WHEELHOUSE) "$(CUDA_TORCH_PIN)" -r requirements-dev.txt \
	  $$(ls -t $(WHEEL_DIR)/skdcore-*+pt*cu*.whl | head -n 1)
	bash build_support/check_wheel_cuda.sh $(CUDA_CHECK_VENV)/bin/python

# The source distribution; it compiles against whatever supported torch the installing venv has.
sdist: setup
	SKDCORE_SDIST=1 $(PY) -c "from scikit_build_core.build import build_sdist; print(build_sdist('$(WHEEL_DIR)'))"

bench: install
	cd benchmarks && for b in bench_*.py; do echo "== $$b"; ../$(PY) $$b || exit 1; done

clean:
	rm -rf build dist
