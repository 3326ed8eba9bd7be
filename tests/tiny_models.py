"""The tiny model of the end-to-end tests: a Shift-GCN / ST-GCN of two small blocks, as ``model.args``
for a YAML config (TINY_ARGS), and a tiny run as ``--set`` overrides of a shipped config (TINY_SETTINGS:
that small model, 2 epochs, batch 12, no progress bar or TensorBoard)."""

from __future__ import annotations

TINY_ARGS = {"channels": [8, 16], "strides": [1, 2]}
TINY_SETTINGS = [
    "model.args.channels=[8,16]",
    "model.args.strides=[1,2]",
    "optim.epochs=2",
    "optim.warmup_epochs=0",
    "log.progress=false",
    "log.tensorboard='off'",
    "data.batch_size=12",
]


def set_options(settings: list) -> list:
    """``["--set", setting, ...]``: ``settings`` as options of `skd train` / `skd distill`."""
    return [word for setting in settings for word in ("--set", setting)]
