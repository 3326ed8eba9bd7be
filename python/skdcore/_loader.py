"""Loads the compiled core (skdcore._C), refusing a torch it was not built against.

Loading a C++ extension into a different torch fails with an undefined-symbol error at best
and memory corruption at worst, so the versions are compared before the library is opened.
"""
from __future__ import annotations

import importlib

import torch


def _minor(version: str) -> tuple[int, int]:
    major, minor = version.split("+")[0].split(".")[:2]
    return int(major), int(minor)


def _mismatch_hint(built: str, version: str) -> str:
    major, minor = _minor(built)
    requirement = f"skdcore=={version}" if version else "skdcore"
    return (
        f"Either install the torch it needs: pip install 'torch=={major}.{minor}.*' (CPU or CUDA build as "
        "before); or compile skdcore from source against the installed torch: pip install "
        f"--no-build-isolation --no-binary skdcore --no-deps --force-reinstall '{requirement}' (or "
        "pip install --no-build-isolation --no-deps on the skdcore sdist file)."
    )


def load_extension():
    """Imports skdcore._C (running every op registration) and returns the module."""
    try:
        config = importlib.import_module("skdcore._build_config")
    except ImportError:
        raise ImportError(
            "skdcore's compiled core is missing (no skdcore/_build_config.py): you are probably importing "
            "the source tree instead of an installed build. Run `make install` or "
            "`pip install --no-build-isolation .`, and run Python outside python/."
        ) from None
    built, running = config.TORCH_VERSION, torch.__version__
    version = getattr(config, "VERSION", "")
    if _minor(built) != _minor(running):
        raise ImportError(
            f"skdcore {version} was built against torch {built} and only loads into torch "
            f"{'.'.join(map(str, _minor(built)))}.x, but torch {running} is imported (a C++ extension "
            f"loads only into the torch minor version it was compiled for). {_mismatch_hint(built, version)}"
        )
    try:
        return importlib.import_module("skdcore._C")
    except ImportError as error:
        if "undefined symbol" in str(error):
            raise ImportError(
                f"skdcore._C does not match the imported torch {running} (built against {built}): "
                f"{error}. {_mismatch_hint(built, version)}"
            ) from error
        raise
