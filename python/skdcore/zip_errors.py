"""A damaged zip archive (.pt2, .pt, .npz) met by any zip reader, as a clean CLI error: Python's
``zipfile.BadZipFile`` says only "File is not a zip file" / "Bad magic number", so the message names
the archive files the command was given and the fix."""

from __future__ import annotations

import argparse
from pathlib import Path

ARCHIVE_SUFFIXES = (".pt2", ".pt", ".pth", ".npz", ".zip")


def archive_arguments(args: argparse.Namespace) -> list:
    """The command's arguments that name existing archive files, as 'name path' strings."""
    found = []
    for name, value in sorted(vars(args).items()):
        values = value if isinstance(value, (list, tuple)) else [value]
        for item in values:
            if isinstance(item, str) and item.lower().endswith(ARCHIVE_SUFFIXES):
                try:
                    if Path(item).is_file():
                        found.append(f"{name} {item}")
                except OSError:
                    continue
    return found


def damaged_archive_message(error: BaseException, args: argparse.Namespace) -> str:
    files = archive_arguments(args)
    which = f" ({'; '.join(files)})" if files else ""
    return (f"an archive this command read{which} is damaged or not a zip file ({error}); it was truncated "
            "or modified: export, save or download it again")
