"""The `skd` command line: info | train | distill | eval | sweep | configs | models | robustness | plot |
infer | bench | demo | ablation | export | prepare."""
from __future__ import annotations

import argparse
import importlib
import sys

from .commands.errors import run_command
from .commands.threads import apply_threads

# Every `skd` command, in the order `skd --help` lists them. Each is the module skdcore.commands.<name>:
# HELP (one line), add_arguments(parser), run(args) -> int; optional PARSER_OPTIONS (more keyword arguments
# of its parser) and USER_ERRORS (see commands/errors.py). A new command is one more name here.
COMMANDS = (
    "info",
    "train",
    "distill",
    "eval",
    "sweep",
    "configs",
    "models",
    "robustness",
    "plot",
    "infer",
    "bench",
    "demo",
    "ablation",
    "export",
    "prepare",
)


def command_module(name: str):
    return importlib.import_module(f".commands.{name}", __package__)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="skd", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    for name in COMMANDS:
        module = command_module(name)
        command = commands.add_parser(name, help=module.HELP, **getattr(module, "PARSER_OPTIONS", {}))
        module.add_arguments(command)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    apply_threads(args)
    return run_command(command_module(args.command), args, argv)


if __name__ == "__main__":
    sys.exit(main())
