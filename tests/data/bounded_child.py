"""Run an adversarial input in a child Python with a wall-clock timeout, so a regression (an endless
loop, a quadratic blow-up, a huge allocation) fails its test instead of hanging CI."""
from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

import skdcore

# NB: the folder holding the skdcore this test imported (an installed build, or sources with their .so)
PYTHON_DIR = str(Path(skdcore.__file__).resolve().parents[1])


def run_bounded(code: str, timeout: float = 60.0) -> tuple[str, float]:
    """(stdout + stderr, seconds) of ``python -c code``; the test fails when it runs past ``timeout``
    or exits non-zero."""
    paths = [os.environ.get("PYTHONPATH"), PYTHON_DIR]  # NB: the caller's first (a worktree's sources)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, paths))}
    start = time.perf_counter()
    try:
        done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=timeout,
                              env=env)
    except subprocess.TimeoutExpired:
        pytest.fail(f"still running after {timeout:g} s (a hang or an unbounded cost):\n{code}")
    seconds = time.perf_counter() - start
    output = done.stdout + done.stderr
    assert done.returncode == 0, f"exit {done.returncode}:\n{output}"
    return output, seconds


@contextlib.contextmanager
def deadline(seconds: int):
    """In-process bound for inputs that cannot block in C code: the test fails (SIGALRM) after
    ``seconds`` instead of hanging."""
    def expired(signum, frame):
        raise TimeoutError(f"still running after {seconds} s (a hang or an unbounded cost)")

    previous = signal.signal(signal.SIGALRM, expired)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)
