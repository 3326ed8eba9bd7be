"""The SKD step for any teacher / student pair: the one implementation the trainer and users share.

Public as :mod:`skdcore.distill`; ``skd distill`` (``skdcore.train``) trains with it. A step is::

    teacher_out = distiller.teacher_forward(hq)            # frozen teacher, eval mode, no grad
    student_out = distiller.student_forward(lq)            # student (+ adaption conv)
    losses = distiller.losses(student_out, teacher_out, labels)   # CE, KL, MSE, graph matching (fp32)
    info = distiller.backward(losses, scaler)              # revised gradient added to p.grad

or ``distiller(hq, lq, labels)`` for the first three (``out.loss``: their sum, for logging). What a model
has to return: ``(logits, features)``, or logits alone with ``teacher_layer`` / ``student_layer`` naming
the module whose output is the feature map (read by a forward hook). Feature maps are (N, C, T, V) or
(N, C, T, V, M); persons are folded into the batch, (N*M, C, T, V), as SKD does.
"""
from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Any, Dict, Mapping, Optional, Tuple, Union

import torch
import torch._functorch.config as functorch_config  # NB: not loaded by `import torch` alone
import torch.distributed as dist
from torch import nn
from torch.nn.parallel import DistributedDataParallel

from .distributed import DistInfo, average_gradients, broadcast_buffers
from .losses import LOSS_WEIGHTS, graph_matching_loss_for, skd_losses
from .revision import SCHEMES, RevisedBackward


@dataclass
class ModelOutput:
    """One model's output as SKD reads it."""

    logits: torch.Tensor  # (N, num_class)
    features: torch.Tensor  # (N*M, C, T', V), persons folded into the batch


@dataclass
class DistillOutput:
    """What :meth:`Distiller.forward` returns: the weighted losses by name and both models' outputs."""

    losses: Dict[str, torch.Tensor]  # "ce", "kl", "mse", "graph_matching" (scalars)
    student: ModelOutput
    teacher: ModelOutput

    @property
    def loss(self) -> torch.Tensor:
        """The total loss, the sum of the weighted losses: for logging, and ``out.loss.backward()`` is the
        plain summed backward (no gradient revision)."""
        return sum(self.losses.values())

    def loss_values(self) -> Dict[str, float]:
        return {name: float(loss.detach()) for name, loss in self.losses.items()}


def fold_persons(features: torch.Tensor, role: str = "model") -> torch.Tensor:
    """(N, C, T, V) as is; (N, C, T, V, M) -> (N*M, C, T, V), sample-major (sample n, person m at n*M + m)."""
    if not isinstance(features, torch.Tensor):
        raise TypeError(f"Distiller: the {role}'s feature map must be a tensor, "
                        f"got {type(features).__name__}")
    if features.dim() == 4:
        return features
    if features.dim() == 5:
        N, C, T, V, M = features.shape
        return features.permute(0, 4, 1, 2, 3).reshape(N * M, C, T, V)
    raise ValueError(f"Distiller: the {role}'s feature map must be (N, C, T, V) or (N, C, T, V, M), got "
                     "shape "
                     f"{tuple(features.shape)}; name the layer whose output is such a map "
                     f"({role}_layer=...)")


class _FeatureTap:
    """Reads (logits, features) from a model: its returned pair, or its logits and a named layer's output."""

    def __init__(self, model: nn.Module, layer: Optional[str], role: str):
        self.layer, self.role, self.captured = layer, role, None
        if layer is not None:
            try:
                module = model.get_submodule(layer)
            except AttributeError:
                names = [name for name, _ in model.named_modules() if name][:12]
                raise ValueError(f"Distiller: the {role} has no layer {layer!r} ({role}_layer); its layers "
                                 f"include {names}") from None
            module.register_forward_hook(self._capture)

    def _capture(self, module: nn.Module, inputs: Any, output: Any) -> None:
        self.captured = output

    def __call__(self, model: nn.Module, x: torch.Tensor) -> ModelOutput:
        self.captured = None
        output = model(x)
        if self.layer is None:
            if not (isinstance(output, (tuple, list)) and len(output) == 2):
                raise ValueError(f"Distiller: the {self.role} must return (logits, features), got "
                                 f"{type(output).__name__}; or name its feature layer "
                                 f"({self.role}_layer=...)")
            logits, features = output
        else:
            logits = output[0] if isinstance(output, (tuple, list)) else output
            features = self.captured
            if features is None:
                raise ValueError(f"Distiller: the {self.role}'s layer {self.layer!r} did not run in forward")
        if not isinstance(logits, torch.Tensor) or logits.dim() != 2:
            got = tuple(logits.shape) if isinstance(logits, torch.Tensor) else type(logits).__name__
            raise ValueError(f"Distiller: the {self.role}'s logits must be (N, num_class), got {got}")
        return ModelOutput(logits, fold_persons(features, self.role))


def _adaption_module(adaption: Union[None, Tuple[int, int], nn.Module]) -> Optional[nn.Module]:
    if adaption is None or isinstance(adaption, nn.Module):
        return adaption
    if isinstance(adaption, (tuple, list)) and len(adaption) == 2 and all(
            isinstance(c, int) and c > 0 for c in adaption):
        return nn.Conv2d(adaption[0], adaption[1], 1)
    raise TypeError("Distiller: adaption must be None, (student_channels, teacher_channels) or an nn.Module, "
                    f"got {adaption!r}")


def _full_precision(x: torch.Tensor) -> torch.Tensor:
    """fp16 / bf16 model outputs -> float32; float32 and float64 stay (the losses run in full precision)."""
    return x if x.dtype in (torch.float32, torch.float64) else x.float()


def _retain_graph_safe(enabled: bool):
    """Gradient revision takes one gradient per loss (``retain_graph=True`` but for the last), which a
    ``torch.compile``d student's backward refuses when AOTAutograd donated its saved buffers: compile
    (and run) the student's forward with buffer donation off. No effect on an eager student."""
    if not enabled:
        return contextlib.nullcontext()
    return functorch_config.patch(donated_buffer=False)


def _check_feature_shapes(student: torch.Tensor, teacher: torch.Tensor, adapted: bool) -> None:
    """The feature losses compare the maps element-wise: a shape mismatch is an error naming the fix."""
    if student.shape == teacher.shape:
        return
    shapes = f"student features {tuple(student.shape)} and teacher features {tuple(teacher.shape)} differ"
    if student.shape[2:] != teacher.shape[2:] or student.shape[0] != teacher.shape[0]:
        raise ValueError(f"Distiller: {shapes} in batch, time or joints; the feature layers must keep "
                         "the same persons, frames (temporal strides) and joints (teacher_layer= / "
                         "student_layer=)")
    if adapted:
        raise ValueError(f"Distiller: {shapes} after the adaption module; it must output the teacher's "
                         f"{teacher.shape[1]} channels")
    raise ValueError(f"Distiller: {shapes}; pass adaption=({student.shape[1]}, {teacher.shape[1]}) to "
                     "Distiller (SKD's 1x1 conv from the student's to the teacher's channels) or an "
                     "nn.Module as adaption=")


def _split_losses(losses: Mapping[str, torch.Tensor], task_losses: Optional[Mapping[str, torch.Tensor]],
                  distillation_losses: Optional[Mapping[str, torch.Tensor]]) -> Dict[str, torch.Tensor]:
    """{"ce": the task loss (CE + extra task terms), distillation terms by name}; unknown names refused."""
    task_losses, distillation_losses = dict(task_losses or {}), dict(distillation_losses or {})
    if "ce" not in losses:
        raise ValueError(f"Distiller.backward: losses need the task loss 'ce', got {sorted(losses)}")
    unknown = sorted(set(losses) - set(LOSS_WEIGHTS))
    if unknown:
        raise ValueError(f"Distiller.backward: unknown losses {unknown} (SKD's are {list(LOSS_WEIGHTS)}); "
                         "pass your own terms by role: task_losses={...} (added to the task loss 'ce', "
                         "never revised) or distillation_losses={...} (revised against the task gradient)")
    clash = sorted((set(task_losses) | set(distillation_losses)) & set(losses)
                   | set(task_losses) & set(distillation_losses))
    if clash:
        raise ValueError(f"Distiller.backward: the loss names {clash} are given twice; name each term once")
    combined = {"ce": sum(task_losses.values(), losses["ce"])}
    combined.update((name, loss) for name, loss in losses.items() if name != "ce")
    combined.update(distillation_losses)
    return combined


def _distributed() -> bool:
    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


class Distiller(nn.Module):
    """Structural knowledge distillation (SKD) of ``student`` from a frozen ``teacher``, for any models.

    Args:
        teacher: trained model; runs in eval mode without gradients (its parameters are untouched).
        student: the model being trained. A ``DistributedDataParallel`` wrapper is unwrapped: the
            per-loss gradients need ``torch.autograd.grad``, which DDP's hooks do not support, so under
            ``torch.distributed`` the distiller averages the gradients over ranks itself (gradient
            revision: only the Gram matrix is all-reduced; see ``skdcore.distill.revision``).
        adaption: the student's 1x1 "adaption" conv on its features: ``(student_channels,
            teacher_channels)`` builds one (its parameters are the distiller's, so give
            ``distiller.parameters()`` to the optimizer), an ``nn.Module`` is used as is, ``None``
            (default): the student's features are compared directly (skdcore students carry their own).
        teacher_layer, student_layer: the module whose output is the feature map, for models that return
            logits only (dotted names as in ``named_modules()``); ``None``: the model returns a pair.
        weights: loss weights by name ("ce", "kl", "mse", "graph_matching"); missing ones are 1 (SKD).
            A distillation loss of weight 0 is not computed.
        temperature: KL temperature; ``None`` is SKD's (none).
        gradient_revision: project distillation gradients that conflict with the task gradient off it
            (SKD); ``False``: plain summed backward.
        ops: "fused" (skdcore's compiled graph matching and gradient revision) or "reference" (pure
            PyTorch, with the reference's one-backward-per-loss revision).
        revision_scheme, revision_mode: :class:`~skdcore.distill.revision.RevisedBackward`'s scheme ("fast",
            "reference") and mode ("skd", "pcgrad"); ops="reference" implies scheme "reference".
        broadcast_buffers: under torch.distributed, copy rank 0's buffers (BatchNorm statistics) to every
            rank before each student forward, as DDP does.
    """

    def __init__(self, teacher: nn.Module, student: nn.Module, *,
                 adaption: Union[None, Tuple[int, int], nn.Module] = None,
                 teacher_layer: Optional[str] = None, student_layer: Optional[str] = None,
                 weights: Optional[Mapping[str, float]] = None, temperature: Optional[float] = None,
                 gradient_revision: bool = True, ops: str = "fused", revision_scheme: str = "fast",
                 revision_mode: str = "skd", broadcast_buffers: bool = True):
        super().__init__()
        if isinstance(student, DistributedDataParallel):
            student = student.module
        unknown = sorted(set(weights or {}) - set(LOSS_WEIGHTS))
        if unknown:
            raise ValueError(f"Distiller: unknown loss weights {unknown}; the losses are "
                             f"{list(LOSS_WEIGHTS)}")
        if revision_scheme not in SCHEMES:
            raise ValueError(f"Distiller: revision_scheme must be one of {SCHEMES}, got {revision_scheme!r}")
        self._teacher = (teacher,)  # NB: a tuple keeps the frozen teacher out of parameters() / state_dict()
        self.student = student
        self.adaption = _adaption_module(adaption)
        self.weights = {**LOSS_WEIGHTS, **(weights or {})}
        self.temperature = temperature
        self.graph_matching = graph_matching_loss_for(ops)
        self.broadcast_buffers = broadcast_buffers
        self._teacher_tap = _FeatureTap(teacher, teacher_layer, "teacher")
        self._student_tap = _FeatureTap(student, student_layer, "student")
        self.trained_parameters = [p for p in self.parameters() if p.requires_grad]
        self.revised_backward = None
        if gradient_revision:
            scheme = revision_scheme if ops == "fused" else "reference"
            self.revised_backward = RevisedBackward(self.trained_parameters, scheme=scheme,
                                                    mode=revision_mode)

    @property
    def teacher(self) -> nn.Module:
        return self._teacher[0]

    def _apply(self, fn, recurse=True):  # NB: .to() / .cuda() / .double() move the teacher too
        self.teacher._apply(fn, recurse)
        return super()._apply(fn, recurse)

    # -- forward -------------------------------------------------------------------------------
    def teacher_forward(self, x: torch.Tensor) -> ModelOutput:
        """The frozen teacher on (high-quality) input ``x``, in eval mode, without gradients."""
        if self.teacher.training:
            self.teacher.eval()
        with torch.no_grad():
            return self._teacher_tap(self.teacher, x)

    def student_forward(self, x: torch.Tensor) -> ModelOutput:
        """The student on (low-quality) input ``x``; features pass through the adaption conv if any."""
        if self.broadcast_buffers and _distributed():
            broadcast_buffers(self.student, DistInfo(dist.get_rank(), dist.get_world_size()))
        with _retain_graph_safe(self.revised_backward is not None):
            out = self._student_tap(self.student, x)
        if self.adaption is not None:
            out.features = self.adaption(out.features)
        return out

    def losses(self, student: ModelOutput, teacher: ModelOutput,
               labels: torch.Tensor) -> Dict[str, torch.Tensor]:
        """The weighted SKD losses by name, computed in full precision (outside autocast) whatever the
        models ran in."""
        if self.weights["mse"] > 0 or self.weights["graph_matching"] > 0:
            _check_feature_shapes(student.features, teacher.features, self.adaption is not None)
        with torch.autocast(student.logits.device.type, enabled=False):
            return skd_losses(_full_precision(student.logits), _full_precision(student.features),
                              _full_precision(teacher.logits), _full_precision(teacher.features), labels,
                              self.weights, self.graph_matching, self.temperature)

    def forward(self, hq: torch.Tensor, lq: torch.Tensor, labels: torch.Tensor) -> DistillOutput:
        """Teacher on ``hq``, student on ``lq``, and the losses; call :meth:`backward` next."""
        teacher = self.teacher_forward(hq)
        student = self.student_forward(lq)
        return DistillOutput(self.losses(student, teacher, labels), student, teacher)

    # -- backward ------------------------------------------------------------------------------
    def backward(self, losses: Union[Mapping[str, torch.Tensor], DistillOutput],
                 scaler: Optional[torch.amp.GradScaler] = None, *,
                 task_losses: Optional[Mapping[str, torch.Tensor]] = None,
                 distillation_losses: Optional[Mapping[str, torch.Tensor]] = None,
                 micro_batches: int = 1) -> Dict[str, float]:
        """The step's gradient ADDED to ``p.grad`` of the student (and adaption) parameters, as
        ``loss.backward()`` adds: call ``optimizer.zero_grad()`` before a step.

        With gradient revision the per-loss gradients of THIS call are combined (conflicts projected off
        the task gradient, over all parameters as one vector) and the result is added to ``p.grad``;
        without, the summed loss is back-propagated. Gradient accumulation over micro-batches: call
        ``backward(out, micro_batches=k)`` once per micro-batch (each is revised on its own, its
        gradient divided by ``k``), then ``optimizer.step()``: without revision that is the gradient
        of the big batch (mean-reduced losses, equal micro-batches, no batch-statistics layers); with
        revision it is the mean of the micro-batches' revised gradients (revision is not linear).

        Own loss terms are named by role, never guessed: ``task_losses={"aux": ...}`` are added to the
        task loss "ce" (the gradient the others are revised against), ``distillation_losses={"at":
        ...}`` are revised like "kl", "mse" and "graph_matching". Other names in ``losses`` are an error.

        Under torch.distributed the gradients are averaged over ranks. ``scaler`` (mixed precision):
        every loss is scaled before its gradient; the revision is invariant to the common scale, so
        follow with ``scaler.step(optimizer)`` and ``scaler.update()`` as usual. Returns logging info:
        per distillation loss, the cosine of its gradient with the task gradient and whether it was
        projected (empty without revision).
        """
        if isinstance(losses, DistillOutput):
            losses = losses.losses
        losses = _split_losses(losses, task_losses, distillation_losses)
        if not (isinstance(micro_batches, int) and micro_batches >= 1):
            raise ValueError(f"Distiller.backward: micro_batches must be an int >= 1, got {micro_batches!r}")
        if micro_batches > 1:
            losses = {name: loss / micro_batches for name, loss in losses.items()}
        if scaler is not None:
            losses = {name: scaler.scale(loss) for name, loss in losses.items()}
        if self.revised_backward is not None:
            # NB: the revision writes p.grad whole; earlier micro-batches' gradients are set aside and added
            # back (nothing to do after zero_grad(set_to_none=True), the optimizer's default).
            earlier = [p.grad for p in self.trained_parameters]
            for p in self.trained_parameters:
                p.grad = None
            info = self.revised_backward(losses)
            for p, grad in zip(self.trained_parameters, earlier):
                if grad is not None:
                    p.grad = grad if p.grad is None else grad.add_(p.grad)
            return info
        sum(losses.values()).backward()
        if _distributed():
            # NB: earlier micro-batches' part of p.grad is already the same on every rank: averaging
            # again leaves it as it is.
            average_gradients(self.trained_parameters, DistInfo(dist.get_rank(), dist.get_world_size()))
        return {}
