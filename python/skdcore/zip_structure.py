"""The byte layout of an untrusted zip archive: every reader must see the same members.

Python's zipfile (which skdcore's checks use) and torch's reader (miniz, which ``torch.load`` and
``torch.export.load`` use) find members differently: zipfile trusts the central directory and shifts
every offset when data is prepended to the archive, miniz reads the offsets as written. A crafted file
can therefore show the checks one archive and torch another (a small checkpoint inflating gigabytes, a
.pt2 whose checked entries are not the loaded ones). :func:`check_zip_structure` accepts only a tight
archive: the first member at byte 0, each local header agreeing with its central directory entry (name,
method, sizes), members back to back (data descriptors allowed), the central directory right after the
last member, and the end record at the end of the file. Everything else is refused as crafted or damaged.
"""

from __future__ import annotations

import struct
import zipfile
from pathlib import Path
from typing import Callable, Union

_LOCAL = struct.Struct("<4sHHHHHIIIHH")  # local file header (30 bytes)
_END = struct.Struct("<4sHHHHIIH")  # end of central directory record (22 bytes)
_END64_LOCATOR = struct.Struct("<4sIQI")  # zip64 end of central directory locator (20 bytes)
_END64 = struct.Struct("<4sQHHIIQQQQ")  # zip64 end of central directory record (56 bytes)
_MAX_COMMENT = 0xFFFF


def check_zip_structure(source: Union[Path, bytes], where: str, error=ValueError) -> None:
    """Raise ``error`` naming ``where`` unless the archive's bytes are laid out as described above."""
    if isinstance(source, bytes):
        size = len(source)

        def read(offset: int, count: int) -> bytes:
            return source[offset : offset + count]

        _check(read, size, where, error, source)
    else:
        path = Path(source)
        size = path.stat().st_size
        with open(path, "rb") as f:

            def read(offset: int, count: int) -> bytes:
                f.seek(offset)
                return f.read(count)

            _check(read, size, where, error, path)


def _check(read: Callable[[int, int], bytes], size: int, where: str, error, source) -> None:
    def refuse(what: str):
        return error(f"{where}: {what}; the zip archive is damaged or crafted (different zip readers would "
                     "see different files in it), refused")

    directory_end, directory_offset, directory_size = _end_record(read, size, refuse)
    if directory_offset + directory_size != directory_end:
        raise refuse(f"its central directory is not where the end record says (found {directory_offset} + "
                     f"{directory_size}, ends at {directory_end}): data before the first member")
    try:
        with zipfile.ZipFile(source if isinstance(source, Path) else _bytes_io(source)) as archive:
            members = sorted(archive.infolist(), key=lambda m: m.header_offset)
    except Exception as err:  # noqa: BLE001  (BadZipFile, OSError, ...: all damage)
        raise error(f"{where}: not a readable zip archive ({type(err).__name__}: {err})") from None
    position = 0
    for member in members:
        if member.header_offset != position:
            what = "data before the first member" if position == 0 else "a gap or overlap between members"
            raise refuse(f"member {member.filename!r} starts at byte {member.header_offset}, expected "
                         f"{position} ({what})")
        position = _check_local_header(read, member, refuse)
    if position != directory_offset:
        raise refuse(f"{directory_offset - position} bytes between the last member and the central directory")


def _bytes_io(data: bytes):
    import io

    return io.BytesIO(data)


def _end_record(read, size: int, refuse) -> tuple:
    """(where the central directory must end, its offset, its size) from the end record, which must end
    the file exactly (its comment included)."""
    tail_start = max(0, size - _END.size - _MAX_COMMENT)
    tail = read(tail_start, size - tail_start)
    index = tail.rfind(b"PK\x05\x06")
    while index >= 0:
        if len(tail) - index >= _END.size:
            fields = _END.unpack_from(tail, index)
            if index + _END.size + fields[7] == len(tail):
                break
        index = tail.rfind(b"PK\x05\x06", 0, index)
    if index < 0:
        raise refuse("no end of central directory record ends the file (trailing data or not a zip)")
    end_offset = tail_start + index
    _, disk, directory_disk, _, _, directory_size, directory_offset, _ = _END.unpack_from(tail, index)
    if disk or directory_disk:
        raise refuse("it spans several disks")
    if directory_offset != 0xFFFFFFFF and directory_size != 0xFFFFFFFF:
        locator = read(end_offset - _END64_LOCATOR.size, _END64_LOCATOR.size) if end_offset >= 20 else b""
        if not locator.startswith(b"PK\x06\x07"):
            return end_offset, directory_offset, directory_size
    locator_offset = end_offset - _END64_LOCATOR.size
    locator = read(locator_offset, _END64_LOCATOR.size)
    if locator_offset < 0 or len(locator) != _END64_LOCATOR.size or not locator.startswith(b"PK\x06\x07"):
        raise refuse("its end record points to a zip64 record that is missing")
    record_offset = _END64_LOCATOR.unpack(locator)[2]
    record = read(record_offset, _END64.size)
    if len(record) != _END64.size or not record.startswith(b"PK\x06\x06"):
        raise refuse("its zip64 end record is missing or damaged")
    fields = _END64.unpack(record)
    if record_offset + 12 + fields[1] != locator_offset:
        raise refuse("its zip64 end record is not right before its locator")
    return record_offset, fields[9], fields[8]


def _check_local_header(read, member: zipfile.ZipInfo, refuse) -> int:
    """Check the member's local header (and data descriptor) against the central directory; returns
    where the next member must start."""
    name = member.filename
    header = read(member.header_offset, _LOCAL.size)
    if len(header) != _LOCAL.size or not header.startswith(b"PK\x03\x04"):
        raise refuse(f"member {name!r} has no local header at byte {member.header_offset}")
    _, _, flags, method, _, _, crc, packed, size, name_length, extra_length = _LOCAL.unpack(header)
    raw_name = read(member.header_offset + _LOCAL.size, name_length)
    encoding = "utf-8" if flags & 0x800 else "cp437"
    if raw_name.decode(encoding, errors="replace") != member.orig_filename:
        raise refuse(f"member {name!r} has another name in its local header")
    if method != member.compress_type:
        raise refuse(f"member {name!r} has another compression method in its local header")
    data_start = member.header_offset + _LOCAL.size + name_length + extra_length
    data_end = data_start + member.compress_size
    if flags & 0x8:  # sizes follow the data in a descriptor (what torch writes)
        if (crc, packed, size) != (0, 0, 0) and (crc, packed, size) != _sizes(member):
            raise refuse(f"member {name!r} has other sizes in its local header than in the central directory")
        return data_end + _descriptor_length(read(data_end, 24), member, refuse)
    if 0xFFFFFFFF in (packed, size):
        packed, size = _zip64_local_sizes(read(data_start - extra_length, extra_length), packed, size)
    if (crc, packed, size) != _sizes(member):
        raise refuse(f"member {name!r} has other sizes in its local header than in the central directory")
    return data_end


def _sizes(member: zipfile.ZipInfo) -> tuple:
    return member.CRC, member.compress_size, member.file_size


def _descriptor_length(data: bytes, member: zipfile.ZipInfo, refuse) -> int:
    """Length of the data descriptor after a member's data (with or without its signature, 32- or
    64-bit sizes), which must repeat the central directory's values."""
    for signed in (True, False):
        start = 4 if signed else 0
        if signed and not data.startswith(b"PK\x07\x08"):
            continue
        for fmt in ("<III", "<IQQ"):
            length = start + struct.calcsize(fmt)
            if len(data) >= length and struct.unpack_from(fmt, data, start) == _sizes(member):
                return length
    raise refuse(f"member {member.filename!r} has no data descriptor matching the central directory")


def _zip64_local_sizes(extra: bytes, packed: int, size: int) -> tuple:
    """The 64-bit sizes from a local header's zip64 extra field (uncompressed first, then compressed)."""
    offset = 0
    while offset + 4 <= len(extra):
        tag, length = struct.unpack_from("<HH", extra, offset)
        if tag == 1:
            values = list(struct.unpack_from(f"<{length // 8}Q", extra, offset + 4))
            if size == 0xFFFFFFFF and values:
                size = values.pop(0)
            if packed == 0xFFFFFFFF and values:
                packed = values.pop(0)
            break
        offset += 4 + length
    return packed, size
