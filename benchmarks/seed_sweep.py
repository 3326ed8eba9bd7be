"""Seed sweep of `skd demo`: does the SKD student beat the LQ-only baseline by more than seed noise?

Same data, models, schedule and ops as the demo (``skdcore.demo.demo_config``). The teacher is
trained once (seed 0); then for each seed the baseline and the SKD student are trained with the
config's ``seed`` set to it (initialisation and batch order change, the data does not). Each best
checkpoint (chosen on the val split) is evaluated on the stored LQ test split (the demo's occlusion
p, as trained) and on test LQ regenerated at a heavier p; each last.pt on the stored LQ test split.
Prints per-seed pairs, mean +- std, the paired difference (SKD - baseline) with a paired t
statistic and sign counts; writes ``summary.json`` and ``seed_sweep.png`` into the output directory.

Resumable: every finished run writes ``results/<run>.json`` (atomically) and is skipped next time;
an interrupted training continues from its ``last.pt``.

Usage: OMP_NUM_THREADS=1 python benchmarks/seed_sweep.py [--seeds 5] [--out runs/seed_sweep] [--quick]
(a later, larger --seeds adds seeds to an existing sweep: the earlier runs are reused).
"""
from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

from skdcore.demo import DEMO_DATA  # noqa: E402
from skdcore.evaluation.paired import paired_stats  # noqa: E402

TRAIN_P = DEMO_DATA["lq"]["p"]  # the occlusion the demo trains (and stores its test LQ) with
HEAVY_P = round(min(0.95, TRAIN_P + 0.2), 2) if TRAIN_P < 0.95 else 0.99  # an extra, heavier occlusion level
METRICS = {"top1_lq": f"top-1 @ p={TRAIN_P} (stored LQ, best epoch)",
           "top1_heavy": f"top-1 @ p={HEAVY_P} (regenerated LQ, best epoch)",
           "final_top1_lq": f"top-1 @ p={TRAIN_P}, last epoch (last.pt: no best-epoch selection)"}


def run_config(mode: str, seed: int, out: Path, quick: bool, ops: str):
    from skdcore.demo import demo_config
    from skdcore.train import config_from_dict

    name = "teacher" if mode == "teacher" else f"{'skd' if mode == 'distill' else 'baseline'}_s{seed}"
    cfg = demo_config(mode, out, quick, ops, name=name)  # NB: teacher_checkpoint -> out/runs/teacher/best.pt
    cfg["seed"] = seed
    return config_from_dict(cfg)


def train_or_resume(cfg) -> dict:
    from skdcore.train import train

    start = time.perf_counter()
    result = train(cfg, resume=(Path(cfg.output_dir) / "last.pt").exists())
    return {**result, "train_s": time.perf_counter() - start}


def evaluate_run(checkpoint: Path, data_root: Path, ops: str, test_set=None) -> dict:
    from skdcore.evaluation.checkpoints import default_device, evaluate_checkpoint, load_trained_model
    from skdcore.evaluation.robustness import robustness_grid

    stored, test_set = evaluate_checkpoint(checkpoint, use="lq", ops=ops, dataset=test_set)
    model = load_trained_model(checkpoint, ops)[0]
    grid = robustness_grid({"run": model}, test_set, ["occlusion"], {"occlusion": [HEAVY_P]}, seed=1234,
                           device=default_device())
    heavy = grid["rows"][0]["top1"]
    return {"top1_lq": stored["top1"], "top5_lq": stored["top5"], "top1_heavy": heavy,
            "num_test": len(test_set)}


def run_once(mode: str, seed: int, out: Path, quick: bool, ops: str) -> dict:
    """Train (or skip / resume) one run and return its results, cached in results/<name>.json."""
    from skdcore.atomic_io import atomic_write_json

    cfg = run_config(mode, seed, out, quick, ops)
    path = out / "results" / f"{cfg.name}.json"
    if path.exists():
        return json.loads(path.read_text())
    trained = train_or_resume(cfg)
    # last.pt on the test split (on HQ for the teacher): the per-epoch history holds the val split's
    # accuracy since best.pt is selected on val, not the test accuracy of the last epoch.
    from skdcore.evaluation.checkpoints import evaluate_checkpoint

    final_key = "final_top1_hq" if mode == "teacher" else "final_top1_lq"
    last, _ = evaluate_checkpoint(Path(cfg.output_dir) / "last.pt", use="hq" if mode == "teacher" else "lq",
                                  ops=ops)
    result = {"name": cfg.name, "mode": mode, "seed": seed, "best_epoch": trained["best"].get("epoch"),
              "train_s": trained["train_s"], final_key: last["top1"],
              **evaluate_run(Path(cfg.output_dir) / "best.pt", out / "data", ops)}
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_json(path, result)
    print(f"[{cfg.name}] top-1 p={TRAIN_P} {100 * result['top1_lq']:.1f}%, "
          f"p={HEAVY_P} {100 * result['top1_heavy']:.1f}% "
          f"(best epoch {result['best_epoch']}, {result['train_s']:.0f} s)", flush=True)
    return result


def format_report(runs: dict, seeds, summary: dict) -> str:
    from common import markdown_table

    columns = [(key, mode) for key in ("top1_lq", "top1_heavy") for mode in ("baseline", "distill")]
    rows = [[s, *(f"{100 * runs[(mode, s)][key]:.1f}" for key, mode in columns)] for s in seeds]
    for field in ("mean", "std"):
        who = {"baseline": "baseline", "distill": "skd"}
        rows.append([field, *(f"{100 * summary[key][f'{who[mode]}_{field}']:.2f}" for key, mode in columns)])
    header = ["seed", f"baseline p={TRAIN_P}", f"SKD p={TRAIN_P}", f"baseline p={HEAVY_P}",
              f"SKD p={HEAVY_P}"]
    lines = [markdown_table(header, rows), ""]
    for key, label in METRICS.items():
        st = summary[key]
        lines.append(f"{label}: SKD - baseline = {100 * st['diff_mean']:+.2f} +- {100 * st['diff_std']:.2f} "
                     f"points (paired t = {st['t']:.2f}, df {st['df']}, p = {st['t_test_p']:.2g}; "
                     "SKD better/tied/worse "
                     f"{st['wins']}/{st['ties']}/{st['losses']}, sign test p = {st['sign_test_p']:.2g})")
    return "\n".join(lines)


def plot_pairs(runs: dict, seeds, path: Path):
    from skdcore.reports.plots import _pyplot, _save

    plt = _pyplot()
    if plt is None:
        return None
    fig, axes = plt.subplots(1, 2, figsize=(9, 4))
    for ax, (key, p) in zip(axes, (("top1_lq", TRAIN_P), ("top1_heavy", HEAVY_P))):
        for seed in seeds:
            pair = [100 * runs[(mode, seed)][key] for mode in ("baseline", "distill")]
            ax.plot([0, 1], pair, marker="o", alpha=0.8, label=f"seed {seed}")
        means = [sum(100 * runs[(mode, s)][key] for s in seeds) / len(seeds)
                 for mode in ("baseline", "distill")]
        ax.plot([0, 1], means, color="black", linewidth=2.5, marker="s", label="mean")
        ax.set_xticks([0, 1], ["LQ baseline", "SKD student"])
        ax.set_xlim(-0.3, 1.3)
        ax.set(ylabel="top-1 % (test)", title=f"LQ occlusion p={p}")
    # NB: an empty corner (SKD is above the baseline there)
    axes[1].legend(fontsize=7, ncol=2, loc="lower right")
    fig.suptitle("skd demo: baseline vs SKD per seed (paired)")
    fig.tight_layout()
    path = _save(fig, path)
    plt.close(fig)
    return path


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, default=5,
                        help="train baseline + SKD for seeds 0..S-1 (default 5)")
    parser.add_argument("--out", type=Path, default=Path("runs/seed_sweep"), help="output directory")
    parser.add_argument("--ops", default="fused", choices=("fused", "reference"))
    parser.add_argument("--quick", action="store_true", help="the demo's quick sizes (smoke run)")
    parser.add_argument("--only", type=int, metavar="SEED",
                        help="train (and cache) only this seed's runs, no report: run several at once, then "
                             "the plain command reports from the cache (the teacher must exist first)")
    args = parser.parse_args(argv)
    if args.seeds < 2:
        parser.error("--seeds must be >= 2 for a paired comparison")
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    import torch

    from common import machine_line
    from skdcore.data import prepare_dataset

    torch.set_num_threads(1)  # NB: tiny models on a shared 2-core machine: one thread is fastest
    start = time.perf_counter()
    out = args.out
    print(f"seed sweep: {args.seeds} seeds, output in {out}/; {machine_line()}", flush=True)
    prepare_dataset(out / "data", **run_config("teacher", 0, out, args.quick, args.ops).data.prepare)

    teacher = run_once("teacher", 0, out, args.quick, args.ops)
    if args.only is not None:
        for mode in ("baseline", "distill"):
            run_once(mode, args.only, out, args.quick, args.ops)
        return 0
    seeds = list(range(args.seeds))
    runs = {}
    for seed in seeds:
        for mode in ("baseline", "distill"):
            runs[(mode, seed)] = run_once(mode, seed, out, args.quick, args.ops)

    summary = {}
    for key in METRICS:
        summary[key] = paired_stats([runs[("baseline", s)][key] for s in seeds],
                                    [runs[("distill", s)][key] for s in seeds])
    report = format_report(runs, seeds, summary)
    num_test = teacher["num_test"]
    print(f"\nteacher (seed 0) on LQ: p={TRAIN_P} {100 * teacher['top1_lq']:.1f}%, p={HEAVY_P} "
          f"{100 * teacher['top1_heavy']:.1f}%; {num_test} test clips, "
          f"one clip = {100 / num_test:.2f} points")
    print(report)
    plot = plot_pairs(runs, seeds, out / "seed_sweep.png")
    wall = time.perf_counter() - start
    from skdcore.atomic_io import atomic_write_json

    atomic_write_json(out / "summary.json", {
        "machine": machine_line(), "seeds": seeds, "quick": args.quick, "ops": args.ops, "teacher": teacher,
        "runs": {r["name"]: r for r in runs.values()}, "stats": summary, "wall_s": wall})
    print(f"\nsummary: {out / 'summary.json'}; plot: {plot}; wall time {wall:.0f} s "
          f"(training of this invocation's runs included; cached runs are skipped)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
