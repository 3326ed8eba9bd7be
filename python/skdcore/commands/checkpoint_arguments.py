"""Command-line arguments shared by the commands that evaluate checkpoints (`skd eval`, `skd robustness`)."""
from __future__ import annotations

from ..nn.ops_choice import OPS
from .argument_types import positive_int
from .plugins import add_plugin_argument


def add_checkpoint_arguments(parser, checkpoint_help: str) -> None:
    """--checkpoint (one or more), their display names and the data they are evaluated on."""
    parser.add_argument("--checkpoint", required=True, nargs="+", metavar="PT", help=checkpoint_help)
    parser.add_argument("--names", nargs="+", help="display names, one per checkpoint (default: run names)")
    parser.add_argument("--data", help="prepared data directory (default: the first checkpoint's)")
    parser.add_argument("--split", help="split name (default: the run's test split)")


def add_model_arguments(parser) -> None:
    """How the checkpoints' models are loaded and run."""
    parser.add_argument("--batch-size", type=positive_int, default=256, help="clips per forward pass")
    parser.add_argument("--ops", choices=OPS, default="fused")
    parser.add_argument("--layout", help="skeleton layout of the models (default: each checkpoint's)")
    parser.add_argument("--trust-checkpoint", action="store_true",
                        help="load checkpoints holding pickled Python objects (weights_only=False): this can "
                             "run code from the file, so only for files from a source you trust")
    add_plugin_argument(parser)


def add_trust_program_argument(parser) -> None:
    """--trust-program, for every command that loads a .pt2 (``load_program(path,
    trust=args.trust_program)``): a .pt2 is code, refused without it (see docs/untrusted-files.md)."""
    parser.add_argument("--trust-program", action="store_true",
                        help="load a .pt2 program: torch's loader runs code stored in it, so only for files "
                             "you made or trust (exchange ONNX with others)")
