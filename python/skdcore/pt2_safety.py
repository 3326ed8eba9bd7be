"""Checking a ``torch.export`` archive (.pt2) before torch reads it: defence in depth only.

A .pt2 is a program: only load one you trust (``load_program(path, trust=True)``); exchange models with
people you do not trust as ONNX. These checks still run on every load, so a crafted file has to get past
them as well as past the trust decision.

torch's pt2 loader runs pickle on several kinds of entry: weights and constants stored with
``use_pickle`` (``torch.load(weights_only=False)``), custom and opaque objects, legacy ``model.pt``
weight files, and the sample inputs (``weights_only=True`` first, then a silent fallback to
``weights_only=False``); it also loads AOTInductor shared libraries. Any of them runs code from a
crafted file. :func:`check_pt2_archive` accepts only what ``torch.export.save`` writes for a plain
program (JSON graph, raw tensor records, tensor sample inputs, extra files), refuses everything else
by name (legacy ``<model>.pt`` weight files included), caps every record's declared size by the file's,
checks the graph's expressions, guards and node targets (:mod:`skdcore.pt2_graph`) and the archive's
byte layout (:mod:`skdcore.zip_structure`); :func:`canonical_pt2` then rewrites the checked members into
a fresh archive, so torch's zip reader loads exactly what Python's zipfile checked.
"""

from __future__ import annotations

import io
import json
import math
import re
import zipfile
import zlib

import torch
from torch.export.pt2_archive import constants as pt2

from .pt2_graph import check_program_graph
from .untrusted_zip import check_members, open_zip
from .zip_structure import check_zip_structure

# Records torch.export.save writes for a program without custom objects (paths inside the archive's
# top-level folder).
_FIXED_RECORDS = (
    pt2.ARCHIVE_FORMAT_PATH,
    pt2.ARCHIVE_VERSION_PATH,
    "byteorder",
    ".data/version",
    ".data/serialization_id",
)


_MODEL_NAME = r"[A-Za-z][A-Za-z0-9_]{0,63}"
# torch.export.save names records weight_<n> / tensor_<n>; anything else in those folders (a legacy
# "<model>.pt" weight file, which torch unpickles with weights_only=False) is refused.
_RECORD_NAMES = {
    pt2.MODELS_DIR: re.compile(rf"^{_MODEL_NAME}\.json$"),
    pt2.WEIGHTS_DIR: re.compile(
        rf"^({pt2.WEIGHT_FILENAME_PREFIX}[0-9]{{1,9}}|{_MODEL_NAME}_weights_config\.json)$"
    ),
    pt2.CONSTANTS_DIR: re.compile(
        rf"^({pt2.TENSOR_CONSTANT_FILENAME_PREFIX}[0-9]{{1,9}}|{_MODEL_NAME}_constants_config\.json)$"
    ),
    pt2.SAMPLE_INPUTS_DIR: re.compile(rf"^{_MODEL_NAME}\.pt$"),
}
_EXTRA_NAME = re.compile(r"^extra/[A-Za-z0-9_][A-Za-z0-9_.-]{0,99}$")
MAX_GRAPH_BYTES = 256 << 20  # a JSON graph is parsed whole


def _allowed(inner: str) -> bool:
    if inner in _FIXED_RECORDS or _EXTRA_NAME.match(inner):
        return True
    folder, _, name = inner.rpartition("/")
    pattern = _RECORD_NAMES.get(folder + "/")
    return bool(pattern and pattern.match(name))


def check_pt2_archive(data: bytes, where: str, error=ValueError) -> None:
    """Raise ``error`` naming ``where`` and the entry when the .pt2 bytes hold anything that torch would
    unpickle or execute, or records declaring more bytes than the file has."""
    try:
        _check_pt2_archive(data, where, error)
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError, NotImplementedError, RuntimeError) as err:
        if isinstance(err, error):
            raise
        raise error(f"{where}: a damaged .pt2 archive ({type(err).__name__}: {err})") from None


def _check_pt2_archive(data: bytes, where: str, error) -> None:
    hint = (
        "; a file that needs this is not one skdcore exports (plain torch.export.load can read it, and "
        "run code from it: only for files you made yourself)"
    )
    check_zip_structure(data, where, error=error)
    with open_zip(data, where, error=error) as archive:
        members = check_members(
            archive, where, max_member_bytes=len(data), max_total_bytes=len(data), error=error
        )
        folders = {m.filename.split("/", 1)[0] for m in members}
        if len(folders) != 1 or any("/" not in m.filename for m in members):
            raise error(f"{where}: a .pt2 keeps every record in one top-level folder; this one has "
                        f"{sorted(folders)[:3]}")
        sizes = {_inner(m.filename): m.file_size for m in members}
        models = [_inner(m.filename) for m in members if _inner(m.filename).startswith(pt2.MODELS_DIR)]
        if not models:
            raise error(f"{where}: no program (models/<name>.json) in the archive; not a torch.export .pt2")
        for member in members:
            inner = _inner(member.filename)
            if not _allowed(inner):
                raise error(
                    f"{where}: entry {member.filename!r} is not part of a plain torch.export program "
                    f"(pickled objects, AOTInductor libraries or a legacy format can run code){hint}"
                )
            if inner.endswith(("_weights_config.json", "_constants_config.json")):
                folder = inner.rpartition("/")[0] + "/"
                _check_payload_config(
                    archive.read(member), folder, sizes, f"{where}: {member.filename}", hint, error
                )
            elif inner.startswith(pt2.SAMPLE_INPUTS_DIR) and member.file_size:
                _check_tensor_file(
                    archive.read(member), f"{where}: the sample inputs {member.filename!r}", hint, error
                )
            elif inner.startswith(pt2.MODELS_DIR):
                if member.file_size > MAX_GRAPH_BYTES:
                    raise error(f"{where}: the graph {member.filename!r} is over {MAX_GRAPH_BYTES} bytes")
                try:
                    graph = json.loads(archive.read(member))
                except (ValueError, RecursionError) as err:
                    raise error(
                        f"{where}: the graph {member.filename!r} is not JSON ({type(err).__name__})"
                    ) from None
                if not isinstance(graph, dict):
                    raise error(f"{where}: the graph {member.filename!r} is not a JSON object")
                check_program_graph(graph, f"{where}: {member.filename}", error)


def canonical_pt2(data: bytes) -> bytes:
    """The members of a checked .pt2 (:func:`check_pt2_archive`) rewritten by Python's zipfile into a new
    archive: torch reads the members that were checked, whatever another zip reader would make of
    ``data``."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as archive, zipfile.ZipFile(out, "w", zipfile.ZIP_STORED) as fresh:
        for member in archive.infolist():
            fresh.writestr(member.filename, archive.read(member))
    return out.getvalue()


def _inner(name: str) -> str:
    """A record's path inside the archive's top-level folder."""
    return name.split("/", 1)[1] if "/" in name else name


def _check_tensor_file(data: bytes, where: str, hint: str, error) -> None:
    """A nested torch.save file: a zip whose records fit in it, loadable with weights_only=True."""
    with open_zip(data, where, error=error) as nested:
        check_members(nested, where, max_member_bytes=len(data), max_total_bytes=len(data), error=error)
    try:
        torch.load(io.BytesIO(data), weights_only=True)
    except Exception as err:  # noqa: BLE001  (anything weights_only refuses is refused here)
        raise error(f"{where} are not plain tensors ({type(err).__name__}){hint}") from None


def _check_payload_config(text: bytes, folder: str, sizes: dict, where: str, hint: str, error) -> None:
    """No entry stored pickled; an entry over an empty record declares no elements (torch would
    allocate torch.zeros(sizes) for it)."""
    try:
        config = json.loads(text)["config"]
        pickled = [fqn for fqn, meta in config.items() if meta.get("use_pickle", False) is not False]
        empty = [
            fqn
            for fqn, meta in config.items()
            if not sizes.get(folder + str(meta.get("path_name")))
            and math.prod(int(d["as_int"]) for d in meta["tensor_meta"]["sizes"]) != 0
        ]
    except Exception as err:  # noqa: BLE001  (a damaged config: not JSON, wrong structure)
        raise error(f"{where}: not a valid payload config ({type(err).__name__}: {err})") from None
    if pickled:
        raise error(f"{where}: {pickled[:3]} are stored pickled (use_pickle){hint}")
    if empty:
        raise error(f"{where}: {empty[:3]} declare tensors with elements over empty or missing records")
