"""docs/pose-estimators.md, end to end: its `skd` commands (prepare from estimator files, teacher, student,
infer on a file and on stdin) run on generated estimator output, in the order the page gives them."""

from __future__ import annotations

import io
import json
import sys
from pathlib import Path

import numpy as np
import pytest
from doc_commands import skd_commands
from keypoint_writers import frame_line, moving_people, write_coco, write_lines, write_npz
from tiny_models import TINY_SETTINGS, set_options

from skdcore.cli import main

ROOT = Path(__file__).resolve().parents[1]
PAGE = ROOT / "docs" / "pose-estimators.md"


def page_commands() -> list:
    """Argument lists of the `skd` commands in the page's bash blocks, with a `< FILE` redirect kept apart."""
    return skd_commands(PAGE.read_text())


def estimator_files(folder: Path, clips_per_class=10):
    """keypoints/ (COCO JSON, JSON lines and .npz clips of 3 classes) and labels.csv, in ``folder``."""
    keypoints_dir = folder / "keypoints"
    keypoints_dir.mkdir()
    rows = ["file,label"]
    names = ["wave", "walk", "jump"]
    for i in range(3 * clips_per_class):
        c = i % 3
        keypoints, scores = moving_people(70, 17, seed=i)
        t = np.arange(70)[:, None, None]
        keypoints[:, :, 9 + c % 2, 1] += (40 * np.sin(2 * np.pi * (1 + c) * t / 70))[:, :, 0]
        scores[np.random.default_rng(i).random(scores.shape) < 0.1] = 0.05
        writer, suffix = [(write_coco, "json"), (write_lines, "jsonl"), (write_npz, "npz")][i % 3]
        writer(keypoints_dir / f"clip_{i:03d}.{suffix}", keypoints, scores)
        rows.append(f"clip_{i:03d}.{suffix},{names[c]}")
    (folder / "labels.csv").write_text("\n".join(rows) + "\n")
    keypoints, scores = moving_people(80, 17, seed=99)
    write_lines(folder / "clip.jsonl", keypoints, scores)
    (folder / "frames.jsonl").write_text(
        "\n".join(frame_line(keypoints[t, 0], scores[t, 0]) for t in range(80)) + "\n"
    )


def test_the_page_has_the_three_steps():
    names = [argv[0] for argv, _ in page_commands()]
    assert names[0] == "prepare" and "train" in names and "distill" in names and names[-1] == "infer"
    assert any(stdin for argv, stdin in page_commands() if argv[0] == "infer")


@pytest.mark.slow
def test_the_page_commands_run(tmp_path, monkeypatch, capsys, one_torch_thread):
    estimator_files(tmp_path)
    monkeypatch.chdir(tmp_path)
    outputs = []
    for argv, stdin in page_commands():
        if argv[0] in ("train", "distill"):
            argv = argv + set_options(TINY_SETTINGS)
        if stdin:
            monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO((tmp_path / stdin).read_bytes())))
        code = main(argv)
        captured = capsys.readouterr()
        assert code == 0, f"skd {' '.join(argv)}: {captured.err}"
        outputs.append((argv, captured.out))
    manifest = json.loads((tmp_path / "data" / "own" / "manifest.json").read_text())
    assert manifest["label_names"] == ["jump", "walk", "wave"] and manifest["shape"][1:] == [6, 64, 17, 1]
    file_lines, stdin_lines = outputs[-2][1].splitlines(), outputs[-1][1].splitlines()
    assert [line.split(":")[0] for line in file_lines] == ["frames 0-63", "frames 8-71", "frames 16-79"]
    results = [json.loads(line) for line in stdin_lines]
    assert [(r["start"], r["stop"]) for r in results] == [(0, 64), (8, 72), (16, 80)]
    for line, result in zip(file_lines, results):  # the same frames: the same answer from file and stdin
        assert line.split(": ")[1].split()[0] == result["top"][0]["label"]
        assert {t["label"] for t in result["top"]} == {"jump", "walk", "wave"}
