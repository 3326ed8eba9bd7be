"""Mixed precision of one run (``train.amp``): the autocast context and the fp16 loss scaler, as one object.

A training step uses it in four places and nowhere else::

    amp = MixedPrecision("bf16", device)
    with amp.autocast():                       # forward passes in bf16 / fp16 where autocast says so
        logits, features = student(x)
    logits, features = amp.fp32(logits, features)   # the losses are computed in float32
    losses = {...}
    revised_backward(amp.scale(losses))        # or amp.scale(total).backward()
    stepped = amp.step(optimizer)              # unscale, skip a step with inf/nan gradients, update

- ``off``: every method is the identity (``step`` is ``optimizer.step()``); a run is bit-identical to
  one without this module.
- ``bf16``: autocast to bfloat16; no scaler (bf16 has float32's exponent range).
- ``fp16``: autocast to float16 and a ``torch.amp.GradScaler`` for the device: every loss is multiplied
  by the scale before its gradient is taken, ``step`` unscales, skips the step when a gradient is inf or
  nan, and adapts the scale. Gradient revision works on the scaled per-loss gradients unchanged: its
  projection coefficient <g_k, g_t> / <g_t, g_t> does not depend on a common scale, and the scale is a
  power of two, so revising the scaled gradients and unscaling gives exactly the revision of the
  unscaled ones.

The scaler's state is part of a checkpoint (``state_dict`` / ``load_state_dict``), so a resumed fp16 run
continues with the scale it had.
"""
from __future__ import annotations

import contextlib
from typing import Dict, Union

import torch

AMP_MODES = ("off", "bf16", "fp16")
AMP_DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16}

LossOrLosses = Union[torch.Tensor, Dict[str, torch.Tensor]]


class MixedPrecision:
    """Autocast + loss scaling of one run; ``mode`` is one of ``AMP_MODES``, ``device`` where it trains."""

    def __init__(self, mode: str = "off", device: Union[str, torch.device] = "cpu"):
        if mode not in AMP_MODES:
            raise ValueError(f"train.amp: {mode!r} is not valid; choose one of {list(AMP_MODES)}")
        self.mode = mode
        self.device_type = torch.device(device).type
        self.dtype = AMP_DTYPES.get(mode)
        if self.dtype is not None and not torch.amp.is_autocast_available(self.device_type):
            raise ValueError(f"train.amp: {mode} needs autocast on the device, but {self.device_type!r} has "
                             "none; use train.amp: off or device: cpu / cuda")
        # NB: disabled outside fp16: scale() and step() then pass through without a host sync
        self.scaler = torch.amp.GradScaler(self.device_type, enabled=mode == "fp16")

    @property
    def enabled(self) -> bool:
        return self.dtype is not None

    @property
    def scaling(self) -> bool:
        return self.scaler.is_enabled()

    def autocast(self) -> contextlib.AbstractContextManager:
        """The context the forward passes run in (a no-op context when ``off``)."""
        if not self.enabled:
            return contextlib.nullcontext()
        return torch.autocast(self.device_type, dtype=self.dtype)

    @staticmethod
    def fp32(*tensors: torch.Tensor) -> tuple:
        """The forward outputs as float32 (the losses and their reductions run in float32)."""
        return tuple(t.float() for t in tensors)

    def check_model(self, model: torch.nn.Module) -> None:
        """fp16: every gradient must scale with the loss, or unscaling shrinks it by the scale. A module
        whose gradient does not (``gradient_ignores_loss_scale``: Shift-GCN's reference shift gradient,
        sign(g) * 0.01) is an error naming the fix."""
        if not self.scaling:
            return
        fixed = [name for name, module in model.named_modules()
                 if getattr(module, "gradient_ignores_loss_scale", False)]
        if fixed:
            raise ValueError(
                f"train.amp: fp16 scales the losses, but {fixed[0]} (and {len(fixed) - 1} more modules) "
                "set a gradient that ignores that scale (shift_grad: reference, sign(g) * 0.01), so "
                "unscaling would shrink it to ~0; use train.amp: bf16 (no scaling), or "
                "model.args.shift_grad: exact")

    def scale(self, losses: LossOrLosses) -> LossOrLosses:
        """A loss (or a dict of losses) multiplied by the current loss scale; unchanged unless fp16."""
        if not self.scaling:
            return losses
        if isinstance(losses, dict):
            return {name: self.scaler.scale(loss) for name, loss in losses.items()}
        return self.scaler.scale(losses)

    def step(self, optimizer: torch.optim.Optimizer) -> bool:
        """``optimizer.step()`` on the (unscaled) gradients; False when fp16 skipped it (an inf/nan
        gradient)."""
        if not self.scaling:
            optimizer.step()
            return True
        scale_before = self.scaler.get_scale()
        self.scaler.step(optimizer)  # unscales, then steps only if every gradient is finite
        self.scaler.update()  # halves the scale after a skipped step, grows it after enough good ones
        return self.scaler.get_scale() >= scale_before

    def state_dict(self) -> dict:
        """The scaler's state as plain data (empty unless fp16)."""
        return {key: value for key, value in self.scaler.state_dict().items()} if self.scaling else {}

    def load_state_dict(self, state: dict) -> None:
        if self.scaling and state:
            self.scaler.load_state_dict(state)
