"""Ctrl-C: one line saying what happened and how to go on, no traceback (exit code 130, as shells use
for SIGINT). A run (train, distill, sweep) continues exactly with ``--resume`` (sweep: run it again)."""
from __future__ import annotations

import shlex
import sys

INTERRUPTED_EXIT = 130
RESUMABLE = ("train", "distill")


def interrupted_message(args, argv) -> str:
    """The line printed on Ctrl-C: the command, and for a run the command line that resumes it."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if args.command in RESUMABLE:
        again = [a for a in argv if a != "--force"] + ([] if "--resume" in argv else ["--resume"])
        return (f"skd {args.command}: interrupted; what was checkpointed is kept, continue exactly with: "
                f"skd {shlex.join(again)}")
    if args.command == "sweep":
        return ("skd sweep: interrupted; run the same command again: finished runs are skipped and the "
                "interrupted one starts again")
    if args.command == "prepare":
        return "skd prepare: interrupted; run the same command again: it resumes from the finished chunks"
    return f"skd {args.command}: interrupted"
