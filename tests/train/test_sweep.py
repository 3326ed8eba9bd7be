"""`skd sweep`: teacher, baseline and SKD per seed, the paired table, CSV/JSON, and resuming."""
import csv
import json

import pytest
import yaml
from tiny_setup import tiny_config

from skdcore.cli import main
from skdcore.evaluation.paired import paired_stats
from skdcore.train import sweep as sweep_module
from skdcore.train import trainer as trainer_module


@pytest.fixture()
def sweep_config(tiny_data, tmp_path):
    cfg = tiny_config(tiny_data, tmp_path / "unused", "teacher", optim__epochs=1)
    path = tmp_path / "sweep.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


def test_sweep_table_files_and_resume(sweep_config, tmp_path, capsys, monkeypatch):
    out = tmp_path / "sweep"
    assert main(["sweep", "--config", str(sweep_config), "--seeds", "0", "1", "--out", str(out),
                 "--threads", "1"]) == 0
    printed = capsys.readouterr().out
    summary = json.loads((out / "sweep.json").read_text())
    runs = summary["runs"]
    assert sorted(runs) == ["baseline_s0", "baseline_s1", "skd_s0", "skd_s1", "teacher_s0", "teacher_s1"]
    # every run is its own training with its own seed; the student distils from the same seed's teacher
    for name, run in runs.items():
        results = json.loads((out / name / "results.json").read_text())
        assert results["test"]["top1"] == run["top1"]
        saved = yaml.safe_load((out / name / "config.yaml").read_text())
        assert saved["seed"] == run["seed"]
        if run["role"] == "skd":
            assert saved["teacher_checkpoint"] == str(out / f"teacher_s{run['seed']}" / "best.pt")
            assert set(results["teacher_check"]) >= {"train_top1", "val_top1"}
    assert [runs[f"teacher_s{s}"]["input"] for s in (0, 1)] == ["hq", "hq"]
    assert [runs[f"skd_s{s}"]["input"] for s in (0, 1)] == ["lq", "lq"]
    expected = paired_stats([runs["baseline_s0"]["top1"], runs["baseline_s1"]["top1"]],
                            [runs["skd_s0"]["top1"], runs["skd_s1"]["top1"]])
    assert summary["paired"] == pytest.approx(expected, nan_ok=True)
    rows = list(csv.DictReader((out / "sweep.csv").open()))
    assert [int(r["seed"]) for r in rows] == [0, 1]
    difference = runs["skd_s1"]["top1"] - runs["baseline_s1"]["top1"]
    assert float(rows[1]["skd_minus_baseline"]) == pytest.approx(difference, abs=1e-6)
    assert "SKD - baseline over 2 seeds" in printed and "95% interval" in printed
    assert f"{100 * runs['teacher_s1']['top1']:.2f}" in printed
    # the teacher's fit of its training clips is in the table; a 1-epoch tiny teacher underfits: warned
    fit = runs["skd_s0"]["teacher_fit"]["train_top1"]
    assert f"| {100 * fit:.1f}\n" in printed and "warning: the teacher of seed(s) [0, 1]" in printed

    # a second call trains nothing: every finished run is read back
    monkeypatch.setattr(trainer_module, "train", lambda *a, **k: pytest.fail("trained again"))
    assert main(["sweep", "--config", str(sweep_config), "--seeds", "0", "1", "--out", str(out)]) == 0
    assert capsys.readouterr().out.count("already done") == 6


def test_sweep_resumes_an_interrupted_run(sweep_config, tmp_path, monkeypatch):
    out = tmp_path / "sweep"
    # the seed-0 teacher was interrupted after its first step: the sweep continues it, not a new one
    assert main(["train", "--config", str(sweep_config), "--set", "seed=0", "--set", "name=teacher_s0",
                 "--set", "max_steps=1", "--output-dir", str(out / "teacher_s0")]) == 0
    resumed = []
    real_train = trainer_module.train

    def spy(cfg, resume=False, **kwargs):
        resumed.append((cfg.name, resume))
        return real_train(cfg, resume=resume, **kwargs)

    monkeypatch.setattr(trainer_module, "train", spy)
    summary = sweep_module.run_sweep(sweep_config, [0], out, say=lambda line: None)
    assert resumed == [("teacher_s0", True), ("baseline_s0", False), ("skd_s0", False)]
    assert summary["paired"] is None and set(summary["runs"]) == {"teacher_s0", "baseline_s0", "skd_s0"}


def test_sweep_rejects_repeated_seeds(sweep_config, tmp_path):
    with pytest.raises(ValueError, match="each seed once"):
        sweep_module.run_sweep(sweep_config, [1, 1], tmp_path / "out")
