"""`skd eval` (several checkpoints, --out), `skd robustness` / `eval --robustness`, `skd plot`, tiny runs."""
import csv
import json

import numpy as np
import pytest

from skdcore.cli import main

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def test_eval_several_checkpoints_side_by_side_with_files(tiny_runs, tmp_path, capsys):
    teacher, baseline = tiny_runs["teacher"] / "best.pt", tiny_runs["baseline"] / "best.pt"
    argv = ["eval", "--checkpoint", str(teacher), str(baseline), "--per-class", "--out", str(tmp_path)]
    assert main(argv) == 0
    printed = capsys.readouterr().out
    for key in ("teacher on LQ", "baseline on LQ", "teacher on HQ", "mean class",
                "wave_right"):
        assert key in printed
    report = json.loads((tmp_path / "eval.json").read_text())
    assert set(report["results"]) == {"teacher on LQ", "baseline on LQ", "teacher on HQ",
                                      "baseline on HQ"}
    for key, result in report["results"].items():
        confusion = np.array(result["confusion"])
        n = result["num_samples"]
        assert confusion.sum() == n == report["num_samples"] > 0
        assert result["top1"] == pytest.approx(np.trace(confusion) / n)
        per_class = [a for a in result["per_class"] if a is not None]
        assert result["mean_class_acc"] == pytest.approx(np.mean(per_class))
        assert result["top1"] <= result["top5"] <= 1
        slug = key.replace(" on ", "_").lower()
        with open(tmp_path / f"confusion_{slug}.csv") as f:
            rows = list(csv.reader(f))
        assert rows[0][1:] == report["label_names"]
        assert [int(v) for v in rows[1][1:]] == result["confusion"][0]
        assert (tmp_path / f"confusion_{slug}.png").stat().st_size > 1000


def test_robustness_table_plots_and_seeded(tiny_runs, tmp_path, capsys):
    teacher, baseline = tiny_runs["teacher"] / "best.pt", tiny_runs["baseline"] / "best.pt"
    args = ["robustness", "--checkpoint", str(teacher), str(baseline), "--names", "teacher", "baseline",
            "--corruptions", "occlusion", "joint_dropout", "--severities", "occlusion=0,0.5,0.9",
            "--seed", "3"]
    assert main(args + ["--out", str(tmp_path / "a")]) == 0
    assert "occlusion (top1 %)" in capsys.readouterr().out
    with open(tmp_path / "a" / "robustness.csv") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 2 * (3 + 6)  # 2 models x (3 occlusion levels + the 6 default joint_dropout levels)
    assert {r["model"] for r in rows} == {"teacher", "baseline"}
    clean = {(r["model"], r["corruption"]): float(r["top1"]) for r in rows if float(r["severity"]) == 0}
    assert clean[("teacher", "occlusion")] == clean[("teacher", "joint_dropout")]
    for name in ("occlusion", "joint_dropout", "all"):
        assert (tmp_path / "a" / f"robustness_{name}.png").stat().st_size > 1000
    # the same seed gives the same table, via `skd eval --robustness` too
    assert main(["eval", "--input", "lq"] + args[1:] + ["--robustness", "--out", str(tmp_path / "b")]) == 0
    first = json.loads((tmp_path / "a" / "robustness.json").read_text())["rows"]
    second = json.loads((tmp_path / "b" / "robustness.json").read_text())["rows"]
    assert first == second


def test_eval_errors_exit_2(tiny_runs, tmp_path, capsys):
    teacher = str(tiny_runs["teacher"] / "best.pt")
    assert main(["eval", "--checkpoint", teacher, "--robustness"]) == 2
    assert "add --out DIR" in capsys.readouterr().err
    bad = ["robustness", "--checkpoint", teacher, "--out", str(tmp_path), "--severities", "occlusion=a"]
    assert main(bad) == 2
    assert "NAME=S1,S2" in capsys.readouterr().err


def test_plot_runs(tiny_runs, tmp_path, capsys):
    assert main(["plot", str(tiny_runs["teacher"]), str(tiny_runs["baseline"]), "--out", str(tmp_path),
                 "--confusion"]) == 0
    for name in ("training_curves.png", "confusion_teacher.png", "confusion_baseline.png"):
        assert (tmp_path / name).stat().st_size > 1000
    assert main(["plot", str(tmp_path)]) == 2
    assert "has no log.csv" in capsys.readouterr().err


def test_without_matplotlib_no_png_is_claimed(tiny_runs, tmp_path, capsys, monkeypatch):
    import sys

    from skdcore.reports.plots import plot_confusion, plot_robustness, plots_line

    monkeypatch.setitem(sys.modules, "matplotlib", None)  # NB: `import matplotlib` now raises ImportError
    monkeypatch.setitem(sys.modules, "matplotlib.pyplot", None)
    argv = ["eval", "--checkpoint", str(tiny_runs["teacher"] / "best.pt"), "--out", str(tmp_path)]
    assert main(argv) == 0
    printed = capsys.readouterr().out
    assert "confusion_*.csv (no PNGs: matplotlib is not installed" in printed and ".png" not in printed
    assert not list(tmp_path.glob("*.png")) and list(tmp_path.glob("confusion_*.csv"))
    # skd demo's summary line: the PNGs it wrote, or why none
    written = [plot_confusion(np.eye(2), None, tmp_path / "c.png", "x")] + plot_robustness({}, tmp_path)
    assert plots_line(written) == "plots: no PNGs: matplotlib is not installed (pip install 'skdcore[plots]')"
    assert plots_line([tmp_path / "a.png", None]) == f"plots: {tmp_path / 'a.png'}"
