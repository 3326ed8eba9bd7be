"""The sdist either builds against the installed torch (never downloading one) or, in pip's default
isolated build, stops within seconds with one message naming --no-build-isolation."""

import json
import os
import subprocess
import sys
import tarfile
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def sdist(tmp_path_factory):
    out = tmp_path_factory.mktemp("sdist")
    # What `make sdist` runs.
    subprocess.run(
        [sys.executable, "-c", f"from scikit_build_core.build import build_sdist; build_sdist({str(out)!r})"],
        cwd=REPO,
        env={**os.environ, "SKDCORE_SDIST": "1"},
        check=True,
        capture_output=True,
    )
    (path,) = out.glob("skdcore-*.tar.gz")
    return path


def test_sdist_holds_the_build_support_and_the_source_requirement(sdist):
    with tarfile.open(sdist) as archive:
        names = archive.getnames()
        pkg_info = archive.extractfile("skdcore-0.1.0/PKG-INFO").read().decode()
    for needed in (
        "build_support/torch_requirement.py",
        "build_support/glibc_compat/sys/single_threaded.h",
        "CMakeLists.txt",
        "cmake/SkdcoreCuda.cmake",
        "LICENSE",
        "python/skdcore/py.typed",
    ):
        assert f"skdcore-0.1.0/{needed}" in names
    # An sdist compiles against whichever supported torch the installing venv has.
    assert "Requires-Dist: torch>=2.11\n" in pkg_info


def _build_requirements_wheelhouse(folder: Path) -> None:
    """scikit-build-core, pybind11, nanobind (+ their dependencies) as wheels, so the isolated build below
    can run with --no-index. Fetched through pip's usual sources (its cache on a second run)."""
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "download",
            "-q",
            "--only-binary",
            ":all:",
            "-d",
            str(folder),
            "scikit-build-core>=0.11",
            "pybind11>=2.12",
            "nanobind>=2.0",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        pytest.skip(f"cannot fetch the build requirements' wheels: {result.stderr.strip()[-300:]}")


@pytest.mark.slow
def test_isolated_build_stops_in_seconds_with_the_fix(sdist, tmp_path):
    wheelhouse = tmp_path / "wheelhouse"
    _build_requirements_wheelhouse(wheelhouse)
    start = time.perf_counter()
    # A plain `pip install sdist` (isolated build), offline: nothing but the build requirements can be found,
    # so any attempt to fetch torch would fail too. --target keeps this venv untouched.
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--isolated",
            "--no-index",
            "--find-links",
            str(wheelhouse),
            "--target",
            str(tmp_path / "target"),
            str(sdist),
        ],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        check=False,
    )
    elapsed = time.perf_counter() - start
    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert "this build cannot import torch" in output and "pip install --no-build-isolation" in output, (
        output[-2000:]
    )
    assert "torch" not in [
        line.split()[-1] for line in output.splitlines() if line.strip().startswith("Collecting")
    ]
    assert elapsed < 60, f"took {elapsed:.0f} s"


def test_no_isolation_uses_the_installed_torch_and_downloads_nothing(sdist, tmp_path):
    report = tmp_path / "report.json"
    # --no-index: a torch (or anything) missing from this venv could not be fetched; --dry-run: the
    # metadata is built (against this torch), the resolution done, nothing compiled or installed.
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--dry-run",
            "--no-build-isolation",
            "--no-index",
            "--report",
            str(report),
            str(sdist),
        ],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    installs = {item["metadata"]["name"] for item in json.loads(report.read_text())["install"]}
    assert installs == {"skdcore"}
