"""Shared benchmark helpers: medians from torch.utils.benchmark, ratios, a markdown table."""
from __future__ import annotations

import argparse
import datetime
import os
import platform
import subprocess

import torch
import torch.utils.benchmark as tbench

from skdcore.ops.paths import set_op_path


def median_seconds(fn, min_run_time: float = 0.5) -> float:
    """Median wall time of fn() over repeated blocks (torch.utils.benchmark handles warm-up/threads)."""
    timer = tbench.Timer(stmt="fn()", globals={"fn": fn}, num_threads=torch.get_num_threads())
    return timer.blocked_autorange(min_run_time=min_run_time).median


def machine_line() -> str:
    # SKDCORE_COMMIT: for copies of the tree without .git (e.g. a GPU machine)
    commit = os.environ.get("SKDCORE_COMMIT") or subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    cpu_line = f"CPU {cpu}, {torch.get_num_threads()} threads"
    device = torch.cuda.get_device_name() if torch.cuda.is_available() else cpu_line
    if torch.cuda.is_available():
        # eager convolutions use TF32 on Ampere+ by default (cudnn.allow_tf32); skdcore's kernels never do
        device += (f", TF32 convs {'on' if torch.backends.cudnn.allow_tf32 else 'off'}"
                   f" / matmuls {'on' if torch.backends.cuda.matmul.allow_tf32 else 'off'}")
    return f"{datetime.date.today()}, {device}, torch {torch.__version__}, commit {commit or 'unknown'}"


def markdown_table(header: list[str], rows: list[list]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)


class BenchmarkParser(argparse.ArgumentParser):
    """Parses the common options and applies --no-tf32 before any benchmark runs."""

    def parse_args(self, *args, **kwargs):
        parsed = super().parse_args(*args, **kwargs)
        if parsed.no_tf32:
            torch.backends.cudnn.allow_tf32 = False
            torch.backends.cuda.matmul.allow_tf32 = False
        return parsed


def base_parser(description: str) -> argparse.ArgumentParser:
    parser = BenchmarkParser(description=description)
    parser.add_argument("--quick", action="store_true", help="small shapes and short timings (smoke run)")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--no-tf32", action="store_true",
                        help="CUDA: full fp32 for eager too (its convolutions use TF32 by default; "
                             "skdcore never does)")
    return parser


def on_path(name: str, path: str, op):
    """``op`` run with the op path table's ``name`` (e.g. "graph_conv_cuda", skdcore.ops.paths) set to
    ``path``; the backward of a step started here runs inside too, so several paths can be timed in
    one process."""
    def run(*args, **kwargs):
        set_op_path(name, path)
        return op(*args, **kwargs)
    return run


def fwd_bwd_header(first: str, unit: str) -> list:
    """Columns of a skdcore vs eager vs torch.compile table: time and ratios, fwd then fwd+bwd."""
    return [first, f"fwd {unit}", "fwd vs eager", "fwd vs compile", f"fwd+bwd {unit}", "fwd+bwd vs eager",
            "fwd+bwd vs compile"]


def fwd_bwd_row(label: str, fwd: dict, fwd_bwd: dict, scale: float, digits: int) -> list:
    """A row for fwd_bwd_header: skdcore's seconds x ``scale`` and the eager / compile ratios."""
    row = [label]
    for times in (fwd, fwd_bwd):
        row += [f"{times['skdcore'] * scale:.{digits}f}", f"{times['eager'] / times['skdcore']:.2f}x",
                f"{times['compile'] / times['skdcore']:.2f}x"]
    return row


def synchronize(device: str) -> None:
    """Waits for queued GPU work, so wall-clock timers measure it (CUDA launches are asynchronous)."""
    if str(device).startswith("cuda"):
        torch.cuda.synchronize()
