"""Atomic file writes: write a temp file next to the target, fsync it, then ``os.replace``.

A reader sees the old file or the new one, never a torn one. An interrupted write (SIGINT, a
kill, a full disk) leaves only its temp file, ``.<name>.tmp<pid>``; :func:`remove_stale_temp_files`
deletes those whose writing process is gone, and every long-running command calls it on its
output folder when it starts.

Output folders may hold links someone else planted: every file here is opened with ``O_NOFOLLOW``
(:func:`open_no_follow`), so a link at an output path is an error, never a write to its target. A full
disk is a :class:`DiskFullError` naming the file; memory-mapped outputs are preallocated first
(:func:`preallocate`), so a write into the map cannot die of SIGBUS when the disk fills.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import re
from pathlib import Path
from typing import Iterator, Union

PathLike = Union[str, os.PathLike]

# ".<name>.tmp<pid>" (this module, checkpoints) or "<name>.tmp<pid>[.npy]" (older prepare runs)
_TEMP_NAME = re.compile(r"^(?P<name>.+)\.tmp(?P<pid>\d+)(\.npy)?$")


def temp_path(path: Path) -> Path:
    return path.with_name(f".{path.name}.tmp{os.getpid()}")


class DiskFullError(OSError):
    """No space left writing an output; the message names the file and the fix."""


def disk_full(error: OSError, path: PathLike) -> OSError:
    """A DiskFullError naming ``path`` for ENOSPC / EDQUOT, else ``error`` itself."""
    if error.errno in (errno.ENOSPC, errno.EDQUOT) and not isinstance(error, DiskFullError):
        return DiskFullError(error.errno, f"no space left on the device writing {path}; free some space or "
                             "write to another disk (nothing partial was left at that path)")
    return error


def open_no_follow(path: PathLike, mode: str = "w", *, exclusive: bool = False, **options):
    """``open(path, mode)`` for writing ('w', 'wb', 'a+', 'r+b', ...) that refuses a symbolic link at
    ``path`` (O_NOFOLLOW) instead of writing to the file it points to."""
    flags = os.O_CREAT | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
    flags |= os.O_RDWR if ("+" in mode or "r" in mode) else os.O_WRONLY
    flags |= os.O_EXCL if exclusive else 0
    flags |= os.O_TRUNC if "w" in mode else 0
    flags |= os.O_APPEND if "a" in mode else 0
    try:
        fd = os.open(path, flags, 0o644)
    except OSError as error:
        if error.errno == errno.ELOOP or os.path.islink(path):
            raise OSError(errno.ELOOP, f"{path} is a symbolic link; refusing to write through it (remove the "
                          "link or choose another output folder)") from None
        raise
    return os.fdopen(fd, mode, **({"newline": ""} if "b" not in mode else {}), **options)


@contextlib.contextmanager
def atomic_open(path: PathLike) -> Iterator:
    """``with atomic_open(path) as f: f.write(...)``: binary file, visible at ``path`` only on success.

    The temp file is created exclusively without following links; ``os.replace`` replaces a link at
    ``path`` itself, never its target. A full disk raises DiskFullError and leaves nothing behind."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = temp_path(path)
    with contextlib.suppress(FileNotFoundError):
        tmp.unlink()  # a leftover of this pid (or a planted link): ours to replace
    try:
        with open_no_follow(tmp, "wb", exclusive=True) as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException as error:
        with contextlib.suppress(OSError):
            tmp.unlink()
        if isinstance(error, OSError) and error.errno in (errno.ENOSPC, errno.EDQUOT):
            raise disk_full(error, path) from None
        raise
    _fsync_directory(path.parent)


def preallocate(path: PathLike, nbytes: int) -> None:
    """Reserve ``nbytes`` of disk for the file at ``path`` (created if missing, never through a link), so
    writes through a memory map of it cannot fail with SIGBUS on a full disk; DiskFullError instead."""
    with open_no_follow(path, "r+b") as f:
        try:
            if hasattr(os, "posix_fallocate"):
                os.posix_fallocate(f.fileno(), 0, max(int(nbytes), 1))
        except OSError as error:
            if error.errno in (errno.EOPNOTSUPP, errno.EINVAL):
                return  # a filesystem without fallocate: the map stays as it was
            raise disk_full(error, path) from None


def _fsync_directory(directory: Path) -> None:
    """Make the rename itself durable (POSIX); a no-op where directories cannot be opened."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def atomic_write_bytes(path: PathLike, payload: bytes) -> None:
    with atomic_open(path) as f:
        f.write(payload)


def atomic_write_text(path: PathLike, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_json(path: PathLike, value) -> None:
    atomic_write_bytes(path, (json.dumps(value, indent=2, sort_keys=True, default=str) + "\n").encode())


def atomic_save_npy(path: PathLike, array) -> None:
    import numpy as np

    with atomic_open(path) as f:
        np.save(f, array, allow_pickle=False)


def atomic_torch_save(obj, path: PathLike) -> None:
    import torch

    with atomic_open(path) as f:
        torch.save(obj, f)


def _process_alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError):
        return True  # someone else's live process (or we cannot tell): leave its file alone
    return True


def remove_stale_temp_files(directory: PathLike) -> list[Path]:
    """Delete temp files of interrupted atomic writes in ``directory`` (not recursive); returns them.

    A temp file whose process still runs is kept: another writer may be about to rename it.
    """
    directory = Path(directory)
    if not directory.is_dir():
        return []
    removed = []
    for p in directory.iterdir():
        match = _TEMP_NAME.match(p.name)
        if match is None or not p.is_file() or _process_alive(int(match["pid"])):
            continue
        with contextlib.suppress(OSError):
            p.unlink()
            removed.append(p)
    return removed
