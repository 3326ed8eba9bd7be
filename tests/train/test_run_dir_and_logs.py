"""Run directories never lose a result; plain-text logs off a terminal; one CSV per run; TensorBoard tags."""
import csv
import json

import pytest
from tiny_setup import tiny_config

from skdcore.train import config_from_dict, train
from skdcore.train.run_dir import RunExistsError
from skdcore.train.run_log import append_csv_row, read_log


def test_existing_run_is_refused_then_moved_aside_with_force(tiny_data, tmp_path):
    out = tmp_path / "run"
    cfg = config_from_dict(tiny_config(tiny_data, out, "teacher", optim__epochs=1))
    train(cfg)
    for name in ("config.yaml", "train.log", "log.csv", "best.pt", "last.pt", "results.json"):
        assert (out / name).exists(), name
    results = json.loads((out / "results.json").read_text())
    assert results["epochs_done"] == 1 and results["best"]["epoch"] == 1 and 0 <= results["best"]["top1"] <= 1
    first_best = (out / "best.pt").read_bytes()

    with pytest.raises(RunExistsError, match="--resume.*--force"):
        train(cfg)
    assert (out / "best.pt").read_bytes() == first_best  # untouched
    with pytest.raises(ValueError, match="exclude each other"):
        train(cfg, resume=True, force=True)

    train(cfg, force=True)
    moved = [p for p in tmp_path.iterdir() if p.name.startswith("run.old-")]
    assert len(moved) == 1 and (moved[0] / "best.pt").read_bytes() == first_best
    assert "moved to" in (out / "train.log").read_text()


def test_plain_log_lines_off_a_terminal_and_one_csv_with_eval_every(tiny_data, tmp_path, capsys):
    out = tmp_path / "run"
    # 96 clips, 70% train -> a few batches of 8 per epoch; eval only at epochs 2 and 3
    cfg = config_from_dict(tiny_config(tiny_data, out, "teacher", optim__epochs=3,
                                       log={"progress": True, "tensorboard": "off", "eval_every": 2,
                                            "every_steps": 2}))
    train(cfg)
    printed = capsys.readouterr().out
    assert "\r" not in printed  # captured stdout is no terminal: no bars
    assert sum("epoch 1/3 step" in line for line in printed.splitlines()) >= 2
    for epoch in (1, 2, 3):
        assert f"epoch {epoch}/3: train loss" in printed
    text = (out / "train.log").read_text()
    assert "\r" not in text and "epoch 3/3: train loss" in text and "val (hq) top1" in text
    assert sorted(p.name for p in out.glob("*.csv")) == ["log.csv"]
    rows = read_log(out / "log.csv")
    assert [r["epoch"] for r in rows] == [1, 2, 3]
    assert "val_top1" not in rows[0] and "val_top1" in rows[1] and "val_top1" in rows[2]


def test_progress_false_still_prints_the_epoch_summary(tiny_data, tmp_path, capsys):
    cfg = config_from_dict(tiny_config(tiny_data, tmp_path / "run", "teacher", optim__epochs=1,
                                       log={"progress": False, "tensorboard": "off", "every_steps": 0}))
    train(cfg)
    printed = capsys.readouterr().out
    assert "epoch 1/1: train loss" in printed and " step " not in printed


def test_csv_header_widens_and_a_rerun_epoch_replaces_its_rows(tmp_path):
    path = tmp_path / "log.csv"
    append_csv_row(path, {"epoch": 1, "step": 5, "train_loss": 2.0})
    append_csv_row(path, {"epoch": 2, "step": 10, "train_loss": 1.5, "val_top1": 0.5})
    append_csv_row(path, {"epoch": 3, "step": 15, "train_loss": 1.0})
    append_csv_row(path, {"epoch": 3, "step": 15, "train_loss": 0.9})  # resumed after a crash
    with open(path, newline="") as f:
        lines = list(csv.reader(f))
    assert lines[0] == ["epoch", "step", "train_loss", "val_top1"]
    assert lines[1:] == [["1", "5", "2.0", ""], ["2", "10", "1.5", "0.5"], ["3", "15", "0.9", ""]]


def test_tensorboard_on_without_the_package_warns(tiny_data, tmp_path, monkeypatch):
    import builtins

    real_import = builtins.__import__

    def no_tensorboard(name, *args, **kwargs):
        if name.startswith("torch.utils.tensorboard"):
            raise ImportError("No module named 'tensorboard'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_tensorboard)
    cfg = config_from_dict(tiny_config(tiny_data, tmp_path / "run", "teacher", max_steps=1,
                                       log={"progress": False, "tensorboard": "on"}))
    with pytest.warns(RuntimeWarning, match=r"skdcore\[tb\]"):
        train(cfg)
    assert "not installed" in (tmp_path / "run" / "train.log").read_text()


def test_tensorboard_namespaced_per_step_tags(tiny_data, tiny_teacher, tmp_path):
    pytest.importorskip("tensorboard")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    cfg = config_from_dict(tiny_config(tiny_data, tmp_path / "run", "distill",
                                       teacher_checkpoint=str(tiny_teacher), optim__epochs=1,
                                       log={"progress": False, "tensorboard": "on"}))
    train(cfg)
    events = EventAccumulator(str(tmp_path / "run" / "tensorboard"))
    events.Reload()
    tags = set(events.Tags()["scalars"])
    for tag in ("train/loss", "train/loss_ce", "train/loss_graph_matching", "train/lr", "revision/cos_kl",
                "revision/projected_mse", "epoch/loss", "val/top1"):
        assert tag in tags, (tag, sorted(tags))
    steps = [e.step for e in events.Scalars("train/loss")]
    assert len(steps) > 1 and steps == sorted(steps)  # one point per step, not per epoch
