"""The prepared-data manifest (``manifest.json``): read, verify, write atomically.

One module for every reader and writer of a prepared directory (``prepare`` writes it,
``PairedSkeletonDataset`` and training read it) and for the atomic file writes they share.
The manifest holds the full layout dict (:meth:`skdcore.layouts.Layout.to_dict`), so any later
step rebuilds the same skeleton graph without the user passing it again.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from ..atomic_io import atomic_write_json
from ..bounded_json import JSONTooDeep, loads_bounded
from ..layouts import Layout, get_layout

MANIFEST_NAME = "manifest.json"
PROGRESS_NAME = "progress.json"


def sha256_file(path: Path, block: int = 1 << 22) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(block):
            digest.update(chunk)
    return digest.hexdigest()


class PreparedDataError(ValueError):
    """A prepared directory is missing, damaged or inconsistent; the message names the file and the fix."""


class MissingPreparedData(PreparedDataError, FileNotFoundError):
    """No prepared dataset where one was expected."""


def damaged(path: Path, problem: str) -> PreparedDataError:
    """The error for a prepared file that was edited, truncated or replaced."""
    return PreparedDataError(f"{path}: {problem}; the prepared data was changed or damaged: rerun "
                             "`skd prepare` into this folder with --force")


# --------------------------------------------------------------------------- read / verify
def read_json_or_none(path: Path):
    """The JSON in ``path``, None when absent; a corrupt file raises naming it and the fix."""
    path = Path(path)
    if not path.exists():
        return None
    try:
        return loads_bounded(path.read_text())
    except (json.JSONDecodeError, JSONTooDeep) as err:
        raise damaged(path, f"corrupt JSON ({err})") from None
    except (OSError, UnicodeDecodeError) as err:
        raise damaged(path, f"cannot be read ({err})") from None


def load_manifest(root: str | Path) -> dict:
    """The manifest of a prepared directory; a missing one raises naming the directory and the fix."""
    root = Path(root)
    path = root / MANIFEST_NAME
    if not path.exists():
        if (root / PROGRESS_NAME).exists():
            hint = " (an unfinished prepare: rerun the same command to resume)"
        elif not root.exists():
            hint = " (the directory does not exist: was it moved or deleted?)"
        else:
            hint = ""
        raise MissingPreparedData(
            f"{path} not found{hint}; create the dataset with skd prepare / prepare_dataset()"
        )
    manifest = read_json_or_none(path)
    if not isinstance(manifest, dict):
        raise damaged(path, "not a manifest (expected a JSON object)")
    return manifest


def write_manifest(root: str | Path, manifest: dict) -> None:
    atomic_write_json(Path(root) / MANIFEST_NAME, manifest)


def verify_checksums(root: str | Path) -> None:
    """Raise ValueError naming the first file whose sha256 differs from the manifest."""
    root = Path(root)
    for name, expected in load_manifest(root)["sha256"].items():
        actual = sha256_file(root / name)
        if actual != expected:
            raise ValueError(
                f"{root / name}: sha256 {actual[:12]}... differs from manifest {expected[:12]}...; "
                "the file changed or is truncated, rerun prepare with --force"
            )


def manifest_layout(manifest: dict, where: str = "manifest") -> Layout:
    """The layout a manifest describes: the full dict (this version) or a built-in name (older ones)."""
    value = manifest.get("layout", "ntu25")
    try:
        return get_layout(value)
    except ValueError as error:
        raise ValueError(
            f"{where}: {error}; an older prepare stored only the name of a custom layout: "
            "rerun prepare (with --layout layout.yaml) or pass --layout"
        ) from None
