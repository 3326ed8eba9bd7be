"""`skd demo`: teacher, LQ baseline and SKD student on the embedded synthetic data (skdcore/demo.py)."""
from __future__ import annotations

from ..nn.ops_choice import OPS
from ..train.amp import AMP_MODES

HELP = "teacher, LQ baseline and SKD student on the embedded synthetic data"


def add_arguments(parser) -> None:
    parser.add_argument("--out", default="runs/demo", help="output folder (data, checkpoints, plots)")
    parser.add_argument("--quick", action="store_true", help="a much smaller run (smoke test, ~1 minute)")
    parser.add_argument("--ablation", action="store_true",
                        help="also run the CE / +KL / +MSE / +GM / +GR ablation")
    parser.add_argument("--ops", choices=OPS, default="fused")
    parser.add_argument("--amp", choices=AMP_MODES, default="off",
                        help="mixed precision of the three trainings (train.amp); off: float32")


def run(args) -> int:
    from ..demo import run_demo
    from ..output_paths import check_output_dir

    check_output_dir(args.out, "--out")
    return run_demo(args)
