"""BatchNorm with statistics over the global batch of every rank, on any device (gloo CPU too).

``torch.nn.SyncBatchNorm`` refuses CPU tensors; this one computes the same thing with
differentiable all-reduces (``torch.distributed.nn.functional.all_reduce``), two passes (mean, then
the centred sum of squares) for accuracy. Outside training or without a process group it is a plain
BatchNorm. ``convert_sync_batchnorm(model)`` swaps every BatchNorm{1,2,3}d, keeping weights and buffers.
"""
from __future__ import annotations

import torch
import torch.distributed as dist
from torch import nn


class GlobalBatchNorm(nn.modules.batchnorm._BatchNorm):
    """BatchNorm over (N, C, ...) whose batch statistics span every rank's batch."""

    def _check_input_dim(self, input: torch.Tensor) -> None:
        if input.dim() < 2:
            raise ValueError(f"GlobalBatchNorm expects (N, C, ...) input, got shape {tuple(input.shape)}")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        distributed = dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1
        if not (self.training and distributed):
            return super().forward(x)
        from torch.distributed.nn.functional import all_reduce

        self._check_input_dim(x)
        dims = [0] + list(range(2, x.dim()))
        shape = [1, -1] + [1] * (x.dim() - 2)
        local_count = x.new_tensor([x.numel() / x.shape[1]])
        sums = all_reduce(torch.cat([x.sum(dims), local_count]))
        count = sums[-1]
        mean = sums[:-1] / count
        centred = x - mean.view(shape)
        var = all_reduce((centred * centred).sum(dims)) / count  # biased, as BatchNorm normalises with
        if self.track_running_stats and self.running_mean is not None:
            with torch.no_grad():
                self.num_batches_tracked.add_(1)
                momentum = 1.0 / float(self.num_batches_tracked) if self.momentum is None else self.momentum
                unbiased = var * count / (count - 1).clamp(min=1)
                self.running_mean.mul_(1 - momentum).add_(momentum * mean.detach())
                self.running_var.mul_(1 - momentum).add_(momentum * unbiased.detach())
        y = centred * torch.rsqrt(var + self.eps).view(shape)
        if self.affine:
            y = y * self.weight.view(shape) + self.bias.view(shape)
        return y


def convert_sync_batchnorm(module: nn.Module) -> nn.Module:
    """``module`` with every BatchNorm{1,2,3}d replaced by a GlobalBatchNorm holding the same state."""
    if isinstance(module, nn.modules.batchnorm._BatchNorm) and not isinstance(module, GlobalBatchNorm):
        converted = GlobalBatchNorm(module.num_features, module.eps, module.momentum, module.affine,
                                    module.track_running_stats)
        converted.load_state_dict(module.state_dict())
        converted.train(module.training)
        state = list(module.state_dict().values())
        return converted.to(state[0].device) if state else converted
    for name, child in module.named_children():
        module.add_module(name, convert_sync_batchnorm(child))
    return module
