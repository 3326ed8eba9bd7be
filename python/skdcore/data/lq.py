"""Low-quality (LQ) skeleton generators, numpy, on one clip shaped (C, T, V, M).

All generators are deterministic given a ``numpy.random.Generator`` and composable:
each is a small object with ``__call__(x, rng) -> new array`` (the input is never
modified) and a ``config()`` returning plain data for the manifest.

:class:`SKDOcclusion` + :func:`cut_or_pad` reproduce SKD's reference LQ exactly
(``docs/method.md``): per (frame, joint, person) occlusion with probability p ->
every zero coordinate becomes NaN -> NaN-mean imputation over frames t-w..t+w
(t excluded, computed from the pre-imputation series) -> remaining NaN to 0; then
both HQ and LQ are cut/padded to 100 frames.
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ..layouts import BUILTIN_LAYOUTS, Layout, get_layout
from .lq_checks import check_lq_config
from .skeleton_tree import hop_matrix


def check_clip(x: np.ndarray, what: str = "x") -> np.ndarray:
    """``x`` as an array, raising ValueError unless it is one clip (C, T, V, M)."""
    x = np.asarray(x)
    if x.ndim != 4:
        raise ValueError(f"{what} must be one clip shaped (C, T, V, M), got shape {x.shape}; "
                         "for a batch, call the generator per sample")
    return x


# The SKD reference's LQ parameters (docs/method.md): written here once, used everywhere else.
SKD_OCCLUSION_P = 0.6  # probability that one (frame, joint, person) is occluded
SKD_IMPUTATION_WINDOW = 3  # frames on each side whose non-missing values fill a hole


# --------------------------------------------------------------------------- imputation
def impute_window_mean_reference(x: np.ndarray, window: int = SKD_IMPUTATION_WINDOW) -> np.ndarray:
    """NaN-mean imputation along the LAST axis (time), numpy reference.

    A NaN at t becomes the mean of the non-NaN values of frames t-window..t+window,
    t excluded, frames outside [0, T) counted as missing, read from the input as it was
    before any imputation.  Where no value is available it stays NaN.  Non-NaN entries
    are returned unchanged.  Accumulates in float64, returns the input dtype.
    """
    x = np.asarray(x)
    if window < 0:
        raise ValueError(f"window must be >= 0, got {window}")
    T = x.shape[-1]
    valid = ~np.isnan(x)
    values = np.where(valid, x, 0.0).astype(np.float64)
    total = np.zeros(x.shape, dtype=np.float64)
    count = np.zeros(x.shape, dtype=np.int64)
    for d in range(1, window + 1):
        if d >= T:
            break
        # neighbour t+d feeds t, neighbour t-d feeds t
        total[..., : T - d] += values[..., d:]
        count[..., : T - d] += valid[..., d:]
        total[..., d:] += values[..., : T - d]
        count[..., d:] += valid[..., : T - d]
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = total / count
    return np.where(valid, x, mean.astype(x.dtype))


def compiled_prep_kernel(name: str = "impute_window_mean"):
    """A kernel of the nanobind module ``skdcore._prep`` (numpy in/out). It is built with the package
    (``import skdcore`` needs the build), so a missing one is a broken install: an ImportError, not a
    silent fallback to the numpy path."""
    from .. import _prep  # type: ignore[attr-defined]

    return getattr(_prep, name)


def impute_window_mean(x: np.ndarray, window: int = SKD_IMPUTATION_WINDOW) -> np.ndarray:
    """Same as :func:`impute_window_mean_reference` (time = last axis), computed by the C++
    kernel ``skdcore._prep`` (float32 / float64), by the numpy reference for other dtypes."""
    x = np.asarray(x)
    if int(window) < 0:
        raise ValueError(f"impute_window_mean: window must be >= 0, got {window}")
    kernel = compiled_prep_kernel()
    if x.dtype not in (np.float32, np.float64) or x.ndim == 0:
        return impute_window_mean_reference(x, window)
    T = x.shape[-1]
    series = np.ascontiguousarray(x).reshape(-1, T, 1)
    return np.asarray(kernel(series, int(window))).reshape(x.shape)


def impute_clip(x: np.ndarray, window: int = SKD_IMPUTATION_WINDOW) -> np.ndarray:
    """Imputation over time (axis 1) of a (C, T, V, M) clip without moving axes: the clip is
    already the (outer=C, T, inner=V*M) layout the C++ kernel reads."""
    kernel = compiled_prep_kernel()
    if x.dtype not in (np.float32, np.float64):
        return np.moveaxis(impute_window_mean_reference(np.moveaxis(x, 1, -1), window), -1, 1)
    C, T = x.shape[:2]
    flat = np.ascontiguousarray(x).reshape(C, T, -1)
    return np.asarray(kernel(flat, int(window))).reshape(x.shape)


def impute_absent(x: np.ndarray, window: int = SKD_IMPUTATION_WINDOW) -> np.ndarray:
    """SKD's LQ imputation of a (C, T, V, M) clip: every zero value is missing (NaN), filled by
    :func:`impute_clip` (mean of frames t-window..t+window), and what stays missing is 0 again.
    The one definition the LQ generator and real keypoints with missing joints share."""
    missing = np.array(x, copy=True)
    missing[missing == 0] = np.nan  # NB: absent (zero-filled) persons become NaN too
    imputed = impute_clip(missing, window)
    return np.nan_to_num(imputed, nan=0.0, copy=False).astype(x.dtype, copy=False)


# --------------------------------------------------------------------------- SKD reference LQ
class SKDOcclusion:
    """SKD reference LQ: occlusion (p) -> zeros to NaN -> window-mean imputation -> NaN to 0.

    Works on the full-length clip (C, T, V, M); apply :func:`cut_or_pad` afterwards to
    both HQ and LQ, as the reference does.
    """

    def __init__(self, p: float = 0.6, window: int = SKD_IMPUTATION_WINDOW):
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"SKDOcclusion: p must be a probability in [0, 1], got {p}")
        if window < 0:
            raise ValueError(f"SKDOcclusion: window must be >= 0, got {window}")
        self.p, self.window = float(p), int(window)

    def occlusion_mask(self, shape: Sequence[int], rng: np.random.Generator) -> np.ndarray:
        """(T, V, M) bool, True where the joint is occluded (all its coordinates zeroed)."""
        _, T, V, M = shape
        return rng.random((T, V, M)) < self.p

    def __call__(self, x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        x = check_clip(x)
        mask = self.occlusion_mask(x.shape, rng)
        fused = compiled_prep_kernel("skd_occlude_impute")
        if x.dtype in (np.float32, np.float64):
            C, T = x.shape[:2]
            flat = np.ascontiguousarray(x).reshape(C, T, -1)
            return np.asarray(fused(flat, mask.reshape(T, -1), self.window)).reshape(x.shape)
        return self.reference(x, mask)

    def reference(self, x: np.ndarray, mask: np.ndarray) -> np.ndarray:
        """The numpy path, step by step as docs/method.md lists them; ``mask`` (T, V, M) bool."""
        return impute_absent(np.where(mask[None], 0.0, x).astype(x.dtype), self.window)

    def config(self) -> dict:
        return {"name": "skd_occlusion", "p": self.p, "window": self.window}


def cut_or_pad(x: np.ndarray, num_frames: int = 100) -> np.ndarray:
    """Reference temporal cut: T > num_frames -> frames int(a*T/num_frames), a=0..num_frames-1;
    otherwise keep all frames and zero-pad at the end.  ``x`` is (C, T, V, M)."""
    x = check_clip(x)
    T = x.shape[1]
    if T > num_frames:
        idx = (np.arange(num_frames) * T / num_frames).astype(np.int64)
        # NB: a*T/num_frames in float64 equals the reference's Python int(a * T / 100)
        return x[:, idx]
    out = np.zeros(x.shape[:1] + (num_frames,) + x.shape[2:], dtype=x.dtype)
    out[:, :T] = x
    return out


# --------------------------------------------------------------------------- other generators
def _present(x: np.ndarray) -> np.ndarray:
    """(1, T, V, M) bool: joints that exist (not exactly zero in every channel)."""
    return np.any(x != 0, axis=0, keepdims=True)


class GaussianJitter:
    """Adds N(0, sigma^2) to every coordinate of present joints (absent stay 0).

    ``channels`` limits the noise (e.g. ``(0, 1)`` to spare a confidence channel)."""

    def __init__(self, sigma: float = 0.01, channels: Sequence[int] | None = None):
        if sigma < 0:
            raise ValueError(f"GaussianJitter: sigma must be >= 0, got {sigma}")
        self.sigma = float(sigma)
        self.channels = None if channels is None else tuple(int(c) for c in channels)

    def __call__(self, x, rng):
        x = check_clip(x)
        noise = self.sigma * rng.standard_normal(x.shape)
        if self.channels is not None:
            keep = np.zeros(x.shape[0], dtype=bool)
            keep[list(self.channels)] = True
            noise[~keep] = 0
        return (x + noise * _present(x)).astype(x.dtype)

    def config(self):
        return {"name": "gaussian_jitter", "sigma": self.sigma, "channels": self.channels}


class FrameDrop:
    """Drops each frame with probability ``p`` and refills it by linear interpolation
    between the nearest kept frames (held constant before the first / after the last)."""

    def __init__(self, p: float = 0.3):
        if not 0.0 <= p < 1.0:
            raise ValueError(f"FrameDrop: p must be in [0, 1), got {p}")
        self.p = float(p)

    def __call__(self, x, rng):
        x = check_clip(x)
        T = x.shape[1]
        kept = rng.random(T) >= self.p
        if kept.sum() == 0:
            kept[rng.integers(T)] = True
        if kept.all():
            return x.copy()
        return resample_at(x, np.flatnonzero(kept), np.arange(T))

    def config(self):
        return {"name": "frame_drop", "p": self.p}


def resample_at(x: np.ndarray, known_frames: np.ndarray, query_frames: np.ndarray) -> np.ndarray:
    """Linear interpolation of (C, T, V, M) along time from ``known_frames`` to ``query_frames``
    (fractional allowed); queries outside the known range take the nearest known frame."""
    known = np.asarray(known_frames, dtype=np.float64)
    query = np.asarray(query_frames, dtype=np.float64)
    src = x[:, np.asarray(known_frames, dtype=np.int64)]
    pos = np.interp(query, known, np.arange(len(known), dtype=np.float64))
    lo = np.floor(pos).astype(np.int64)
    hi = np.minimum(lo + 1, len(known) - 1)
    w = (pos - lo)[None, :, None, None]
    return ((1 - w) * src[:, lo] + w * src[:, hi]).astype(x.dtype)


class Quantise:
    """Rounds coordinates to multiples of ``step`` (sensor resolution loss)."""

    def __init__(self, step: float = 0.02, channels: Sequence[int] | None = None):
        if step <= 0:
            raise ValueError(f"Quantise: step must be > 0, got {step}")
        self.step = float(step)
        self.channels = None if channels is None else tuple(int(c) for c in channels)

    def __call__(self, x, rng):
        x = check_clip(x)
        out = x.copy()
        chans = slice(None) if self.channels is None else list(self.channels)
        out[chans] = np.round(x[chans] / self.step) * self.step
        return out

    def config(self):
        return {"name": "quantise", "step": self.step, "channels": self.channels}


class JointSubset:
    """Keeps only ``keep`` joints (a cheaper sensor); every other joint takes the position of
    the nearest kept joint in graph hops, so the output still has the full layout."""

    def __init__(self, layout: str | Layout, keep: Sequence[int | str]):
        self.layout = get_layout(layout)
        idx = []
        for k in keep:
            idx.append(self.layout.index(k) if isinstance(k, str) else int(k))
        if not idx or min(idx) < 0 or max(idx) >= self.layout.num_joints:
            raise ValueError(f"JointSubset: keep must name 1..{self.layout.num_joints} joints of "
                             f"layout {self.layout.name!r}, got {list(keep)}")
        self.keep = tuple(sorted(set(idx)))
        hops = hop_matrix(self.layout)[:, list(self.keep)]
        self.source = np.asarray(self.keep)[np.argmin(hops, axis=1)]  # (V,) kept joint to copy

    def __call__(self, x, rng):
        x = check_clip(x)
        if x.shape[2] != self.layout.num_joints:
            raise ValueError(f"JointSubset for layout {self.layout.name!r} expects V="
                             f"{self.layout.num_joints}, got x with V={x.shape[2]}")
        return x[:, :, self.source].copy()

    def config(self):
        # NB: a custom layout is stored whole, so the config rebuilds this generator anywhere
        builtin = BUILTIN_LAYOUTS.get(self.layout.name) == self.layout
        return {"name": "joint_subset", "layout": self.layout.name if builtin else self.layout.to_dict(),
                "keep": list(self.keep)}


class ConfidenceNoise:
    """2D pose data with a confidence channel: Gaussian noise on the coordinates with a
    standard deviation growing as confidence falls: sigma * (1 - score)."""

    def __init__(self, sigma: float = 0.05, score_channel: int = 2):
        if sigma < 0:
            raise ValueError(f"ConfidenceNoise: sigma must be >= 0, got {sigma}")
        self.sigma, self.score_channel = float(sigma), int(score_channel)

    def __call__(self, x, rng):
        x = check_clip(x)
        if x.shape[0] <= self.score_channel:
            raise ValueError(f"ConfidenceNoise needs a score channel {self.score_channel}, x has "
                             f"C={x.shape[0]}; use GaussianJitter for data without confidences")
        score = np.clip(x[self.score_channel], 0.0, 1.0)
        out = x.astype(np.float64, copy=True)
        coords = [c for c in range(x.shape[0]) if c != self.score_channel]
        std = self.sigma * (1.0 - score) * (score > 0)  # NB: undetected joints (score 0) stay 0
        out[coords] += std[None] * rng.standard_normal((len(coords),) + score.shape)
        return out.astype(x.dtype)

    def config(self):
        return {"name": "confidence_noise", "sigma": self.sigma, "score_channel": self.score_channel}


class Compose:
    """Applies generators in order with one shared generator stream."""

    def __init__(self, steps: Sequence):
        self.steps = list(steps)

    def __call__(self, x, rng):
        for step in self.steps:
            x = step(x, rng)
        return x

    def config(self):
        return {"name": "compose", "steps": [s.config() for s in self.steps]}


_GENERATORS = {
    "skd_occlusion": SKDOcclusion, "gaussian_jitter": GaussianJitter, "frame_drop": FrameDrop,
    "quantise": Quantise, "joint_subset": JointSubset, "confidence_noise": ConfidenceNoise,
}


def build_lq(config: dict | Sequence[dict] | None):
    """A generator from plain data (what ``config()`` returns, or a list of such dicts).

    ``None`` gives the SKD reference ``SKDOcclusion()`` (p=0.6, window 3).
    """
    check_lq_config(config)
    if config is None:
        return SKDOcclusion()
    if isinstance(config, (list, tuple)):
        return Compose([build_lq(c) for c in config])
    config = dict(config)
    name = config.pop("name", None)
    if name == "compose":
        return Compose([build_lq(c) for c in config.get("steps", [])])
    if name not in _GENERATORS:
        raise ValueError(f"unknown LQ generator {name!r}; known: {sorted(_GENERATORS) + ['compose']}")
    try:
        return _GENERATORS[name](**config)
    except TypeError as err:
        raise ValueError(f"bad parameters for LQ generator {name!r}: {err}") from None


def sample_rng(seed: int, index: int, epoch: int | None = None) -> np.random.Generator:
    """The generator for one sample: depends only on (seed, index[, epoch]), never on order,
    chunking or worker, so LQ is reproducible whatever the processing layout."""
    key = [int(seed), int(index)] if epoch is None else [int(seed), int(index), int(epoch), 1]
    return np.random.default_rng(key)
