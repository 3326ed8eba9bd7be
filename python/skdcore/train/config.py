"""Experiment configs: YAML files loaded into plain dataclasses, with errors that name the key.

One YAML file per experiment (shipped ones: ``skd configs``). Every section is a dataclass below, and its type
annotations are the schema: before anything runs, every value is checked against its field's type
(``seed: abc``, ``loss.gradient_revision: 'false'``, ``optim.lr: .nan`` are errors, never silently
used), then against its allowed choices and ranges. Each wrong value is one line of the
``ConfigError``, naming the full key path (``optim.name``), the value, the expected type and the valid
choices. A mode whose choices include off (and on) also takes YAML's booleans (YAML 1.1 reads ``off``
as false).
``--set a.b=value`` overrides from the CLI use the same validation.
This file is the experiment schema; the engine that reads YAML into it and checks types is
``typed_yaml.py``.
"""
from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional, Union

import yaml

from ..did_you_mean import did_you_mean
from ..distill.losses import LOSS_NAMES, LOSS_WEIGHTS
from ..distill.revision import SCHEMES as REVISION_SCHEMES
from ..nn.ops_choice import OPS
from ..seed_range import seed_problem
from ..shipped_configs import resolve_config
from .amp import AMP_MODES
from .milestones import check_milestones
from .selection import note_chosen_selection
from .typed_yaml import (
    ConfigError,  # noqa: F401  (raised by everything below, for callers)
    check_at_least,
    check_choice,
    from_dict,
    get_path,
    load_yaml,
    raise_errors,
)

MODES = ("teacher", "baseline", "distill")
OPTIMIZERS = ("sgd", "adamw")
LQ_MODES = ("fixed", "random")
TENSORBOARD = ("auto", "on", "off")
SCHEDULES = ("step", "cosine")
SELECTS = ("best", "last")
SELECT_ON_TEST_LABEL = "reference behaviour: model selection on the test split"


MAX_EPOCHS = 100_000  # far beyond any real schedule: a larger value is a typo, and would run for ever
DEVICE_PATTERN = re.compile(r"^(auto|cpu|mps|(cuda|xpu)(:\d+)?)$")


MAX_ROTATE_DEG = 180.0


@dataclass
class AugmentConfig:
    # training clips only (data/augment.py): a rotation about the clip's centre by angles drawn uniformly in
    # [-rotate_deg, rotate_deg] degrees about each axis (2-D data: one in-plane angle), and a scale drawn in
    # [1 - scale, 1 + scale]; HQ and LQ of a pair get the same transform. Both 0: off
    rotate_deg: float = 0.0
    scale: float = 0.0

    @property
    def enabled(self) -> bool:
        return self.rotate_deg > 0 or self.scale > 0


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
    augment: AugmentConfig = field(default_factory=AugmentConfig)


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
    # where lr *= gamma (step schedule): epochs (ints) or fractions of the run (0 < f < 1), see milestones.py
    milestones: list[Any] = field(default_factory=lambda: [30, 40, 50])
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
            check_choice(key, get_path(self, key), choices, errors)
        if not DEVICE_PATTERN.match(str(self.device)):
            errors.append(
                f"device: {self.device!r} is not a device; use 'auto', 'cpu', 'cuda', 'cuda:N' or 'mps'"
            )
        for key in ("data.batch_size", "data.eval_batch_size", "optim.epochs", "log.eval_every"):
            check_at_least(key, get_path(self, key), 1, errors)
        for key in ("max_steps", "log.checkpoint_every_steps", "log.every_steps",
                    *(f"loss.{k}" for k in LOSS_NAMES), "optim.weight_decay", "optim.warmup_epochs",
                    "optim.gamma"):
            check_at_least(key, get_path(self, key), 0, errors)
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
        _check_augment(data.augment, errors)
        _check_prepare_trust(data, errors)
        errors.extend(filter(None, [seed_problem(self.seed, "seed")]))
        if len(self.optim.betas) != 2:
            errors.append(f"optim.betas must be two numbers (beta1, beta2), got {list(self.optim.betas)}")
        raise_errors(errors)
        return self

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


def _check_optim_ranges(optim: OptimConfig, errors: list) -> None:
    if not 0 <= optim.momentum < 1:
        errors.append(f"optim.momentum must be in [0, 1) (0.9 is usual), got {optim.momentum!r}")
    if optim.epochs > MAX_EPOCHS:
        errors.append(f"optim.epochs must be at most {MAX_EPOCHS:,}, got {optim.epochs!r}; for a run "
                      "bounded by steps set max_steps")
    check_milestones(optim, errors)


# Model arguments the trainer sets itself, and the config key that sets them.
TRAINER_MODEL_ARGS = {"ops": "use the top-level ops: key",
                      "adaption_channels": "the teacher's feature width (model.adaption: true, distill mode)"}


def _check_model_args(model: ModelConfig, errors: list) -> None:
    """Unknown keyword arguments of the model class, found now instead of after the data is read."""
    from ..models import MODELS, accepted_arguments, takes_any_argument

    if model.name not in MODELS:
        return  # reported by the model.name choice check
    if takes_any_argument(model.name):
        return  # a class taking **kwargs: build_model reports what it refuses
    accepted = [p for p in accepted_arguments(model.name) if p not in TRAINER_MODEL_ARGS]
    for key in model.args:
        if key in TRAINER_MODEL_ARGS:
            errors.append(f"model.args.{key} is set by the trainer: {TRAINER_MODEL_ARGS[key]}")
        elif key not in accepted:
            errors.append(f"model.args: {model.name} has no argument {key!r}{did_you_mean(key, accepted)}; "
                          f"accepted arguments: {accepted}")


def _check_prepare_keys(data: DataConfig, errors: list) -> None:
    if not data.prepare:
        return
    import inspect

    from ..data.prepare import prepare_dataset

    valid = [p for p in inspect.signature(prepare_dataset).parameters if p != "out_dir"]
    for key in data.prepare:
        if key not in valid:
            errors.append(f"data.prepare: unknown key {key!r}{did_you_mean(key, valid)}; valid keys: {valid} "
                          "(the arguments of skdcore.data.prepare_dataset; the source's own options, e.g. "
                          "num_samples, go under source_options)")


def _check_augment(augment: AugmentConfig, errors: list) -> None:
    if not 0 <= augment.rotate_deg <= MAX_ROTATE_DEG:
        errors.append(f"data.augment.rotate_deg must be in [0, {MAX_ROTATE_DEG:g}] (degrees; 0: no "
                      f"rotation), got {augment.rotate_deg!r}")
    if not 0 <= augment.scale < 1:
        errors.append(f"data.augment.scale must be in [0, 1) (0.1: factors in [0.9, 1.1]; 0: no scaling), "
                      f"got {augment.scale!r}")


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
        errors.append(f"data.prepare.source_options must be a mapping of the source's options (e.g. "
                      f"{{num_samples: 400}}), got a {type(options).__name__}")
        return
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


def config_from_dict(values: dict) -> ExperimentConfig:
    values = {} if values is None else values
    return note_chosen_selection(from_dict(ExperimentConfig, values, CHOICES).validate(), values)


def load_config(path: Union[str, Path, None] = None, overrides: Optional[list] = None,
                values: Optional[dict] = None) -> ExperimentConfig:
    """Load a YAML experiment config (or start from defaults / ``values``), apply ``a.b=value`` overrides."""
    if path is not None:
        try:
            path = resolve_config(path)  # NB: a shipped config's name, or a path
        except FileNotFoundError as error:
            raise ConfigError(str(error)) from None
    return load_yaml(config_from_dict, path, overrides, values)


def save_config(config: ExperimentConfig, path: Union[str, Path]) -> None:
    from ..atomic_io import atomic_write_text

    atomic_write_text(Path(path), yaml.safe_dump(config.to_dict(), sort_keys=False))
