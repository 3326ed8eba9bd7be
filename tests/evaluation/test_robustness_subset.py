"""`skd robustness --max-clips`: a seeded, class-stratified subset of a large split, evaluated exactly
as the whole grid would evaluate those clips."""
import copy
import json

import numpy as np
import pytest

from skdcore.checkpoints import load_trained_model
from skdcore.cli import main
from skdcore.data.dataset import PairedSkeletonDataset
from skdcore.evaluation.robustness import evaluated_positions, robustness_grid

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def test_subset_positions_are_stratified_seeded_and_bounded():
    labels = np.repeat(np.arange(4), [40, 20, 10, 2])
    subset = evaluated_positions(labels, 18, seed=1)
    assert abs(len(subset) - 18) <= 2 and np.all(np.diff(subset) > 0)
    assert set(labels[subset]) == {0, 1, 2, 3}  # every class keeps a share, the rare one too
    assert np.bincount(labels[subset])[0] > np.bincount(labels[subset])[2]
    np.testing.assert_array_equal(subset, evaluated_positions(labels, 18, seed=1))
    assert not np.array_equal(subset, evaluated_positions(labels, 18, seed=2))
    np.testing.assert_array_equal(evaluated_positions(labels, 500, seed=1), np.arange(72))
    np.testing.assert_array_equal(evaluated_positions(labels, None, seed=1), np.arange(72))
    with pytest.raises(ValueError, match="max_samples must be >= 1"):
        evaluated_positions(labels, 0, seed=1)


def test_subset_grid_equals_the_grid_on_those_clips(tiny_runs):
    model = load_trained_model(tiny_runs["teacher"] / "best.pt", "fused")[0]
    dataset = PairedSkeletonDataset(tiny_runs["data"], "test")
    grid = {"occlusion": [0.0, 0.5], "joint_dropout": [0.3]}
    subset = robustness_grid({"m": model}, dataset, list(grid), grid, seed=5, max_samples=len(dataset) // 2)
    positions = evaluated_positions(np.asarray(dataset.labels[dataset.indices]), len(dataset) // 2, seed=5)
    only = copy.copy(dataset)
    only.indices = dataset.indices[positions]  # a split holding just those clips
    whole = robustness_grid({"m": model}, only, list(grid), grid, seed=5)
    assert subset["num_samples"] == len(positions) < subset["split_samples"] == len(dataset)
    assert [r["top1"] for r in subset["rows"]] == [r["top1"] for r in whole["rows"]]
    assert all(r["num_samples"] == len(positions) for r in subset["rows"])


def test_max_clips_on_the_command_line(tiny_runs, tmp_path, capsys):
    teacher = str(tiny_runs["teacher"] / "best.pt")
    argv = ["robustness", "--checkpoint", teacher, "--corruptions", "occlusion", "--severities",
            "occlusion=0,0.6", "--max-clips", "8", "--out", str(tmp_path)]
    assert main(argv) == 0
    result = json.loads((tmp_path / "robustness.json").read_text())
    assert result["num_samples"] < result["split_samples"]
    assert f"on {result['num_samples']} of {result['split_samples']} clips" in capsys.readouterr().out


def test_max_clips_below_one_is_refused_naming_the_option(tiny_runs, tmp_path, capsys):
    teacher = str(tiny_runs["teacher"] / "best.pt")
    with pytest.raises(SystemExit) as exit_info:
        main(["robustness", "--checkpoint", teacher, "--max-clips", "0", "--out", str(tmp_path)])
    assert exit_info.value.code == 2
    assert "--max-clips: must be >= 1" in capsys.readouterr().err
