"""README "Your own skeleton data", end to end on a small generated array set with a custom 8-joint layout:
prepare, teacher, LQ baseline, SKD student, eval: once with CLI commands only, once in Python."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from skdcore.cli import main

CONFIG = Path(__file__).resolve().parents[1] / "configs" / "own_skeletons.yaml"
LAYOUT_YAML = """\
name: upper8
joint_names: [pelvis, spine, neck, head, left_shoulder, left_hand, right_shoulder, right_hand]
edges:
  - [pelvis, spine]
  - [spine, neck]
  - [neck, head]
  - [neck, left_shoulder]
  - [left_shoulder, left_hand]
  - [neck, right_shoulder]
  - [right_shoulder, right_hand]
center: neck
"""
TINY = [
    "model.args.channels=[8,16]",
    "model.args.strides=[1,2]",
    "optim.epochs=2",
    "optim.warmup_epochs=0",
    "log.progress=false",
    "log.tensorboard='off'",
    "data.batch_size=12",
]


def own_arrays(num_clips=60, num_classes=6, frames=51, seed=0):
    """(N, 3, T, 8) float32 upper bodies whose hands move with a class-specific rhythm, and labels (N,)."""
    rng = np.random.default_rng(seed)
    rest = np.array(
        [
            [0, 0, 0],
            [0, 0, 0.3],
            [0, 0, 0.6],
            [0, 0, 0.8],
            [-0.2, 0, 0.55],
            [-0.3, 0, 0.2],
            [0.2, 0, 0.55],
            [0.3, 0, 0.2],
        ],
        dtype=np.float32,
    ).T  # (3, 8)
    labels = np.arange(num_clips) % num_classes
    t = np.linspace(0, 1, frames, dtype=np.float32)
    x = np.repeat(rest[:, None, :], frames, axis=1)[None].repeat(num_clips, axis=0)  # (N, 3, T, 8)
    for i, c in enumerate(labels):
        wave = 0.25 * np.sin(2 * np.pi * (1 + c % 3) * t + rng.uniform(0, 2 * np.pi))
        hand = 5 if c < 3 else 7
        x[i, 2, :, hand] += wave
        x[i, 0, :, hand] += 0.1 * (c % 2) * wave
    x += rng.normal(0, 0.02, x.shape).astype(np.float32)
    return x.astype(np.float32), labels.astype(np.int64)


@pytest.fixture()
def own_files(tmp_path, one_torch_thread):
    x, y = own_arrays()
    np.save(tmp_path / "X.npy", x)
    np.save(tmp_path / "y.npy", y)
    (tmp_path / "layout.yaml").write_text(LAYOUT_YAML)
    return tmp_path


def test_cli_only(own_files, capsys, monkeypatch):
    monkeypatch.chdir(own_files)
    shutil.copy(CONFIG, own_files / "own.yaml")
    tiny = [a for s in TINY for a in ("--set", s)]
    assert (
        main(
            [
                "prepare",
                "--source",
                "arrays",
                "--input",
                "X.npy",
                "--labels",
                "y.npy",
                "--layout",
                "layout.yaml",
                "--out",
                "data/own",
                "--test-fraction",
                "0.2",
                "--val-fraction",
                "0.1",
            ]
        )
        == 0
    )
    printed = capsys.readouterr().out
    assert "keep each clip's frames (51..51)" in printed and "normalisation: none" in printed
    manifest = json.loads((own_files / "data/own/manifest.json").read_text())
    assert manifest["layout"]["joint_names"][5] == "left_hand" and manifest["shape"] == [60, 6, 51, 8, 1]
    assert manifest["counts"]["splits"] == {"train": 42, "val": 6, "test": 12}

    for mode in ("teacher", "baseline"):
        args = ["train", "--config", "own.yaml", "--set", f"mode={mode}", "--output-dir", f"runs/own/{mode}"]
        assert main([*args, *tiny]) == 0
    assert (
        main(
            [
                "distill",
                "--config",
                "own.yaml",
                "--teacher",
                "runs/own/teacher/best.pt",
                "--output-dir",
                "runs/own/skd",
                *tiny,
            ]
        )
        == 0
    )
    printed = capsys.readouterr().out
    assert printed.count("test top1") == 3 and "on the validation split 'val'" in printed
    assert main(["eval", "--checkpoint", "runs/own/skd/best.pt", "--ops", "fused"]) == 0
    printed = capsys.readouterr().out
    assert "on LQ" in printed and "on HQ" in printed
    # robustness curves of the three runs and a deployable student, the custom layout carried along
    runs = [f"runs/own/{name}/best.pt" for name in ("teacher", "baseline", "skd")]
    severities = ["--severities", "occlusion=0,0.6", "--corruptions", "occlusion", "jitter",
                  "--names", "teacher", "baseline", "skd"]
    assert main(["robustness", "--checkpoint", *runs, "--out", "runs/own/robustness", *severities]) == 0
    table = json.loads((own_files / "runs/own/robustness/robustness.json").read_text())
    assert {row["model"] for row in table["rows"]} == {"teacher", "baseline", "skd"}
    assert main(["export", "runs/own/skd/best.pt", "--format", "onnx", "--out", "runs/own/skd.onnx"]) == 0
    assert (own_files / "runs/own/skd.onnx").stat().st_size > 0
    # the run's own config re-runs as is (the layout travels as data)
    assert main(["train", "--config", "runs/own/skd/config.yaml", "--output-dir", "runs/own/skd_again"]) == 0
    again = json.loads((own_files / "runs/own/skd_again/test_metrics.json").read_text())
    first = json.loads((own_files / "runs/own/skd/test_metrics.json").read_text())
    assert again["top1"] == pytest.approx(first["top1"])


def test_python(own_files):
    # the README's Python example, with the tiny overrides
    from skdcore.data import ArraySource, prepare_dataset
    from skdcore.evaluation import evaluate_checkpoint
    from skdcore.train import load_config, train

    X, y = np.load(own_files / "X.npy"), np.load(own_files / "y.npy")
    source = ArraySource(X, y, layout=own_files / "layout.yaml")
    prepare_dataset(own_files / "data", source, test_fraction=0.2, val_fraction=0.1, progress=False)
    results = {}
    for mode in ("teacher", "baseline", "distill"):
        cfg = load_config(
            CONFIG,
            [
                f"mode={mode}",
                f"data.root={own_files / 'data'}",
                f"output_dir={own_files / 'runs' / mode}",
                f"teacher_checkpoint={own_files / 'runs' / 'teacher' / 'best.pt'}",
                *TINY,
            ],
        )
        results[mode] = train(cfg)
    metrics, test_set = evaluate_checkpoint(own_files / "runs" / "distill" / "best.pt", use="lq")
    assert len(test_set) == 12 and test_set.layout.name == "upper8"
    assert metrics["top1"] == pytest.approx(results["distill"]["test"]["top1"])
    assert all(results[m]["best"]["split"] == "val" for m in results)
