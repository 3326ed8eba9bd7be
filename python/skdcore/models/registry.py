"""The model names configs and the CLI refer to: built-in backbones, ``register_model`` and entry points.

    from skdcore.models import SkeletonModel, register_model

    @register_model("my_gcn")
    class MyGCN(SkeletonModel):
        ...

    build_model("my_gcn", num_class=10)       # and ``model: {name: my_gcn}`` in a config

For ``skd`` commands (a fresh process), an installed package makes its models known through the
``skdcore.models`` entry-point group (``[project.entry-points."skdcore.models"]
my_gcn = "my_package.models:MyGCN"``); they are loaded when a name is looked up or listed.
"""
from __future__ import annotations

import inspect
import warnings
from importlib import metadata
from typing import Any, Callable, Dict, Optional, Type

import torch
from torch import nn

from .ctr_gcn import CTRGCN
from .model_size import size_problem
from .shift_gcn import ShiftGCN
from .skeleton_model import SkeletonModel
from .st_gcn import STGCN

ENTRY_POINT_GROUP = "skdcore.models"
# How an own model becomes known to `skd`: said by every "unknown model" error.
REGISTER_HINT = ("an own model: register it (skdcore.models.register_model) in a module and pass "
                 "`--plugin MODULE` to skd, or declare it in your package's 'skdcore.models' entry points")
MODELS: Dict[str, Type[SkeletonModel]] = {"shift_gcn": ShiftGCN, "st_gcn": STGCN, "ctr_gcn": CTRGCN}
_entry_points_loaded = False


def _check_class(name: str, cls: Any) -> None:
    if not (inspect.isclass(cls) and issubclass(cls, SkeletonModel)):
        raise TypeError(f"register_model({name!r}): {cls!r} is not a subclass of "
                        "skdcore.models.SkeletonModel; "
                        "subclass it (set data_bn, implement backbone(x) -> (N*M, C, T, V)) so the trainer, "
                        "the distiller and checkpoints can build it")


def _add(name: str, cls: Type[SkeletonModel]) -> None:
    if not isinstance(name, str) or not name.isidentifier():
        raise ValueError(f"register_model: the name must be an identifier such as 'my_gcn', got {name!r}")
    _check_class(name, cls)
    if MODELS.get(name, cls) is not cls:
        raise ValueError(f"register_model({name!r}): the name is taken by {MODELS[name].__module__}."
                         f"{MODELS[name].__qualname__}; choose another name")
    MODELS[name] = cls


def register_model(name: str) -> Callable[[Type[SkeletonModel]], Type[SkeletonModel]]:
    """Class decorator: make a :class:`SkeletonModel` subclass buildable as ``name`` (build_model, configs,
    checkpoints, the CLI). Registering the same class twice is allowed; another class under a taken
    name is an error."""
    def decorate(cls: Type[SkeletonModel]) -> Type[SkeletonModel]:
        _add(name, cls)
        return cls

    return decorate


def _load_entry_points() -> None:
    global _entry_points_loaded
    if _entry_points_loaded:
        return
    _entry_points_loaded = True
    for entry in metadata.entry_points(group=ENTRY_POINT_GROUP):
        if entry.name in MODELS:
            continue
        try:
            _add(entry.name, entry.load())
        except Exception as error:  # NB: one broken installed package must not stop every skd command
            warnings.warn(f"skdcore: model entry point {entry.name} = {entry.value!r} skipped: {error}",
                          stacklevel=2)


def available_models() -> Dict[str, Type[SkeletonModel]]:
    """Every model name (built-in, registered, from entry points) -> its class, sorted by name."""
    _load_entry_points()
    return dict(sorted(MODELS.items()))


class ModelArgumentError(ValueError):
    """A model built with arguments its class does not accept (the message lists the accepted ones)."""


def model_class(name: str) -> Type[SkeletonModel]:
    """The class registered as ``name`` (ValueError listing the names otherwise)."""
    if name not in MODELS:
        _load_entry_points()
    try:
        return MODELS[name]
    except KeyError:
        raise ValueError(f"unknown model {name!r}; choose one of {sorted(MODELS)}, or for "
                         f"{REGISTER_HINT}") from None


def accepted_arguments(name: str) -> Dict[str, Any]:
    """The keyword arguments ``build_model(name, ...)`` accepts -> their defaults
    (``inspect.Parameter.empty`` where required)."""
    parameters = inspect.signature(model_class(name).__init__).parameters
    return {p.name: p.default for p in parameters.values()
            if p.name != "self" and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)}


def takes_any_argument(name: str) -> bool:
    """Whether the class registered as ``name`` takes ``**kwargs`` (then any argument name may be right)."""
    parameters = inspect.signature(model_class(name).__init__).parameters.values()
    return any(p.kind is p.VAR_KEYWORD for p in parameters)


def build_model(name: str, **kwargs) -> nn.Module:
    """Build a registered model, e.g. ``build_model('st_gcn', layout='coco17', num_class=10)``.

    Keyword arguments go to the model class (see :class:`ShiftGCN`, :class:`STGCN`, :class:`CTRGCN`);
    ``adaption_channels=C`` gives the SKD student variant with the 1x1 adaption conv;
    ``ops="reference"`` runs the pure-PyTorch references instead of the compiled ops (the default).
    """
    cls = model_class(name)
    try:
        if torch.empty(0).device.type != "meta":  # NB: sized on the meta device first (no memory)
            with torch.device("meta"):
                problem = size_problem(cls(**kwargs), name)
            if problem:
                raise ModelArgumentError(f"model.args of {name}: {problem}")
        return cls(**kwargs)
    except ModelArgumentError:
        raise
    except (TypeError, ValueError) as error:  # an unknown keyword or a wrong value: say which ones exist
        raise ModelArgumentError(f"model.args of {name}: {error}; accepted arguments: "
                                 f"{list(accepted_arguments(name))}") from error


def make_student(model: nn.Module, adaption_channels: Optional[int] = None) -> nn.Module:
    """Give an existing model the SKD student's 1x1 adaption conv on its features (in place).

    ``adaption_channels`` defaults to the model's own feature width (the reference: 256 -> 256).
    """
    channels = model.feature_channels if adaption_channels is None else adaption_channels
    model.adaption = nn.Conv2d(model.feature_channels, channels, 1).to(model.fc.weight.device)
    return model
