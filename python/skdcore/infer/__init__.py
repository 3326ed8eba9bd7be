"""Recognise actions as pose-estimator frames arrive (docs/pose-estimators.md): :class:`StreamRecognizer`,
the training-time :class:`Preprocessing` it applies, and the model runners (eager, onnxruntime, pt2)."""

from .preprocessing import Preprocessing
from .runners import EagerRunner, OnnxRunner, ProgramRunner, load_runner
from .stream import StreamRecognizer, WindowResult

__all__ = [
    "EagerRunner",
    "OnnxRunner",
    "Preprocessing",
    "ProgramRunner",
    "StreamRecognizer",
    "WindowResult",
    "load_runner",
]
