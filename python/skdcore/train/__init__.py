"""SKD training: configs, losses, the teacher / baseline / distillation loops, evaluation, checkpoints.

    from skdcore.train import load_config, train
    train(load_config("demo_teacher"))
"""
from ..checkpoints import CheckpointError, load_checkpoint, save_checkpoint
from ..distill.losses import cross_entropy, feature_mse, kl_distillation, skd_losses
from ..distill.revision import RevisedBackward, reference_multi_loss_backward
from ..evaluation.metrics import classification_metrics, evaluate
from .config import ExperimentConfig, config_from_dict, load_config
from .ops_select import select_ops
from .trainer import Trainer, train
from .typed_yaml import ConfigError

__all__ = [
    "CheckpointError", "ConfigError", "ExperimentConfig", "RevisedBackward", "Trainer",
    "classification_metrics", "config_from_dict", "cross_entropy", "evaluate", "feature_mse",
    "kl_distillation", "load_checkpoint", "load_config", "reference_multi_loss_backward", "save_checkpoint",
    "select_ops", "skd_losses", "train",
]
