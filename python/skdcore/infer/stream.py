"""``StreamRecognizer``: pose-estimator frames in, one result per completed window out.

    from skdcore.infer import StreamRecognizer
    recognizer = StreamRecognizer("runs/own/student/best.pt", window=64, stride=8)
    for frame in frames:                      # a JSON frame, Detections, or a (V, C) / (M, V, C) array
        result = recognizer.push(frame)
        if result is not None:
            print(result.line())              # frames 0-63: wave 0.912  walk 0.071 ...

Frames go through the same person tracking as training files, into a ring buffer of ``window`` frames;
every ``stride`` frames once it is full, the window gets the training-time preprocessing
(:class:`Preprocessing`) and the model runs in eval mode. :meth:`StreamRecognizer.recognise_clip`
evaluates every window of a whole clip in one batch (the same numbers as pushing it frame by frame).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import numpy as np

from ..data.readers.keypoint_files import Detection, parse_frame
from ..data.readers.person_tracks import PersonTracker
from ..layouts import get_layout
from .preprocessing import Preprocessing
from .runners import load_runner


@dataclass
class WindowResult:
    """The recognition of frames ``start`` .. ``stop - 1``: the top-k classes, most probable first."""

    start: int
    stop: int
    indices: list
    labels: list
    probabilities: list
    all_probabilities: np.ndarray

    def line(self) -> str:
        top = "  ".join(f"{label} {p:.3f}" for label, p in zip(self.labels, self.probabilities))
        return f"frames {self.start}-{self.stop - 1}: {top}"

    def to_dict(self) -> dict:
        return {
            "start": self.start,
            "stop": self.stop,
            "top": [
                {"label": label, "index": int(i), "probability": float(p)}
                for label, i, p in zip(self.labels, self.indices, self.probabilities)
            ],
        }


def softmax(logits: np.ndarray) -> np.ndarray:
    shifted = logits.astype(np.float64) - logits.max(axis=-1, keepdims=True)
    exp = np.exp(shifted)
    return exp / exp.sum(axis=-1, keepdims=True)


def detections_of(frame, num_channels: int, where: str) -> list:
    """A frame as a list of :class:`Detection`: a JSON frame (dict or list, see
    :func:`skdcore.data.readers.keypoint_files.parse_frame`), Detections, or an array (V, C) for one
    person / (M, V, C) for several, the last channel the joint's score."""
    if isinstance(frame, np.ndarray):
        if frame.ndim == 2:
            frame = frame[None]
        if frame.ndim != 3 or frame.shape[-1] != num_channels:
            raise ValueError(
                f"{where}: an array frame is (V, C) or (M, V, C) with C={num_channels} "
                f"(coordinates, then the score), got shape {frame.shape}"
            )
        return [Detection(np.asarray(p, dtype=np.float32)) for p in frame if np.any(p != 0)]
    if isinstance(frame, list) and all(isinstance(d, Detection) for d in frame) and frame:
        return frame
    return parse_frame(frame, where)


class StreamRecognizer:
    """Actions in a stream of pose-estimator frames.

    Args:
        model: a training checkpoint (.pt; eager PyTorch), an .onnx (onnxruntime) or a .pt2 (only with
            ``trust=True``), as written by `skd train` / `skd distill` / `skd export`.
        window: frames per recognised window T; stride: frames between two windows.
        top_k: classes per result.
        data: the prepared folder the model was trained on, whose manifest gives the preprocessing;
            default: the one a checkpoint records (``data.root``). Needed for .onnx / .pt2.
        preprocessing: a :class:`Preprocessing` (instead of ``data``).
        score_threshold, max_persons: override the data's (persons: the model's slots at most).
        threads: onnxruntime's threads (torch: ``torch.set_num_threads``).
    """

    def __init__(
        self,
        model,
        window: int = 64,
        stride: int = 8,
        *,
        top_k: int = 5,
        data=None,
        preprocessing: Optional[Preprocessing] = None,
        score_threshold: Optional[float] = None,
        trust: bool = False,
        threads: Optional[int] = None,
    ):
        if int(window) < 1 or int(stride) < 1 or int(top_k) < 1:
            raise ValueError(f"window, stride and top_k must be >= 1, got {window}, {stride}, {top_k}")
        self.window, self.stride, self.top_k = int(window), int(stride), int(top_k)
        self.path = Path(model)
        self.runner = load_runner(model, trust=trust, threads=threads)
        self.preprocessing = preprocessing or self._preprocessing(data, score_threshold)
        self._check_input_shape()
        p = self.preprocessing
        self.num_joints = p.layout.num_joints
        self._buffer = np.zeros((self.window, p.num_persons, self.num_joints, p.num_channels), np.float32)
        self.tracker = PersonTracker(
            p.num_persons, self.num_joints, p.num_channels, p.score_threshold, scores=p.has_scores
        )
        self.frames = 0

    # -- setup -----------------------------------------------------------------------------------
    def _preprocessing(self, data, score_threshold) -> Preprocessing:
        overrides = {"score_threshold": score_threshold}
        if data is not None:
            return Preprocessing.from_data(data, **overrides)
        ckpt = self.runner.checkpoint
        if ckpt is None:
            raise ValueError(
                f"{self.path}: an exported model does not record how its input was prepared; "
                "pass data=DIR (--data: the folder `skd prepare` wrote for its training)"
            )
        root = ((ckpt.get("config") or {}).get("data") or {}).get("root")
        if root and (Path(root) / "manifest.json").is_file():
            return Preprocessing.from_data(root, **overrides)
        model = self.runner.model
        layout = get_layout(ckpt["model_args"].get("layout", "ntu25"))
        return Preprocessing(
            layout,
            model.in_channels,
            model.num_person,
            score_threshold=score_threshold if score_threshold is not None else 0.3,
            notes=[
                f"{self.path}: its data folder {root} is not here; assumed: coordinates "
                "then score, no normalisation, SKD's imputation window (pass data=DIR)"
            ],
        )

    def _check_input_shape(self) -> None:
        p = self.preprocessing
        expected = (p.num_channels, p.layout.num_joints, p.num_persons)
        for name, want, got in zip(
            ("channels C", "joints V", "persons M"), expected, self.runner.input_shape
        ):
            if got is not None and got != want:
                raise ValueError(
                    f"{self.path} takes {name}={got} but the preprocessing gives {want}; pass the "
                    "data folder the model was trained on (data= / --data)"
                )

    @property
    def label_names(self) -> Optional[list]:
        return self.preprocessing.label_names

    # -- streaming -------------------------------------------------------------------------------
    def reset(self) -> None:
        """Forget every frame (a new stream)."""
        self._buffer[:] = 0
        self.tracker.reset()
        self.frames = 0

    def push(self, frame) -> Optional[WindowResult]:
        """Add one frame; the window's result when this frame completes one, else None."""
        detections = detections_of(frame, self.preprocessing.num_channels, f"frame {self.frames}")
        self._buffer[self.frames % self.window] = self.tracker.update(detections, f"frame {self.frames}")
        self.frames += 1
        if self.frames < self.window or (self.frames - self.window) % self.stride:
            return None
        order = np.arange(self.frames, self.frames + self.window) % self.window  # NB: oldest frame first
        clip = self._buffer[order].transpose(3, 0, 2, 1)  # (T, M, V, C) -> (C, T, V, M)
        return self.recognise([clip], [self.frames - self.window])[0]

    # -- batches ---------------------------------------------------------------------------------
    def recognise(self, windows, starts) -> list:
        """Results of raw (C, T, V, M) windows (missing joints 0) starting at frames ``starts``, one batch."""
        batch = np.stack([self.preprocessing.apply(w) for w in windows])
        probabilities = softmax(np.asarray(self.runner(batch)))
        return [self._result(start, p) for start, p in zip(starts, probabilities)]

    def recognise_clip(self, clip: np.ndarray) -> list:
        """Every window of a raw (C, T, V, M) clip (from :func:`frames_to_clip`), in one batch."""
        starts = list(range(0, clip.shape[1] - self.window + 1, self.stride))
        if not starts:
            return []
        return self.recognise([clip[:, s : s + self.window] for s in starts], starts)

    def _result(self, start: int, probabilities: np.ndarray) -> WindowResult:
        k = min(self.top_k, len(probabilities))
        top = np.argsort(-probabilities, kind="stable")[:k]
        names = self.label_names
        labels = [names[i] if names and i < len(names) else str(int(i)) for i in top]
        return WindowResult(
            start,
            start + self.window,
            [int(i) for i in top],
            labels,
            [float(probabilities[i]) for i in top],
            probabilities,
        )
