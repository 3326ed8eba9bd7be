"""A run directory never loses a result: an existing run is refused unless resumed or moved aside, and a
run in progress locks its directory against a second one.

A run directory holds ``config.yaml`` (the resolved config), ``train.log`` (plain text),
``log.csv`` (one row per epoch), ``last.pt`` / ``best.pt`` and ``results.json``. Training into a
directory that already holds any of them is an error unless ``--resume`` (continue it) or
``--force`` (rename the old run to ``<dir>.old-<timestamp>`` first; nothing is deleted). A run that
stopped before its first checkpoint has nothing to continue: ``--resume`` starts it from scratch.

While a run trains, rank 0 holds an exclusive ``flock`` on ``<dir>/.skd-run.lock``, so a second
``skd train`` into the same directory (with or without --resume / --force) fails at once naming the
process that holds it. The operating system drops the lock when that process ends, however it ends
(Ctrl-C, a crash, SIGKILL): a stale lock file never blocks anything.
"""
from __future__ import annotations

import os
import socket
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from ..atomic_io import open_no_follow

try:
    import fcntl
except ImportError:  # NB: not on Windows; there the directory is not locked
    fcntl = None

# Files that make a directory a run (one of them is enough to refuse overwriting it).
RUN_FILES = ("last.pt", "best.pt", "log.csv", "train.log", "results.json", "tensorboard")
CHECKPOINTS = ("last.pt", "best.pt")
LOCK_NAME = ".skd-run.lock"


class RunExistsError(FileExistsError):
    """Training into a directory that already holds a run, without --resume or --force."""


class RunLockedError(RuntimeError):
    """Another process is training into the same run directory right now."""


def existing_run_files(out: Path) -> list:
    out = Path(out)
    return [name for name in RUN_FILES if (out / name).exists()]


def check_run_dir(out: Path, resume: bool = False, force: bool = False) -> None:
    """Raise RunExistsError when ``out`` holds a run and neither resume nor force is set."""
    if resume and force:
        raise ValueError("--resume and --force exclude each other: --resume continues the run in output_dir, "
                         "--force moves it aside and starts again")
    found = existing_run_files(out)
    if not found or resume or force:
        return
    if not any(name in found for name in CHECKPOINTS):
        raise RunExistsError(f"output_dir {out} holds a run with no checkpoint yet ({', '.join(found)}: it "
                             "stopped before its first checkpoint?); start it again from scratch with "
                             "--resume, move it aside with --force (kept as <dir>.old-<time>), or choose "
                             "another --output-dir")
    raise RunExistsError(f"output_dir {out} already holds a run ({', '.join(found)}); continue it with "
                         "--resume, move it aside with --force (kept as <dir>.old-<time>), or choose "
                         "another --output-dir")


def resume_or_fresh(out: Path, resume: bool) -> tuple:
    """(resume from last.pt?, a note for the log): ``--resume`` of a run that stopped before its first
    checkpoint starts it from scratch; one with best.pt but no last.pt is refused (a fresh start would
    overwrite that result)."""
    out = Path(out)
    if not resume or (out / "last.pt").exists() or not existing_run_files(out):
        return resume, None  # NB: no run there at all (a wrong path?): resuming it says last.pt is missing
    if (out / "best.pt").exists():
        raise RunExistsError(f"--resume: {out} holds best.pt but no last.pt, so there is nothing to continue "
                             "from; move the run aside with --force (kept as <dir>.old-<time>) or choose "
                             "another --output-dir")
    return False, (f"--resume: {out} holds no last.pt (the run stopped before its first checkpoint): "
                   "starting from scratch")


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


class RunLock:
    """An exclusive lock on a run directory, held by this process until :meth:`release` or its end."""

    def __init__(self, out: Path):
        self.out = Path(out)
        self._file = None

    def acquire(self) -> "RunLock":
        if fcntl is None:
            return self
        try:
            handle = open_no_follow(self.out / LOCK_NAME, "a+")  # NB: never through a planted link
        except OSError as error:
            raise RunLockedError(f"cannot lock {self.out}: {error.strerror or error}") from None
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            handle.seek(0)
            holder = handle.read().strip() or "another process"
            handle.close()
            raise RunLockedError(f"output_dir {self.out} is in use: {holder} is writing into it; wait for "
                                 "that run to end (or stop it), or choose another --output-dir") from None
        handle.seek(0)
        handle.truncate()
        handle.write(f"pid {os.getpid()} on host {socket.gethostname()}\n")
        handle.flush()
        self._file = handle
        return self

    def release(self) -> None:
        if self._file is not None:
            self._file.close()  # NB: closing the descriptor drops the flock
            self._file = None


@dataclass
class RunClaim:
    """What :func:`claim_run_dir` decided: the lock (rank 0), whether to resume, what to log."""
    lock: Optional[RunLock] = None
    resume: bool = False
    moved_aside: Optional[Path] = None
    note: Optional[str] = None

    def release(self) -> None:
        if self.lock is not None:
            self.lock.release()


def claim_run_dir(out: Path, resume: bool = False, force: bool = False, dist=None) -> RunClaim:
    """Lock ``out`` for this run (rank 0 only), then refuse an existing run, or move it aside (``force``),
    or decide between resuming and a fresh start (``resume``). Every rank gets the same decision, and
    every rank raises when rank 0 could not claim the directory."""
    from ..distill.distributed import DistInfo
    from ..output_paths import OutputPathError, check_output_dir
    from .distributed import average_over_ranks

    dist = dist or DistInfo()
    out = Path(out)
    if resume and force:
        check_run_dir(out, resume, force)  # the error that says they exclude each other
    claim, error = RunClaim(), None
    try:
        resume_now, note = resume_or_fresh(out, resume)  # NB: read before rank 0 changes anything
        refused = None
    except RunExistsError as failure:
        resume_now, note, refused = False, None, failure  # NB: a run in use says so first (the lock)
    if dist.is_main:
        try:
            check_output_dir(out, "output_dir")
            claim.lock = RunLock(out).acquire()
            if refused is not None:
                raise refused
            check_run_dir(out, resume, force)
            if force:
                claim.moved_aside = _move_aside_and_relock(out, claim)
        except (OutputPathError, RunLockedError, RunExistsError) as failure:
            claim.release()
            error = failure
    elif refused is not None:
        error = refused
    failed = average_over_ranks({"failed": float(error is not None)}, dist)["failed"] > 0
    if error is not None:
        raise error
    if failed:
        raise RunLockedError(f"rank 0 could not claim output_dir {out} (its error says why)")
    claim.resume, claim.note = resume_now, note
    return claim


def _move_aside_and_relock(out: Path, claim: RunClaim) -> Optional[Path]:
    """The old run goes to ``<out>.old-<time>`` (with the lock file this process holds); the new,
    empty ``out`` is locked before the old lock is let go."""
    moved = move_run_aside(out)
    if moved is not None:
        out.mkdir(parents=True, exist_ok=True)
        old, claim.lock = claim.lock, RunLock(out).acquire()
        old.release()
    return moved
