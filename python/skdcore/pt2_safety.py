"""Checking an untrusted ``torch.export`` archive (.pt2) before torch reads it.

torch's pt2 loader runs pickle on several kinds of entry: weights and constants stored with
``use_pickle`` (``torch.load(weights_only=False)``), custom and opaque objects, legacy ``model.pt``
weight files, and the sample inputs (``weights_only=True`` first, then a silent fallback to
``weights_only=False``); it also loads AOTInductor shared libraries. Any of them runs code from a
crafted file. :func:`check_pt2_archive` accepts only what ``torch.export.save`` writes for a plain
program (JSON graph, raw tensor records, tensor sample inputs, extra files), refuses everything else
by name, and caps every record's declared size by the file's.
"""

from __future__ import annotations

import io
import json
import math

import torch
from torch.export.pt2_archive import constants as pt2

from .untrusted_zip import check_members, open_zip

# Records torch.export.save writes for a program without custom objects (paths inside the archive's
# top-level folder).
_FIXED_RECORDS = (
    pt2.ARCHIVE_FORMAT_PATH,
    pt2.ARCHIVE_VERSION_PATH,
    "byteorder",
    ".data/version",
    ".data/serialization_id",
)


def _allowed(inner: str) -> bool:
    if inner in _FIXED_RECORDS or inner.startswith(pt2.EXTRA_DIR):
        return True
    folder, _, name = inner.rpartition("/")
    folder += "/"
    if folder == pt2.MODELS_DIR:
        return name.endswith(".json")
    if folder == pt2.WEIGHTS_DIR:
        return name.startswith(pt2.WEIGHT_FILENAME_PREFIX) or name.endswith("_weights_config.json")
    if folder == pt2.CONSTANTS_DIR:
        return name.startswith(pt2.TENSOR_CONSTANT_FILENAME_PREFIX) or name.endswith("_constants_config.json")
    return folder == pt2.SAMPLE_INPUTS_DIR and name.endswith(".pt")


def check_pt2_archive(data: bytes, where: str, error=ValueError) -> None:
    """Raise ``error`` naming ``where`` and the entry when the .pt2 bytes hold anything that torch would
    unpickle or execute, or records declaring more bytes than the file has."""
    hint = (
        "; if you trust where the file comes from, load it with trust=True (plain torch.export.load, "
        "which can run code from the file)"
    )
    with open_zip(data, where, error=error) as archive:
        members = check_members(
            archive, where, max_member_bytes=len(data), max_total_bytes=len(data), error=error
        )
        sizes = {_inner(m.filename): m.file_size for m in members}
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
