"""Teacher, LQ baseline and SKD student over several seeds, compared paired by seed (``skd sweep``).

For each seed s: ``<out>/teacher_s<s>`` (HQ), ``<out>/baseline_s<s>`` (LQ) and ``<out>/skd_s<s>``
(LQ, distilled from the same seed's teacher), every run the config with ``seed=s``. The test split's
top-1 of each run (the checkpoint ``data.select`` names) goes into one table: per seed, then mean +- std
over seeds and the paired SKD - baseline difference with its t interval
(:func:`skdcore.evaluation.paired.paired_stats`). ``sweep.csv`` (one row per seed) and ``sweep.json``
(every run and the statistics) are written atomically after each run.

Resumable: a finished run (its ``results.json`` holds a test result) is read, not trained again; an
interrupted one continues from its ``last.pt``.
"""
from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Callable, Optional, Sequence

from ..atomic_io import atomic_write_json, atomic_write_text
from ..evaluation.paired import mean_std, paired_stats
from .config import load_config
from .teacher_check import TEACHER_FIT

ROLES = (("teacher", "teacher", "hq"), ("baseline", "baseline", "lq"), ("skd", "distill", "lq"))


def run_name(role: str, seed: int) -> str:
    return f"{role}_s{seed}"


def finished_result(out: Path) -> Optional[dict]:
    """The run's results.json if it finished with a test result, else None."""
    path = Path(out) / "results.json"
    if not path.exists():
        return None
    results = json.loads(path.read_text())
    return results if results.get("test") and not results.get("stopped_early") else None


def sweep_configs(config_path, seed: int, out: Path, overrides: Sequence[str] = ()):
    """{role: ExperimentConfig} of one seed; the student distils from this seed's teacher."""
    configs = {}
    teacher_dir = out / run_name("teacher", seed)
    for role, mode, _ in ROLES:
        name = run_name(role, seed)
        cfg = load_config(config_path, [*overrides, f"mode={mode}", f"seed={seed}", f"name={name}",
                                        f"output_dir={out / name}"])
        cfg.teacher_checkpoint = str(teacher_dir / f"{cfg.data.select}.pt")
        configs[role] = cfg
    return configs


def run_sweep(config_path, seeds: Sequence[int], out, overrides: Sequence[str] = (),
              trust_checkpoint: bool = False, say: Callable[[str], None] = print) -> dict:
    """Train (or read) every run of every seed; returns the summary written to ``sweep.json``."""
    from .trainer import train

    out = Path(out)
    seeds = [int(s) for s in seeds]
    if len(set(seeds)) != len(seeds):
        raise ValueError(f"--seeds: each seed once, got {seeds}")
    runs = {}
    for seed in seeds:
        for role, cfg in sweep_configs(config_path, seed, out, overrides).items():
            results = finished_result(cfg.output_dir)
            if results is None:
                resume = (Path(cfg.output_dir) / "last.pt").exists()
                say(f"sweep: training {cfg.name} (seed {seed})" + (", resumed" if resume else ""))
                train(cfg, resume=resume, force=not resume, trust_checkpoint=trust_checkpoint)
                results = finished_result(cfg.output_dir)
                if results is None:
                    raise RuntimeError(f"{cfg.output_dir}: the run stopped before its test evaluation "
                                       "(max_steps?); a sweep needs whole runs")
            else:
                say(f"sweep: {cfg.name} already done ({cfg.output_dir}/results.json), skipped")
            test = results["test"]
            runs[cfg.name] = {"role": role, "seed": seed, "top1": test["top1"], "input": test["input"],
                              "checkpoint": test["checkpoint"], "epoch": test.get("best_epoch"),
                              "teacher_fit": results.get("teacher_check"), "output_dir": str(cfg.output_dir)}
        summary = summarise(runs, seeds[:seeds.index(seed) + 1])
        write_outputs(out, summary)
    return summarise(runs, seeds)


def summarise(runs: dict, seeds: Sequence[int]) -> dict:
    """Per-role mean +- std over ``seeds`` and the paired SKD - baseline statistics (>= 2 seeds)."""
    top1 = {role: [runs[run_name(role, s)]["top1"] for s in seeds] for role, _, _ in ROLES}
    summary = {"seeds": list(seeds), "runs": runs, "mean_std": {r: mean_std(v) for r, v in top1.items()}}
    summary["paired"] = paired_stats(top1["baseline"], top1["skd"]) if len(seeds) >= 2 else None
    return summary


def write_outputs(out: Path, summary: dict) -> None:
    out.mkdir(parents=True, exist_ok=True)
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow(["seed", "teacher_top1_hq", "baseline_top1_lq", "skd_top1_lq", "skd_minus_baseline"])
    for seed in summary["seeds"]:
        t, b, s = (summary["runs"][run_name(role, seed)]["top1"] for role, _, _ in ROLES)
        writer.writerow([seed, f"{t:.6f}", f"{b:.6f}", f"{s:.6f}", f"{s - b:.6f}"])
    atomic_write_text(out / "sweep.csv", text.getvalue())
    atomic_write_json(out / "sweep.json", summary)


def format_table(summary: dict) -> str:
    """The per-seed table, mean +- std, and the paired difference with its interval (in points)."""
    header = (f"{'seed':>6} | {'teacher (HQ)':>12} | {'baseline (LQ)':>13} | {'SKD (LQ)':>9} | "
              f"{'SKD - base':>10} | teacher fit (train, HQ)")
    lines, weak = [header, "-" * len(header)], []
    for seed in summary["seeds"]:
        t, b, s = (100 * summary["runs"][run_name(role, seed)]["top1"] for role, _, _ in ROLES)
        check = summary["runs"][run_name("skd", seed)].get("teacher_fit") or {}
        fit = f"{100 * check['train_top1']:.1f}" if "train_top1" in check else "-"
        lines.append(f"{seed:>6} | {t:>12.2f} | {b:>13.2f} | {s:>9.2f} | {s - b:>+10.2f} | {fit}")
        if t < b or check.get("underfits"):
            weak.append(seed)
    cells = []
    for role, _, _ in ROLES:
        mean, std = summary["mean_std"][role]
        cells.append(f"{100 * mean:.2f} +- {100 * std:.2f}" if std == std else f"{100 * mean:.2f}")
    lines.append(f"{'mean':>6} | {cells[0]:>12} | {cells[1]:>13} | {cells[2]:>9} |")
    if weak:
        lines.append(f"warning: the teacher of seed(s) {weak} is worse on HQ than the baseline on LQ, or "
                     f"fits under {100 * TEACHER_FIT:.0f}% of its training clips: SKD has little to learn "
                     "from it")
    paired = summary["paired"]
    if paired is None:
        lines.append("one seed: no paired comparison (give --seeds two or more)")
    else:
        lines.append(
            f"SKD - baseline over {paired['n']} seeds: {100 * paired['diff_mean']:+.2f} points, "
            f"{100 * paired['level']:.0f}% interval "
            f"[{100 * paired['diff_low']:+.2f}, {100 * paired['diff_high']:+.2f}] "
            f"(paired t = {paired['t']:.2f}, p = {paired['t_test_p']:.2g}); SKD better/tied/worse in "
            f"{paired['wins']}/{paired['ties']}/{paired['losses']} seeds")
    return "\n".join(lines)
