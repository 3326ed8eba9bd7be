"""`skd plot RUN_DIR...`: training curves of any runs (from their log.csv) and, for runs evaluated
with `skd eval --out`, their confusion matrices; PNGs into --out."""
from __future__ import annotations

from pathlib import Path

HELP = "training curves (and confusion matrices) of any run directories"
USER_ERRORS = (ValueError, FileNotFoundError)  # raised with a message naming the argument / file


def add_arguments(parser) -> None:
    parser.add_argument("runs", nargs="+", metavar="RUN_DIR", help="run directories (each with a log.csv)")
    parser.add_argument("--out", default="plots", metavar="DIR", help="folder for the PNGs (default: plots/)")
    parser.add_argument("--confusion", action="store_true",
                        help="also evaluate each run's best.pt on its test split: confusion matrices")
    from .plugins import add_plugin_argument

    add_plugin_argument(parser)


def run(args) -> int:
    from ..output_paths import check_output_dir
    from ..reports.plots import _pyplot, plot_confusion, plot_training_curves, write_confusion_csv

    if _pyplot() is None:
        raise ValueError("skd plot needs matplotlib: pip install 'skdcore[plots]'")
    out = check_output_dir(args.out, "--out")
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
        histories[name] = _read_run_log(log)
    written = [plot_training_curves(histories, out / "training_curves.png")]
    if args.confusion:
        from ..evaluation.checkpoints import evaluate_checkpoint
        from ..safe_names import file_name_part

        for name, run_dir in zip(histories, map(Path, args.runs)):
            metrics, dataset = evaluate_checkpoint(run_dir / "best.pt", use=_input_of(run_dir))
            slug = file_name_part(name)
            written.append(plot_confusion(metrics["confusion"], dataset.label_names,
                                          out / f"confusion_{slug}.png", f"{name} (best.pt, test)"))
            write_confusion_csv(metrics["confusion"], dataset.label_names, out / f"confusion_{slug}.csv")
    for path in written:
        print(path)
    return 0


# Columns of a run's log.csv that are plotted: numbers wherever present.
PLOTTED_COLUMNS = ("epoch", "train_loss", "train_acc", "val_top1", "test_top1")


def _read_run_log(log: Path) -> list:
    """The rows of a `skd train` log.csv; any other CSV is refused naming the file."""
    import csv

    from ..train.run_log import read_log

    try:
        rows = read_log(log)
    except (OSError, UnicodeDecodeError, csv.Error) as error:
        raise ValueError(f"{log} cannot be read as a CSV file ({error})") from None
    for number, row in enumerate(rows, start=2):
        wrong = [k for k in PLOTTED_COLUMNS if k in row and not isinstance(row[k], float)]
        if "epoch" not in row or wrong:
            problem = f"{wrong[0]}={row[wrong[0]]!r} is not a number" if wrong else "it has no 'epoch' column"
            raise ValueError(f"{log} is not a log.csv written by `skd train` (line {number}: {problem}); "
                             "pass run directories written by `skd train` or `skd distill`")
    return rows


def _input_of(run_dir: Path) -> str:
    """The input a run was trained on: HQ for a teacher, LQ otherwise (from its config.yaml)."""
    import yaml

    from ..safe_yaml import load_yaml

    config = run_dir / "config.yaml"
    if not config.exists():
        return "lq"
    try:
        values = load_yaml(config.read_text())
    except (yaml.YAMLError, OSError, UnicodeDecodeError) as error:
        raise ValueError(f"{config}: not valid YAML ({str(error).splitlines()[0]}); a config.yaml of "
                         "`skd train` holds plain YAML only") from None
    mode = values.get("mode") if isinstance(values, dict) else None
    return "hq" if mode == "teacher" else "lq"
