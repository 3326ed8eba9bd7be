"""`skd export CHECKPOINT --format pt2|onnx`: a trained model as a deployable file (see skdcore.export)."""

from __future__ import annotations

import argparse
import sys

HELP = "a trained model as a .pt2 (fused ops) or ONNX file"
USER_ERRORS = (ValueError,)  # --frames
MAX_FRAMES = 10_000  # an example clip longer than this only costs memory (activations grow with T)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from ..export import DEFAULT_FRAMES, FORMATS
    from ..onnx_export import DEFAULT_OPSET, SUPPORTED_OPSETS

    parser.add_argument("checkpoint", help="skdcore training checkpoint (e.g. runs/demo/runs/skd/best.pt)")
    parser.add_argument(
        "--format",
        required=True,
        choices=FORMATS,
        help="pt2: torch.export program with skdcore's fused ops (needs skdcore to load); "
        "onnx: standard ONNX ops, checked in onnxruntime",
    )
    parser.add_argument("--out", help="output file (default: the checkpoint's path with .pt2 / .onnx)")
    from .plugins import add_plugin_argument

    add_plugin_argument(parser)
    parser.add_argument(
        "--frames",
        type=int,
        default=DEFAULT_FRAMES,
        help="frames T of the example clip (the fixed T when the frame count cannot be dynamic)",
    )
    parser.add_argument("--static", action="store_true", help="fixed input shape (no dynamic batch / frames)")
    parser.add_argument("--opset", type=int, default=DEFAULT_OPSET, choices=SUPPORTED_OPSETS, metavar="N",
                        help=f"ONNX opset, {SUPPORTED_OPSETS[0]}..{SUPPORTED_OPSETS[-1]} "
                             f"(default {DEFAULT_OPSET})")
    parser.add_argument("--no-check", action="store_true", help="skip the onnxruntime vs PyTorch check")
    parser.add_argument(
        "--trust-checkpoint",
        action="store_true",
        help="load a checkpoint that holds pickled Python objects (weights_only=False): this can run code "
        "from the file, so only for files from a source you trust",
    )


def run(args: argparse.Namespace) -> int:
    from ..export import export_checkpoint
    from ..onnx_export import ExportError
    from ..output_paths import check_output_file

    if not 1 <= args.frames <= MAX_FRAMES:
        raise ValueError(f"--frames must be in 1..{MAX_FRAMES:,} (the example clip's length; the reference "
                         f"uses 100), got {args.frames}")
    if args.out is not None:  # NB: an empty --out is refused, not ignored
        check_output_file(args.out, "--out", example=f"model.{args.format}")
    try:
        result = export_checkpoint(
            args.checkpoint,
            args.format,
            args.out,
            frames=args.frames,
            dynamic=not args.static,
            opset=args.opset,
            check=not args.no_check,
            trust=args.trust_checkpoint,
        )
    except ExportError as error:
        print(f"skd export: error: {error}", file=sys.stderr)
        return 1
    print(result.describe())
    return 0
