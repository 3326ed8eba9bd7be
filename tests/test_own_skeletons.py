"""docs/own-data.md ("Your own skeleton data"), end to end on a small generated array set with a custom
8-joint layout: prepare, teacher, LQ baseline, SKD student, eval: once with CLI commands only, once in
Python."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from doc_commands import section, skd_commands
from tiny_models import TINY_SETTINGS, set_options

from skdcore.cli import main

ROOT = Path(__file__).resolve().parents[1]
CONFIG = ROOT / "python" / "skdcore" / "configs" / "own_skeletons.yaml"
OWN_DATA_PAGE = ROOT / "docs" / "own-data.md"
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


def readme_own_data_commands() -> list:
    """Argument lists of the `skd` lines in docs/own-data.md's command-line bash block, in order."""
    commands = skd_commands(section(OWN_DATA_PAGE.read_text(), "## From the command line"))
    assert all(stdin is None for _, stdin in commands), "a `< FILE` redirect: not an argument of skd"
    return [argv for argv, _ in commands]


def tiny_run(argv: list) -> list:
    """The page's command made tiny: small model, 2 epochs (and 2 seeds for the sweep)."""
    if argv[0] not in ("train", "distill", "sweep"):
        return argv
    if argv[0] == "sweep":
        at = argv.index("--seeds") + 1
        end = next((i for i in range(at, len(argv)) if argv[i].startswith("--")), len(argv))
        argv = argv[:at] + ["0", "1"] + argv[end:]
    return argv + set_options(TINY_SETTINGS)


def test_readme_commands(own_files, capsys, monkeypatch):
    """Every `skd` line of docs/own-data.md, run as written on generated arrays (tiny model)."""
    monkeypatch.chdir(own_files)
    commands = readme_own_data_commands()
    assert [argv[0] for argv in commands[:4]] == ["prepare", "train", "train", "distill"]
    assert {"eval", "robustness", "export", "sweep", "models"} <= {argv[0] for argv in commands}
    val_clips = 6 if "--val-fraction" in commands[0] else 0  # the config trains on every training clip
    for argv in commands:
        assert main(tiny_run(argv)) == 0, argv
        printed = capsys.readouterr().out
        if argv[0] == "prepare":
            assert "keep each clip's frames (51..51)" in printed and "normalisation: none" in printed
            manifest = json.loads((own_files / "data/own/manifest.json").read_text())
            assert manifest["layout"]["joint_names"][5] == "left_hand"
            assert manifest["shape"] == [60, 6, 51, 8, 1]
            splits = {"train": 48 - val_clips, "test": 12, **({"val": val_clips} if val_clips else {})}
            assert manifest["counts"]["splits"] == splits
        elif argv[0] in ("train", "distill"):
            assert "test top1" in printed and "no validation split (data.val_split: null)" in printed
            assert (f"a 'val' split of {val_clips} clips that this run does not train on" in printed) == (
                val_clips > 0
            )
            assert ("HQ input" if "mode=teacher" in argv else "LQ input") in printed
            if argv[0] == "distill":
                assert "teacher runs/own/teacher/best.pt" in printed and "on its training split" in printed
        elif argv[0] == "eval":
            assert "on LQ" in printed and "on HQ" in printed
        elif argv[0] == "sweep":
            assert "SKD - baseline over 2 seeds" in printed
        elif argv[0] == "models":
            assert "st_gcn:" in printed and "shift_gcn:" in printed
    # robustness curves of the three runs and a deployable student, the custom layout carried along
    table = json.loads((own_files / "runs/own/robustness/robustness.json").read_text())
    assert len({row["model"] for row in table["rows"]}) == 3 and len(table["rows"]) > 3
    assert (own_files / "runs/own/skd/best.onnx").stat().st_size > 0
    # the run's own config re-runs as is (the layout travels as data)
    assert main(["train", "--config", "runs/own/skd/config.yaml", "--output-dir", "runs/own/skd_again"]) == 0
    again = json.loads((own_files / "runs/own/skd_again/test_metrics.json").read_text())
    first = json.loads((own_files / "runs/own/skd/test_metrics.json").read_text())
    assert again["top1"] == pytest.approx(first["top1"])


def test_python(own_files):
    # the page's Python example, with the tiny overrides
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
                *TINY_SETTINGS,
            ],
        )
        results[mode] = train(cfg)
    metrics, test_set = evaluate_checkpoint(own_files / "runs" / "distill" / "best.pt", use="lq")
    assert len(test_set) == 12 and test_set.layout.name == "upper8"
    assert metrics["top1"] == pytest.approx(results["distill"]["test"]["top1"])
    assert all(results[m]["best"]["split"] == "fit" and results[m]["best"]["epoch"] == 2 for m in results)


@pytest.mark.parametrize("name", ["own_skeletons.yaml", "own_skeletons_shiftgcn.yaml"])
def test_own_data_configs_centre_the_input(name):
    """Both own-data configs load, and build a model that ignores where the person stands."""
    import torch
    import yaml

    from skdcore.layouts import layout_from_dict
    from skdcore.models import build_model
    from skdcore.train import load_config

    cfg = load_config(CONFIG.parent / name)
    assert cfg.model.args["centre_input"] is True and cfg.data.val_split is None  # docs/real-data.md
    model = build_model(cfg.model.name, num_class=6, num_person=1, ops="reference",
                        layout=layout_from_dict(yaml.safe_load(LAYOUT_YAML)), **cfg.model.args).eval()
    x = torch.randn(2, 3, 20, 8, 1)
    torch.testing.assert_close(model(x + 3.0)[0], model(x)[0], atol=1e-4, rtol=1e-4)

