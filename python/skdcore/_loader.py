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


def _rebuild_hint() -> str:
    return (
        "Rebuild skdcore against the installed torch: `pip install --no-build-isolation --force-reinstall "
        "--no-deps .` in the skdcore source tree (or `make install`), or install the torch it was built "
        "against."
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
    if _minor(built) != _minor(running):
        raise ImportError(
            f"skdcore was built against torch {built} but torch {running} is imported; C++ extensions only "
            f"load into the torch minor version they were compiled for. {_rebuild_hint()}"
        )
    try:
        return importlib.import_module("skdcore._C")
    except ImportError as error:
        if "undefined symbol" in str(error):
            raise ImportError(
                f"skdcore._C does not match the imported torch {running} (built against {built}): "
                f"{error}. {_rebuild_hint()}"
            ) from error
        raise
