"""`skd ablation`: the paper-style ablation on the demo's data and teacher (skdcore/demo.py)."""
from __future__ import annotations

from ..nn.ops_choice import OPS

HELP = "paper-style ablation: CE, +KL, +MSE, +GM, +GR"


def add_arguments(parser) -> None:
    parser.add_argument("--out", default="runs/demo", help="demo folder (reuses its data and teacher)")
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--ops", choices=OPS, default="fused")


def run(args) -> int:
    from ..demo import run_ablation_cli
    from ..output_paths import check_output_dir

    check_output_dir(args.out, "--out")
    return run_ablation_cli(args)
