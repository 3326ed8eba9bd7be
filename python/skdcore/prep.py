"""Numpy-only data preparation kernels (C++ through the nanobind module skdcore._prep).

No torch tensors here: safe and cheap inside DataLoader workers and `skd prepare`.
"""
from __future__ import annotations

import numpy as np

from . import _prep


def impute_window_mean(x: np.ndarray, window: int = 3, axis: int = 1) -> np.ndarray:
    """Fill NaNs with the mean of the non-NaN values within ``window`` frames on each side.

    For every series along ``axis`` (time), a NaN at frame t becomes the mean of the non-NaN
    values among frames t-window..t+window (t excluded, frames past the ends count as missing),
    read from the input (an imputed value never feeds another). Where the whole window is
    missing the value stays NaN. This is step 3 of SKD's low-quality data (window=3, time axis
    of a (C, T, V, M) clip). Returns a new float32/float64 array of the same shape.
    """
    x = np.asarray(x)
    if x.dtype not in (np.float32, np.float64):
        raise TypeError(f"impute_window_mean: x must be float32 or float64, got {x.dtype}; use x.astype(np.float32)")
    if x.ndim == 0:
        raise ValueError("impute_window_mean: x must have at least one dimension (time)")
    if int(window) < 0:
        raise ValueError(f"impute_window_mean: window must be >= 0, got {window}")
    axis = axis % x.ndim
    moved = np.moveaxis(x, axis, 0) if axis else x
    T = moved.shape[0]
    # (outer=1, T, inner) contiguous view of the series, whatever the original layout.
    series = np.ascontiguousarray(moved.reshape(1, T, -1))
    out = _prep.impute_window_mean(series, int(window)).reshape(moved.shape)
    return np.ascontiguousarray(np.moveaxis(out, 0, axis)) if axis else out
