"""Evaluation of trained checkpoints: metrics, `skd eval`, and robustness to LQ corruptions.

    from skdcore.evaluation import evaluate_checkpoint, robustness_grid
"""
from ..checkpoints import load_trained_model
from .checkpoints import evaluate_checkpoint
from .metrics import classification_metrics, evaluate

__all__ = ["classification_metrics", "evaluate", "evaluate_checkpoint", "load_trained_model"]
