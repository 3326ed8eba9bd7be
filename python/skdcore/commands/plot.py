"""`skd plot RUN_DIR...`: training curves of any runs (from their log.csv) and, for runs evaluated
with `skd eval --out`, their confusion matrices; PNGs into --out."""
from __future__ import annotations

from pathlib import Path


def add_arguments(parser) -> None:
    parser.add_argument("runs", nargs="+", metavar="RUN_DIR", help="run directories (each with a log.csv)")
    parser.add_argument("--out", default="plots", metavar="DIR", help="folder for the PNGs (default: plots/)")
    parser.add_argument("--confusion", action="store_true",
                        help="also evaluate each run's best.pt on its test split: confusion matrices")


def run(args) -> int:
    from ..reports.plots import _pyplot, plot_confusion, plot_training_curves, write_confusion_csv
    from ..train.run_log import read_log

    if _pyplot() is None:
        raise ValueError("skd plot needs matplotlib: pip install 'skdcore[plots]'")
    out = Path(args.out)
    histories = {}
    for run_dir in map(Path, args.runs):
        log = run_dir / "log.csv"
        if not log.exists():
            raise ValueError(f"{run_dir} has no log.csv; pass run directories written by `skd train` or "
                             "`skd distill`")
        name = run_dir.name
        base, suffix = name, 2
        while name in histories:
            name, suffix = f"{base}_{suffix}", suffix + 1
        histories[name] = read_log(log)
    written = [plot_training_curves(histories, out / "training_curves.png")]
    if args.confusion:
        from ..evaluation.checkpoints import evaluate_checkpoint

        for name, run_dir in zip(histories, map(Path, args.runs)):
            metrics, dataset = evaluate_checkpoint(run_dir / "best.pt", use=_input_of(run_dir))
            written.append(plot_confusion(metrics["confusion"], dataset.label_names,
                                          out / f"confusion_{name}.png", f"{name} (best.pt, test)"))
            write_confusion_csv(metrics["confusion"], dataset.label_names, out / f"confusion_{name}.csv")
    for path in written:
        print(path)
    return 0


def _input_of(run_dir: Path) -> str:
    """The input a run was trained on: HQ for a teacher, LQ otherwise (from its config.yaml)."""
    import yaml

    config = run_dir / "config.yaml"
    mode = (yaml.safe_load(config.read_text()) or {}).get("mode") if config.exists() else None
    return "hq" if mode == "teacher" else "lq"
