"""``skd prepare``: a source -> memory-mapped HQ+LQ arrays + labels + splits + manifest.

On-disk format (one directory):

- ``data.npy``      (N, 2C, T, V, M) float32; channels 0..C-1 LQ, C..2C-1 HQ (the
                    reference's 6-channel layout for C=3); open with ``np.load(mmap_mode='r')``
- ``labels.npy``    (N,) int64; -1 marks a sample skipped because its file was malformed
- ``split_<name>.npy`` int64 sample indices (skipped samples excluded)
- ``samples.txt``   one sample key (file name) per line
- ``manifest.json`` format version, source, parameters, seed, counts, skipped files and
                    sha256 of every file above

Every clip is processed independently with the generator ``sample_rng(seed, i)``, so the
output does not depend on chunking, worker count or interruptions.  The arrays are
filled chunk by chunk in ``*.partial`` files; ``progress.json`` (rewritten atomically
after each flushed chunk) records finished chunks, so a killed run resumes where it
stopped.  Final files appear by rename only when everything is done.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import logging
import os
import shutil
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ..atomic_io import atomic_save_npy, atomic_write_bytes, atomic_write_json, remove_stale_temp_files
from .lq import build_lq, cut_or_pad, sample_rng
from .sources import ReaderError, SkeletonSource, make_source, stable_json
from .synthetic import ACTION_NAMES
from .transforms import pre_normalise

FORMAT_VERSION = 1
log = logging.getLogger("skdcore.data.prepare")

_FINAL_FILES = ("data.npy", "labels.npy", "samples.txt")


def sha256_file(path: Path, block: int = 1 << 22) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(block):
            digest.update(chunk)
    return digest.hexdigest()


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
        raise ReaderError(f"{source.keys[index]}: reader returned shape {x.shape}, expected (C, T, V, M) with "
                          f"(C, V, M)={expected} and T > 0")
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
            block[i - start], labels[i - start] = process_sample(source, i, lq_generator, seed, num_frames, normalise)
        except ReaderError as err:  # a malformed file is skipped, logged and counted (or fatal: strict)
            if strict:
                raise
            errors.append({"index": i, "key": source.keys[i], "error": str(err)})
    return start, block, labels, errors


# --------------------------------------------------------------------------- main entry
def prepare_dataset(
    out_dir: str | Path,
    source: str | SkeletonSource = "synthetic",
    source_options: dict | None = None,
    *,
    lq=None,
    seed: int = 0,
    num_frames: int | None = 100,
    normalise: bool = True,
    chunk_size: int = 128,
    workers: int = 0,
    force: bool = False,
    progress: bool = True,
    strict: bool = False,
) -> dict:
    """Write the prepared dataset to ``out_dir`` and return its manifest.

    Args:
        source: a source name ('synthetic', 'ntu', 'kinetics', 'pyskl', 'penn') with
            ``source_options``, or a :class:`SkeletonSource` instance.
        lq: LQ generator config (see :func:`skdcore.data.lq.build_lq`); None = SKD reference
            occlusion p=0.6, window 3.
        seed: seeds every sample's LQ generator (with the sample index).
        num_frames: stored length T (cut/pad as the reference); None keeps the source's
            clip length (synthetic only, whose clips all have the same length).
        normalise: centre on ``layout.center`` + rotation alignment before LQ generation.
        workers: >0 uses that many processes.
        force: overwrite a directory holding a different configuration.
        strict: the first malformed input file raises its ReaderError (default: skip it, count it and
            list it with its reason in the manifest's ``skipped``).
    """
    out = Path(out_dir)
    src = make_source(source, **(source_options or {})) if isinstance(source, str) else source
    lq_generator = build_lq(lq)
    if num_frames is None:
        num_frames = getattr(src, "clip_frames", None)
        if num_frames is None:
            raise ValueError(f"num_frames=None only works for fixed-length sources; source {src.name!r} "
                             "needs an explicit num_frames (the reference uses 100)")
    if num_frames < 1 or chunk_size < 1 or workers < 0:
        raise ValueError(f"need num_frames >= 1, chunk_size >= 1, workers >= 0; got {num_frames}, {chunk_size}, {workers}")
    N, C, V, M = len(src), src.num_channels, src.layout.num_joints, src.num_persons
    shape = (2 * C, int(num_frames), V, M)
    config = {
        "format_version": FORMAT_VERSION, "source": src.config(), "lq": lq_generator.config(), "seed": int(seed),
        "num_frames": int(num_frames), "normalise": bool(normalise),
    }
    config_hash = hashlib.sha256(stable_json(config).encode()).hexdigest()

    out.mkdir(parents=True, exist_ok=True)
    remove_stale_temp_files(out)  # of a run interrupted mid-write (e.g. progress.json.tmp<pid>)
    manifest_path, progress_path = out / "manifest.json", out / "progress.json"
    existing = _read_json(manifest_path) or _read_json(progress_path)
    if existing is not None and existing.get("config_hash") != config_hash:
        if not force:
            raise FileExistsError(
                f"{out} already holds a prepared dataset with a different configuration "
                f"(its config: {stable_json(existing.get('config'))}); choose another directory or pass force=True (--force)")
        _clear(out)
    elif existing is not None and manifest_path.exists():
        log.info("%s is already prepared with this configuration; nothing to do", out)
        return existing

    data_tmp, labels_tmp = out / "data.npy.partial", out / "labels.npy.partial"
    state = _read_json(progress_path)
    if state is None or not data_tmp.exists() or not labels_tmp.exists():
        state = {"config_hash": config_hash, "config": config, "chunk_size": int(chunk_size), "done_chunks": [], "errors": []}
        np.lib.format.open_memmap(data_tmp, mode="w+", dtype=np.float32, shape=(N,) + shape).flush()
        init_labels = np.lib.format.open_memmap(labels_tmp, mode="w+", dtype=np.int64, shape=(N,))
        init_labels[:] = -1
        init_labels.flush()
        atomic_write_json(progress_path, state)
    data = np.lib.format.open_memmap(data_tmp, mode="r+")
    labels = np.lib.format.open_memmap(labels_tmp, mode="r+")
    if data.shape != (N,) + shape:
        raise RuntimeError(f"{data_tmp} has shape {data.shape}, expected {(N,) + shape}; rerun with force=True")

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
        # labels still needed below
    return _finalise(out, src, labels, state, config, config_hash, N, shape)


def _finalise(out: Path, src, labels, state, config, config_hash, N, shape) -> dict:
    labels_arr = np.array(labels)
    del labels
    os.replace(out / "data.npy.partial", out / "data.npy")
    atomic_save_npy(out / "labels.npy", labels_arr)
    os.remove(out / "labels.npy.partial")
    atomic_write_bytes(out / "samples.txt", ("\n".join(src.keys) + "\n").encode())
    valid = labels_arr >= 0
    split_counts = {}
    files = list(_FINAL_FILES)
    for name, idx in src.splits().items():
        idx = np.asarray(idx, dtype=np.int64)
        idx = idx[valid[idx]]
        atomic_save_npy(out / f"split_{name}.npy", idx)
        split_counts[name] = int(idx.size)
        files.append(f"split_{name}.npy")
    manifest = {
        "config_hash": config_hash, "config": config, "format_version": FORMAT_VERSION,
        "shape": [N, *shape], "channels": {"lq": [0, shape[0] // 2], "hq": [shape[0] // 2, shape[0]]},
        "layout": src.layout.name, "label_names": list(src.label_names) if src.label_names else None,
        "num_classes": src.num_classes or (len(src.label_names) if src.label_names else int(labels_arr.max(initial=-1)) + 1),
        "counts": {"samples": N, "valid": int(valid.sum()), "skipped": int((~valid).sum()), "splits": split_counts},
        "skipped": state["errors"],
        "sha256": {f: sha256_file(out / f) for f in files},
    }
    atomic_write_json(out / "manifest.json", manifest)
    os.remove(out / "progress.json")
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
    if not enabled:
        return None
    try:
        from tqdm import tqdm
    except ImportError:
        return None
    return tqdm(total=total, initial=initial, unit="clip", desc=f"prepare {out.name}")


def _read_json(path: Path):
    if not path.exists():
        return None
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as err:
        raise RuntimeError(f"{path} is corrupt ({err}); delete it or rerun with force=True") from None


def _clear(out: Path) -> None:
    """Remove the files a previous prepare wrote (only ours, never the whole directory)."""
    for p in out.iterdir():
        if p.name in _FINAL_FILES or p.name in ("manifest.json", "progress.json") or \
                (p.name.startswith("split_") and p.suffix == ".npy") or ".partial" in p.name or ".tmp" in p.name:
            if p.is_dir():
                shutil.rmtree(p)
            else:
                p.unlink()


def load_manifest(root: str | Path) -> dict:
    path = Path(root) / "manifest.json"
    if not path.exists():
        hint = " (an unfinished prepare: rerun the same command to resume)" if (Path(root) / "progress.json").exists() else ""
        raise FileNotFoundError(f"{path} not found{hint}; create the dataset with skd prepare / prepare_dataset()")
    return json.loads(path.read_text())


def verify_checksums(root: str | Path) -> None:
    """Raise ValueError naming the first file whose sha256 differs from the manifest."""
    root = Path(root)
    for name, expected in load_manifest(root)["sha256"].items():
        actual = sha256_file(root / name)
        if actual != expected:
            raise ValueError(f"{root / name}: sha256 {actual[:12]}... differs from manifest {expected[:12]}...; "
                             "the file changed or is truncated, rerun prepare with --force")


# --------------------------------------------------------------------------- CLI
LQ_PRESETS = {
    "skd": None,
    "jitter": {"name": "gaussian_jitter", "sigma": 0.02},
    "frame_drop": {"name": "frame_drop", "p": 0.5},
    "quantise": {"name": "quantise", "step": 0.05},
    "none": {"name": "compose", "steps": []},
}


UNTRUSTED_FILES_HELP = """\
Untrusted files: input files are read as untrusted. A malformed, truncated or crafted file is skipped
with a reason naming the file (listed under 'skipped' in manifest.json and printed at the end;
--strict stops at the first one instead); sizes a file declares are capped before anything is
allocated, scipy parses .mat files in a child process (a crash costs that file only), and no clip
with NaN/Inf is written. PYSKL pickles are loaded with a restricted unpickler that allows only
builtin containers and numpy arrays: a pickle asking for anything else (which could run code) is
refused; --trust-pickle loads it with plain pickle, only for files from a source you trust."""


def add_prepare_arguments(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    parser.add_argument("--source", default="synthetic", choices=["synthetic", "ntu", "kinetics", "pyskl", "penn"],
                        help="where clips come from (default: the embedded synthetic generator)")
    parser.add_argument("--input", help="raw data: NTU .skeleton folder, Kinetics JSON folder, PYSKL .pkl, Penn labels folder")
    parser.add_argument("--out", required=True, help="output directory")
    parser.add_argument("--benchmark", help="NTU: xsub / xview (NTU60) / xset (NTU120); PYSKL: split prefix")
    parser.add_argument("--label-file", help="Kinetics: label index JSON")
    parser.add_argument("--missing-list", help="NTU: text file of sample names to skip")
    parser.add_argument("--num-samples", type=int, default=1600, help="synthetic: number of clips")
    parser.add_argument("--clip-frames", type=int, default=64, help="synthetic: frames per clip")
    parser.add_argument("--num-classes", type=int, default=len(ACTION_NAMES),
                        help=f"synthetic: number of classes (<= {len(ACTION_NAMES)})")
    parser.add_argument("--num-frames", type=int, default=100, help="stored frames T (0 keeps the synthetic clip length)")
    parser.add_argument("--lq", default="skd", help=f"LQ preset {sorted(LQ_PRESETS)} or a JSON config")
    parser.add_argument("--p", type=float, default=0.6, help="occlusion probability of the 'skd' preset")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-normalise", action="store_true", help="skip centring and rotation alignment")
    parser.add_argument("--chunk-size", type=int, default=128)
    parser.add_argument("--workers", type=int, default=0)
    parser.add_argument("--force", action="store_true", help="overwrite a different existing configuration")
    parser.add_argument("--strict", action="store_true",
                        help="stop at the first malformed input file (default: skip it, count it and list it with "
                             "its reason in manifest.json)")
    parser.add_argument("--trust-pickle", action="store_true",
                        help="PYSKL: load the pickle with plain pickle, which can run code from the file; by default "
                             "only builtin containers and numpy arrays are allowed (see 'Untrusted files' in README)")
    return parser


def _lq_from_args(args):
    if args.lq == "skd":
        return {"name": "skd_occlusion", "p": args.p, "window": 3}
    if args.lq in LQ_PRESETS:
        return LQ_PRESETS[args.lq]
    try:
        return json.loads(args.lq)
    except json.JSONDecodeError:
        raise SystemExit(f"--lq: {args.lq!r} is neither a preset {sorted(LQ_PRESETS)} nor valid JSON") from None


def _source_options(args) -> dict:
    if args.source == "synthetic":
        return {"num_samples": args.num_samples, "clip_frames": args.clip_frames,
                "num_classes": args.num_classes, "seed": args.seed}
    if not args.input:
        raise SystemExit(f"--source {args.source} needs --input PATH")
    opts = {"root": args.input}
    if args.source == "ntu":
        opts["benchmarks"] = [args.benchmark] if args.benchmark else None
        opts["missing_list"] = args.missing_list
    elif args.source == "kinetics":
        opts["label_file"] = args.label_file
    elif args.source == "pyskl":
        if args.benchmark:
            opts["split_prefix"] = args.benchmark
        if getattr(args, "trust_pickle", False):
            opts["trust_pickle"] = True
    return opts


def run_prepare(args) -> dict:
    num_frames = None if args.num_frames == 0 else args.num_frames
    manifest = prepare_dataset(
        args.out, args.source, _source_options(args), lq=_lq_from_args(args), seed=args.seed,
        num_frames=num_frames, normalise=not args.no_normalise, chunk_size=args.chunk_size,
        workers=args.workers, force=args.force, strict=getattr(args, "strict", False),
    )
    counts = manifest["counts"]
    print(f"prepared {args.out}: {counts['valid']} clips ({counts['skipped']} skipped), splits {counts['splits']}, "
          f"array {manifest['shape']}")
    print_skipped_summary(manifest)
    return manifest


def print_skipped_summary(manifest: dict, show: int = 10) -> None:
    """The skipped input files with their reasons (the first ``show``; all are in manifest.json)."""
    skipped = manifest.get("skipped") or []
    if not skipped:
        return
    print(f"skipped {len(skipped)} malformed input file(s) (all listed under 'skipped' in manifest.json):")
    for entry in skipped[:show]:
        print(f"  {entry['key']}: {entry['error']}")
    if len(skipped) > show:
        print(f"  ... and {len(skipped) - show} more")


def main(argv: Sequence[str] | None = None) -> int:
    parser = add_prepare_arguments(argparse.ArgumentParser(
        prog="skd prepare", description=__doc__.splitlines()[0], epilog=UNTRUSTED_FILES_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter))
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s")
    try:
        run_prepare(args)
    except (ValueError, FileExistsError, FileNotFoundError) as err:
        print(f"skd prepare: error: {err}")
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
