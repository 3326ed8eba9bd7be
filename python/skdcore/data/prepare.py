"""``prepare_dataset``: a source -> memory-mapped HQ+LQ arrays + labels + splits + manifest
(the ``skd prepare`` command is :mod:`skdcore.commands.prepare`).

On-disk format (one directory):

- ``data.npy``      (N, 2C, T, V, M) float32; channels 0..C-1 LQ, C..2C-1 HQ (the
                    reference's 6-channel layout for C=3); open with ``np.load(mmap_mode='r')``
- ``labels.npy``    (N,) int64; -1 marks a sample skipped because its file was malformed
- ``split_<name>.npy`` int64 sample indices (skipped samples excluded)
- ``samples.txt``   one sample key (file name) per line
- ``manifest.json`` format version, source, parameters, seed, the full layout dict, the
                    frame and normalisation policies, held-out splits, counts, skipped
                    files and sha256 of every file above (:mod:`.manifest`)

Every clip is processed independently with the generator ``sample_rng(seed, i)``, so the
output does not depend on chunking, worker count or interruptions.  The arrays are
filled chunk by chunk in ``*.partial`` files; ``progress.json`` (rewritten atomically
after each flushed chunk) records finished chunks, so a killed run resumes where it
stopped.  Final files appear by rename only when everything is done.
"""
from __future__ import annotations

import hashlib
import logging
import os
import shutil
import sys
from pathlib import Path

import numpy as np

from ..atomic_io import (
    atomic_save_npy,
    atomic_write_bytes,
    atomic_write_json,
    preallocate,
    remove_stale_temp_files,
)
from ..safe_names import check_file_name
from .holdout import hold_out
from .lq import build_lq, cut_or_pad, sample_rng
from .manifest import (
    MANIFEST_NAME,
    PROGRESS_NAME,
    read_json_or_none,
    sha256_file,
    write_manifest,
)
from .prepare_checks import check_chunk_bytes, check_prepare_arguments
from .skip_reasons import skip_reason, strict_error
from .sources import ReaderError, SkeletonSource, make_source, stable_json
from .transforms import pre_normalise

FORMAT_VERSION = 1
REFERENCE_NUM_FRAMES = 100  # the SKD reference's stored clip length
log = logging.getLogger("skdcore.data.prepare")

_FINAL_FILES = ("data.npy", "labels.npy", "samples.txt")


# --------------------------------------------------------------------------- per-chunk work
def process_sample(source: SkeletonSource, index: int, lq_generator, seed: int, num_frames: int,
                   normalise: bool) -> tuple[np.ndarray, int]:
    """(2C, T, V, M) LQ+HQ block and the label of sample ``index``.

    LQ is made on the full-length clip, then both are cut/padded (reference order).
    """
    x, label = source.load(index)
    x = np.asarray(x, dtype=np.float32)
    expected = (source.num_channels, source.layout.num_joints, source.num_persons)
    if x.ndim != 4 or (x.shape[0], x.shape[2], x.shape[3]) != expected or x.shape[1] == 0:
        raise ReaderError(f"{source.keys[index]}: reader returned shape {x.shape}, "
                          f"expected (C, T, V, M) with (C, V, M)={expected} and T > 0")
    if normalise:
        x = pre_normalise(x, source.layout, num_coords=source.num_coords)
    lq = lq_generator(x, sample_rng(seed, index))
    block = np.concatenate([cut_or_pad(lq, num_frames), cut_or_pad(x, num_frames)])
    if not np.all(np.isfinite(block)):  # NB: never write a non-finite clip, whatever the reader let through
        raise ReaderError(f"{source.keys[index]}: the prepared clip contains NaN or Inf; skipped")
    return block, int(label)


def _process_chunk(job):
    """Worker entry: returns (start, block, labels, errors) for samples start..stop-1."""
    source, lq_config, seed, num_frames, normalise, start, stop, shape, strict = job
    lq_generator = build_lq(lq_config)
    block = np.zeros((stop - start,) + shape, dtype=np.float32)
    labels = np.full(stop - start, -1, dtype=np.int64)
    errors = []
    for i in range(start, stop):
        try:
            block[i - start], labels[i - start] = process_sample(
                source, i, lq_generator, seed, num_frames, normalise)
        except Exception as err:  # noqa: BLE001 - one clip's bad data skips that clip (or is fatal: strict)
            if strict:
                raise strict_error(err, source.keys[i]) from err
            errors.append({"index": i, "key": source.keys[i], "error": skip_reason(err, source.keys[i])})
    return start, block, labels, errors


# --------------------------------------------------------------------------- policies
def frame_policy(src: SkeletonSource, num_frames: int | None) -> dict:
    """How clip lengths become the stored T, as plain data for the manifest and the console.

    ``num_frames`` None keeps every clip's own frames (stored T = the longest clip, shorter clips
    zero-padded at the end); only sources that know their clip lengths allow it, except the file
    readers, which fall back to the reference's 100 frames and say so.
    """
    lengths = src.clip_lengths()
    if num_frames is None and lengths is None:
        text = (f"clip lengths unknown before reading: every clip cut/padded to the reference's "
                f"{REFERENCE_NUM_FRAMES} frames (longer: uniform subsampling; shorter: zero-padded at the "
                "end); pass --num-frames to choose")
        return {"policy": "cut_or_pad", "num_frames": REFERENCE_NUM_FRAMES, "lengths": "unknown",
                "description": text}
    if num_frames is not None and int(num_frames) < 1:
        raise ValueError(f"num_frames must be >= 1 or None (keep each clip's frames), got {num_frames}")
    stats = {}
    if lengths is not None:
        lengths = np.asarray(lengths, dtype=np.int64)
        if lengths.size == 0:
            raise ValueError(f"source {src.name!r} has no clips")
        stats = {"min_length": int(lengths.min()), "max_length": int(lengths.max())}
    if num_frames is None:
        T = stats["max_length"]
        padded = int((lengths < T).sum())
        text = (f"keep each clip's frames ({stats['min_length']}..{T}); stored T={T}"
                + (f", {padded} shorter clips zero-padded at the end" if padded else ", no padding"))
        return {"policy": "keep", "num_frames": T, **stats, "padded": padded, "cut": 0, "description": text}
    T = int(num_frames)
    policy = {"policy": "cut_or_pad", "num_frames": T, **stats}
    if lengths is not None:
        policy["cut"], policy["padded"] = int((lengths > T).sum()), int((lengths < T).sum())
        extra = f": {policy['cut']} clips subsampled, {policy['padded']} zero-padded"
    else:
        extra = ""
    policy["description"] = (f"every clip cut/padded to {T} frames (longer: uniform subsampling; shorter: "
                             f"zero-padded at the end){extra}")
    return policy


def normalisation_policy(src: SkeletonSource, normalise: bool) -> dict:
    """What ``normalise`` does to this source's clips, as plain data for the manifest and the console."""
    if not normalise:
        return {"normalise": False, "description": "none: coordinates stored as given"}
    layout = src.layout
    roles = ("spine_base", "spine_top", "left_shoulder", "right_shoulder")
    rotates = src.num_coords >= 3 and all(r in layout.roles for r in roles)
    text = f"centre on joint {layout.joint_names[layout.center]!r} of person 0 per frame"
    text += (" + rotation alignment (spine along z, shoulders along x)" if rotates
             else " (no rotation: needs 3-D data and roles spine_base, spine_top, left/right_shoulder)")
    return {"normalise": True, "center_joint": layout.joint_names[layout.center], "rotation": rotates,
            "description": text}


# --------------------------------------------------------------------------- main entry
def prepare_dataset(
    out_dir: str | Path,
    source: str | SkeletonSource = "synthetic",
    source_options: dict | None = None,
    *,
    lq=None,
    seed: int = 0,
    num_frames: int | None = None,
    normalise: bool | None = None,
    val_fraction: float = 0.0,
    test_fraction: float = 0.0,
    holdout_from: str | None = None,
    chunk_size: int = 128,
    workers: int = 0,
    force: bool = False,
    progress: bool = True,
    strict: bool = False,
) -> dict:
    """Write the prepared dataset to ``out_dir`` and return its manifest.

    Args:
        source: a source name ('synthetic', 'arrays', 'ntu', 'kinetics', 'pyskl', 'penn') with
            ``source_options``, or a :class:`SkeletonSource` instance (e.g. an ArraySource).
        lq: LQ generator config (see :func:`skdcore.data.lq.build_lq`); None = SKD reference
            occlusion p=0.6, window 3.
        seed: seeds every sample's LQ generator (with the sample index) and the held-out splits.
        num_frames: stored length T (cut/pad as the reference). None keeps every clip's frames
            (stored T = the longest clip) for sources that know their lengths; the file readers
            then use the reference's 100. The policy is in ``manifest['frames']``.
        normalise: centre on ``layout.center`` + rotation alignment before LQ generation; None =
            the source's default (on for the dataset readers and synthetic data, off for arrays).
            The policy is in ``manifest['normalisation']``.
        test_fraction: hold this fraction of the train split out as a 'test' split, for sources that
            have none (arrays without split names): by subject when the source knows subjects,
            else stratified by class; seeded.
        val_fraction: then hold this fraction of what is left out as a 'val' split (model selection).
        holdout_from: the split the held-out samples come from (default 'train', or the only '*_train').
        workers: >0 uses that many processes.
        force: overwrite a directory holding a different configuration.
        strict: the first malformed input file raises its ReaderError (default: skip it, count it and
            list it with its reason in the manifest's ``skipped``).
    """
    out = Path(out_dir)
    check_prepare_arguments(source_options, seed, num_frames)
    src = make_source(source, **(source_options or {})) if isinstance(source, str) else source
    lq_generator = build_lq(lq)
    frames = frame_policy(src, num_frames)
    num_frames = frames["num_frames"]
    normalise = src.default_normalise if normalise is None else bool(normalise)
    if chunk_size < 1 or workers < 0:
        raise ValueError(f"need chunk_size >= 1, workers >= 0; got {chunk_size}, {workers}")
    for name, value in (("val_fraction", val_fraction), ("test_fraction", test_fraction)):
        if not 0.0 <= float(value) < 1.0:
            raise ValueError(f"{name} must be in [0, 1), got {value} (0.1 holds out 10% of the train split)")
    N, C, V, M = len(src), src.num_channels, src.layout.num_joints, src.num_persons
    shape = (2 * C, int(num_frames), V, M)
    check_chunk_bytes(chunk_size, shape)
    config = {
        "format_version": FORMAT_VERSION, "source": src.config(), "lq": lq_generator.config(),
        "seed": int(seed), "num_frames": int(num_frames), "normalise": bool(normalise),
    }
    # NB: test first, then val out of what is left for training
    holdouts = {k: float(v) for k, v in (("test", test_fraction), ("val", val_fraction)) if v}
    if holdouts:  # NB: only then, so configurations prepared before hold-outs existed keep their hash
        config["holdout"] = {"fractions": holdouts, "from": holdout_from}
    config_hash = hashlib.sha256(stable_json(config).encode()).hexdigest()

    out.mkdir(parents=True, exist_ok=True)
    remove_stale_temp_files(out)  # of a run interrupted mid-write (e.g. progress.json.tmp<pid>)
    manifest_path, progress_path = out / MANIFEST_NAME, out / PROGRESS_NAME
    existing = read_json_or_none(manifest_path) or read_json_or_none(progress_path)
    if existing is not None and existing.get("config_hash") != config_hash:
        if not force:
            raise FileExistsError(
                f"{out} already holds a prepared dataset with a different configuration "
                f"(its config: {stable_json(existing.get('config'))}); "
                "choose another directory or pass force=True (--force)")
        _clear(out)
    elif existing is not None and manifest_path.exists():
        log.info("%s is already prepared with this configuration; nothing to do", out)
        return existing

    data_tmp, labels_tmp = out / "data.npy.partial", out / "labels.npy.partial"
    state = read_json_or_none(progress_path)
    for partial in (data_tmp, labels_tmp):
        if partial.is_symlink():
            raise ValueError(f"{partial} is a symbolic link; refusing to write through it (remove it or "
                             "choose another --out)")
    if state is None or not data_tmp.exists() or not labels_tmp.exists():
        state = {"config_hash": config_hash, "config": config, "chunk_size": int(chunk_size),
                 "done_chunks": [], "errors": []}
        np.lib.format.open_memmap(data_tmp, mode="w+", dtype=np.float32, shape=(N,) + shape).flush()
        init_labels = np.lib.format.open_memmap(labels_tmp, mode="w+", dtype=np.int64, shape=(N,))
        init_labels[:] = -1
        init_labels.flush()
        del init_labels  # NB: unmapped now, not held by a traceback if preallocate fails below
        atomic_write_json(progress_path, state)
    for partial in (data_tmp, labels_tmp):  # NB: disk reserved first: a full disk is an error, not SIGBUS
        preallocate(partial, partial.stat().st_size)
    data = np.lib.format.open_memmap(data_tmp, mode="r+")
    labels = np.lib.format.open_memmap(labels_tmp, mode="r+")
    if data.shape != (N,) + shape:
        raise RuntimeError(f"{data_tmp} has shape {data.shape}, expected {(N,) + shape}; "
                           "rerun with force=True")

    chunk_size = int(state["chunk_size"])  # NB: a resumed run keeps the chunking it started with
    done = set(state["done_chunks"])
    starts = [s for s in range(0, N, chunk_size) if s not in done]
    jobs = [(src, config["lq"], int(seed), int(num_frames), bool(normalise), s, min(s + chunk_size, N), shape,
             bool(strict)) for s in starts]
    bar = _progress_bar(N, len(done) and sum(min(chunk_size, N - s) for s in done), progress, out)
    try:
        for start, block, chunk_labels, errors in _run_jobs(jobs, workers):
            data[start:start + len(block)] = block
            labels[start:start + len(block)] = chunk_labels
            data.flush()
            labels.flush()
            for e in errors:
                log.warning("skipping %s: %s", e["key"], e["error"])
            state["errors"].extend(errors)
            state["done_chunks"].append(start)
            atomic_write_json(progress_path, state)  # NB: only after the chunk is flushed
            if bar is not None:
                bar.update(len(block))
    finally:
        if bar is not None:
            bar.close()
        del data
    policies = {"frames": frames, "normalisation": normalisation_policy(src, normalise)}
    return _finalise(out, src, labels, state, config, config_hash, N, shape, policies)


def _split_indices(src: SkeletonSource, labels: np.ndarray, config: dict) -> tuple[dict, dict]:
    """The source's splits without skipped samples, then the requested hold-outs carved out of
    the train split: ({name: indices}, {held-out name: how it was made})."""
    valid = labels >= 0
    splits = {}
    for name, idx in src.splits().items():
        check_file_name(name, "a split name in the source data (it names split_<name>.npy)")
        idx = np.asarray(idx, dtype=np.int64)
        splits[name] = idx[valid[idx]]
    holdout = config.get("holdout")
    if not holdout:
        return splits, {}
    origin = holdout["from"] or _default_train_split(splits)
    if origin not in splits:
        raise ValueError(f"holdout_from={origin!r} is not a split of this source; splits: {sorted(splits)}")
    subjects = src.subjects()
    made = {}
    for kind, fraction in holdout["fractions"].items():
        name = kind if origin == "train" else f"{origin}_{kind}"
        if name in splits and name != origin:
            raise ValueError(f"the source already has a split {name!r}; drop --{kind}-fraction or use it")
        seed = config["seed"]
        rest, held, by = hold_out(splits[origin], labels, subjects, fraction, seed=seed)
        if held.size == 0 or rest.size == 0:
            raise ValueError(f"--{kind}-fraction {fraction} of split {origin!r} ({splits[origin].size} "
                             f"clips) leaves {held.size} held out and {rest.size} kept; "
                             "choose a fraction with clips on both sides "
                             "(and --force to rerun into the same directory)")
        splits[origin], splits[name] = rest, held
        made[name] = {"from": origin, "fraction": fraction, "by": by, "seed": seed, "count": int(held.size)}
    return splits, made


def _default_train_split(splits: dict) -> str:
    if "train" in splits:
        return "train"
    candidates = [n for n in splits if n.endswith("_train")]
    if len(candidates) == 1:
        return candidates[0]
    raise ValueError(f"cannot tell which split to hold samples out from (splits: {sorted(splits)}); "
                     "pass holdout_from / --holdout-from")


def _finalise(out: Path, src, labels, state, config, config_hash, N, shape, policies) -> dict:
    labels_arr = np.array(labels)
    del labels
    splits, holdouts = _split_indices(src, labels_arr, config)  # NB: before renames: fail early
    os.replace(out / "data.npy.partial", out / "data.npy")
    atomic_save_npy(out / "labels.npy", labels_arr)
    os.remove(out / "labels.npy.partial")
    atomic_write_bytes(out / "samples.txt", ("\n".join(src.keys) + "\n").encode(errors="backslashreplace"))
    valid = labels_arr >= 0
    split_counts = {}
    files = list(_FINAL_FILES)
    for name, idx in splits.items():
        atomic_save_npy(out / f"split_{name}.npy", idx)
        split_counts[name] = int(idx.size)
        files.append(f"split_{name}.npy")
    manifest = {
        "config_hash": config_hash, "config": config, "format_version": FORMAT_VERSION,
        "shape": [N, *shape], "channels": {"lq": [0, shape[0] // 2], "hq": [shape[0] // 2, shape[0]]},
        "layout": src.layout.to_dict(), "label_names": list(src.label_names) if src.label_names else None,
        "num_classes": src.num_classes or (len(src.label_names) if src.label_names
                                           else int(labels_arr.max(initial=-1)) + 1),
        "num_coords": int(src.num_coords),
        "counts": {"samples": N, "valid": int(valid.sum()), "skipped": int((~valid).sum()),
                   "splits": split_counts},
        "holdouts": holdouts, **policies,
        "skipped": state["errors"],
        "sha256": {f: sha256_file(out / f) for f in files},
    }
    write_manifest(out, manifest)
    os.remove(out / PROGRESS_NAME)
    return manifest


_WORKER_SOURCE = None


def _init_worker(source):
    global _WORKER_SOURCE
    _WORKER_SOURCE = source


def _process_chunk_in_worker(job):
    # NB: the source (possibly a large annotation list) travels once per worker, not per chunk
    return _process_chunk((_WORKER_SOURCE,) + job[1:])


def _run_jobs(jobs, workers):
    if workers <= 0 or len(jobs) <= 1:
        for job in jobs:
            yield _process_chunk(job)
        return
    import multiprocessing as mp

    source = jobs[0][0]
    light = [(None,) + job[1:] for job in jobs]
    with mp.get_context("spawn").Pool(workers, initializer=_init_worker, initargs=(source,)) as pool:
        yield from pool.imap_unordered(_process_chunk_in_worker, light)


def _progress_bar(total, initial, enabled, out):
    """A tqdm bar on stderr when it is a terminal; None otherwise (logs and pipes get no bar lines)."""
    if not enabled or not sys.stderr.isatty():
        return None
    try:
        from tqdm import tqdm
    except ImportError:
        return None
    return tqdm(total=total, initial=initial, unit="clip", desc=f"prepare {out.name}")


def _clear(out: Path) -> None:
    """Remove the files a previous prepare wrote (only ours, never the whole directory)."""
    for p in out.iterdir():
        if p.name in _FINAL_FILES or p.name in (MANIFEST_NAME, PROGRESS_NAME) or \
                (p.name.startswith("split_") and p.suffix == ".npy") or \
                ".partial" in p.name or ".tmp" in p.name:
            if p.is_dir():
                shutil.rmtree(p)
            else:
                p.unlink()
