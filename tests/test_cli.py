"""Every `skd` sub-command end to end on tiny data (in-process: the console script calls main())."""
import json

import pytest
import yaml
from tiny_models import TINY_ARGS

from skdcore.cli import main

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def prepared(tmp_path_factory):
    root = tmp_path_factory.mktemp("cli") / "data"
    assert main(["prepare", "--out", str(root), "--num-samples", "64", "--clip-frames", "16",
                 "--num-classes", "4", "--num-frames", "0", "--val-fraction", "0.2"]) == 0
    assert (root / "manifest.json").exists()
    return root


def _write_config(path, root, out, mode, **extra):
    cfg = {"name": f"cli_{mode}", "mode": mode, "output_dir": str(out),
           "data": {"root": str(root), "batch_size": 8},
           "model": {"name": "shift_gcn", "args": TINY_ARGS},
           "optim": {"lr": 0.05, "epochs": 1, "milestones": []},
           "log": {"progress": False, "tensorboard": "off"},
           **extra}
    path.write_text(yaml.safe_dump(cfg))
    return path


def test_train_distill_eval(prepared, tmp_path, capsys):
    teacher_cfg = _write_config(tmp_path / "teacher.yaml", prepared, tmp_path / "teacher", "teacher")
    assert main(["train", "--config", str(teacher_cfg)]) == 0
    student_cfg = _write_config(tmp_path / "skd.yaml", prepared, tmp_path / "skd", "distill")
    assert main(["distill", "--config", str(student_cfg), "--teacher", str(tmp_path / "teacher" / "best.pt"),
                 "--set", "loss.gradient_revision=false"]) == 0
    assert main(["distill", "--config", str(student_cfg), "--teacher", str(tmp_path / "teacher" / "best.pt"),
                 "--set", "optim.epochs=2", "--resume", "--allow-config-change"]) == 0
    capsys.readouterr()
    assert main(["eval", "--checkpoint", str(tmp_path / "skd" / "best.pt"), "--per-class"]) == 0
    printed = capsys.readouterr().out
    assert "on LQ" in printed and "on HQ" in printed and "top1" in printed and "wave_right" in printed


def test_errors_exit_2_with_the_key(prepared, tmp_path, capsys):
    bad = _write_config(tmp_path / "bad.yaml", prepared, tmp_path / "bad", "teacher")
    assert main(["train", "--config", str(bad), "--set", "optim.name=rmsprop"]) == 2
    assert "optim.name: 'rmsprop' is not valid; choose one of ['sgd', 'adamw']" in capsys.readouterr().err
    assert main(["eval", "--checkpoint", str(tmp_path / "missing.pt")]) == 2
    assert "missing.pt not found" in capsys.readouterr().err


def test_bench_quick(capsys):
    assert main(["bench", "--quick"]) == 0
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert result["skdcore_s"] > 0 and result["reference_s"] > 0


@pytest.mark.slow
def test_demo_quick_and_ablation(tmp_path, capsys):
    assert main(["demo", "--quick", "--out", str(tmp_path)]) == 0
    printed = capsys.readouterr().out
    for row in ("teacher on HQ", "teacher on LQ", "baseline on LQ", "SKD student on LQ", "wall time"):
        assert row in printed
    assert "bootstrap interval" in printed and "occlusion (top1 %)" in printed
    for plot in ("training_curves.png", "robustness_occlusion.png", "confusion_skd_lq.png"):
        assert (tmp_path / "plots" / plot).stat().st_size > 1000
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert set(summary["table"]) == {"teacher on HQ", "teacher on LQ", "baseline on LQ", "SKD student on LQ"}
    gain = summary["skd_gain"]
    assert gain["low"] <= gain["diff"] <= gain["high"]
    # --quick evaluates the robustness curves on every test clip (the full demo on a subset)
    assert summary["robustness"]["num_samples"] == summary["robustness"]["split_samples"] == gain["num_clips"]
    assert summary["table"]["SKD student on LQ"]["top1"] - summary["table"]["baseline on LQ"]["top1"] == \
        pytest.approx(gain["diff"])
    # a second run reuses the finished runs (resume), it does not refuse or retrain them
    assert main(["demo", "--quick", "--out", str(tmp_path)]) == 0
    assert main(["ablation", "--quick", "--out", str(tmp_path)]) == 0
    printed = capsys.readouterr().out
    assert all(row in printed for row in ("CE", "+KL", "+MSE", "+GM", "+GR"))


def test_bench_all_needs_a_benchmark_folder(tmp_path):
    with pytest.raises(SystemExit, match="no bench_.*py in"):
        main(["bench", "--all", "--benchmarks", str(tmp_path)])
