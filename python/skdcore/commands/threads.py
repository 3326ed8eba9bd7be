"""--threads: how many CPU threads torch uses (train, distill, sweep, eval); applied by ``skd``'s main."""
from __future__ import annotations

import argparse

from .argument_types import positive_int


def add_threads_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--threads", type=positive_int, metavar="N",
                        help="CPU threads torch may use (default: torch's, usually every core); 1-2 for "
                             "small models or on a shared machine")


def apply_threads(args) -> None:
    """torch.set_num_threads(args.threads) when the command has --threads and it was given."""
    if getattr(args, "threads", None):
        import torch

        torch.set_num_threads(args.threads)
