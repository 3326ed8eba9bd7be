"""build_model(name, **kwargs): the model names configs and the CLI refer to."""
from __future__ import annotations

from typing import Dict, Optional, Type

from torch import nn

from .shift_gcn import ShiftGCN
from .skeleton_model import SkeletonModel
from .st_gcn import STGCN

MODELS: Dict[str, Type[SkeletonModel]] = {"shift_gcn": ShiftGCN, "st_gcn": STGCN}


class ModelArgumentError(ValueError):
    """A model built with arguments its class does not accept (the message lists the accepted ones)."""


def model_class(name: str) -> Type[SkeletonModel]:
    """The class registered as ``name`` (ValueError listing the names otherwise)."""
    try:
        return MODELS[name]
    except KeyError:
        raise ValueError(f"unknown model {name!r}; choose one of {sorted(MODELS)}") from None


def build_model(name: str, **kwargs) -> nn.Module:
    """Build a registered model, e.g. ``build_model('st_gcn', layout='coco17', num_class=10)``.

    Keyword arguments go to the model class (see :class:`ShiftGCN`, :class:`STGCN`);
    ``adaption_channels=C`` gives the SKD student variant with the 1x1 adaption conv;
    ``ops="reference"`` runs the pure-PyTorch references instead of the compiled ops (the default).
    """
    cls = model_class(name)
    try:
        return cls(**kwargs)
    except (TypeError, ValueError) as error:  # an unknown keyword or a wrong value: say which ones exist
        import inspect

        known = [p for p in inspect.signature(cls.__init__).parameters if p != "self"]
        raise ModelArgumentError(f"model.args of {name}: {error}; accepted arguments: {known}") from error


def make_student(model: nn.Module, adaption_channels: Optional[int] = None) -> nn.Module:
    """Give an existing model the SKD student's 1x1 adaption conv on its features (in place).

    ``adaption_channels`` defaults to the model's own feature width (the reference: 256 -> 256).
    """
    channels = model.feature_channels if adaption_channels is None else adaption_channels
    model.adaption = nn.Conv2d(model.feature_channels, channels, 1).to(model.fc.weight.device)
    return model
