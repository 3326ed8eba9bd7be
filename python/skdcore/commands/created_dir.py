"""An output folder a command creates is removed again when the command fails: a failed `skd prepare`
leaves nothing behind (a folder that existed before, --force included, is never removed)."""
from __future__ import annotations

import contextlib
import os
import shutil
from pathlib import Path


@contextlib.contextmanager
def removed_on_failure(path):
    """Inside: the command's work. An error removes ``path`` if it did not exist before, then propagates.
    Ctrl-C does not: an interrupted prepare resumes from what it wrote."""
    path = Path(path)
    existed = os.path.lexists(path)
    try:
        yield
    except Exception:
        # NB: os.path (not Path) answers False for any OSError, e.g. a name too long to be a folder
        if not existed and os.path.isdir(path) and not os.path.islink(path):
            shutil.rmtree(path, ignore_errors=True)
        raise
