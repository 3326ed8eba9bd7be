"""`skd distill`: `skd train` with mode: distill and --teacher."""
from __future__ import annotations

from . import train

HELP = "train an SKD student from a frozen teacher"


def add_arguments(parser) -> None:
    train.add_arguments(parser, teacher=True)


def run(args) -> int:
    return train.run(args, mode="distill")
