"""`skd infer`: actions in pose-estimator keypoints, one line per window, as the frames come.

    skd infer --checkpoint runs/own/student/best.pt --input clip.json --window 64 --stride 8
    my_estimator --jsonl | skd infer --checkpoint best.pt --input - --json

``--input`` is a keypoint file (COCO results .json, JSON lines, .npz / .npy: docs/pose-estimators.md) or
``-``: frames from stdin, one JSON frame per line, each recognised as soon as its line arrives.
"""

from __future__ import annotations

import json
import sys

from .argument_types import positive_int
from .checkpoint_arguments import add_trust_program_argument
from .threads import add_threads_argument

HELP = "actions in pose-estimator keypoints (file or stdin), a line per window"
USER_ERRORS = (ValueError, FileNotFoundError)  # a wrong file, window or model


def add_arguments(parser) -> None:
    parser.add_argument(
        "--checkpoint",
        required=True,
        metavar="MODEL",
        help="a training checkpoint (.pt), or a file of `skd export` (.onnx; .pt2 with --trust-program)",
    )
    parser.add_argument(
        "--input",
        required=True,
        metavar="FILE|-",
        help="keypoint file (.json, .jsonl, .npz, .npy) or - for JSON frames on stdin, one a line",
    )
    parser.add_argument("--window", type=positive_int, default=64, help="frames per window (default 64)")
    parser.add_argument("--stride", type=positive_int, default=8, help="frames between windows (default 8)")
    parser.add_argument("--top-k", type=positive_int, default=3, help="classes per line (default 3)")
    parser.add_argument("--json", action="store_true", help="one JSON object per window instead of text")
    parser.add_argument(
        "--data",
        metavar="DIR",
        help="the prepared folder the model was trained on (default: the checkpoint's "
        "data.root; needed for .onnx / .pt2)",
    )
    parser.add_argument(
        "--score-threshold", type=float, help="a joint scored below this is missing (default: the data's)"
    )
    parser.add_argument(
        "--trust-checkpoint",
        action="store_true",
        help="load a checkpoint holding pickled objects; only for files from a source you trust",
    )
    add_trust_program_argument(parser)
    add_threads_argument(parser)


def frames_of(path: str):
    """Frames of a keypoint file, or of stdin line by line (``-``) as they arrive."""
    from ..data.readers.keypoint_files import parse_frame_line, read_keypoint_file

    if path != "-":
        yield from read_keypoint_file(path)
        return
    for number, line in enumerate(sys.stdin.buffer, start=1):
        if line.strip():
            yield parse_frame_line(line, f"stdin line {number}")


def run(args) -> int:
    from ..infer import StreamRecognizer

    recognizer = StreamRecognizer(
        args.checkpoint,
        args.window,
        args.stride,
        top_k=args.top_k,
        data=args.data,
        score_threshold=args.score_threshold,
        trust=args.trust_program if str(args.checkpoint).endswith(".pt2") else args.trust_checkpoint,
        threads=args.threads,
    )
    for note in recognizer.preprocessing.notes:
        print(f"note: {note}", file=sys.stderr)
    windows = 0
    for frame in frames_of(args.input):
        result = recognizer.push(frame)
        if result is not None:
            windows += 1
            print(json.dumps(result.to_dict()) if args.json else result.line(), flush=True)
    if windows == 0:
        print(
            f"skd infer: {recognizer.frames} frames, fewer than --window {args.window}: no window to "
            "recognise (pass a smaller --window)",
            file=sys.stderr,
        )
        return 1
    return 0
