"""scikit-build-core metadata provider: the wheel requires the torch minor it is compiled against.

A C++ extension only loads into the torch minor version it was built with, so the wheel's
``Requires-Dist`` is derived here, at build time, from the torch the build imports (the same one
CMake compiles against): torch 2.13.0 gives ``torch>=2.13,<2.14``. Never hand-edited.

Configured in pyproject.toml (``[tool.scikit-build.metadata.dependencies]``); the other runtime
dependencies come in the ``requires`` setting and are passed through unchanged.

If the build cannot import torch, it is running in an isolated build environment (pip's default),
which would otherwise have to download a torch of its own (multi-GB for CUDA): stop at once and
say to build with ``--no-build-isolation``. ``SKDCORE_SDIST=1`` (``make sdist``) writes the loose
source requirement instead: an sdist compiles against whatever supported torch is installed.
"""

from __future__ import annotations

import os
import re

__all__ = ["dynamic_metadata", "get_requires_for_dynamic_metadata", "torch_requirement"]

# The oldest torch the sources build against (what an sdist accepts).
MINIMUM_TORCH = "2.11"

NO_TORCH_MESSAGE = (
    "skdcore must be compiled against the torch it will run with, but this build cannot import torch "
    "(pip builds in an isolated environment by default, without the installed torch). Install torch "
    "first, then build against it: pip install --no-build-isolation <the skdcore sdist or source folder>"
)


def torch_requirement(torch_version: str) -> str:
    """'2.13.0+cpu' -> 'torch>=2.13,<2.14' (a pre-release build also accepts that minor's pre-releases)."""
    match = re.match(r"(\d+)\.(\d+)(.*)", torch_version)
    if match is None:
        raise RuntimeError(
            f"skdcore build: cannot read a major.minor from torch.__version__ {torch_version!r}"
        )
    major, minor, rest = int(match[1]), int(match[2]), match[3].split("+")[0]
    lower = f"{major}.{minor}"
    if re.search(r"(a|b|rc|dev)\d*", rest):
        lower += ".0.dev0"
    return f"torch>={lower},<{major}.{minor + 1}"


def _installed_torch_version() -> str:
    try:
        import torch
    except ImportError:
        raise RuntimeError(NO_TORCH_MESSAGE) from None
    return torch.__version__


def dynamic_metadata(field: str, settings: dict, project=None) -> list:
    if field != "dependencies":
        raise RuntimeError(f"torch_requirement provides 'dependencies' only, not {field!r}")
    requires = list(settings.get("requires", []))
    if os.environ.get("SKDCORE_SDIST") == "1":
        return [f"torch>={MINIMUM_TORCH}", *requires]
    return [torch_requirement(_installed_torch_version()), *requires]


def get_requires_for_dynamic_metadata(settings: dict) -> list:
    return []  # torch must come from the environment, never from the build's own requirements
