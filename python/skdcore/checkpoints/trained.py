"""A trained checkpoint as a model in eval mode (what `skd eval`, `skd robustness` and the demo load)."""
from __future__ import annotations

from ..layouts import layout_data
from .checkpoint import load_checkpoint, load_model_state, model_from_checkpoint
from .fields import check_finite_weights


def load_trained_model(path, ops: str = "fused", layout=None, trust: bool = False):
    """(model in eval mode, checkpoint dict) from a checkpoint; ``layout`` overrides the stored one;
    ``trust`` loads a checkpoint holding pickled objects (weights_only=False: only for trusted files)."""
    ckpt = load_checkpoint(path, trust=trust)
    check_finite_weights(ckpt, path)  # NB: NaN weights would be evaluated silently (every prediction class 0)
    overrides = {} if layout is None else {"layout": layout_data(layout)}
    model = model_from_checkpoint(ckpt, path, ops=ops, **overrides)
    load_model_state(model, ckpt, path)
    return model.eval(), ckpt
