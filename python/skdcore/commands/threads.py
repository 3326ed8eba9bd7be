"""--threads: how many CPU threads torch uses (train, distill, sweep, eval); applied by ``skd``'s main."""
from __future__ import annotations

import argparse


def add_threads_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--threads", type=_positive_int, metavar="N",
                        help="CPU threads torch may use (default: torch's, usually every core); 1-2 for "
                             "small models or on a shared machine")


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def apply_threads(args) -> None:
    """torch.set_num_threads(args.threads) when the command has --threads and it was given."""
    if getattr(args, "threads", None):
        import torch

        torch.set_num_threads(args.threads)
