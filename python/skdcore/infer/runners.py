"""A trained model as a function clips (N, C, T, V, M) float32 -> logits (N, classes), numpy in and out:
eager PyTorch from a training checkpoint (.pt), onnxruntime from an .onnx, or a torch.export program
(.pt2, only with ``trust=True``: a .pt2 is code to run)."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import numpy as np
import torch

SUFFIXES = (".pt", ".onnx", ".pt2")


class EagerRunner:
    """A checkpoint's model in eval mode (the compiled ops), on the CPU."""

    kind = "eager"

    def __init__(self, path, trust: bool = False):
        from ..checkpoints import load_trained_model

        self.model, self.checkpoint = load_trained_model(path, trust=trust)
        self.input_shape = (self.model.in_channels, self.model.num_joints, self.model.num_person)

    def __call__(self, clips: np.ndarray) -> np.ndarray:
        with torch.inference_mode():
            return self.model(torch.from_numpy(clips))[0].numpy()


class OnnxRunner:
    """An exported .onnx in onnxruntime (CPU, ``threads`` intra-op threads)."""

    kind = "onnxruntime"
    checkpoint = None

    def __init__(self, path, threads: Optional[int] = None):
        try:
            import onnxruntime
        except ImportError:
            raise ValueError(
                f"{path}: running an .onnx needs onnxruntime (pip install onnxruntime, or the "
                "[onnx] extra); or pass the training checkpoint (.pt)"
            ) from None
        options = onnxruntime.SessionOptions()
        if threads:
            options.intra_op_num_threads = options.inter_op_num_threads = int(threads)
        try:
            self.session = onnxruntime.InferenceSession(
                str(path), options, providers=["CPUExecutionProvider"]
            )
        except Exception as error:  # noqa: BLE001  (a damaged or foreign file: say which)
            raise ValueError(
                f"{path} is not a loadable ONNX model ({type(error).__name__}: {error})"
            ) from None
        shape = self.session.get_inputs()[0].shape
        self.input_shape = tuple(d if isinstance(d, int) else None for d in (shape[1], shape[3], shape[4]))
        self.input_name = self.session.get_inputs()[0].name

    def __call__(self, clips: np.ndarray) -> np.ndarray:
        return self.session.run(None, {self.input_name: clips})[0]


class ProgramRunner:
    """A torch.export program (.pt2) of `skd export`; loading one runs code from it, hence ``trust``."""

    kind = "pt2"
    checkpoint = None

    def __init__(self, path, trust: bool = False):
        if not trust:
            raise ValueError(
                f"{path}: a .pt2 is a program (code), loaded only when you trust the file: pass "
                "trust=True (--trust-program), or use the .pt checkpoint or an .onnx"
            )
        from ..export import load_program

        self.module = load_program(path, trust=True).module()
        placeholder = next(n for n in self.module.graph.nodes if n.op == "placeholder")
        shape = placeholder.meta["val"].shape if "val" in placeholder.meta else None
        self.input_shape = (
            (None, None, None)
            if shape is None
            else tuple(int(d) if isinstance(d, int) else None for d in (shape[1], shape[3], shape[4]))
        )

    def __call__(self, clips: np.ndarray) -> np.ndarray:
        with torch.inference_mode():
            return self.module(torch.from_numpy(clips)).numpy()


def load_runner(path, trust: bool = False, threads: Optional[int] = None):
    """The runner for ``path`` by its suffix (.pt checkpoint, .onnx, .pt2)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(
            f"model {path} not found; give a training checkpoint (best.pt) or a file of "
            "`skd export` (.onnx, .pt2)"
        )
    suffix = path.suffix.lower()
    if suffix == ".onnx":
        return OnnxRunner(path, threads)
    if suffix == ".pt2":
        return ProgramRunner(path, trust)
    return EagerRunner(path, trust)
