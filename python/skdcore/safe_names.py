"""File names made from data (split names, run names, class names, a checkpoint's config name).

A split name ``../../x`` in a dataset file, or a checkpoint's ``config.name``, would otherwise write
outside the output folder; ``a/b`` creates folders; a name over 255 bytes fails only when the file is
finally written. :func:`check_file_name` refuses such names where they enter (naming the value and where
it came from); :func:`file_name_part` turns a display name into a safe part of a file name.
"""

from __future__ import annotations

import re

MAX_NAME_BYTES = 100
_SAFE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.+=-]*$")
_UNSAFE_RUN = re.compile(r"[^A-Za-z0-9_.+=-]+")


class UnsafeNameError(ValueError):
    """A name from data cannot be used in a file name; the message names the value and its source."""


def check_file_name(value, what: str) -> str:
    """``value`` if it is a safe file name part: letters, digits and ``_ . + = -``, not starting with a
    dot or dash, at most MAX_NAME_BYTES bytes; never a path (no ``/``, ``..``, NUL)."""
    if not isinstance(value, str):
        raise UnsafeNameError(f"{what} is a {type(value).__name__}, expected a name (a string)")
    if not value or len(value.encode("utf-8", "surrogatepass")) > MAX_NAME_BYTES or not _SAFE.match(value):
        shown = value[:60] + ("..." if len(value) > 60 else "")
        raise UnsafeNameError(
            f"{what} {shown!r} cannot be part of a file name: use 1 to {MAX_NAME_BYTES} letters, digits and "
            "_ . + = - (not starting with a dot or dash; no '/', '..' or other characters)"
        )
    return value


def file_name_part(value, fallback: str = "unnamed") -> str:
    """A safe file name part made from a display name: unsafe characters become ``_``, leading dots and
    dashes go, at most MAX_NAME_BYTES bytes; ``fallback`` when nothing is left."""
    text = _UNSAFE_RUN.sub("_", str(value)).lstrip(".-")[:MAX_NAME_BYTES]
    return text if text and _SAFE.match(text) else fallback
