"""How much memory a model would take, measured before it is built.

Model settings come from configs and checkpoints, which users hand around: channels [30000, 30000]
make a 32 GB model, ``num_person=10**6`` a 1.2 GB input normalisation and 300 MB per input frame.
:func:`check_model_size` builds the model on the meta device (sizes only, no memory) and refuses one
whose parameters and buffers, or one input frame, exceed caps far above any skeleton model (skdcore's
largest teacher holds ~7 MB).
"""

from __future__ import annotations

from torch import nn

MAX_MODEL_BYTES = 1 << 30  # parameters + buffers
MAX_FRAME_VALUES = 1 << 20  # in_channels x num_joints x num_person of one input frame


def state_bytes(model: nn.Module) -> int:
    return sum(t.numel() * t.element_size() for t in model.state_dict().values())


def size_problem(model: nn.Module, name: str) -> str:
    """Why a model built on the meta device is too large to build for real ('' when it is not)."""
    needed = state_bytes(model)
    if needed > MAX_MODEL_BYTES:
        return (f"model {name!r} with these settings would hold {needed / 2**30:.1f} GiB of parameters and "
                f"buffers, more than the limit {MAX_MODEL_BYTES >> 30} GiB (skeleton models hold megabytes): "
                "check its channels / num_class / num_joints / num_person")
    frame = 1
    for attribute in ("in_channels", "num_joints", "num_person"):
        value = getattr(model, attribute, 1)
        frame *= value if isinstance(value, int) and value > 0 else 1
    if frame > MAX_FRAME_VALUES:
        return (f"model {name!r} would take {frame} values per input frame (in_channels x num_joints x "
                f"num_person), more than the limit {MAX_FRAME_VALUES}: check num_joints / num_person")
    return ""
