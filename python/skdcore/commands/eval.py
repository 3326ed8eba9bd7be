"""`skd eval`: one or more checkpoints on a prepared split, side by side.

Prints top-1, top-5 and mean class accuracy per checkpoint and input (LQ / HQ), optionally the
per-class table; ``--out DIR`` also writes ``eval.json`` (everything, including per-class accuracy
and confusion matrices) and per model/input ``confusion_<model>_<input>.csv`` / ``.png``.
``--robustness`` adds the robustness curves of ``skd robustness`` into the same folder.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from .checkpoint_arguments import add_checkpoint_arguments, add_model_arguments
from .threads import add_threads_argument

HELP = ("evaluate checkpoints side by side: top-1/top-5, mean class and per-class accuracy, confusion "
        "matrices (--out), robustness curves (--robustness)")
USER_ERRORS = (ValueError, FileNotFoundError)  # raised with a message naming the argument / file


def add_arguments(parser) -> None:
    add_checkpoint_arguments(parser, "one or more checkpoints, evaluated side by side")
    parser.add_argument("--input", choices=["lq", "hq", "both"], default="both",
                        help="which skeletons to feed")
    parser.add_argument("--per-class", action="store_true", help="print the per-class accuracy table")
    parser.add_argument("--out", metavar="DIR", help="write eval.json and confusion matrices (CSV, PNG)")
    add_model_arguments(parser)
    add_threads_argument(parser)
    parser.add_argument("--robustness", action="store_true",
                        help="also compute robustness curves (see `skd robustness --help`; needs --out)")
    from .robustness import add_grid_arguments

    add_grid_arguments(parser)


def run(args) -> int:
    from ..data.batches import epoch_batches, iterate
    from ..evaluation.checkpoints import check_same_classes, default_device, load_models, open_eval_dataset
    from ..evaluation.metrics import evaluate, format_metrics, per_class_table
    from .robustness import check_grid_arguments

    if args.out is not None:
        from ..output_paths import check_output_dir

        check_output_dir(args.out, "--out")  # an empty --out is refused, not ignored
    if args.robustness and not args.out:
        raise ValueError("--robustness writes a table and plots: add --out DIR")
    check_grid_arguments(args)  # --severities and --out, before any model is loaded
    models = load_models(args.checkpoint, args.names, args.ops, args.layout, args.trust_checkpoint)
    first_model, first_ckpt, first_path = next(iter(models.values()))
    dataset = open_eval_dataset(first_ckpt, first_path, args.data, args.split)
    check_same_classes(models, dataset)
    device = default_device()
    uses = ["lq", "hq"] if args.input == "both" else [args.input]
    batches = epoch_batches(len(dataset), args.batch_size, 0, 0, shuffle=False, drop_last=False)
    results = {}
    for use in uses:
        cached = list(iterate(dataset, batches))  # NB: read once, fed to every model
        for name, (model, _, _) in models.items():
            metrics = evaluate(model.to(device), cached, device, dataset.num_classes, use)
            results[f"{name} on {use.upper()}"] = metrics
    width = max(len(k) for k in results)
    print(f"{dataset.root} split {args.split or 'test'}: {len(dataset)} clips, {dataset.num_classes} classes")
    for key, metrics in results.items():
        print(f"  {key:<{width}}  {format_metrics(metrics)}")
    if args.per_class:
        print(per_class_table(results, dataset.label_names))
    if args.out:
        write_outputs(Path(args.out), results, models, dataset)
    if args.robustness:
        from .robustness import run_grid

        plain = {name: model for name, (model, _, _) in models.items()}
        run_grid(args, plain, dataset, Path(args.out), device)
    return 0


def write_outputs(out: Path, results: dict, models: dict, dataset) -> None:
    from ..atomic_io import atomic_write_text
    from ..reports.plots import NO_PLOTS, plot_confusion, write_confusion_csv
    from ..safe_names import file_name_part

    out.mkdir(parents=True, exist_ok=True)
    names = dataset.label_names
    report = {"data": str(dataset.root), "num_samples": len(dataset), "label_names": names,
              "checkpoints": {name: str(path) for name, (_, _, path) in models.items()}, "results": {}}
    pngs = []
    for key, m in results.items():
        slug = file_name_part(key.replace(" on ", "_").replace(" ", "_").lower())  # names come from files
        write_confusion_csv(m["confusion"], names, out / f"confusion_{slug}.csv")
        pngs.append(plot_confusion(m["confusion"], names, out / f"confusion_{slug}.png", key))
        report["results"][key] = {
            "top1": m["top1"], "top5": m["top5"], "mean_class_acc": m["mean_class_acc"], "loss": m["loss"],
            "num_samples": m["num_samples"],
            "per_class": [None if np.isnan(a) else float(a) for a in m["per_class"]],
            "confusion": np.asarray(m["confusion"]).tolist(),
        }
    atomic_write_text(out / "eval.json", json.dumps(report, indent=2) + "\n")
    print(f"wrote {out / 'eval.json'} and confusion_*.csv" + (" / .png" if all(pngs) else f" ({NO_PLOTS})"))
