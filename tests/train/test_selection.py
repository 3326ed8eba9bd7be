"""Model selection on a validation split, the test split read once at the end, the reference's flag,
the layout carried by configs and checkpoints, cosine schedule and the last-batch policy."""

import json
import math
import shutil

import numpy as np
import pytest
from tiny_setup import tiny_config

from skdcore.cli import main
from skdcore.data.batches import epoch_batches
from skdcore.layouts import NTU25
from skdcore.train import ConfigError, Trainer, config_from_dict, load_checkpoint, load_config, train
from skdcore.train import trainer as trainer_module
from skdcore.train.config import OptimConfig, save_config
from skdcore.train.optim import lr_factor


def test_best_is_selected_on_val_and_test_is_read_once_after_training(tiny_data, tmp_path, monkeypatch):
    opened = []
    real_open = trainer_module.open_test_set

    def spy(cfg):
        opened.append(cfg.data.test_split)
        return real_open(cfg)

    monkeypatch.setattr(trainer_module, "open_test_set", spy)
    trainer = Trainer(config_from_dict(tiny_config(tiny_data, tmp_path, "teacher")))
    assert trainer.val_set.indices.tolist() == np.load(tiny_data / "split_val.npy").tolist()
    assert opened == []  # NB: nothing of the test split is open while training
    result = trainer.fit()
    assert opened == ["test"]
    history = result["history"]
    assert (
        result["best"]["top1"] == max(row["val_top1"] for row in history) and result["best"]["split"] == "val"
    )
    assert not any(key.startswith("test_") for row in history for key in row)
    stored = json.loads((tmp_path / "test_metrics.json").read_text())
    assert stored["top1"] == result["test"]["top1"] and stored["split"] == "test"
    assert (
        stored["selected_on"] == "validation split 'val'" and stored["best_epoch"] == result["best"]["epoch"]
    )


def test_select_on_test_is_the_labelled_reference_behaviour(tiny_data, tmp_path, capsys):
    cfg = tiny_config(tiny_data, tmp_path, "teacher", data__select_on_test=True, optim__epochs=1)
    cfg["log"]["progress"] = True
    result = train(config_from_dict(cfg))
    assert "reference behaviour: model selection on the test split" in result["selection"]
    assert "test_top1" in result["history"][0] and result["best"]["split"] == "test"
    assert "reference behaviour: model selection on the test split" in capsys.readouterr().out


def test_a_missing_validation_split_says_how_to_make_one(tiny_data, tmp_path):
    cfg = config_from_dict(tiny_config(tiny_data, tmp_path, "teacher", data__val_split="holdout"))
    with pytest.raises(ConfigError, match="--val-fraction 0.1.*select_on_test: true"):
        Trainer(cfg)
    with pytest.raises(ConfigError, match="both 'test'"):
        config_from_dict(tiny_config(tiny_data, tmp_path, "teacher", data__val_split="test"))


def test_layout_travels_as_data_and_a_saved_config_reruns(tiny_data, tmp_path):
    values = tiny_config(tiny_data, tmp_path / "a", "teacher", max_steps=1)
    values["model"] = {"name": "st_gcn", "args": {"layout": NTU25, "channels": [8], "strides": [1]}}
    train(config_from_dict(values))
    ckpt = load_checkpoint(tmp_path / "a" / "last.pt")
    assert ckpt["model_args"]["layout"] == NTU25.to_dict()  # plain data, not a Layout object
    again = load_config(tmp_path / "a" / "config.yaml", [f"output_dir={tmp_path / 'b'}"])
    assert train(again)["stopped"]
    # data.layout (--layout) must fit the data
    bad = config_from_dict(tiny_config(tiny_data, tmp_path / "c", "teacher", data__layout="coco17"))
    with pytest.raises(ConfigError, match="coco17.*17 joints.*V=25"):
        Trainer(bad)


def test_eval_without_data_on_a_moved_root_names_the_option(tiny_data, tmp_path, capsys):
    moved = tmp_path / "data"
    shutil.copytree(tiny_data, moved)
    train(config_from_dict(tiny_config(moved, tmp_path / "run", "teacher", max_steps=1)))
    moved.rename(tmp_path / "elsewhere")
    assert main(["eval", "--checkpoint", str(tmp_path / "run" / "last.pt")]) == 2
    assert "pass --data DIR" in capsys.readouterr().err
    assert (
        main(
            [
                "eval",
                "--checkpoint",
                str(tmp_path / "run" / "last.pt"),
                "--data",
                str(tmp_path / "elsewhere"),
                "--input",
                "lq",
            ]
        )
        == 0
    )


def test_cosine_schedule_with_warm_up():
    cfg = OptimConfig(lr=0.1, epochs=10, warmup_epochs=1, schedule="cosine", min_lr=0.01)
    factors = [lr_factor(step, 10, cfg) for step in range(100)]
    assert factors[:3] == pytest.approx([0.1, 0.2, 0.3]) and factors[9] == pytest.approx(1.0)
    assert factors[10] == pytest.approx(1.0) and factors[-1] == pytest.approx(0.1)
    assert factors[54] == pytest.approx(0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * 44 / 89)))  # 90 decay steps
    assert all(a >= b for a, b in zip(factors[10:], factors[11:]))
    step = OptimConfig(lr=0.1, epochs=10, milestones=[5], gamma=0.1)
    assert lr_factor(49, 10, step) == 1.0 and lr_factor(50, 10, step) == pytest.approx(0.1)
    with pytest.raises(ConfigError, match="optim.schedule: 'linear' is not valid"):
        config_from_dict({"optim": {"schedule": "linear"}})


@pytest.mark.parametrize(
    "num_samples, drop_last, world_size, sizes",
    [
        (17, None, 1, [8, 8]),  # a last batch of 1 is dropped (BatchNorm needs > 1)
        (18, None, 1, [8, 8, 2]),  # a last batch of 2 is kept
        (17, False, 1, [8, 8, 1]),
        (18, True, 1, [8, 8]),
        (20, None, 2, [4, 4, 4, 4]),  # 4 left: 2 per rank, kept
        (18, None, 2, [4, 4, 4, 4]),  # 2 left: rank 1 would get 0, dropped on every rank
        (5, True, 1, [5]),  # a split smaller than a batch keeps its only batch
    ],
)
def test_last_batch_policy(num_samples, drop_last, world_size, sizes):
    batch = 8 // world_size
    got = []
    for rank in range(world_size):
        got += [
            len(b)
            for b in epoch_batches(
                num_samples, batch, 0, 0, rank=rank, world_size=world_size, drop_last=drop_last
            )
        ]
    assert got == sizes


def test_save_config_writes_plain_data(tmp_path):
    cfg = config_from_dict({"model": {"name": "st_gcn", "args": {"layout": NTU25}}})
    save_config(cfg, tmp_path / "c.yaml")
    assert load_config(tmp_path / "c.yaml").model.args["layout"]["joint_names"][0] == "spine_base"
