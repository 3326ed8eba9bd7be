"""Experiment configs: YAML files loaded into plain dataclasses, with errors that name the key.

One YAML file per experiment (see ``configs/``). Every section is a dataclass below, and its type
annotations are the schema: before anything runs, every value is checked against its field's type
(``seed: abc``, ``loss.gradient_revision: 'false'``, ``optim.lr: .nan`` are errors, never silently
used), then against its allowed choices and ranges. Each wrong value is one line of the
``ConfigError``, naming the full key path (``optim.name``), the value, the expected type and the valid
choices. A mode whose choices include off (and on) also takes YAML's booleans (YAML 1.1 reads ``off``
as false).
``--set a.b=value`` overrides from the CLI use the same validation.
"""
from __future__ import annotations

import dataclasses
import difflib
import math
import re
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional, Union

import yaml

from ..distill.losses import LOSS_NAMES, LOSS_WEIGHTS
from ..nn.ops_choice import OPS
from .amp import AMP_MODES

MODES = ("teacher", "baseline", "distill")
OPTIMIZERS = ("sgd", "adamw")
LQ_MODES = ("fixed", "random")
REVISION_SCHEMES = ("fast", "reference")
TENSORBOARD = ("auto", "on", "off")
SCHEDULES = ("step", "cosine")
SELECTS = ("best", "last")
SELECT_ON_TEST_LABEL = "reference behaviour: model selection on the test split"


MAX_EPOCHS = 100_000  # far beyond any real schedule: a larger value is a typo, and would run for ever
DEVICE_PATTERN = re.compile(r"^(auto|cpu|mps|(cuda|xpu)(:\d+)?)$")


class ConfigError(ValueError):
    """A config key or value is invalid; the message names the key and the valid choices (one line per
    wrong value)."""


@dataclass
class DataConfig:
    root: str = "runs/data/synthetic"  # directory written by `skd prepare`
    train_split: str = "train"
    test_split: str = "test"  # evaluated once at the end of training, never read for model selection
    val_split: Optional[str] = "val"  # selects best.pt; made by `skd prepare --val-fraction 0.1`
    # true: select best.pt on test_split every epoch, as the SKD reference code does (reproducing its numbers)
    select_on_test: bool = False
    # the checkpoint evaluated on the test split (and distilled from by `skd sweep`): best = best.pt, the best
    # epoch on the selection split (ties: the later epoch); last = last.pt (small validation splits)
    select: str = "best"
    lq: str = "fixed"  # fixed: stored LQ; random: fresh LQ per epoch
    # data.lq: random regenerates the train LQ every epoch with this generator (a skdcore.data.build_lq
    # spec, e.g. {name: skd_occlusion, p: 0.9}); null: the generator `skd prepare` used (manifest)
    lq_corruption: Optional[dict] = None
    batch_size: int = 8
    eval_batch_size: int = 64
    drop_last: Optional[bool] = None  # None: keep an incomplete last batch unless < 2 samples (BatchNorm)
    # the data's skeleton layout for the model (built-in name, layout.yaml path or dict); None: the manifest's
    layout: Optional[Union[str, dict]] = None
    # If set, `prepare_dataset(root, **prepare)` runs first when root is not prepared yet
    # (keys: source, source_options, lq, seed, num_frames, normalise, val_fraction, test_fraction).
    prepare: Optional[dict] = None


@dataclass
class ModelConfig:
    name: str = "shift_gcn"  # a name of skdcore.models.available_models()
    args: dict = field(default_factory=dict)  # keyword arguments of the model class (num_class, channels..)
    adaption: bool = True  # the student's 1x1 adaption conv (distill mode only)
    sync_bn: bool = False  # under torchrun: BatchNorm statistics over the global batch of all ranks


@dataclass
class OptimConfig:
    name: str = "sgd"
    lr: float = 0.1
    momentum: float = 0.9
    nesterov: bool = True
    weight_decay: float = 1e-4
    betas: tuple[float, ...] = (0.9, 0.999)  # adamw only
    epochs: int = 55
    milestones: list[int] = field(default_factory=lambda: [30, 40, 50])  # epochs where lr *= gamma
    gamma: float = 0.1
    warmup_epochs: float = 0.0  # linear warm-up from lr/warmup_steps, counted in epochs (may be fractional)
    schedule: str = "step"  # step: lr *= gamma at milestones; cosine: decay to min_lr after the warm-up
    min_lr: float = 0.0  # cosine only: the lr at the last step


@dataclass
class LossConfig:
    # Weights of the four SKD losses (defaults: losses.LOSS_WEIGHTS). Used in distill mode only.
    ce: float = LOSS_WEIGHTS["ce"]
    kl: float = LOSS_WEIGHTS["kl"]
    mse: float = LOSS_WEIGHTS["mse"]
    graph_matching: float = LOSS_WEIGHTS["graph_matching"]
    temperature: Optional[float] = None  # KL temperature; None = the reference (no temperature)
    gradient_revision: bool = True
    revision_scheme: str = "fast"  # fast: RevisedBackward's fast path; reference: 4 backward passes


@dataclass
class TrainConfig:
    # mixed precision of the forward passes (train/amp.py): off (float32), bf16, or fp16 with loss scaling
    amp: str = "off"
    # torch.compile the student and the teacher (fullgraph where the model allows, train/compile.py)
    compile: bool = False


@dataclass
class LogConfig:
    progress: bool = True  # tqdm bars when stdout is a terminal (plain lines otherwise)
    # a plain progress line in train.log (and stdout without a bar) every N steps; 0: none
    every_steps: int = 50
    tensorboard: str = "auto"  # auto: only if the tensorboard package is installed
    eval_every: int = 1  # epochs
    checkpoint_every_steps: int = 0  # 0: only at epoch ends


@dataclass
class ExperimentConfig:
    name: str = "experiment"
    mode: str = "distill"
    ops: str = "fused"  # one switch for every op: fused skdcore kernels or the pure-PyTorch references
    seed: int = 0
    deterministic: bool = False
    device: str = "auto"  # auto: cuda when available
    output_dir: str = "runs/experiment"
    teacher_checkpoint: Optional[str] = None  # distill mode: the trained teacher
    max_steps: int = 0  # >0: stop (with a checkpoint) after this many optimizer steps in total
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    loss: LossConfig = field(default_factory=LossConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    log: LogConfig = field(default_factory=LogConfig)

    def validate(self) -> "ExperimentConfig":
        """Check choices and ranges (types are checked when the dict is read); every problem is one line."""
        from ..models import available_models

        errors: list = []
        for key, choices in {**CHOICES, "model.name": tuple(available_models())}.items():
            _choice(key, _get(self, key), choices, errors)
        if not DEVICE_PATTERN.match(str(self.device)):
            errors.append(
                f"device: {self.device!r} is not a device; use 'auto', 'cpu', 'cuda', 'cuda:N' or 'mps'"
            )
        for key in ("data.batch_size", "data.eval_batch_size", "optim.epochs", "log.eval_every"):
            _at_least(key, _get(self, key), 1, errors)
        for key in ("max_steps", "log.checkpoint_every_steps", "log.every_steps",
                    *(f"loss.{k}" for k in LOSS_NAMES), "optim.weight_decay", "optim.warmup_epochs",
                    "optim.gamma"):
            _at_least(key, _get(self, key), 0, errors)
        _check_optim_ranges(self.optim, errors)
        _check_model_args(self.model, errors)
        _check_prepare_keys(self.data, errors)
        if self.loss.temperature is not None and self.loss.temperature <= 0:
            errors.append(
                f"loss.temperature must be > 0 or null (no temperature), got {self.loss.temperature!r}"
            )
        if self.optim.lr <= 0:
            errors.append(f"optim.lr must be > 0, got {self.optim.lr!r}")
        if not 0 <= self.optim.min_lr <= self.optim.lr:
            errors.append(f"optim.min_lr must be in [0, optim.lr={self.optim.lr}], got {self.optim.min_lr!r}")
        data = self.data
        if not data.select_on_test and data.val_split is not None and data.val_split == data.test_split:
            errors.append(
                f"data.val_split and data.test_split are both {data.test_split!r}; selecting on the test "
                f"split is data.select_on_test: true ({SELECT_ON_TEST_LABEL})"
            )
        _check_lq_corruption(data, errors)
        _check_prepare_trust(data, errors)
        if list(self.optim.milestones) != sorted(self.optim.milestones):
            errors.append(f"optim.milestones must be increasing epochs, got {self.optim.milestones}")
        if len(self.optim.betas) != 2:
            errors.append(f"optim.betas must be two numbers (beta1, beta2), got {list(self.optim.betas)}")
        _raise(errors)
        return self

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


def _check_optim_ranges(optim: OptimConfig, errors: list) -> None:
    if not 0 <= optim.momentum < 1:
        errors.append(f"optim.momentum must be in [0, 1) (0.9 is usual), got {optim.momentum!r}")
    if optim.epochs > MAX_EPOCHS:
        errors.append(f"optim.epochs must be at most {MAX_EPOCHS:,}, got {optim.epochs!r}; for a run "
                      "bounded by steps set max_steps")
    wrong = [m for m in optim.milestones if m < 1]
    if wrong:
        errors.append(f"optim.milestones are epochs (>= 1) where lr *= gamma, got {wrong} in "
                      f"{list(optim.milestones)}")


# Model arguments the trainer sets itself, and the config key that sets them.
TRAINER_MODEL_ARGS = {"ops": "use the top-level ops: key",
                      "adaption_channels": "the teacher's feature width (model.adaption: true, distill mode)"}


def _check_model_args(model: ModelConfig, errors: list) -> None:
    """Unknown keyword arguments of the model class, found now instead of after the data is read."""
    import inspect

    from ..models import MODELS

    if model.name not in MODELS:
        return  # reported by the model.name choice check
    parameters = inspect.signature(MODELS[model.name].__init__).parameters
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters.values()):
        return  # a class taking **kwargs: build_model reports what it refuses
    accepted = [p for p in parameters if p not in ("self", *TRAINER_MODEL_ARGS)]
    for key in model.args:
        if key in TRAINER_MODEL_ARGS:
            errors.append(f"model.args.{key} is set by the trainer: {TRAINER_MODEL_ARGS[key]}")
            continue
        if key not in accepted:
            close = difflib.get_close_matches(str(key), accepted, n=1)
            guess = f" (did you mean {close[0]!r}?)" if close else ""
            errors.append(f"model.args: {model.name} has no argument {key!r}{guess}; accepted arguments: "
                          f"{accepted}")


def _check_prepare_keys(data: DataConfig, errors: list) -> None:
    if not data.prepare:
        return
    import inspect

    from ..data.prepare import prepare_dataset

    valid = [p for p in inspect.signature(prepare_dataset).parameters if p != "out_dir"]
    for key in data.prepare:
        if key not in valid:
            close = difflib.get_close_matches(str(key), valid, n=1)
            guess = f" (did you mean {close[0]!r}?)" if close else ""
            errors.append(f"data.prepare: unknown key {key!r}{guess}; valid keys: {valid} (the arguments "
                          "of skdcore.data.prepare_dataset; the source's own options, e.g. num_samples, go "
                          "under source_options)")


def _check_lq_corruption(data: DataConfig, errors: list) -> None:
    if data.lq_corruption is None:
        return
    if data.lq != "random":
        errors.append("data.lq_corruption is only used with data.lq: random (fresh LQ every epoch); "
                      "with data.lq: fixed the LQ stored by `skd prepare` is used, so remove it or set "
                      "data.lq: random")
        return
    from ..data.lq import build_lq

    try:
        build_lq(data.lq_corruption)
    except ValueError as error:
        errors.append(f"data.lq_corruption: {error}")


def _check_prepare_trust(data: DataConfig, errors: list) -> None:
    """Trust (e.g. trust_pickle: plain pickle, which runs code from the data files) is given on the
    command line or as a Python argument, never by a config file that may come with the data."""
    options = (data.prepare or {}).get("source_options") or {}
    if not isinstance(options, dict):
        return  # prepare_dataset reports a wrong type itself
    for key in sorted(k for k in options if isinstance(k, str) and k.startswith("trust")):
        errors.append(f"data.prepare.source_options.{key}: trust cannot come from a config file (it lets "
                      "the input files run code); prepare the data first with `skd prepare ... "
                      "--trust-pickle`, or pass it to prepare_dataset() from Python")


# Fields with a fixed set of string values (model.name's come from the model registry).
CHOICES = {
    "mode": MODES, "ops": OPS, "optim.name": OPTIMIZERS, "optim.schedule": SCHEDULES, "data.lq": LQ_MODES,
    "data.select": SELECTS,
    "loss.revision_scheme": REVISION_SCHEMES, "log.tensorboard": TENSORBOARD, "train.amp": AMP_MODES,
}


def _get(config, key: str):
    for part in key.split("."):
        config = getattr(config, part)
    return config


def _raise(errors: list) -> None:
    if errors:
        raise ConfigError("\n".join(errors) if len(errors) == 1 else
                          f"{len(errors)} invalid config values:\n  " + "\n  ".join(errors))


def _choice(key: str, value: Any, choices: tuple, errors: list) -> None:
    if value not in choices:
        errors.append(f"{key}: {value!r} is not valid; choose one of {list(choices)}")


def _at_least(key: str, value, low, errors: list) -> None:
    if value < low:
        kind = "a positive integer" if low == 1 else "a number >= 0"
        errors.append(f"{key} must be {kind}, got {value!r}")


# --------------------------------------------------------------------------- types from annotations
_TYPE_NAMES = {bool: "a boolean (true/false)", int: "an integer", float: "a number", str: "a string",
               dict: "a mapping", list: "a list", tuple: "a list"}


def _type_name(annotation) -> str:
    origin = typing.get_origin(annotation)
    if origin is Union:
        names = [_type_name(a) for a in typing.get_args(annotation) if a is not type(None)]
        return " or ".join(names) + (" or null" if type(None) in typing.get_args(annotation) else "")
    if origin in (list, tuple) and typing.get_args(annotation):
        item = _type_name(typing.get_args(annotation)[0]).removeprefix("a ").removeprefix("an ")
        return f"a list of {item}s"
    return _TYPE_NAMES.get(origin or annotation, getattr(annotation, "__name__", str(annotation)))


def _describe(value) -> str:
    return f"{value!r} ({type(value).__name__})" if value is not None else "null"


def check_type(key: str, value, annotation, errors: list):
    """``value`` as the annotated type, or the value unchanged with one line appended to ``errors``.

    bool / int / float / str / dict / list / tuple / Optional / Any, the only types configs use. Floats
    take integers, and strings in float syntax (YAML 1.1 reads ``1e-3`` as a string); a string mode
    whose choices include off (and on) takes YAML's booleans and 'true'/'false'.
    """
    origin = typing.get_origin(annotation)
    if annotation is Any:
        return value
    if origin is Union:
        if value is None and type(None) in typing.get_args(annotation):
            return None
        for inner in (a for a in typing.get_args(annotation) if a is not type(None)):
            probe: list = []
            out = check_type(key, value, inner, probe)
            if not probe:
                return out
        errors.append(f"{key}: {_describe(value)} is not {_type_name(annotation)}")
        return value
    choices = CHOICES.get(key)
    if annotation is str and choices and "off" in choices and isinstance(value, (bool, str)):
        # YAML 1.1 reads off / on as booleans; 'on' only where it is a choice (train.amp has none)
        booleans = {False: "off", "false": "off", **({True: "on", "true": "on"} if "on" in choices else {})}
        value = booleans.get(value, value)
    ok, out = _convert(value, origin or annotation)
    if ok and origin in (list, tuple) and typing.get_args(annotation):  # each wrong item is its own line
        item_type = typing.get_args(annotation)[0]
        return type(out)(check_type(f"{key}[{i}]", v, item_type, errors) for i, v in enumerate(out))
    if not ok:
        allowed = f"; choose one of {list(choices)}" if choices else ""
        errors.append(f"{key}: {_describe(value)} is not {_type_name(annotation)}{allowed}")
    return out if ok else value


def _convert(value, kind) -> tuple:
    """(ok, value as ``kind``) for the plain kinds of config fields."""
    if kind is bool:
        return isinstance(value, bool), value
    if kind is int:
        return isinstance(value, int) and not isinstance(value, bool), value
    if kind is float:
        if isinstance(value, str):
            try:
                value = float(value)
            except ValueError:
                return False, value
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            return False, value
        return True, float(value)
    if kind in (list, tuple):
        return isinstance(value, (list, tuple)), kind(value) if isinstance(value, (list, tuple)) else value
    if kind in (str, dict):
        return isinstance(value, kind), value
    return True, value  # a type this checker does not know: left to the dataclass


def _from_dict(cls, values: dict, prefix: str = "", errors: Optional[list] = None):
    top = errors is None
    errors = [] if top else errors
    if not isinstance(values, dict):
        hint = " (a YAML list at the top of the file?)" if not prefix else ""
        errors.append(f"{prefix.rstrip('.') or 'the config'} must be a mapping of keys to values, got "
                      f"{type(values).__name__}{hint}")
        _raise(errors)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    hints = typing.get_type_hints(cls)
    kwargs = {}
    for key, value in values.items():
        if key not in fields:
            close = difflib.get_close_matches(str(key), fields, n=1)
            guess = f" (did you mean {close[0]!r}?)" if close else ""
            errors.append(f"unknown config key '{prefix}{key}'{guess}; valid keys of "
                          f"{prefix.rstrip('.') or 'the top level'}: {sorted(fields)}")
            continue
        factory = fields[key].default_factory
        if isinstance(factory, type) and dataclasses.is_dataclass(factory):  # a nested section
            if value is not None and not isinstance(value, dict):
                errors.append(f"{prefix}{key} must be a section (a mapping of keys to values), got "
                              f"{_describe(value)}")
                continue
            kwargs[key] = _from_dict(factory, value or {}, f"{prefix}{key}.", errors)
        else:
            kwargs[key] = check_type(f"{prefix}{key}", value, hints[key], errors)
    if top:
        _raise(errors)
    return cls(**kwargs)


def config_from_dict(values: dict) -> ExperimentConfig:
    return _from_dict(ExperimentConfig, {} if values is None else values).validate()


def _parse_override(text: str) -> tuple[list[str], Any]:
    if "=" not in text:
        raise ConfigError(f"override {text!r} must look like key.sub=value (e.g. optim.lr=0.05)")
    key, raw = text.split("=", 1)
    try:
        return key.strip().split("."), yaml.safe_load(raw)
    except yaml.YAMLError as error:
        problem = str(getattr(error, "problem", None) or error).splitlines()[0]
        raise ConfigError(f"--set {text!r}: the value is not valid YAML ({problem}); close its brackets / "
                          "quotes, e.g. --set 'optim.milestones=[30, 40]'") from None


def load_config(path: Union[str, Path, None] = None, overrides: Optional[list] = None,
                values: Optional[dict] = None) -> ExperimentConfig:
    """Load a YAML experiment config (or start from defaults / ``values``), apply ``a.b=value`` overrides."""
    data: dict = {}
    if path is not None:
        path = Path(path)
        if not path.exists():
            raise ConfigError(f"config file {path} not found; the shipped configs are in configs/")
        if path.is_dir():
            raise ConfigError(f"config {path} is a directory; pass an experiment YAML file, e.g. "
                              "configs/demo_teacher.yaml")
        try:
            data = yaml.safe_load(path.read_text())
        except (yaml.YAMLError, UnicodeDecodeError) as error:
            raise ConfigError(f"{path}: not valid YAML: {error}") from None
        except OSError as error:
            raise ConfigError(f"config {path} cannot be read: {error.strerror or error}") from None
        data = {} if data is None else data
        if not isinstance(data, dict):
            raise ConfigError(f"{path}: the config must be a mapping of keys to values, got a "
                              f"{type(data).__name__} "
                              "(a YAML list at the top of the file?)")
    if values:
        data = _merge(data, values)
    for text in overrides or []:
        keys, value = _parse_override(text)
        data = _merge(data, _nest(keys, value))
    try:
        return config_from_dict(data)
    except ConfigError as error:
        raise ConfigError(f"{path}: {error}" if path is not None else str(error)) from None


def _nest(keys: list, value) -> dict:
    for key in reversed(keys):
        value = {key: value}
    return value


def _merge(base: dict, update: dict) -> dict:
    out = dict(base)
    for key, value in update.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict) and key != "args":
            out[key] = _merge(out[key], value)
        elif isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = {**out[key], **value}
        else:
            out[key] = value
    return out


def save_config(config: ExperimentConfig, path: Union[str, Path]) -> None:
    from ..atomic_io import atomic_write_text

    atomic_write_text(Path(path), yaml.safe_dump(config.to_dict(), sort_keys=False))
