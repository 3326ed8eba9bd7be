"""Output folders and files a command will write, checked before any work starts.

A command that runs for minutes and then finds its ``--out`` is a file, or that it cannot write there,
has wasted the time and ends in a raw ``OSError``; these checks fail at once, naming the option.
"""
from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Union


class OutputPathError(ValueError):
    """An output folder or file cannot be written; the message names the option and the fix."""


def check_not_empty(path, option: str) -> None:
    if not str(path).strip():  # NB: Path("") is ".": an empty option would write into the current folder
        raise OutputPathError(f"{option} is empty; give a folder or file path")


def check_output_dir(path: Union[str, Path], option: str) -> Path:
    """Create the folder ``path`` (and its parents) if needed and check a file can be written in it."""
    check_not_empty(path, option)
    path = Path(path)
    try:
        if path.exists() and not path.is_dir():
            raise OutputPathError(f"{option} {path} is not a directory (a file of that name exists); "
                                  "pass a folder path")
        path.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=path):
            pass
    except OSError as error:
        raise OutputPathError(f"{option} {path}: cannot write there ({error.strerror or error}); "
                              "choose a writable folder") from None
    return path


def check_output_file(path: Union[str, Path], option: str, example: str = "model.onnx") -> Path:
    """``path`` may be written as a file: it is no folder, and its folder can be written."""
    check_not_empty(path, option)
    path = Path(path)
    if path.is_dir():
        raise OutputPathError(f"{option} {path} is a directory; give a file name, e.g. "
                              f"{path / example}")
    try:
        check_output_dir(path.parent, option)
    except OutputPathError:
        raise OutputPathError(f"{option} {path}: cannot create a file there ({path.parent} is not a writable "
                              "folder); choose another path") from None
    return path
