"""Deploy a trained model: a ``torch.export`` program (.pt2, fused ops) or ONNX (standard ops only).

    from skdcore.export import export_checkpoint, load_program, to_onnx
    result = export_checkpoint("runs/demo/runs/skd/best.pt", "onnx")   # + checked in onnxruntime
    to_onnx(my_model, (clips,), "my_model.onnx")   # any model calling skdcore ops, also checked
    print(result.describe())
    program = load_program("best.pt2", trust=True)  # a .pt2 is code: only files you trust
    logits = program.module()(clips)       # clips (N, C, T, V, M) float32 -> logits (N, num_class)

Both formats hold the model in eval mode and return the logits only (the student's adaption conv
serves distillation, not inference). ``pt2`` keeps the compiled ``torch.ops.skdcore.*`` kernels, so
loading it needs skdcore installed and imported (``load_program`` does that; a bare
``torch.export.load`` without ``import skdcore`` fails with "We failed to resolve
torch.ops.skdcore.<op>"). ``onnx`` lowers each skdcore op to its pure-PyTorch reference
(:mod:`skdcore.reference`) with ``ExportedProgram.run_decompositions``, then ``torch.onnx.export``:
standard ONNX ops only, independent of how the model picks its kernels. The ONNX file is checked
against the PyTorch model in onnxruntime on random clips (``MAX_ERROR``) before it is reported.

Batch size and frame count are dynamic where the model allows it (Shift-GCN: frame counts that are
multiples of its total temporal stride); persons, joints and channels are fixed. The result says
which.
"""

from __future__ import annotations

import io
import json
import math
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional, Union

import torch
from torch import nn

from .onnx_export import (  # noqa: F401  (to_onnx: public here too, skdcore.export.to_onnx)
    DEFAULT_OPSET,
    MAX_ERROR,
    SUPPORTED_OPSETS,
    ExportError,
    reference_decompositions,
    to_onnx,
)

FORMATS = ("pt2", "onnx")
DEFAULT_FRAMES = 100  # SKD's clip length (clips are cut / padded to 100 frames)
MAX_BATCH, MAX_FRAMES = 4096, 8192
MIN_FRAMES = 4  # fewer leaves nothing after the strided layers of a model
METADATA_FILE = "skdcore.json"  # inside the .pt2 archive (extra_files)


@dataclass
class ExportResult:
    path: Path
    format: str
    input_shape: tuple  # (N, C, T, V, M) of the example input the program was traced with
    dynamic: dict  # {"batch": "1..4096", "frames": "multiple of 4, 4..8192"}: dims that may change
    opset: Optional[int] = None
    max_abs_error: Optional[float] = None  # onnxruntime vs PyTorch (None: not checked)
    logit_scale: Optional[float] = None  # max(1, max |PyTorch logit|) of the checked clips
    notes: list = field(default_factory=list)

    def describe(self) -> str:
        _, C, T, V, M = self.input_shape
        dims = [
            f"batch {self.dynamic['batch']}" if "batch" in self.dynamic else f"batch {self.input_shape[0]}",
            f"C={C}",
            f"frames {self.dynamic['frames']}" if "frames" in self.dynamic else f"T={T}",
            f"V={V}",
            f"M={M}",
        ]
        kind = (
            "dynamic batch and frames"
            if len(self.dynamic) == 2
            else ("dynamic batch, fixed frames" if self.dynamic else "fixed shape")
        )
        lines = [
            f"{self.format}: {self.path}",
            f"input 'clips' float32 (N, C, T, V, M): {', '.join(dims)} ({kind}); "
            "output 'logits' (N, classes)",
        ]
        if self.opset is not None:
            lines.append(f"ONNX opset {self.opset}")
        if self.max_abs_error is not None:
            lines.append(
                f"onnxruntime vs PyTorch on random clips: max abs error {self.max_abs_error:.2e}, "
                f"{self.max_abs_error / self.logit_scale:.1e} of the logits' scale {self.logit_scale:.3g} "
                f"(limit {MAX_ERROR:g})"
            )
        lines += self.notes
        return "\n".join(lines)


class LogitsOnly(nn.Module):
    """The deployed function: clips (N, C, T, V, M) -> logits (N, num_class)."""

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model

    def forward(self, clips: torch.Tensor) -> torch.Tensor:
        return self.model(clips)[0]


def load_trained_model(checkpoint: Union[str, Path], trust: bool = False) -> tuple:
    """(model in eval mode with the compiled ops, checkpoint dict) from an skdcore training checkpoint
    (``trust``: allow pickled objects, see :func:`skdcore.checkpoints.load_checkpoint`)."""
    from .checkpoints import load_checkpoint, load_model_state, model_from_checkpoint

    ckpt = load_checkpoint(checkpoint, trust=trust)
    # The deployed model runs the compiled kernels; the references are for tests and the ONNX lowering.
    model = model_from_checkpoint(ckpt, checkpoint, ops="fused")
    load_model_state(model, ckpt, checkpoint)
    return model.eval(), ckpt


def frame_multiple(model: nn.Module) -> int:
    """Frame counts the model accepts for any length: Shift-GCN's strided temporal shift and strided
    1x1 residual conv agree only when T is a multiple of the total temporal stride."""
    from .models import ShiftGCN

    return math.prod(model.strides) if isinstance(model, ShiftGCN) else 1


def example_clips(model: nn.Module, batch: int = 2, frames: int = DEFAULT_FRAMES) -> torch.Tensor:
    multiple = frame_multiple(model)
    frames = max(multiple, frames // multiple * multiple)
    generator = torch.Generator().manual_seed(0)
    return torch.randn(
        batch, model.in_channels, frames, model.num_joints, model.num_person, generator=generator
    )


def _dynamic_shape_options(model: nn.Module, dynamic: bool):
    """(dynamic_shapes for torch.export, description) from the most to the least dynamic."""
    options = []
    if dynamic:
        batch = torch.export.Dim("batch", min=1, max=MAX_BATCH)
        multiple = frame_multiple(model)
        if multiple == 1:
            frames = torch.export.Dim("frames", min=MIN_FRAMES, max=MAX_FRAMES)
            frames_text = f"{MIN_FRAMES}..{MAX_FRAMES}"
        else:
            frames = multiple * torch.export.Dim("frame_blocks", min=1, max=MAX_FRAMES // multiple)
            frames_text = f"multiple of {multiple}, {multiple}..{MAX_FRAMES // multiple * multiple}"
        options.append(
            ({"clips": {0: batch, 2: frames}}, {"batch": f"1..{MAX_BATCH}", "frames": frames_text})
        )
        options.append(({"clips": {0: batch}}, {"batch": f"1..{MAX_BATCH}"}))
    options.append((None, {}))
    return options


def export_program(model: nn.Module, clips: torch.Tensor, dynamic: bool = True) -> tuple:
    """(torch.export program of the logits in eval mode, dynamic dims, notes), most dynamic first."""
    wrapped = LogitsOnly(model).eval()
    notes, last_error = [], None
    for dynamic_shapes, description in _dynamic_shape_options(model, dynamic):
        try:
            with torch.no_grad():
                program = torch.export.export(wrapped, (clips,), dynamic_shapes=dynamic_shapes)
            return program, description, notes
        except Exception as error:  # a constraint the model's code imposes: try a less dynamic export
            last_error = error
            first_line = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
            notes.append(
                f"note: export with dynamic {sorted(description) or 'nothing'} failed ({first_line}); "
                "exported with fewer dynamic dims"
            )
    raise ExportError(
        f"torch.export of the model failed even with a fixed input shape {tuple(clips.shape)}: {last_error}"
    ) from last_error


def _skdcore_ops(program) -> list:
    return sorted(
        {str(node.target) for node in program.graph.nodes if str(node.target).startswith("skdcore.")}
    )


def _metadata(ckpt: dict, input_shape, dynamic: dict, extra: Optional[dict] = None) -> dict:
    import skdcore

    return {
        "skdcore_version": skdcore.__version__,
        "torch_version": torch.__version__,
        "model_name": ckpt.get("model_name"),
        "input": "clips (N, C, T, V, M) float32",
        "example_input_shape": list(input_shape),
        "dynamic": dynamic,
        "output": "logits (N, num_class)",
        **(extra or {}),
    }


def save_pt2(program, path: Path, metadata: dict) -> None:
    """torch.export.save into memory, then an atomic write (temp file, fsync, rename): a full disk is a
    DiskFullError and leaves no half-written .pt2 at ``path`` (torch.export.save writing a file itself
    aborted the process on a full disk and left a torn file)."""
    from .atomic_io import atomic_write_bytes

    buffer = io.BytesIO()
    torch.export.save(program, buffer, extra_files={METADATA_FILE: json.dumps(metadata)})
    atomic_write_bytes(path, buffer.getvalue())


MAX_PROGRAM_BYTES = 16 << 30  # a .pt2 is read into memory whole to be checked
UNTRUSTED_PROGRAM = (
    "a .pt2 is a program, not data: torch's loader evaluates expressions and code stored in the file, "
    "so loading it can run anything its author wrote. Load only .pt2 files you made or trust, with "
    "load_program(path, trust=True) (CLI: --trust-program); to exchange models with people you do not "
    "trust, use ONNX (skd export CHECKPOINT --format onnx), which onnxruntime reads as data"
)


def load_program(path: Union[str, Path], trust: bool = False):
    """torch.export.load of a skdcore .pt2, after registering skdcore's ops (``import skdcore``).

    A .pt2 is code: this refuses unless ``trust=True`` says the file comes from a trusted source (see
    ``UNTRUSTED_PROGRAM``; exchange ONNX files otherwise). As defence in depth the file is still read
    once, checked to hold only a plain program (JSON graph with shape arithmetic only, raw tensor
    records, tensor sample inputs; :mod:`skdcore.pt2_safety`), and torch loads a fresh archive of the
    checked members, so a crafted file must get past the checks as well as past the trust decision.
    """
    import skdcore  # noqa: F401  (registers torch.ops.skdcore.* and their fake kernels)

    from .pt2_safety import canonical_pt2, check_pt2_archive

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(
            f"load_program: {path} not found; make one with `skd export CHECKPOINT --format pt2`"
        )
    if not trust:
        raise ExportError(f"{path}: refused: {UNTRUSTED_PROGRAM}")
    size = path.stat().st_size
    if size > MAX_PROGRAM_BYTES:
        raise ExportError(f"{path}: {size} bytes, more than the limit {MAX_PROGRAM_BYTES} for a .pt2")
    data = path.read_bytes()
    check_pt2_archive(data, str(path), error=ExportError)
    try:
        return torch.export.load(io.BytesIO(canonical_pt2(data)))
    except Exception as error:
        raise ExportError(
            f"{path} is not a loadable torch.export program for this skdcore / torch ({torch.__version__}): "
            f"{error}. Re-export it with this skdcore: skd export CHECKPOINT --format pt2"
        ) from error


def _rename_dims(onnx_model, dynamic: dict) -> None:
    """Name the ONNX input's symbolic dims 'batch' / 'frames' (torch writes its symbols, e.g. 's77')."""
    dims = onnx_model.graph.input[0].type.tensor_type.shape.dim
    renames = {}
    for axis, name in ((0, "batch"), (2, "frames")):
        if name in dynamic and dims[axis].dim_param:
            renames[dims[axis].dim_param] = name
    for value in [*onnx_model.graph.input, *onnx_model.graph.output, *onnx_model.graph.value_info]:
        for dim in value.type.tensor_type.shape.dim:
            if dim.dim_param in renames:
                dim.dim_param = renames[dim.dim_param]


def check_onnx(path: Path, model: nn.Module, clips_shapes: list) -> Optional[tuple]:
    """(max abs difference of onnxruntime's logits and the PyTorch model's, max(1, max |logit|)) on
    random clips of each shape; None (with a warning) when onnxruntime is not installed."""
    try:
        import onnxruntime
    except ImportError:
        warnings.warn(
            "onnxruntime is not installed: the ONNX file was NOT checked against PyTorch; "
            "pip install onnx onnxruntime onnxscript (the [onnx] extra) to check it",
            stacklevel=2,
        )
        return None
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    wrapped = LogitsOnly(model).eval()
    generator = torch.Generator().manual_seed(1)
    worst, scale = 0.0, 1.0
    for shape in clips_shapes:
        clips = torch.randn(shape, generator=generator)
        with torch.no_grad():
            expected = wrapped(clips)
        (got,) = session.run(["logits"], {"clips": clips.numpy()})
        worst = max(worst, float((torch.from_numpy(got) - expected).abs().max()))
        scale = max(scale, float(expected.abs().max()))
    return worst, scale


def _check_shapes(input_shape, dynamic: dict, multiple: int) -> list:
    N, C, T, V, M = input_shape
    shapes = [tuple(input_shape)]
    if "batch" in dynamic:
        shapes.append((1, C, T, V, M))
    if "frames" in dynamic:
        shapes.append((3 if "batch" in dynamic else N, C, T + 2 * multiple, V, M))
    return shapes


def export_onnx(program, clips: torch.Tensor, path: Path, opset: int, dynamic: dict, metadata: dict) -> int:
    """Lower the skdcore ops to their references and write ONNX; returns the opset written."""
    import onnx

    lowered = program.run_decompositions(reference_decompositions())
    left = _skdcore_ops(lowered)
    if left:
        raise ExportError(
            f"ONNX export: no reference lowering for {left}; add one to "
            "skdcore.export.reference_decompositions()"
        )
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.onnx.export(
        lowered,
        (clips,),
        str(path),
        dynamo=True,
        opset_version=opset,
        input_names=["clips"],
        output_names=["logits"],
        external_data=False,  # one self-contained file (skdcore models are far below protobuf's 2 GB)
        verbose=False,
    )
    onnx_model = onnx.load(str(path))
    _rename_dims(onnx_model, dynamic)
    written = next(o.version for o in onnx_model.opset_import if o.domain in ("", "ai.onnx"))
    onnx.helper.set_model_props(
        onnx_model,
        {
            key: json.dumps(value) if not isinstance(value, str) else value
            for key, value in {**metadata, "opset": written}.items()
        },
    )
    onnx.save(onnx_model, str(path))
    return written


def _check_skdcore_backbone(model: nn.Module) -> None:
    """export_model builds its example clips from a backbone's input description and keeps output [0]."""
    from .models import SkeletonModel

    needs = ("in_channels", "num_joints", "num_person")
    missing = [name for name in needs if not hasattr(model, name)]
    if not isinstance(model, SkeletonModel) or missing:
        raise TypeError(
            f"export_model exports skdcore backbones (SkeletonModel, returning (logits, features), with "
            f"{', '.join(needs)}); {type(model).__name__} is not one"
            + (f" (it lacks {', '.join(missing)})" if missing else "")
            + ". For your own model: skdcore.export.to_onnx(model, example_inputs, 'model.onnx')"
        )


def export_model(
    model: nn.Module,
    ckpt: dict,
    format: str,
    out: Union[str, Path],
    frames: int = DEFAULT_FRAMES,
    dynamic: bool = True,
    opset: int = DEFAULT_OPSET,
    check: bool = True,
) -> ExportResult:
    """Export an skdcore model (eval mode, compiled ops) to ``out`` as ``format`` ('pt2' or 'onnx')."""
    if format not in FORMATS:
        raise ValueError(f"export: format must be one of {list(FORMATS)}, got {format!r}")
    _check_skdcore_backbone(model)
    out = Path(out)
    model = model.eval()
    clips = example_clips(model, frames=frames)
    program, dynamic_dims, notes = export_program(model, clips, dynamic)
    metadata = _metadata(ckpt, clips.shape, dynamic_dims)
    result = ExportResult(out, format, tuple(clips.shape), dynamic_dims, notes=notes)
    if format == "pt2":
        save_pt2(program, out, metadata)
        result.notes.append(
            "load with skdcore.export.load_program(path, trust=True) (a .pt2 is code; skdcore's ops must be "
            "registered: `import skdcore` before torch.export.load)"
        )
        return result
    result.opset = export_onnx(program, clips, out, opset, dynamic_dims, metadata)
    if check:
        checked = check_onnx(out, model, _check_shapes(clips.shape, dynamic_dims, frame_multiple(model)))
        if checked is None:
            result.notes.append(
                "warning: onnxruntime not installed, the file was not checked "
                "(pip install onnx onnxruntime onnxscript)"
            )
        else:
            result.max_abs_error, result.logit_scale = checked
            if not result.max_abs_error <= MAX_ERROR * result.logit_scale:
                raise ExportError(
                    f"{out}: onnxruntime's logits differ from PyTorch's by {result.max_abs_error:.3g} "
                    f"(limit {MAX_ERROR:g} x max(1, |logit|) = {MAX_ERROR * result.logit_scale:.3g}); "
                    "the file is kept for inspection, do not deploy it"
                )
    return result


def export_checkpoint(
    checkpoint: Union[str, Path],
    format: str,
    out: Union[str, Path, None] = None,
    frames: int = DEFAULT_FRAMES,
    dynamic: bool = True,
    opset: int = DEFAULT_OPSET,
    check: bool = True,
    trust: bool = False,
) -> ExportResult:
    """Export the model of an skdcore training checkpoint; ``out`` defaults to CHECKPOINT with the
    format's suffix (``best.pt`` -> ``best.pt2`` / ``best.onnx``)."""
    if format not in FORMATS:
        raise ValueError(f"export: format must be one of {list(FORMATS)}, got {format!r}")
    model, ckpt = load_trained_model(checkpoint, trust)
    out = Path(out) if out is not None else Path(checkpoint).with_suffix(f".{format}")
    return export_model(model, ckpt, format, out, frames, dynamic, opset, check)
