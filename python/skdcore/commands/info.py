"""`skd info`: how this skdcore was built."""
from __future__ import annotations

HELP = "print how this skdcore was built"


def add_arguments(parser) -> None:
    pass


def run(args) -> int:
    import skdcore

    for key, value in skdcore.build_info().items():
        print(f"{key:>14}: {value}")
    return 0
