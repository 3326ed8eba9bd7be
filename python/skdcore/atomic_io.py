"""Atomic file writes: write a temp file next to the target, fsync it, then ``os.replace``.

A reader sees the old file or the new one, never a torn one. An interrupted write (SIGINT, a
kill, a full disk) leaves only its temp file, ``.<name>.tmp<pid>``; :func:`remove_stale_temp_files`
deletes those whose writing process is gone, and every long-running command calls it on its
output folder when it starts.
"""

from __future__ import annotations

import contextlib
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


@contextlib.contextmanager
def atomic_open(path: PathLike) -> Iterator:
    """``with atomic_open(path) as f: f.write(...)``: binary file, visible at ``path`` only on success."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = temp_path(path)
    try:
        with open(tmp, "wb") as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
    _fsync_directory(path.parent)


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
