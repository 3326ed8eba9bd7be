"""What a run tells a user with a small data set: data.select, the small-validation warning, the teacher
check before distilling, the start-up and test lines; `skd models`; --threads."""
import json

import numpy as np
import pytest
import torch
from tiny_setup import tiny_config

from skdcore.checkpoints import load_trained_model
from skdcore.cli import main
from skdcore.train import config_from_dict, load_checkpoint, train
from skdcore.train.selection import MIN_RANKING_CLIPS
from skdcore.train.setup import open_datasets
from skdcore.train.teacher_check import TEACHER_FIT, teacher_accuracy


def test_select_last_evaluates_last_pt_and_says_the_input(tiny_data, tmp_path, capsys):
    cfg = config_from_dict(tiny_config(tiny_data, tmp_path / "run", "baseline", data__select="last"))
    result = train(cfg)
    printed = capsys.readouterr().out
    assert result["test"]["checkpoint"] == "last.pt" and result["test"]["best_epoch"] == 2
    assert "LQ input, last.pt of epoch 2" in printed and "data.select: last" in printed
    from skdcore.evaluation import evaluate_checkpoint

    metrics, _ = evaluate_checkpoint(tmp_path / "run" / "last.pt", use="lq")
    assert result["test"]["top1"] == pytest.approx(metrics["top1"])


def test_small_validation_split_warns_with_points_per_clip(tiny_data, tmp_path, capsys):
    cfg = config_from_dict(tiny_config(tiny_data, tmp_path / "run", "teacher"))
    train(cfg)
    printed = capsys.readouterr().out
    val_clips = len(open_datasets(cfg)[1])
    assert val_clips < MIN_RANKING_CLIPS
    assert f"selection split has {val_clips} clips, one clip is {100 / val_clips:.1f} points" in printed
    assert "HQ input, best.pt of epoch" in printed


def test_distill_checks_the_teacher_first(tiny_data, tiny_teacher, tmp_path, capsys):
    cfg = config_from_dict(tiny_config(tiny_data, tmp_path / "skd", "distill",
                                       teacher_checkpoint=str(tiny_teacher),
                                       loss__gradient_revision=False))
    train(cfg)
    printed = capsys.readouterr().out
    assert f"teacher {tiny_teacher}, gradient revision off (losses summed)" in printed
    check = json.loads((tmp_path / "skd" / "results.json").read_text())["teacher_check"]
    teacher = load_trained_model(tiny_teacher, "fused")[0]
    train_set, val_set = open_datasets(cfg)
    assert check["train_top1"] == pytest.approx(teacher_accuracy(teacher, train_set, 32, torch.device("cpu")))
    assert check["val_clips"] == len(val_set) and check["train_clips"] == len(train_set)
    expected = f"HQ top1 {100 * check['train_top1']:.1f}% on its training split ({len(train_set)} clips)"
    assert expected in printed
    # a 2-epoch tiny teacher underfits: the user is told before the student trains on it
    assert check["train_top1"] < TEACHER_FIT and "warning: the teacher fits only" in printed


def test_distill_start_line_says_gradient_revision_on(tiny_data, tiny_teacher, tmp_path, capsys):
    cfg = config_from_dict(tiny_config(tiny_data, tmp_path / "skd", "distill",
                                       teacher_checkpoint=str(tiny_teacher),
                                       optim__epochs=1, max_steps=1))
    train(cfg)
    assert "gradient revision on" in capsys.readouterr().out


def test_models_lists_names_and_their_arguments(capsys):
    assert main(["models"]) == 0
    printed = capsys.readouterr().out
    st_gcn = printed[printed.index("st_gcn:"):]
    assert "channels = (64, 64, 64, 64, 128" in st_gcn and "temporal_kernel = 9" in st_gcn
    assert "shift_gcn:" in printed and "num_class =" not in printed  # set from the data, not model.args
    assert main(["models", "nope"]) == 2
    assert "unknown model 'nope'" in capsys.readouterr().err


def test_threads_option(tiny_teacher, capsys):
    before = torch.get_num_threads()
    try:
        assert main(["eval", "--checkpoint", str(tiny_teacher), "--threads", "2", "--input", "hq"]) == 0
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(before)
    with pytest.raises(SystemExit):
        main(["train", "--config", "x.yaml", "--threads", "0"])
    assert "--threads: must be >= 1, got 0" in capsys.readouterr().err


def test_select_is_a_checked_choice(tiny_data, tmp_path):
    from skdcore.train import ConfigError

    with pytest.raises(ConfigError, match=r"data.select: .first. is not valid; choose one of \[.best"):
        config_from_dict(tiny_config(tiny_data, tmp_path, data__select="first"))


def test_prepare_draws_bars_only_on_a_terminal(monkeypatch):
    import io
    import sys
    from pathlib import Path

    from skdcore.data import prepare as prepare_module

    assert prepare_module._progress_bar(10, 0, True, Path("out")) is None  # pytest's stderr is no terminal

    class Terminal(io.StringIO):
        def isatty(self):
            return True

    monkeypatch.setattr(sys, "stderr", Terminal())
    bar = prepare_module._progress_bar(10, 0, True, Path("out"))
    assert bar is not None
    bar.close()


def test_a_config_that_chose_data_select_gets_a_note_not_a_warning(tiny_data, tmp_path, capsys):
    cfg = config_from_dict(tiny_config(tiny_data, tmp_path / "run", "teacher", data__select="best",
                                       optim__epochs=1))
    train(cfg)
    printed = capsys.readouterr().out
    val_clips = len(open_datasets(cfg)[1])
    assert f"note: the selection split has {val_clips} clips ({100 / val_clips:.1f} points each)" in printed
    assert "warning: the selection split" not in printed


def test_no_validation_split_trains_on_every_training_clip(tiny_data, tmp_path, capsys):
    cfg = config_from_dict(tiny_config(tiny_data, tmp_path / "run", "teacher", data__val_split=None))
    train_set, fit_set = open_datasets(cfg)
    assert fit_set.indices.tolist() == train_set.indices.tolist()  # the fit is logged on the training clips
    result = train(cfg)
    printed = capsys.readouterr().out
    assert "no validation split (data.val_split: null): every training clip trains" in printed
    val_clips = len(np.load(tiny_data / "split_val.npy"))
    assert f"a 'val' split of {val_clips} clips that this run does not train on" in printed
    assert result["test"]["checkpoint"] == "best.pt" and result["test"]["best_epoch"] == 2  # the last epoch
    assert result["selection"] == "training split 'train' (no validation split)"
    assert all("fit_top1" in row and "val_top1" not in row for row in result["history"])
    best, last = (load_checkpoint(tmp_path / "run" / name)["model"] for name in ("best.pt", "last.pt"))
    assert all(torch.equal(best[k], last[k]) for k in best)
