"""``skdcore.export.to_onnx``: any model that calls skdcore ops (a user's own nn.Module, skdcore.nn
layers) to ONNX, checked in onnxruntime against the eager model. docs/deploy-own-model.md.

``torch.onnx.export`` alone fails on such a model ("No ONNX function found for skdcore.graph_conv"): the
compiled ops are custom ops. The path that works: ``torch.export`` (the ops stay as nodes), then
``run_decompositions(reference_decompositions())`` (each skdcore op replaced by its pure-PyTorch
reference, plain aten), then the ONNX exporter. The file is written under a temporary name and moved
into place only after onnxruntime agreed with the eager model.
"""
from __future__ import annotations

import os
import tempfile
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional, Sequence, Union

import torch
from torch import nn

DEFAULT_OPSET = 18
# The opsets torch's ONNX exporter writes: below 18 it has no implementations (it would silently write 18),
# above 23 it does not go (torch 2.13).
SUPPORTED_OPSETS = tuple(range(18, 24))
# onnxruntime vs PyTorch: max |difference| <= MAX_ERROR * max(1, max |logit|). Absolute on unit-scale
# logits; relative beyond, because float32 cannot resolve 1e-4 on large logits (random clips give
# |logits| ~ 2e3 on the demo's student, where one float32 step is 1.2e-4 and the fused and pure-PyTorch
# models already differ by that much).
MAX_ERROR = 1e-4


class ExportError(RuntimeError):
    """The export failed or its output did not match PyTorch; the message says what and what to do."""


def reference_decompositions() -> dict:
    """{skdcore op: its pure-PyTorch reference}: how ONNX export lowers the compiled ops."""
    from .reference.graph_conv import graph_conv_reference
    from .reference.normalize_adjacency import normalize_adjacency_reference
    from .reference.temporal_shift import temporal_shift_reference

    return {
        torch.ops.skdcore.graph_conv.default: graph_conv_reference,
        torch.ops.skdcore.temporal_shift.default: temporal_shift_reference,
        torch.ops.skdcore.normalize_adjacency.default: normalize_adjacency_reference,
    }


@dataclass
class OnnxExport:
    """What :func:`to_onnx` wrote and how well onnxruntime agreed with the eager model."""

    path: Path
    opset: int
    input_names: list
    output_names: list
    max_abs_error: Optional[float] = None  # onnxruntime vs eager over all outputs (None: not checked)
    scale: Optional[float] = None  # max(1, max |eager output|)
    notes: list = field(default_factory=list)

    def describe(self) -> str:
        lines = [f"onnx: {self.path} (opset {self.opset}; inputs {', '.join(self.input_names)}; outputs "
                 f"{', '.join(self.output_names)})"]
        if self.max_abs_error is not None:
            lines.append(f"onnxruntime vs the eager model: max abs error {self.max_abs_error:.2e} "
                         f"(output scale {self.scale:.3g})")
        return "\n".join(lines + self.notes)


def _file_mode() -> int:
    """0o666 less the umask: what open() would have given (mkstemp makes 0o600)."""
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


def _as_tuple(example_inputs) -> tuple:
    if isinstance(example_inputs, torch.Tensor):
        return (example_inputs,)
    if isinstance(example_inputs, (tuple, list)) and all(isinstance(x, torch.Tensor) for x in example_inputs):
        return tuple(example_inputs)
    raise TypeError("to_onnx: example_inputs must be a tensor or a tuple of tensors (the model's positional "
                    f"arguments), got {type(example_inputs).__name__}")


def _flat_outputs(output: Any, where: str = "output") -> list[torch.Tensor]:
    """The model's outputs in the order ONNX lists them: a tensor, or (nested) tuples / lists of them."""
    if isinstance(output, torch.Tensor):
        return [output]
    if isinstance(output, (tuple, list)):
        return [t for i, item in enumerate(output) for t in _flat_outputs(item, f"{where}[{i}]")]
    raise TypeError(f"to_onnx: the model's {where} is a {type(output).__name__}; ONNX needs tensors (or "
                    "tuples of tensors): return those, or wrap the model in one that does")


def _onnxruntime_error(path: Path, model: nn.Module, args: tuple, input_names: Sequence[str]) -> tuple:
    """(max |onnxruntime - eager| over all outputs, max(1, max |eager output|)), or None without
    onnxruntime."""
    try:
        import onnxruntime
    except ImportError:
        return None
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    with torch.no_grad():
        expected = _flat_outputs(model(*args))
    feeds = {name: arg.detach().cpu().numpy() for name, arg in zip(input_names, args)}
    got = session.run(None, feeds)
    if len(got) != len(expected):
        raise RuntimeError(f"to_onnx: the ONNX model has {len(got)} outputs, the eager model {len(expected)}")
    worst, scale = 0.0, 1.0
    for onnx_out, eager in zip(got, expected):
        eager = eager.detach().float().cpu()
        if eager.numel():
            worst = max(worst, float((torch.from_numpy(onnx_out).float() - eager).abs().max()))
            scale = max(scale, float(eager.abs().max()))
    return worst, scale


def to_onnx(model: nn.Module, example_inputs: Union[torch.Tensor, Sequence[torch.Tensor]],
            path: Union[str, Path], *, dynamic_shapes: Optional[Any] = None,
            input_names: Optional[Sequence[str]] = None, output_names: Optional[Sequence[str]] = None,
            opset: Optional[int] = None, check: bool = True, max_error: Optional[float] = None):
    """Export ``model`` (eval mode) to the ONNX file ``path``, standard ONNX ops only, and check it.

    Args:
        model: any ``nn.Module``; skdcore ops it calls (``skdcore.ops.*``, ``skdcore.nn.GraphConv``,
            skdcore backbones) are lowered to their pure-PyTorch references.
        example_inputs: the model's positional arguments (a tensor or a tuple of tensors); they fix the
            traced shapes and are the inputs of the onnxruntime check.
        dynamic_shapes: as ``torch.export.export`` takes it, e.g. ``{"x": {0: torch.export.Dim("batch")}}``
            (keys: the forward's argument names); ``None``: every shape fixed.
        input_names, output_names: ONNX names (default ``input_0``.., ``output_0``..).
        opset: ONNX opset (default ``skdcore.export.DEFAULT_OPSET``).
        check: run the file in onnxruntime on ``example_inputs`` and compare every output with the eager
            model's: max |difference| <= ``max_error`` (default ``MAX_ERROR``) x max(1, max |output|);
            a mismatch is an ``ExportError`` and no file is left at ``path``. Without onnxruntime the
            check is skipped with a warning.

    Returns an :class:`OnnxExport` (``describe()`` for a summary).
    """
    import skdcore  # noqa: F401  (registers torch.ops.skdcore.*, needed by torch.export)

    if not isinstance(model, nn.Module):
        raise TypeError(f"to_onnx: model must be an nn.Module, got {type(model).__name__}")
    args = _as_tuple(example_inputs)
    opset = DEFAULT_OPSET if opset is None else opset
    if opset not in SUPPORTED_OPSETS:
        raise ValueError(f"to_onnx: opset must be one of {list(SUPPORTED_OPSETS)}, got {opset!r}")
    max_error = MAX_ERROR if max_error is None else max_error
    path = Path(path)
    if path.is_dir():
        raise ValueError(f"to_onnx: path {path} is a folder; give the file to write, e.g. "
                         f"{path / 'model.onnx'}")
    input_names = list(input_names or [f"input_{i}" for i in range(len(args))])
    if len(input_names) != len(args):
        raise ValueError(f"to_onnx: {len(input_names)} input_names for {len(args)} example inputs")
    model = model.eval()
    with torch.no_grad():
        outputs = _flat_outputs(model(*args))
        try:
            program = torch.export.export(model, args, dynamic_shapes=dynamic_shapes)
        except Exception as error:
            raise ExportError(f"to_onnx: torch.export of {type(model).__name__} failed: {error}") from error
    lowered = program.run_decompositions(reference_decompositions())
    left = sorted({str(n.target) for n in lowered.graph.nodes if str(n.target).startswith("skdcore.")})
    if left:
        raise ExportError(f"to_onnx: no reference lowering for {left} (training-only ops cannot be exported)")
    output_names = list(output_names or [f"output_{i}" for i in range(len(outputs))])
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".partial", dir=path.parent)
    os.close(fd)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # NB: the exporter's own progress chatter
            torch.onnx.export(lowered, args, temporary, dynamo=True, opset_version=opset,
                              input_names=input_names, output_names=output_names, external_data=False,
                              verbose=False)
        result = OnnxExport(path, opset, input_names, output_names)
        checked = _onnxruntime_error(Path(temporary), model, args, input_names) if check else None
        if check and checked is None:
            warnings.warn("to_onnx: onnxruntime is not installed, the ONNX file was NOT checked; "
                          "pip install onnxruntime to check it", stacklevel=2)
            result.notes.append("warning: onnxruntime not installed, the file was not checked")
        if checked is not None:
            result.max_abs_error, result.scale = checked
            if not result.max_abs_error <= max_error * result.scale:
                raise ExportError(f"to_onnx: onnxruntime's outputs differ from the eager model's by "
                                  f"{result.max_abs_error:.3g} (limit {max_error:g} x "
                                  f"{result.scale:.3g}); nothing was written to {path}")
        os.chmod(temporary, _file_mode())
        os.replace(temporary, path)
        return result
    finally:
        if os.path.exists(temporary):
            os.unlink(temporary)
