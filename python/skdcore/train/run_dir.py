"""A run directory never loses a result: an existing run is refused unless resumed or moved aside.

A run directory holds ``config.yaml`` (the resolved config), ``train.log`` (plain text),
``log.csv`` (one row per epoch), ``last.pt`` / ``best.pt`` and ``results.json``. Training into a
directory that already holds any of them is an error unless ``--resume`` (continue it) or
``--force`` (rename the old run to ``<dir>.old-<timestamp>`` first; nothing is deleted).
"""
from __future__ import annotations

import time
from pathlib import Path
from typing import Optional

# Files that make a directory a run (one of them is enough to refuse overwriting it).
RUN_FILES = ("last.pt", "best.pt", "log.csv", "train.log", "results.json", "tensorboard")


class RunExistsError(FileExistsError):
    """Training into a directory that already holds a run, without --resume or --force."""


def existing_run_files(out: Path) -> list:
    out = Path(out)
    return [name for name in RUN_FILES if (out / name).exists()]


def check_run_dir(out: Path, resume: bool = False, force: bool = False) -> None:
    """Raise RunExistsError when ``out`` holds a run and neither resume nor force is set."""
    if resume and force:
        raise ValueError("--resume and --force exclude each other: --resume continues the run in output_dir, "
                         "--force moves it aside and starts again")
    found = existing_run_files(out)
    if found and not resume and not force:
        raise RunExistsError(f"output_dir {out} already holds a run ({', '.join(found)}); continue it with "
                             "--resume, move it aside with --force (kept as <dir>.old-<time>), or choose "
                             "another --output-dir")


def move_run_aside(out: Path) -> Optional[Path]:
    """Rename an existing run directory to ``<out>.old-<UTC time>`` (a free name); None if there was none."""
    out = Path(out)
    if not existing_run_files(out):
        return None
    stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime())
    target = out.with_name(f"{out.name}.old-{stamp}")
    suffix = 1
    while target.exists():
        target = out.with_name(f"{out.name}.old-{stamp}-{suffix}")
        suffix += 1
    out.rename(target)
    return target
