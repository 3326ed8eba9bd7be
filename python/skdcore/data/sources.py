"""Sources for ``prepare``: a uniform view over the synthetic generator and real readers.

A source lists its samples once (``keys``), loads sample ``i`` as ((C, T, V, M) float32,
label) and knows its splits. The base class, ReaderError and the registry live in
:mod:`skdcore.data.readers.base` (the readers import only that); this module is the one
place that knows every source.
"""

from __future__ import annotations

import json

from .readers import SyntheticSource  # noqa: F401  (importing the package registers every source)
from .readers.base import SOURCES, ReaderError, SkeletonSource, register_source

__all__ = [
    "ReaderError",
    "SkeletonSource",
    "SyntheticSource",
    "make_source",
    "register_source",
    "stable_json",
]


def make_source(name: str, **options) -> SkeletonSource:
    """A source by name: 'synthetic', 'arrays', 'ntu', 'kinetics', 'pyskl', 'penn'."""
    if name not in SOURCES:
        raise ValueError(f"unknown source {name!r}; known sources: {sorted(SOURCES)}")
    try:
        return SOURCES[name](**options)
    except TypeError as err:
        raise ValueError(f"bad options for source {name!r}: {err}") from None


def stable_json(value) -> str:
    return json.dumps(value, sort_keys=True, default=str)
