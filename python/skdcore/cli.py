"""The `skd` command line: one sub-command per job (info, demo, ...)."""
from __future__ import annotations

import argparse
import sys


def _info(args) -> int:
    import skdcore

    for key, value in skdcore.build_info().items():
        print(f"{key:>14}: {value}")
    return 0


def _demo(args) -> int:
    from .demo import run_demo

    return run_demo(args)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="skd", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("info", help="print how this skdcore was built").set_defaults(func=_info)
    demo = commands.add_parser("demo", help="run the demo on the embedded data")
    demo.set_defaults(func=_demo)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
