"""The arguments of ``prepare_dataset`` checked before any file is read or allocated, each problem a
ValueError naming the argument (and its ``skd prepare`` option) and the fix."""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping

from ..seed_range import seed_problem
from .readers.base import LIMITS


def check_prepare_arguments(source_options, seed, num_frames) -> None:
    if source_options is not None and not isinstance(source_options, Mapping):
        raise ValueError(
            f"source_options must be a mapping of option names to values (e.g. {{root: raw/, "
            f"benchmarks: [xsub]}}), got a {type(source_options).__name__}"
        )
    problem = seed_problem(seed, "seed (--seed)")
    if problem:
        raise ValueError(problem)
    if num_frames is not None and (
        isinstance(num_frames, bool) or not isinstance(num_frames, numbers.Integral)
        or num_frames > LIMITS.frames
    ):
        raise ValueError(
            f"num_frames (--num-frames) is {num_frames!r}; it must be an integer of at most {LIMITS.frames} "
            "frames (the reference stores 100; every clip is stored at this length)"
        )


MAX_CHUNK_BYTES = 4 << 30  # one chunk of clips is held in memory while it is processed


def check_chunk_bytes(chunk_size: int, clip_shape: tuple) -> None:
    """A stored clip (2C, T, V, M) has every size >= 1 (a source of M=0 persons would store nothing a
    model can read), and a chunk of them must fit in memory: long clips need a smaller chunk_size."""
    if min(clip_shape) < 1:
        channels, frames, joints, persons = clip_shape
        raise ValueError(
            f"the source's clips would be stored as (2C, T, V, M)={tuple(clip_shape)}: every size must be at "
            "least 1" + (" (M=0: no persons; max_persons / max_bodies must be >= 1)" if persons < 1 else "")
        )
    clip_bytes = math.prod(clip_shape) * 4
    if chunk_size * clip_bytes > MAX_CHUNK_BYTES:
        fits = max(1, MAX_CHUNK_BYTES // clip_bytes)
        raise ValueError(
            f"chunk_size (--chunk-size) {chunk_size} clips of shape {tuple(clip_shape)} take "
            f"{chunk_size * clip_bytes / 2**30:.1f} GiB in memory, more than {MAX_CHUNK_BYTES >> 30} GiB; "
            + (f"use --chunk-size {fits} or fewer" if clip_bytes <= MAX_CHUNK_BYTES
               else "store fewer frames (--num-frames)")
        )
