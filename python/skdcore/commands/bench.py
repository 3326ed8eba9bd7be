"""`skd bench`: time one SKD training step (skdcore ops vs pure-PyTorch reference), or every benchmark."""
from __future__ import annotations

import argparse
import json
import subprocess
import sys

import torch

from ..bench_step import QUICK_MODEL, bench_train_step, format_result
from .argument_types import positive_int

HELP = "time one SKD training step: skdcore ops vs pure-PyTorch reference"


def registered_model(name: str) -> str:
    """argparse type of --model: a name of skdcore.models.available_models(), entry-point plugins included
    (they load only when asked for, so a fixed ``choices=`` list would miss them)."""
    from ..models import available_models

    names = sorted(available_models())
    if name not in names:
        raise argparse.ArgumentTypeError(f"{name!r} is not a registered model; choose one of {names}")
    return name


def add_arguments(parser) -> None:
    parser.add_argument("--frames", type=positive_int, nargs="+", default=[100],
                        help="clip lengths T (e.g. 100 300)")
    parser.add_argument("--batch-size", type=positive_int, default=16)
    parser.add_argument("--model", default="shift_gcn", type=registered_model,
                        help="a registered model name (`skd models`)")
    parser.add_argument("--repeats", type=positive_int, default=5)
    parser.add_argument("--quick", action="store_true", help="tiny model and shapes (smoke run)")
    parser.add_argument("--all", action="store_true", help="run every benchmarks/bench_*.py instead")
    parser.add_argument("--benchmarks", default="benchmarks", help="benchmark folder for --all")


def run_all_benchmarks(folder: str, quick: bool) -> int:
    """Run every benchmarks/bench_*.py of a source checkout (they import its common.py)."""
    from pathlib import Path

    scripts = sorted(Path(folder).glob("bench_*.py"))
    if not scripts:
        raise SystemExit(f"skd bench --all: no bench_*.py in {folder}; run it from the skdcore source tree "
                         "or pass --benchmarks DIR")
    for script in scripts:
        print(f"== {script.name}", flush=True)
        command = [sys.executable, script.name] + (["--quick"] if quick else [])
        code = subprocess.run(command, cwd=script.parent).returncode
        if code:
            return code
    return 0


def run(args) -> int:
    if getattr(args, "all", False):
        return run_all_benchmarks(args.benchmarks, args.quick)
    device = "cuda" if torch.cuda.is_available() else "cpu"
    model_args = QUICK_MODEL if args.quick else None
    for frames in ([16] if args.quick else args.frames):
        r = bench_train_step(frames, 4 if args.quick else args.batch_size, args.model,
                             2 if args.quick else args.repeats, model_args, device, memory=not args.quick)
        print(format_result(r))
        print(json.dumps(r))
    return 0
