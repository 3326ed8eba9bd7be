"""`skd robustness` (= `skd eval --robustness`): accuracy of checkpoints under every LQ corruption.

Writes ``robustness.csv`` (model, corruption, severity, top1, top5, mean_class_acc),
``robustness.json`` (the same plus grid, seed and timing) and one PNG per corruption with a curve
per model, plus ``robustness_all.png`` (all corruptions side by side).
"""
from __future__ import annotations

import csv
import io
import json
from pathlib import Path

from .argument_types import positive_int
from .checkpoint_arguments import add_checkpoint_arguments, add_model_arguments
from .spellings import british
from .threads import add_threads_argument

HELP = "accuracy of checkpoints under every LQ corruption over a severity grid"
USER_ERRORS = (ValueError, FileNotFoundError)  # raised with a message naming the argument / file


def clip_count(text: str) -> int:
    """argparse type of --max-clips: a whole number >= 1."""
    return positive_int(text, "a whole number of clips", "leave it out to evaluate every clip")


def add_grid_arguments(parser) -> None:
    from ..evaluation.corruptions import CORRUPTIONS

    parser.add_argument("--corruptions", nargs="+", choices=sorted(CORRUPTIONS), metavar="NAME", type=british,
                        help=f"corruptions to apply (default: all: {', '.join(CORRUPTIONS)})")
    parser.add_argument("--severities", action="append", metavar="NAME=S1,S2,...",
                        help="severity grid of one corruption, e.g. --severities occlusion=0,0.3,0.6,0.9 "
                             "(default: 6 levels each, see skdcore.evaluation.corruptions.DEFAULT_GRID)")
    parser.add_argument("--seed", type=int, default=0,
                        help="seed of the corruptions (the same clips for every model)")
    parser.add_argument("--max-clips", type=clip_count, metavar="N",
                        help="evaluate about N clips of the split (seeded, every class keeps its share) "
                             "instead of all: the cost grows with clips x models x conditions")


def add_arguments(parser) -> None:
    add_checkpoint_arguments(parser, "one or more checkpoints, e.g. teacher, baseline and SKD best.pt")
    parser.add_argument("--out", required=True, metavar="DIR", help="folder for the CSV, JSON and PNGs")
    add_model_arguments(parser)
    add_grid_arguments(parser)
    add_threads_argument(parser)


def parse_severities(items, corruptions=None) -> dict:
    """{corruption: severities} of the --severities options, each checked (``corruptions``: the ones
    --corruptions selected, None: all)."""
    from ..evaluation.corruptions import check_severities

    grid = {}
    for item in items or []:
        name, _, values = item.partition("=")
        name = british(name.strip())
        try:
            grid[name] = [float(v) for v in values.split(",") if v.strip()]
        except ValueError:
            raise ValueError(f"--severities {item!r}: expected NAME=S1,S2,... with numbers") from None
        if not grid[name]:
            raise ValueError(f"--severities {item!r}: no severity given; expected NAME=S1,S2,...")
        try:
            check_severities(name, grid[name])
        except ValueError as error:
            raise ValueError(f"--severities {item!r}: {error}") from None
        if corruptions and name not in corruptions:
            raise ValueError(f"--severities {item!r}: {name!r} is not among --corruptions "
                             f"{list(corruptions)}; add it there or drop its grid")
    return grid


def run_grid(args, models: dict, dataset, out: Path, device) -> dict:
    from ..devices import choose_threads
    from ..evaluation.robustness import format_table, robustness_grid
    from ..reports.plots import plot_robustness

    if device.type == "cpu":
        choose_threads()  # NB: one thread on a busy machine: spin-waiting OpenMP threads cost ~10x there
    grid = parse_severities(args.severities, args.corruptions)
    result = robustness_grid(models, dataset, args.corruptions, grid,
                             seed=args.seed, batch_size=args.batch_size, device=device,
                             max_samples=args.max_clips)
    write_tables(result, out)
    plots = plot_robustness(result, out)
    print(format_table(result))
    seconds = result["seconds"]
    print(f"robustness: {len(result['models'])} model(s) x {len(result['grid'])} corruptions x "
          f"{sum(len(v) for v in result['grid'].values())} conditions on {result['num_samples']} "
          f"of {result['split_samples']} clips in "
          f"{seconds['total']:.1f} s (corrupting {seconds['corrupt']:.1f} s, "
          f"evaluating {seconds['evaluate']:.1f} s; {seconds['cpu']:.1f} s CPU, "
          f"{seconds['threads']} thread(s))")
    print(f"wrote {out / 'robustness.csv'}, robustness.json" + (f" and {len(plots)} PNGs" if plots else
                                                                 " (no PNGs: pip install 'skdcore[plots]')"))
    return result


def write_tables(result: dict, out: Path) -> None:
    from ..atomic_io import atomic_write_text

    out.mkdir(parents=True, exist_ok=True)
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(result["rows"][0]), lineterminator="\n")
    writer.writeheader()
    writer.writerows(result["rows"])
    atomic_write_text(out / "robustness.csv", buffer.getvalue())
    atomic_write_text(out / "robustness.json", json.dumps(result, indent=2) + "\n")


def check_grid_arguments(args) -> None:
    """--severities and --out, checked before any checkpoint is loaded."""
    from ..output_paths import check_output_dir

    parse_severities(args.severities, args.corruptions)
    if args.out:
        check_output_dir(args.out, "--out")


def run(args) -> int:
    from ..evaluation.checkpoints import check_same_classes, default_device, load_models, open_eval_dataset

    check_grid_arguments(args)
    models = load_models(args.checkpoint, args.names, args.ops, args.layout, args.trust_checkpoint)
    _, first_ckpt, first_path = next(iter(models.values()))
    dataset = open_eval_dataset(first_ckpt, first_path, args.data, args.split)
    check_same_classes(models, dataset)
    run_grid(args, {name: model for name, (model, _, _) in models.items()}, dataset, Path(args.out),
             default_device())
    return 0
