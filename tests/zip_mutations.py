"""Mutations of a zip archive's structure (not its members' contents), for the checkpoint and .pt2 tests:
layouts on which two zip readers (Python's zipfile, torch's miniz) could see different archives.

``mutate_zip(data, kind)`` returns the mutated bytes; ``ZIP_MUTATIONS`` lists the kinds.
"""

from __future__ import annotations

import io
import struct
import zipfile

ZIP_MUTATIONS = ("prepend", "append", "local_name", "local_method", "gap", "truncate", "descriptor",
                 "local_size")


def _end(data: bytes) -> int:
    return data.rindex(b"PK\x05\x06")


def _shift_directory(data: bytes, shift: int) -> bytes:
    """Patch the end records so the central directory is found ``shift`` bytes later."""
    out = bytearray(data)
    end = _end(data)
    offset = struct.unpack_from("<I", out, end + 16)[0]
    if offset != 0xFFFFFFFF:
        struct.pack_into("<I", out, end + 16, offset + shift)
    locator = end - 20
    if out[locator:locator + 4] == b"PK\x06\x07":
        record = struct.unpack_from("<Q", out, locator + 8)[0]
        struct.pack_into("<Q", out, locator + 8, record + shift)
        offset64 = struct.unpack_from("<Q", out, record + 48)[0]
        struct.pack_into("<Q", out, record + 48, offset64 + shift)
    return bytes(out)


def _first(data: bytes) -> zipfile.ZipInfo:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return min(archive.infolist(), key=lambda m: m.header_offset)


def mutate_zip(data: bytes, kind: str) -> bytes:
    first = _first(data)
    if kind == "prepend":  # what made zipfile and torch see different archives
        return b"\0" * 64 + data
    if kind == "append":
        return data + b"trailing"
    if kind == "truncate":
        return data[: len(data) // 2]
    out = bytearray(data)
    if kind == "local_name":
        out[first.header_offset + 30] ^= 0x01
    elif kind == "local_method":
        struct.pack_into("<H", out, first.header_offset + 8, 8)
    elif kind == "local_size":  # a local header declaring sizes the central directory does not
        struct.pack_into("<II", out, first.header_offset + 18, first.compress_size + 7, first.file_size + 7)
    elif kind == "descriptor":
        name_length, extra_length = struct.unpack_from("<HH", out, first.header_offset + 26)
        end = first.header_offset + 30 + name_length + extra_length + first.compress_size
        out[end + 8] ^= 0xFF  # inside the descriptor's sizes (after its signature and CRC)
    elif kind == "gap":  # bytes between the last member and the central directory
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            directory = archive.start_dir
        return _shift_directory(bytes(out[:directory]) + b"\0" * 32 + bytes(out[directory:]), 32)
    else:
        raise ValueError(f"unknown zip mutation {kind!r}; one of {ZIP_MUTATIONS}")
    return bytes(out)
