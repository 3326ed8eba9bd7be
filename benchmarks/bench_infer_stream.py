"""Per-window latency of streaming recognition (``skdcore.infer.StreamRecognizer``) on 1 CPU thread.

Two models as the recipes build them: the own-data ST-GCN (configs/own_skeletons.yaml: channels 32, 32,
64, 64, strides 1, 1, 2, 1, centre_input) and the demo's Shift-GCN student (configs/demo_skd.yaml:
channels 24, 48, 48, strides 1, 2, 2), each for V = 17 (coco17) and V = 25 (ntu25): windows of
T = 64 frames, (x, y, score), 1 person, 10 classes. Per window:

- ``model``: the logits of one window, eager (fused ops) vs exported .pt2 vs onnxruntime, timed
  round-robin (one call of each per round, medians over rounds, so a busy moment of a shared machine
  hits all of them alike);
- ``push``: ``StreamRecognizer.push`` with stride 1, i.e. one frame in (tracking, ring buffer) and one
  window out (imputation, the model eager, softmax, top-k): what a live stream pays per result.

    python benchmarks/bench_infer_stream.py              # the table for RESULTS.md
    python benchmarks/bench_infer_stream.py --quick      # few rounds (smoke test)
"""

from __future__ import annotations

import statistics
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import torch

from common import base_parser, machine_line, markdown_table
from skdcore import export
from skdcore.checkpoints.checkpoint import save_checkpoint
from skdcore.infer import Preprocessing, StreamRecognizer
from skdcore.models import build_model

MODELS = {
    "own-data ST-GCN": (
        "st_gcn",
        {"channels": [32, 32, 64, 64], "strides": [1, 1, 2, 1], "centre_input": True},
    ),
    "demo Shift-GCN student": ("shift_gcn", {"channels": [24, 48, 48], "strides": [1, 2, 2]}),
}
LAYOUTS = {17: "coco17", 25: "ntu25"}
WINDOW, CLASSES = 64, 10
HEADER = ["model", "V", "variant", "ms / window (wall)", "ms / window (CPU)", "<= 10 ms (CPU)"]
TARGET_MS = 10.0  # own-data ST-GCN at V = 17: 30 fps with stride 8 leaves 267 ms per window


def variants(name: str, args: dict, folder: Path) -> tuple:
    """({variant: callable(numpy clips) -> logits}, checkpoint path) of one model (same weights)."""
    torch.manual_seed(0)
    model = build_model(name, **args).eval()
    clips = torch.randn(1, 3, WINDOW, model.num_joints, 1)
    program, _, _ = export.export_program(model, clips, dynamic=False)
    export.save_pt2(program, folder / f"{name}.pt2", {})
    loaded = export.load_program(folder / f"{name}.pt2").module()
    onnx_path = folder / f"{name}.onnx"
    export.export_onnx(program, clips, onnx_path, export.DEFAULT_OPSET, {}, {})
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = options.inter_op_num_threads = 1
    session = onnxruntime.InferenceSession(str(onnx_path), options, providers=["CPUExecutionProvider"])
    checkpoint = folder / f"{name}.pt"
    save_checkpoint(checkpoint, model=model, model_name=name, model_args=args)

    def eager(x):
        with torch.inference_mode():
            return model(torch.from_numpy(x))[0]

    def pt2(x):
        with torch.inference_mode():
            return loaded(torch.from_numpy(x))

    return {
        "eager": eager,
        "pt2": pt2,
        "onnxruntime": lambda x: session.run(None, {"clips": x})[0],
    }, checkpoint


def time_round_robin(functions: dict, rounds: int) -> dict:
    """{function: (median wall seconds, median CPU seconds of this thread)} per call, one call of each per
    round after three warm-up calls. With 1 thread everything runs on the calling thread, so its CPU time
    is the work itself, which a busy machine's time slicing inflates far less than the wall time."""
    for fn in functions.values():
        for _ in range(3):
            fn()
    wall = {key: [] for key in functions}
    cpu = {key: [] for key in functions}
    for _ in range(rounds):
        for key, fn in functions.items():
            start, start_cpu = time.perf_counter(), time.thread_time()
            fn()
            cpu[key].append(time.thread_time() - start_cpu)
            wall[key].append(time.perf_counter() - start)
    return {key: (statistics.median(wall[key]), statistics.median(cpu[key])) for key in functions}


def pusher(checkpoint: Path, layout: str):
    """A call that pushes one (V, 3) frame into a stride-1 recognizer: one window result per call."""
    recognizer = StreamRecognizer(checkpoint, window=WINDOW, stride=1, preprocessing=Preprocessing(layout))
    rng = np.random.default_rng(0)
    V = recognizer.num_joints
    frames = [
        np.concatenate([rng.normal(size=(V, 2)), rng.uniform(0.2, 1, size=(V, 1))], 1).astype(np.float32)
        for _ in range(WINDOW)
    ]
    for frame in frames:
        recognizer.push(frame)
    state = {"t": 0}

    def push():
        state["t"] += 1
        result = recognizer.push(frames[state["t"] % WINDOW])
        assert result is not None  # NB: stride 1: every frame completes a window

    return push


def main() -> None:
    parser = base_parser(__doc__)
    parser.add_argument("--rounds", type=int, default=200, help="timed rounds (one call of each variant)")
    args = parser.parse_args()
    if args.quick:
        args.rounds = 10
    warnings.filterwarnings("ignore")
    torch.set_num_threads(1)
    print(f"streaming recognition latency, {machine_line()}")
    print(f"window (1, 3, T={WINDOW}, V, M=1), {CLASSES} classes, 1 thread, medians of {args.rounds} rounds")
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        for title, (name, model_args) in MODELS.items():
            for joints, layout in LAYOUTS.items():
                full_args = {
                    **model_args,
                    "num_class": CLASSES,
                    "layout": layout,
                    "in_channels": 3,
                    "num_person": 1,
                }
                functions, checkpoint = variants(name, full_args, Path(folder))
                clips = np.random.default_rng(1).normal(size=(1, 3, WINDOW, joints, 1)).astype(np.float32)
                timed = {key: (lambda fn=fn: fn(clips)) for key, fn in functions.items()}
                timed["push (eager, all steps)"] = pusher(checkpoint, layout)
                seconds = time_round_robin(timed, args.rounds)
                for variant, (wall, cpu) in seconds.items():
                    own = joints == 17 and title.startswith("own")
                    target = ("yes" if 1000 * cpu <= TARGET_MS else "no") if own else ""
                    rows.append([title, joints, variant, f"{1000 * wall:.2f}", f"{1000 * cpu:.2f}", target])
                print(markdown_table(HEADER, rows[-len(seconds) :]))
    print()
    print(markdown_table(HEADER, rows))


if __name__ == "__main__":
    main()
