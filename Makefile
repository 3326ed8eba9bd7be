# One-command set-up and runs. On a fresh machine with only Python 3: `make demo`, `make test`.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
TORCH_PIN ?= torch==2.13.0
SETUP_STAMP := $(VENV)/.skdcore-setup

.PHONY: setup install demo test test-fast wheel bench clean

$(PY):
	$(PYTHON) -m venv $(VENV)

# torch first and pinned: an unpinned torch requirement would pull a multi-GB CUDA build.
$(SETUP_STAMP): $(PY) requirements-dev.txt
	$(PY) -c "import torch" 2>/dev/null || $(PY) -m pip install $(TORCH_PIN)
	$(PY) -m pip install -r requirements-dev.txt
	touch $@

setup: $(SETUP_STAMP)

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

wheel: setup
	$(PY) -m pip wheel --no-build-isolation --no-deps -w dist .
	@ls -l dist/*.whl

bench: install
	cd benchmarks && for b in bench_*.py; do echo "== $$b"; ../$(PY) $$b || exit 1; done

clean:
	rm -rf build dist
