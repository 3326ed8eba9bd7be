"""scikit-build-core metadata provider: the wheel requires the torch it is compiled against, and a CUDA
wheel says in its version which torch and CUDA those are.

A C++ extension only loads into the torch minor version it was built with, so the wheel's
``Requires-Dist`` is derived here, at build time, from the torch the build imports (the same one
CMake compiles against): torch 2.13.0 gives ``torch>=2.13,<2.14``. Never hand-edited.

A CUDA build (``SKDCORE_CUDA=ON``, what ``make wheel-cuda`` sets) also links that torch's CUDA runtime,
so it pins the exact torch (``torch==2.13.0``: the registry's CUDA build of that release) and carries a
local version naming both, as torch's own wheels do: torch 2.13.0+cu130 gives ``0.1.0+pt213cu130``.
The CPU wheel and the sdist keep the plain version.

Configured in pyproject.toml (``[tool.scikit-build.metadata.dependencies]`` and ``.version``); the
other runtime dependencies come in the ``requires`` setting and are passed through unchanged, the
version's base in the ``version`` setting.

If the build cannot import torch, it is running in an isolated build environment (pip's default),
which would otherwise have to download a torch of its own (multi-GB for CUDA): stop at once and
say to build with ``--no-build-isolation``. ``SKDCORE_SDIST=1`` (``make sdist``) writes the loose
source requirement instead: an sdist compiles against whatever supported torch is installed.
"""

from __future__ import annotations

import os
import re

__all__ = ["cuda_local_version", "dynamic_metadata", "get_requires_for_dynamic_metadata", "torch_requirement"]

# The oldest torch the sources build against (what an sdist accepts).
MINIMUM_TORCH = "2.11"

NO_TORCH_MESSAGE = (
    "skdcore must be compiled against the torch it will run with, but this build cannot import torch "
    "(pip builds in an isolated environment by default, without the installed torch). Install torch "
    "first, then build against it: pip install --no-build-isolation <the skdcore sdist or source folder>"
)


def _major_minor(torch_version: str) -> re.Match:
    match = re.match(r"(\d+)\.(\d+)(.*)", torch_version)
    if match is None:
        raise RuntimeError(
            f"skdcore build: cannot read a major.minor from torch.__version__ {torch_version!r}"
        )
    return match


def torch_requirement(torch_version: str, exact: bool = False) -> str:
    """'2.13.0+cpu' -> 'torch>=2.13,<2.14' (a pre-release build also accepts that minor's pre-releases);
    ``exact`` (a CUDA wheel): '2.13.0+cu130' -> 'torch==2.13.0' (the public version: it matches the
    registry's 2.13.0 and any local build of it)."""
    match = _major_minor(torch_version)
    if exact:
        return f"torch=={torch_version.split('+')[0]}"
    major, minor, rest = int(match[1]), int(match[2]), match[3].split("+")[0]
    lower = f"{major}.{minor}"
    if re.search(r"(a|b|rc|dev)\d*", rest):
        lower += ".0.dev0"
    return f"torch>={lower},<{major}.{minor + 1}"


def cuda_local_version(torch_version: str, cuda_version: str | None) -> str:
    """The local version label of a CUDA wheel: ('2.13.0+cu130', '13.0') -> 'pt213cu130'."""
    match = _major_minor(torch_version)
    cuda = re.fullmatch(r"(\d+)\.(\d+)(\.\d+)?", cuda_version or "")
    if cuda is None:
        raise RuntimeError(
            f"skdcore build: SKDCORE_CUDA=ON but torch {torch_version} is not a CUDA build "
            f"(torch.version.cuda={cuda_version!r}); install the registry's CUDA torch (make wheel-cuda "
            "does) or build with SKDCORE_CUDA=OFF"
        )
    return f"pt{match[1]}{match[2]}cu{cuda[1]}{cuda[2]}"


def _installed_torch():
    try:
        import torch
    except ImportError:
        raise RuntimeError(NO_TORCH_MESSAGE) from None
    return torch


def _cuda_build() -> bool:
    """Whether this build compiles the CUDA kernels for sure (CMake stops if it cannot)."""
    return os.environ.get("SKDCORE_CUDA", "").upper() == "ON" and os.environ.get("SKDCORE_SDIST") != "1"


def dynamic_metadata(field: str, settings: dict, project=None):
    if field == "version":
        base = settings.get("version")
        if not base:
            raise RuntimeError("torch_requirement: [tool.scikit-build.metadata.version] needs version = ...")
        if not _cuda_build():
            return base
        torch = _installed_torch()
        return f"{base}+{cuda_local_version(torch.__version__, torch.version.cuda)}"
    if field != "dependencies":
        raise RuntimeError(f"torch_requirement provides 'dependencies' and 'version', not {field!r}")
    requires = list(settings.get("requires", []))
    if os.environ.get("SKDCORE_SDIST") == "1":
        return [f"torch>={MINIMUM_TORCH}", *requires]
    return [torch_requirement(_installed_torch().__version__, exact=_cuda_build()), *requires]


def get_requires_for_dynamic_metadata(settings: dict) -> list:
    return []  # torch must come from the environment, never from the build's own requirements
