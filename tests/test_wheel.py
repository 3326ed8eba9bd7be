"""The wheel tells the truth: Requires-Dist pins the torch minor it is built against, `make wheel` gives
a repaired manylinux wheel that installs next to that torch in a fresh venv and works from any folder,
and a resolver never picks another torch minor for it."""

import email
import importlib
import json
import os
import shutil
import subprocess
import sys
import types
import zipfile
from pathlib import Path

import pytest
import torch

from skdcore import _loader

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "build_support"))
import torch_requirement  # noqa: E402  (the build's metadata provider)

TORCH_MINOR = tuple(int(part) for part in torch.__version__.split("+")[0].split(".")[:2])
TORCH_PIN = f"torch>={TORCH_MINOR[0]}.{TORCH_MINOR[1]},<{TORCH_MINOR[0]}.{TORCH_MINOR[1] + 1}"


@pytest.mark.parametrize(
    "version, requirement",
    [
        ("2.13.0+cpu", "torch>=2.13,<2.14"),
        ("2.11.0+cu130", "torch>=2.11,<2.12"),
        ("2.9.1", "torch>=2.9,<2.10"),
        ("2.14.0.dev20261101+cpu", "torch>=2.14.0.dev0,<2.15"),
    ],
)
def test_torch_requirement_pins_the_minor(version, requirement):
    assert torch_requirement.torch_requirement(version) == requirement


@pytest.mark.parametrize(
    "torch_version, cuda, local",
    [
        ("2.11.0+cu130", "13.0", "pt211cu130"),
        ("2.13.0", "12.8", "pt213cu128"),
        ("2.14.1+cu126", "12.6.3", "pt214cu126"),
    ],
)
def test_cuda_local_version_names_torch_and_cuda(torch_version, cuda, local):
    assert torch_requirement.cuda_local_version(torch_version, cuda) == local


def test_cuda_local_version_of_a_cpu_torch_is_an_error_naming_the_fix():
    expected = r"SKDCORE_CUDA=ON but torch 2.13.0\+cpu is not a CUDA build.*wheel-cuda"
    with pytest.raises(RuntimeError, match=expected):
        torch_requirement.cuda_local_version("2.13.0+cpu", None)


def test_cuda_wheel_pins_the_exact_torch():
    assert torch_requirement.torch_requirement("2.11.0+cu130", exact=True) == "torch==2.11.0"
    assert torch_requirement.torch_requirement("2.13.1", exact=True) == "torch==2.13.1"


def _fake_cuda_torch(monkeypatch, version="2.11.0+cu130", cuda="13.0"):
    fake = types.SimpleNamespace(__version__=version, version=types.SimpleNamespace(cuda=cuda))
    monkeypatch.setitem(sys.modules, "torch", fake)


def test_version_provider_adds_the_local_version_only_for_a_cuda_build(monkeypatch):
    monkeypatch.delenv("SKDCORE_SDIST", raising=False)
    _fake_cuda_torch(monkeypatch)
    settings = {"version": "0.1.0"}
    monkeypatch.delenv("SKDCORE_CUDA", raising=False)
    assert torch_requirement.dynamic_metadata("version", settings) == "0.1.0"
    assert torch_requirement.dynamic_metadata("dependencies", {"requires": []}) == ["torch>=2.11,<2.12"]
    monkeypatch.setenv("SKDCORE_CUDA", "ON")
    assert torch_requirement.dynamic_metadata("version", settings) == "0.1.0+pt211cu130"
    requires = torch_requirement.dynamic_metadata("dependencies", {"requires": ["numpy"]})
    assert requires == ["torch==2.11.0", "numpy"]
    monkeypatch.setenv("SKDCORE_SDIST", "1")  # an sdist is never a CUDA build
    assert torch_requirement.dynamic_metadata("version", settings) == "0.1.0"


def test_cuda_wheel_metadata_from_the_build_backend(tmp_path, monkeypatch):
    """What `make wheel-cuda` writes, through scikit-build-core itself (a fake CUDA torch, no compiler)."""
    from scikit_build_core.build import prepare_metadata_for_build_wheel

    monkeypatch.chdir(REPO)
    monkeypatch.delenv("SKDCORE_SDIST", raising=False)
    monkeypatch.setenv("SKDCORE_CUDA", "ON")
    _fake_cuda_torch(monkeypatch)
    name = prepare_metadata_for_build_wheel(str(tmp_path))
    assert name == "skdcore-0.1.0+pt211cu130.dist-info"
    metadata = email.message_from_string((tmp_path / name / "METADATA").read_text())
    assert metadata["Version"] == "0.1.0+pt211cu130"
    assert [r for r in metadata.get_all("Requires-Dist") if r.startswith("torch")] == ["torch==2.11.0"]


def test_make_wheel_cuda_uses_the_registry_torch_nvcc_and_vendors_no_torch_or_cuda_library():
    if shutil.which("make") is None:
        pytest.skip("make not found")
    commands = subprocess.run(["make", "-n", "wheel-cuda", "CUDA_PY=/nonexistent/python"], cwd=REPO,
                              check=True, capture_output=True, text=True).stdout
    assert "pip install --isolated" in commands  # the registry's torch, never a local CPU wheel
    assert "SKDCORE_CUDA=ON" in commands and "--no-build-isolation" in commands
    assert 'build-dir="build/cuda-{wheel_tag}"' in commands  # never the CPU build's CMake cache
    for library in ("libtorch*.so", "libc10*.so", "libcu*.so*", "libnv*.so*"):
        assert f"--exclude '{library}'" in commands


def test_provider_without_torch_stops_naming_no_build_isolation(monkeypatch):
    monkeypatch.setitem(sys.modules, "torch", None)  # `import torch` raises ImportError
    monkeypatch.delenv("SKDCORE_SDIST", raising=False)
    with pytest.raises(RuntimeError, match="pip install --no-build-isolation"):
        torch_requirement.dynamic_metadata("dependencies", {"requires": ["numpy"]})
    monkeypatch.setenv("SKDCORE_SDIST", "1")  # an sdist builds against any supported torch
    assert torch_requirement.dynamic_metadata("dependencies", {"requires": ["numpy"]}) == [
        f"torch>={torch_requirement.MINIMUM_TORCH}",
        "numpy",
    ]


def test_wheel_metadata_pins_the_installed_torch_minor(tmp_path, monkeypatch):
    from scikit_build_core.build import prepare_metadata_for_build_wheel

    monkeypatch.chdir(REPO)
    monkeypatch.delenv("SKDCORE_SDIST", raising=False)
    monkeypatch.delenv("SKDCORE_CUDA", raising=False)  # the CPU wheel: plain version, the minor pinned
    name = prepare_metadata_for_build_wheel(str(tmp_path))
    assert name == "skdcore-0.1.0.dist-info"
    metadata = email.message_from_string((tmp_path / name / "METADATA").read_text())
    requires = metadata.get_all("Requires-Dist")
    torch_requires = [r for r in requires if r.startswith("torch")]
    assert len(torch_requires) == 1
    assert sorted(torch_requires[0][len("torch") :].split(",")) == sorted(
        TORCH_PIN[len("torch") :].split(",")
    )
    assert metadata["License-Expression"] == "MIT"


def test_mismatch_message_names_the_torch_needed_and_both_ways_out(monkeypatch):
    fake_config = types.SimpleNamespace(TORCH_VERSION="2.13.0+cpu", WITH_CUDA=False, VERSION="0.1.0")
    real_import = importlib.import_module
    monkeypatch.setattr(
        _loader.importlib,
        "import_module",
        lambda name, *args: fake_config if name == "skdcore._build_config" else real_import(name, *args),
    )
    monkeypatch.setattr(_loader.torch, "__version__", "2.14.1+cu128")
    with pytest.raises(ImportError) as raised:
        _loader.load_extension()
    message = str(raised.value)
    assert "built against torch 2.13.0+cpu" in message and "torch 2.14.1+cu128 is imported" in message
    assert "pip install 'torch==2.13.*'" in message
    assert "pip install --no-build-isolation --no-binary skdcore" in message and "skdcore==0.1.0" in message
    assert "source tree" not in message


def _fake_wheel(folder: Path, name: str, version: str) -> None:
    """A metadata-only wheel: enough for pip's resolver, nothing to download."""
    dist_info = f"{name}-{version}.dist-info"
    with zipfile.ZipFile(folder / f"{name}-{version}-py3-none-any.whl", "w") as wheel:
        wheel.writestr(f"{dist_info}/METADATA", f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n")
        wheel.writestr(
            f"{dist_info}/WHEEL",
            "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
        )
        wheel.writestr(f"{dist_info}/RECORD", "")


@pytest.mark.slow
def test_make_wheel_is_manylinux_pins_torch_and_vendors_nothing(repaired_wheel):
    assert "-manylinux_2_" in repaired_wheel.name and repaired_wheel.name.endswith("_x86_64.whl")
    glibc = tuple(int(x) for x in repaired_wheel.name.split("-manylinux_")[1].split("_")[:2])
    assert glibc <= (2, 28), f"{repaired_wheel.name}: needs a newer glibc than torch's own wheels (2.28)"
    with zipfile.ZipFile(repaired_wheel) as wheel:
        names = wheel.namelist()
        metadata = email.message_from_string(wheel.read("skdcore-0.1.0.dist-info/METADATA").decode())
    # torch's libraries and its OpenMP runtime are never copied in (no skdcore.libs/ folder at all).
    assert not [n for n in names if ".libs/" in n], names
    assert "skdcore/py.typed" in names
    assert any(n.endswith("licenses/LICENSE") for n in names)
    (torch_requires,) = [r for r in metadata.get_all("Requires-Dist") if r.startswith("torch")]
    assert sorted(torch_requires[len("torch") :].split(",")) == sorted(TORCH_PIN[len("torch") :].split(","))


@pytest.mark.slow
def test_resolver_picks_the_pinned_torch_minor_never_a_newer_one(repaired_wheel, tmp_path):
    index = tmp_path / "index"
    index.mkdir()
    major, minor = TORCH_MINOR
    for version in (f"{major}.{minor}.0", f"{major}.{minor + 1}.0", f"{major}.{minor + 2}.0"):
        _fake_wheel(index, "torch", version)
    for name in ("numpy", "tqdm", "pyyaml"):
        _fake_wheel(index, name, "99.0")
    report = tmp_path / "report.json"
    # --isolated: no pip config or PIP_* variables (no other index, no constraints); --ignore-installed:
    # resolve as in an empty venv; --no-index + --find-links: only the folder above, nothing downloads.
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--isolated",
            "--dry-run",
            "--ignore-installed",
            "--no-index",
            "--find-links",
            str(index),
            "--report",
            str(report),
            "-q",
            str(repaired_wheel),
        ],
        check=True,
        capture_output=True,
        text=True,
    )
    chosen = {
        item["metadata"]["name"]: item["metadata"]["version"]
        for item in json.loads(report.read_text())["install"]
    }
    assert chosen["torch"] == f"{major}.{minor}.0"


@pytest.mark.slow
def test_wheel_installs_next_to_pinned_torch_in_fresh_venv_and_runs_anywhere(repaired_wheel, tmp_path):
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    python = venv / "bin" / "python"
    # torch as `make setup` installs it (pip's configured sources; a local wheel where pip config has one).
    pip = [str(python), "-m", "pip", "install", "-q"]
    subprocess.run([*pip, f"torch=={torch.__version__.split('+')[0]}"], check=True)
    subprocess.run([*pip, str(repaired_wheel)], check=True)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    script = (
        "import skdcore, torch\n"
        f"assert skdcore.__file__.startswith({str(venv)!r}), skdcore.__file__\n"
        "out = skdcore.normalize_adjacency(torch.rand(3, 25, 25))\n"
        "torch.testing.assert_close(out.sum(1), torch.ones(3, 25))\n"
        "import numpy as np\n"
        "from skdcore import _prep  # the nanobind module, with its own (static, hidden) libstdc++\n"
        "x = np.ones((3, 8, 25), np.float32); x[:, 4] = np.nan\n"
        "assert np.array_equal(_prep.impute_window_mean(x, 3), np.ones_like(x))\n"
        "try:\n"
        "    _prep.impute_window_mean(x, -1)  # a C++ exception through that libstdc++ and nanobind\n"
        "    raise SystemExit('no error for window=-1')\n"
        "except ValueError as error:\n"
        "    assert 'window must be >= 0' in str(error), error\n"
        "print(skdcore.build_info()['version'], torch.__version__)\n"
    )
    env = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
    result = subprocess.run(
        [str(python), "-c", script], check=False, cwd=elsewhere, env=env, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    version, torch_version = result.stdout.split()
    assert version == "0.1.0" and torch_version.split("+")[0] == torch.__version__.split("+")[0]
