"""Training-side helpers of skdcore."""
from .multi_loss_backward import MultiLossBackward, reference_multi_loss_backward

__all__ = ["MultiLossBackward", "reference_multi_loss_backward"]
