"""Experiment configs: YAML files loaded into plain dataclasses, with errors that name the key.

One YAML file per experiment (see ``configs/``). Every section is a dataclass below; a key that
is not a field, or a value outside its allowed choices, raises ``ConfigError`` naming the full
key path (``optim.name``) and the valid choices. ``--set a.b=value`` overrides from the CLI
use the same validation.
"""
from __future__ import annotations

import dataclasses
import difflib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional, Union

import yaml

MODES = ("teacher", "baseline", "distill")
OPS = ("fused", "reference")
OPTIMIZERS = ("sgd", "adamw")
LQ_MODES = ("fixed", "random")
REVISION_SCHEMES = ("fast", "reference")
TENSORBOARD = ("auto", "on", "off")
SCHEDULES = ("step", "cosine")
SELECT_ON_TEST_LABEL = "reference behaviour: model selection on the test split"


class ConfigError(ValueError):
    """A config key or value is invalid; the message names the key and the valid choices."""


@dataclass
class DataConfig:
    root: str = "runs/data/synthetic"  # directory written by `skd prepare`
    train_split: str = "train"
    test_split: str = "test"  # evaluated once at the end of training, never read for model selection
    val_split: Optional[str] = "val"  # selects best.pt; made by `skd prepare --val-fraction 0.1`
    # true: select best.pt on test_split every epoch, as the SKD reference code does (reproducing its numbers)
    select_on_test: bool = False
    lq: str = "fixed"  # fixed: stored LQ; random: fresh occlusion per epoch
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
    name: str = "shift_gcn"  # a name of skdcore.models.MODELS
    args: dict = field(default_factory=dict)  # keyword arguments of the model class (num_class, channels, ...)
    adaption: bool = True  # the student's 1x1 adaption conv (distill mode only)
    sync_bn: bool = False  # under torchrun: BatchNorm statistics over the global batch of all ranks


@dataclass
class OptimConfig:
    name: str = "sgd"
    lr: float = 0.1
    momentum: float = 0.9
    nesterov: bool = True
    weight_decay: float = 1e-4
    betas: tuple = (0.9, 0.999)  # adamw only
    epochs: int = 55
    milestones: list = field(default_factory=lambda: [30, 40, 50])  # epochs where lr *= gamma
    gamma: float = 0.1
    warmup_epochs: float = 0.0  # linear warm-up from lr/warmup_steps, counted in epochs (may be fractional)
    schedule: str = "step"  # step: lr *= gamma at milestones; cosine: decay to min_lr after the warm-up
    min_lr: float = 0.0  # cosine only: the lr at the last step


@dataclass
class LossConfig:
    # Weights of the four SKD losses (reference: 1 each). Used in distill mode only.
    ce: float = 1.0
    kl: float = 1.0
    mse: float = 1.0
    graph_matching: float = 1.0
    temperature: Optional[float] = None  # KL temperature; None = the reference (no temperature)
    gradient_revision: bool = True
    revision_scheme: str = "fast"  # fast: MultiLossBackward's fast path; reference: 4 backward passes


@dataclass
class LogConfig:
    progress: bool = True  # tqdm bars when stdout is a terminal (plain lines otherwise)
    every_steps: int = 50  # a plain progress line in train.log (and stdout without a bar) every N steps; 0: none
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
    log: LogConfig = field(default_factory=LogConfig)

    def validate(self) -> "ExperimentConfig":
        _choice("mode", self.mode, MODES)
        _choice("ops", self.ops, OPS)
        _choice("optim.name", self.optim.name, OPTIMIZERS)
        _choice("optim.schedule", self.optim.schedule, SCHEDULES)
        _choice("data.lq", self.data.lq, LQ_MODES)
        _choice("loss.revision_scheme", self.loss.revision_scheme, REVISION_SCHEMES)
        _choice("log.tensorboard", self.log.tensorboard, TENSORBOARD)
        from ..models import MODELS

        _choice("model.name", self.model.name, tuple(sorted(MODELS)))
        for key, value in (("data.batch_size", self.data.batch_size), ("data.eval_batch_size", self.data.eval_batch_size),
                           ("optim.epochs", self.optim.epochs)):
            if not isinstance(value, int) or value < 1:
                raise ConfigError(f"{key} must be a positive integer, got {value!r}")
        for key in ("ce", "kl", "mse", "graph_matching"):
            if getattr(self.loss, key) < 0:
                raise ConfigError(f"loss.{key} must be >= 0, got {getattr(self.loss, key)!r}")
        if self.loss.temperature is not None and self.loss.temperature <= 0:
            raise ConfigError(f"loss.temperature must be > 0 or null (no temperature), got {self.loss.temperature!r}")
        if self.optim.lr <= 0 or self.optim.warmup_epochs < 0:
            raise ConfigError(f"optim.lr must be > 0 and optim.warmup_epochs >= 0, got {self.optim.lr}, "
                              f"{self.optim.warmup_epochs}")
        if not 0 <= self.optim.min_lr <= self.optim.lr:
            raise ConfigError(f"optim.min_lr must be in [0, optim.lr={self.optim.lr}], "
                              f"got {self.optim.min_lr!r}")
        data = self.data
        if not data.select_on_test and data.val_split is not None and data.val_split == data.test_split:
            raise ConfigError(f"data.val_split and data.test_split are both {data.test_split!r}; "
                              "selecting on the test split is data.select_on_test: true "
                              f"({SELECT_ON_TEST_LABEL})")
        if list(self.optim.milestones) != sorted(self.optim.milestones):
            raise ConfigError(f"optim.milestones must be increasing epochs, got {self.optim.milestones}")
        return self

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


def _choice(key: str, value: Any, choices: tuple) -> None:
    if value not in choices:
        raise ConfigError(f"{key}: {value!r} is not valid; choose one of {list(choices)}")


def _from_dict(cls, values: dict, prefix: str = ""):
    if not isinstance(values, dict):
        raise ConfigError(f"{prefix.rstrip('.') or 'config'} must be a mapping, got {type(values).__name__}")
    fields = {f.name: f for f in dataclasses.fields(cls)}
    kwargs = {}
    for key, value in values.items():
        if key not in fields:
            hint = difflib.get_close_matches(str(key), fields, n=1)
            raise ConfigError(f"unknown config key '{prefix}{key}'" + (f" (did you mean {hint[0]!r}?)" if hint else "")
                              + f"; valid keys of {prefix.rstrip('.') or 'the top level'}: {sorted(fields)}")
        factory = fields[key].default_factory
        if isinstance(factory, type) and dataclasses.is_dataclass(factory):  # a nested section
            kwargs[key] = _from_dict(factory, value or {}, f"{prefix}{key}.")
        else:
            kwargs[key] = value
    return cls(**kwargs)


def config_from_dict(values: dict) -> ExperimentConfig:
    return _from_dict(ExperimentConfig, values or {}).validate()


def _parse_override(text: str) -> tuple[list[str], Any]:
    if "=" not in text:
        raise ConfigError(f"override {text!r} must look like key.sub=value (e.g. optim.lr=0.05)")
    key, raw = text.split("=", 1)
    return key.strip().split("."), yaml.safe_load(raw)


def load_config(path: Union[str, Path, None] = None, overrides: Optional[list] = None,
                values: Optional[dict] = None) -> ExperimentConfig:
    """Load a YAML experiment config (or start from defaults / ``values``) and apply ``a.b=value`` overrides."""
    data: dict = {}
    if path is not None:
        path = Path(path)
        if not path.exists():
            raise ConfigError(f"config file {path} not found; the shipped configs are in configs/")
        try:
            data = yaml.safe_load(path.read_text()) or {}
        except yaml.YAMLError as error:
            raise ConfigError(f"{path}: not valid YAML: {error}") from None
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
    from .checkpoint import atomic_write_text

    atomic_write_text(Path(path), yaml.safe_dump(config.to_dict(), sort_keys=False))
