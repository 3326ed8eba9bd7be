"""Zip archives from users (.npz arrays, torch checkpoints, .pt2 programs): open them and check every
member's declared size before anything is decompressed or allocated.

A zip's central directory declares each member's uncompressed size; a crafted one declares terabytes
in a few bytes, or deflates gigabytes of zeros into megabytes (a zip bomb). :func:`check_members`
refuses, naming the archive, any member larger than ``max_member_bytes``, a total beyond
``max_total_bytes``, and a compressed member that would expand more than ``max_ratio`` times once it is
big (``ratio_from_bytes``). Python's zipfile stops reading a member at its declared size, so a member
cannot yield more than it declares.
"""

from __future__ import annotations

import io
import zipfile
from pathlib import Path
from typing import Union

DEFLATE_RATIO_LIMIT = 100  # real skeleton arrays compress ~2-10x; deflate's own limit is ~1032x
RATIO_FROM_BYTES = 64 << 20  # small members may compress as well as they like


def open_zip(source: Union[Path, bytes], where: str, error=ValueError) -> zipfile.ZipFile:
    """A ZipFile over a path or bytes; a damaged archive is ``error`` naming ``where``."""
    try:
        return zipfile.ZipFile(io.BytesIO(source) if isinstance(source, bytes) else source)
    except Exception as err:  # noqa: BLE001  (BadZipFile, OSError, ValueError, EOFError...: all damage)
        raise error(f"{where}: not a readable zip archive ({type(err).__name__}: {err})") from None


def check_members(
    archive: zipfile.ZipFile,
    where: str,
    *,
    max_member_bytes: int,
    max_total_bytes: int,
    max_ratio: float = DEFLATE_RATIO_LIMIT,
    ratio_from_bytes: int = RATIO_FROM_BYTES,
    error=ValueError,
) -> list:
    """The archive's members (ZipInfo) after checking the sizes they declare; names must be unique."""
    members = archive.infolist()
    names = [m.filename for m in members]
    if len(set(names)) != len(names):
        raise error(f"{where}: the zip archive lists a member name twice; it is damaged or crafted")
    total = 0
    for member in members:
        size, packed = member.file_size, member.compress_size
        if size > max_member_bytes:
            raise error(
                f"{where}: member {member.filename!r} declares {size} bytes, more than the limit "
                f"{max_member_bytes}; the file is damaged or crafted"
            )
        compressed = member.compress_type != zipfile.ZIP_STORED
        if compressed and size > ratio_from_bytes and size > max_ratio * packed:
            raise error(
                f"{where}: member {member.filename!r} would expand from {packed} to {size} bytes "
                f"({size / max(packed, 1):.0f}x, limit {max_ratio:g}x): a zip bomb, refused"
            )
        total += size
        if total > max_total_bytes:
            raise error(
                f"{where}: its members declare more than {max_total_bytes} bytes in all; the file is "
                "damaged or crafted"
            )
    return members
