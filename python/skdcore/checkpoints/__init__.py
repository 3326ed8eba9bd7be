"""Checkpoint files: writing them atomically, reading them safely, and a trained model from one.

Below both ``train`` (which writes checkpoints) and ``evaluation`` (which reads them), so neither
imports the other for them.

    from skdcore.checkpoints import load_checkpoint, load_trained_model
"""
from .checkpoint import (
    CheckpointError,
    load_checkpoint,
    load_model_state,
    model_from_checkpoint,
    resume_state,
    save_checkpoint,
    set_rng_state,
    unwrap,
)
from .trained import load_trained_model

__all__ = [
    "CheckpointError", "load_checkpoint", "load_model_state", "load_trained_model", "model_from_checkpoint",
    "resume_state", "save_checkpoint", "set_rng_state", "unwrap",
]
