"""Checkpoints: atomic writes, full training state (model, optimizer, scheduler, RNG, the epoch's
running sums, the fp16 loss scaler's state), clear errors when a checkpoint is foreign, damaged or
belongs to a different model.

A checkpoint holds tensors and plain data only (dicts, lists, tuples, str, numbers, None), so
``torch.load(path)`` with its default ``weights_only=True`` opens it and loading never runs code from
the file. A checkpoint that needs ``weights_only=False`` (pickled objects: an older skdcore format,
or a file from elsewhere) is refused unless the caller trusts it explicitly (``trust=True``,
``--trust-checkpoint``).

Sizes are capped before anything is allocated: an untrusted checkpoint must be a zip archive (what
torch.save writes) whose records declare no more bytes than the file holds (a deflated record of zeros
would otherwise expand to gigabytes inside torch.load), and the model its ``model_args`` describe is
first built on the meta device (no memory) and must not need more bytes than the checkpoint's tensors
hold, so channels [30000, 30000] are refused instead of allocating a 7 GB model.
"""

from __future__ import annotations

import dataclasses
import datetime
import pickle
import random
import re
import zipfile
from pathlib import Path
from typing import Optional, Union

import numpy as np
import torch

from ..atomic_io import atomic_torch_save
from ..checkpoint_pickle import check_checkpoint_pickle, check_loaded_values
from ..untrusted_zip import check_members, open_zip
from ..zip_structure import check_zip_structure

FORMAT = "skdcore-checkpoint-2"  # 2: plain data only (weights_only loads); 1: pickled numpy RNG state
KNOWN_FORMATS = ("skdcore-checkpoint-1", FORMAT)
TRUST_HINT = (
    "if you trust where the file comes from, pass --trust-checkpoint (Python: trust=True) to load it "
    "with weights_only=False"
)


class CheckpointError(ValueError):
    """The checkpoint cannot be used with this model / run; the message says why and what to do."""


# --------------------------------------------------------------------------- plain data
def plain_data(value, where: str = "value"):
    """``value`` as tensors + plain Python data that ``torch.load(weights_only=True)`` accepts.

    Objects with a ``to_dict()`` (layouts) and dataclasses become dicts, numpy scalars/arrays become
    Python numbers / tensors, paths and dates become strings; anything else is a CheckpointError
    naming ``where``.
    """
    if value is None or isinstance(
        value, (bool, int, float, str, bytes, torch.Tensor, torch.dtype, torch.Size)
    ):
        return value
    if isinstance(value, dict):
        return {plain_data(k, f"{where} key"): plain_data(v, f"{where}[{k!r}]") for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        items = [plain_data(v, f"{where}[{i}]") for i, v in enumerate(value)]
        return items if isinstance(value, list) else tuple(items)
    if isinstance(value, (set, frozenset)):
        return sorted(plain_data(v, f"{where} member") for v in value)
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return torch.from_numpy(np.ascontiguousarray(value))
    if callable(getattr(value, "to_dict", None)):
        return plain_data(value.to_dict(), where)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return plain_data({f.name: getattr(value, f.name) for f in dataclasses.fields(value)}, where)
    if isinstance(value, (Path, datetime.date, datetime.time)):
        return str(value)
    raise CheckpointError(
        f"{where} is a {type(value).__module__}.{type(value).__qualname__}; a checkpoint holds "
        "tensors and plain data only (dict, list, str, numbers): store its settings as a dict"
    )


# --------------------------------------------------------------------------- RNG state as plain data
def rng_state() -> dict:
    """Every generator a run draws from, as tensors and plain data."""
    name, keys, pos, has_gauss, cached_gaussian = np.random.get_state()
    state = {
        "torch": torch.get_rng_state(),
        "numpy": {
            "name": str(name),
            "keys": torch.from_numpy(keys.astype(np.int64)),
            "pos": int(pos),
            "has_gauss": int(has_gauss),
            "cached_gaussian": float(cached_gaussian),
        },
        "python": random.getstate(),  # (version, tuple of 625 ints, gauss_next): plain data already
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict) -> None:
    torch.set_rng_state(state["torch"])
    numpy_state = state["numpy"]
    if isinstance(numpy_state, dict):
        keys = np.asarray(
            numpy_state["keys"].numpy() if torch.is_tensor(numpy_state["keys"]) else numpy_state["keys"]
        )
        np.random.set_state(
            (
                numpy_state["name"],
                keys.astype(np.uint32),
                numpy_state["pos"],
                numpy_state["has_gauss"],
                numpy_state["cached_gaussian"],
            )
        )
    else:  # format 1 (a trusted older checkpoint): numpy's own tuple
        np.random.set_state(numpy_state)
    version, internal, gauss_next = state["python"]
    random.setstate((version, tuple(internal), gauss_next))
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


# --------------------------------------------------------------------------- save / load
def unwrap(model: torch.nn.Module) -> torch.nn.Module:
    return model.module if hasattr(model, "module") else model


def model_signature(model: torch.nn.Module) -> dict:
    """{state_dict key: shape}: what must match for a checkpoint to load."""
    return {k: tuple(v.shape) for k, v in unwrap(model).state_dict().items()}


def save_checkpoint(
    path,
    *,
    model,
    model_name: str,
    model_args: dict,
    optimizer=None,
    scheduler=None,
    epoch: int = 0,
    step: int = 0,
    step_in_epoch: int = 0,
    best: Optional[dict] = None,
    config: Optional[dict] = None,
    extra: Optional[dict] = None,
    epoch_sums: Optional[dict] = None,
    amp_scaler: Optional[dict] = None,
) -> None:
    """Write a training checkpoint atomically. ``epoch_sums``: the running sums of the epoch in progress
    ({name: float} and 'steps'), so a resumed run logs the same epoch averages as an uninterrupted one.
    ``amp_scaler``: the fp16 GradScaler's state (``MixedPrecision.state_dict()``; empty without one)."""
    atomic_torch_save(
        {
            "format": FORMAT,
            "model_name": str(model_name),
            "model_args": plain_data(model_args, "model_args"),
            "model": unwrap(model).state_dict(),
            "optimizer": plain_data(optimizer.state_dict(), "optimizer state")
            if optimizer is not None
            else None,
            "scheduler": plain_data(scheduler.state_dict(), "scheduler state")
            if scheduler is not None
            else None,
            "epoch": int(epoch),
            "step": int(step),
            "step_in_epoch": int(step_in_epoch),
            "best": plain_data(best or {}, "best"),
            "rng": rng_state(),
            "config": plain_data(config, "config"),
            "extra": plain_data(extra or {}, "extra"),
            "epoch_sums": plain_data(epoch_sums or {}, "epoch_sums"),
            "amp_scaler": plain_data(amp_scaler or {}, "amp_scaler"),
        },
        path,
    )


def _refuses_objects(error: Exception) -> bool:
    """Whether torch's weights-only load failed on a pickled object (not on a damaged file)."""
    text = str(error)
    return "Weights only load failed" in text and any(k in text for k in ("GLOBAL", "Can only", "reduce"))


def _refused_global(error: Exception) -> str:
    match = re.search(r"GLOBAL (\S+)", str(error))
    return f" (it needs {match.group(1)})" if match else ""


def check_archive(path: Path) -> None:
    """An untrusted checkpoint is a zip whose records together declare no more bytes than the file has
    (torch.save stores records uncompressed); CheckpointError otherwise, before torch.load reads it."""
    if not zipfile.is_zipfile(path):
        raise CheckpointError(
            f"{path} is not a readable checkpoint: not a zip archive (what torch.save writes since torch "
            "1.6, and skdcore always); an older torch format declares sizes that cannot be checked before "
            f"loading; {TRUST_HINT}"
        )
    size = path.stat().st_size
    check_zip_structure(path, str(path), error=CheckpointError)  # NB: torch's zip reader sees what we check
    with open_zip(path, str(path), error=CheckpointError) as archive:
        check_members(archive, str(path), max_member_bytes=size, max_total_bytes=size, error=CheckpointError)
        check_checkpoint_pickle(archive, str(path), error=CheckpointError)


def load_checkpoint(path: Union[str, Path], map_location="cpu", trust: bool = False) -> dict:
    """An skdcore checkpoint as a dict, loaded with ``weights_only=True`` unless ``trust``.

    Raises CheckpointError when the file is missing, damaged, not an skdcore checkpoint, lacks a
    required field, or holds pickled objects (then it names the ``--trust-checkpoint`` opt-in).
    """
    path = Path(path)
    if not path.exists():
        raise CheckpointError(f"checkpoint {path} not found")
    if not trust:
        check_archive(path)
    try:
        ckpt = torch.load(path, map_location=map_location, weights_only=not trust)
    except pickle.UnpicklingError as error:
        if not trust and _refuses_objects(error):
            raise CheckpointError(
                f"{path} holds pickled Python objects{_refused_global(error)}, not only tensors and plain "
                "data; loading it would run code from the file, so it was refused (checkpoints written by "
                f"this skdcore never need that); {TRUST_HINT}"
            ) from None
        raise CheckpointError(f"{path} is not a readable checkpoint (UnpicklingError: {error})") from None
    except Exception as error:  # a torn / foreign file: say which
        raise CheckpointError(
            f"{path} is not a readable checkpoint ({type(error).__name__}: {error})"
        ) from None
    check_loaded_values(ckpt, str(path), error=CheckpointError)  # meta tensors, self-references, depth
    if not isinstance(ckpt, dict) or ckpt.get("format") not in KNOWN_FORMATS:
        raise CheckpointError(
            f"{path} is not an skdcore training checkpoint (no '{FORMAT}' marker); a bare "
            "state_dict can be loaded with model.load_state_dict(torch.load(path))"
        )
    for key, kind, what in (
        ("model_name", str, "a string"),
        ("model_args", dict, "a dict"),
        ("model", dict, "a dict of tensors"),
    ):
        if not isinstance(ckpt.get(key), kind):
            found = "missing" if key not in ckpt else f"a {type(ckpt[key]).__name__}"
            raise CheckpointError(
                f"{path}: field {key!r} is {found}, expected {what}; the checkpoint is damaged "
                "or was not written by skdcore"
            )
    from ..models import available_models
    from .fields import check_config_field

    check_config_field(ckpt.get("config"), path)
    from ..models.registry import REGISTER_HINT

    models = available_models()
    if ckpt["model_name"] not in models:
        raise CheckpointError(
            f"{path}: field 'model_name' is {ckpt['model_name'][:40]!r}, not a model of this "
            f"skdcore ({list(models)}); for {REGISTER_HINT}"
        )
    bad = [k for k, v in ckpt["model"].items() if not torch.is_tensor(v)]
    if bad:
        raise CheckpointError(
            f"{path}: field 'model' holds non-tensor entries (e.g. {bad[:3]}); the checkpoint "
            "is damaged or was not written by skdcore"
        )
    return ckpt


def model_from_checkpoint(ckpt: dict, path: Union[str, Path], **overrides) -> torch.nn.Module:
    """The architecture a checkpoint records (``model_name`` + ``model_args``, ``overrides`` on top),
    untrained; settings the model refuses are a CheckpointError naming the file."""
    from ..models import build_model
    from ..models.model_size import size_problem

    args = {**ckpt["model_args"], **overrides}
    check_model_args(ckpt["model_args"], path)
    try:
        with torch.device("meta"):  # NB: sizes first, without allocating: model_args come from the file
            sized = build_model(ckpt["model_name"], **args)
        problem = size_problem(sized, ckpt["model_name"])
        if problem:
            raise CheckpointError(f"{path}: its model_args describe a model too large to build: {problem}")
        needed = _state_bytes(sized.state_dict().values())
        held = _state_bytes(ckpt["model"].values())
        if needed > held:
            raise CheckpointError(
                f"{path}: its model_args describe a {ckpt['model_name']!r} model of {needed} bytes of "
                f"parameters and buffers but the checkpoint holds {held}; model_args "
                f"{_brief_args(ckpt['model_args'])} do not match its weights (damaged or crafted)"
            )
        return build_model(ckpt["model_name"], **args)
    except (TypeError, ValueError, KeyError, IndexError, RuntimeError, NotImplementedError) as error:
        if isinstance(error, CheckpointError):
            raise
        raise CheckpointError(
            f"{path}: cannot build its model {ckpt['model_name']!r} from the recorded "
            f"model_args ({type(error).__name__}: {error}); the checkpoint is damaged or comes "
            "from another skdcore version"
        ) from None


MAX_MODEL_ARG = 1 << 20  # any count in model_args (channels, classes, joints, strides)
MAX_MODEL_ARG_ITEMS = 4096  # members of one list / dict in model_args


def check_model_args(args, path, where: str = "model_args", depth: int = 0) -> None:
    """Every number and list length in a checkpoint's model_args within sane bounds, strides >= 1, nesting
    at most 16 deep (CheckpointError naming the argument), before anything is built from them."""
    if depth > 16:
        raise CheckpointError(f"{path}: {where[:80]} is nested more than 16 levels deep (or contains "
                              "itself); the checkpoint is damaged or crafted")
    if isinstance(args, (dict, list, tuple)):
        items = args.items() if isinstance(args, dict) else enumerate(args)
        if len(args) > MAX_MODEL_ARG_ITEMS:
            raise CheckpointError(
                f"{path}: {where} has {len(args)} entries, more than {MAX_MODEL_ARG_ITEMS}; the checkpoint "
                "is damaged or crafted"
            )
        for key, value in items:
            check_model_args(value, path, f"{where}[{key!r}]", depth + 1)
    elif re.search(r"\['strides?'\](\[\d+\])?$", where) and not (isinstance(args, int) and args >= 1):
        raise CheckpointError(f"{path}: {where} is {str(args)[:40]}, expected a stride >= 1; the "
                              "checkpoint is damaged or crafted")
    elif isinstance(args, (int, float)) and not isinstance(args, bool) and not abs(args) <= MAX_MODEL_ARG:
        raise CheckpointError(
            f"{path}: {where} is {str(args)[:40]}, beyond the limit {MAX_MODEL_ARG} for a model setting; "
            "the checkpoint is damaged or crafted"
        )


def _state_bytes(tensors) -> int:
    """Bytes of the distinct storages behind ``tensors`` (views of one storage count once; a meta
    tensor, which has no data, counts nothing)."""
    storages = {}
    for tensor in tensors:
        if not torch.is_tensor(tensor):
            continue
        if tensor.is_meta:
            continue  # NB: holds no data, so it pays for no model (load_checkpoint refuses them anyway)
        else:
            storage = tensor.untyped_storage()
            storages[(tensor.device.type, storage.data_ptr())] = storage.nbytes()
    return sum(storages.values())


def _brief_args(args: dict) -> str:
    text = repr(args)
    return text if len(text) <= 200 else text[:200] + "..."


def resume_state(ckpt: dict, path: Union[str, Path]) -> dict:
    """The fields a resume needs, checked: {optimizer, scheduler, epoch, step, step_in_epoch, rng, ...}."""
    for key, kind in (
        ("optimizer", dict),
        ("scheduler", dict),
        ("epoch", int),
        ("step", int),
        ("step_in_epoch", int),
        ("rng", dict),
    ):
        if not isinstance(ckpt.get(key), kind):
            found = "missing" if key not in ckpt else f"a {type(ckpt[key]).__name__}"
            raise CheckpointError(
                f"{path}: field {key!r} is {found}, expected a {kind.__name__}; it is not a "
                "resumable training checkpoint (best.pt of a finished run? resume from last.pt)"
            )
    extra = ckpt.get("extra") if isinstance(ckpt.get("extra"), dict) else {}
    sums = ckpt.get("epoch_sums") if isinstance(ckpt.get("epoch_sums"), dict) else {}
    scaler = ckpt.get("amp_scaler") if isinstance(ckpt.get("amp_scaler"), dict) else {}
    _check_scaler_state(scaler, path)
    return {
        **{k: ckpt[k] for k in ("optimizer", "scheduler", "epoch", "step", "step_in_epoch", "rng")},
        "best": ckpt.get("best") or {},
        "history": extra.get("history", []),
        "mode": extra.get("mode"),
        "epoch_sums": sums,
        "amp_scaler": scaler,  # empty: no fp16 scaler (an fp16 resume then starts from a fresh scale)
    }


# GradScaler.state_dict()'s fields and their types (a float scale, an int count of good steps, ...)
SCALER_FIELDS = {"scale": float, "growth_factor": float, "backoff_factor": float, "growth_interval": int,
                 "_growth_tracker": int}


def _check_scaler_state(state: dict, path: Union[str, Path]) -> None:
    if not state:
        return
    for key, kind in SCALER_FIELDS.items():
        value = state.get(key)
        if isinstance(value, bool) or not isinstance(value, (int, float) if kind is float else int):
            raise CheckpointError(f"{path}: field 'amp_scaler' has {key}={value!r}, expected "
                                  f"{'a number' if kind is float else 'an integer'}; the checkpoint is "
                                  "damaged or was not written by skdcore")
    if not 0 < state["scale"] < float("inf"):
        raise CheckpointError(f"{path}: field 'amp_scaler' has scale={state['scale']!r}, expected a finite "
                              "number > 0; the checkpoint is damaged")


def load_model_state(
    model: torch.nn.Module,
    ckpt: dict,
    path: Union[str, Path],
    model_name: Optional[str] = None,
    ignore: tuple = (),
) -> None:
    """Strictly load ``ckpt['model']`` into ``model``; a different model raises CheckpointError naming keys.

    ``ignore``: key prefixes allowed to be absent from the checkpoint (e.g. the student's 'adaption.').
    """
    if model_name is not None and ckpt.get("model_name") != model_name:
        raise CheckpointError(
            f"{path} holds a {ckpt.get('model_name')!r} model but this run builds {model_name!r}; "
            "use a checkpoint of the same model (model.name) or change the config"
        )
    expected, found = model_signature(model), {k: tuple(v.shape) for k, v in ckpt["model"].items()}
    missing = [k for k in expected if k not in found and not k.startswith(ignore)]
    unexpected = [k for k in found if k not in expected]
    mismatched = [
        f"{k}: checkpoint {found[k]} vs model {expected[k]}"
        for k in expected
        if k in found and found[k] != expected[k]
    ]
    if missing or unexpected or mismatched:
        parts = []
        for title, items in (
            ("missing", missing),
            ("unexpected", unexpected),
            ("shape mismatch", mismatched),
        ):
            if items:
                parts.append(f"{len(items)} {title} (e.g. {items[:3]})")
        raise CheckpointError(
            f"{path} does not fit this model ({ckpt.get('model_name')} args "
            f"{ckpt.get('model_args')}): "
            + "; ".join(parts)
            + "; the checkpoint was saved from a different architecture: use the model settings "
            "it was trained with (model.args) or another checkpoint"
        )
    unwrap(model).load_state_dict(ckpt["model"], strict=not ignore)
