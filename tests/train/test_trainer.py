import pytest
import torch
from tiny_setup import tiny_config

from skdcore.checkpoints.checkpoint import load_model_state
from skdcore.train import CheckpointError, Trainer, config_from_dict, load_checkpoint, train
from skdcore.train.run_log import read_log


def _state(path):
    return load_checkpoint(path)["model"]


def _assert_same_weights(a, b):
    assert a.keys() == b.keys()
    for key in a:
        torch.testing.assert_close(a[key], b[key], rtol=0, atol=0, msg=f"{key} differs")


@pytest.mark.parametrize("mode", ["teacher", "baseline", "distill"])
def test_loss_decreases_on_a_fixed_batch(tiny_data, tiny_teacher, tmp_path, mode):
    cfg = config_from_dict(tiny_config(tiny_data, tmp_path, mode, teacher_checkpoint=str(tiny_teacher),
                                       optim__warmup_epochs=0, optim__lr=0.02))
    trainer = Trainer(cfg)
    items = trainer.train_set.__getitems__(list(range(16)))
    hq = torch.stack([i[0] for i in items])
    lq = torch.stack([i[1] for i in items])
    labels = torch.stack([i[2] for i in items])
    losses = [trainer.train_step(hq, lq, labels)["loss"] for _ in range(12)]
    assert losses[-1] < 0.8 * losses[0], losses


def test_distill_step_has_four_losses_and_revision_info(tiny_data, tiny_teacher, tmp_path):
    cfg = config_from_dict(tiny_config(tiny_data, tmp_path, "distill", teacher_checkpoint=str(tiny_teacher)))
    trainer = Trainer(cfg)
    assert not any(p.requires_grad for p in trainer.teacher.parameters()) and not trainer.teacher.training
    items = trainer.train_set.__getitems__(list(range(8)))
    values = trainer.train_step(*(torch.stack([i[k] for i in items]) for k in range(3)))
    assert {"loss_ce", "loss_kl", "loss_mse", "loss_graph_matching"} <= set(values)
    assert any(k.startswith("cos_") for k in values)


@pytest.mark.parametrize("mode, stop_at, augment", [("teacher", 5, False), ("distill", 7, False),
                                                     ("distill", 6, True)])
def test_resume_is_exact(tiny_data, tiny_teacher, tmp_path, mode, stop_at, augment):
    common = dict(teacher_checkpoint=str(tiny_teacher), data__lq="random", optim__epochs=2)
    if augment:  # the transforms of a step come from (seed, step, rank): a resumed run draws the same ones
        common["data__augment"] = {"rotate_deg": 20, "scale": 0.1}
    full = train(config_from_dict(tiny_config(tiny_data, tmp_path / "full", mode, **common)))
    assert not full["stopped"]
    stopped = train(config_from_dict(tiny_config(tiny_data, tmp_path / "split", mode, max_steps=stop_at,
                                                 **common)))
    assert stopped["stopped"]
    assert load_checkpoint(tmp_path / "split" / "last.pt")["step"] == stop_at
    resumed = train(config_from_dict(tiny_config(tiny_data, tmp_path / "split", mode, **common)), resume=True)
    assert not resumed["stopped"]
    _assert_same_weights(_state(tmp_path / "full" / "last.pt"), _state(tmp_path / "split" / "last.pt"))
    full_ckpt = load_checkpoint(tmp_path / "full" / "last.pt")
    split_ckpt = load_checkpoint(tmp_path / "split" / "last.pt")
    assert full_ckpt["optimizer"]["state"].keys() == split_ckpt["optimizer"]["state"].keys()
    for k in full_ckpt["optimizer"]["state"]:
        torch.testing.assert_close(full_ckpt["optimizer"]["state"][k]["momentum_buffer"],
                                   split_ckpt["optimizer"]["state"][k]["momentum_buffer"], rtol=0, atol=0)
    assert full_ckpt["scheduler"] == split_ckpt["scheduler"]
    assert full["best"]["top1"] == resumed["best"]["top1"]
    logged = (tmp_path / "full" / "train.log").read_text()
    assert ("augmentation (data.augment, training batches only): rotation by up to +-20 degrees about "
            "each of the 3 axes, scale in [0.9, 1.1]" in logged) == augment
    # the interrupted epoch's row averages every step of it, not only those after the resume
    full_log, split_log = read_log(tmp_path / "full" / "log.csv"), read_log(tmp_path / "split" / "log.csv")
    assert len(full_log) == len(split_log) == 2
    for full_row, split_row in zip(full_log, split_log):
        full_row.pop("time_s"), split_row.pop("time_s")  # wall clock: the only column allowed to differ
        assert full_row == split_row


def test_checkpoint_written_atomically_and_best_selected(tiny_data, tiny_teacher):
    run_dir = tiny_teacher.parent
    assert sorted(p.name for p in run_dir.iterdir() if p.suffix == ".pt") == ["best.pt", "last.pt"]
    assert not [p for p in run_dir.iterdir() if ".tmp" in p.name]
    best = load_checkpoint(tiny_teacher)
    history = load_checkpoint(run_dir / "last.pt")["extra"]["history"]
    assert best["best"]["top1"] == max(row["val_top1"] for row in history)
    assert (run_dir / "log.csv").read_text().count("\n") == 1 + len(history)


def test_checkpoint_from_a_different_model_is_a_clear_error(tiny_data, tiny_teacher, tmp_path):
    from skdcore.models import build_model

    ckpt = load_checkpoint(tiny_teacher)
    other = build_model("shift_gcn", **{**ckpt["model_args"], "channels": [8, 32], "strides": [1, 2]})
    with pytest.raises(CheckpointError,
                       match=r"does not fit this model.*shape mismatch.*different architecture"):
        load_model_state(other, ckpt, tiny_teacher)
    with pytest.raises(CheckpointError, match=r"holds a 'shift_gcn' model but this run builds 'st_gcn'"):
        load_model_state(other, ckpt, tiny_teacher, model_name="st_gcn")
    # resume into a run with another architecture
    cfg = config_from_dict(tiny_config(tiny_data, tiny_teacher.parent, "teacher",
                                       model={"name": "shift_gcn",
                                              "args": {"channels": [4, 8], "strides": [1, 2]}}))
    with pytest.raises(CheckpointError, match="does not fit this model"):
        Trainer(cfg, resume=True, allow_config_change=True)  # the config check comes first
    (tmp_path / "junk.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(CheckpointError, match="junk.pt is not a readable checkpoint"):
        load_checkpoint(tmp_path / "junk.pt")
    torch.save({"weight": torch.zeros(1)}, tmp_path / "bare.pt")
    with pytest.raises(CheckpointError, match="not an skdcore training checkpoint"):
        load_checkpoint(tmp_path / "bare.pt")


def test_distill_without_teacher_and_adamw(tiny_data, tmp_path):
    with pytest.raises(ValueError, match="needs teacher_checkpoint"):
        Trainer(config_from_dict(tiny_config(tiny_data, tmp_path, "distill")))
    result = train(config_from_dict(tiny_config(tiny_data, tmp_path, "baseline", optim__name="adamw",
                                                optim__lr=1e-3, optim__epochs=1)))
    assert 0.0 <= result["best"]["top1"] <= 1.0


def test_lr_schedule_warmup_then_steps():
    from skdcore.train.config import OptimConfig
    from skdcore.train.optim import lr_factor

    cfg = OptimConfig(lr=0.1, warmup_epochs=1, milestones=[2, 3], gamma=0.1)
    factors = [lr_factor(step, 4, cfg) for step in range(16)]
    assert factors[:4] == [0.25, 0.5, 0.75, 1.0]
    assert factors[4:8] == [1.0] * 4
    assert factors[8:12] == pytest.approx([0.1] * 4) and factors[12:] == pytest.approx([0.01] * 4)


def test_random_lq_uses_the_configs_corruption(tiny_data, tmp_path):
    from skdcore.train.setup import open_datasets

    spec = {"name": "skd_occlusion", "p": 0.9, "window": 2}
    cfg = config_from_dict(tiny_config(tiny_data, tmp_path / "run", mode="baseline",
                                       data__lq="random", data__lq_corruption=spec))
    train_set, _ = open_datasets(cfg)
    assert train_set.generator.config() == spec
    stored = config_from_dict(tiny_config(tiny_data, tmp_path / "run2", mode="baseline", data__lq="random"))
    assert open_datasets(stored)[0].generator.config() != spec  # prepare's generator when none is named


def test_augmentation_off_is_no_op_and_on_transforms_training_batches_only(tiny_data, tmp_path, monkeypatch):
    import skdcore.train.trainer as trainer_module

    calls = []

    def spy(*args):
        calls.append(args)
        out = real(*args)
        calls[-1] = (*args, out)
        return out

    real = trainer_module.random_rotate_scale
    monkeypatch.setattr(trainer_module, "random_rotate_scale", spy)
    seen = []
    for name, augment in [("off", {}), ("zeros", {"rotate_deg": 0, "scale": 0}),
                          ("on", {"rotate_deg": 20, "scale": 0.1})]:
        cfg = config_from_dict(tiny_config(tiny_data, tmp_path / name, "teacher", data__augment=augment))
        trainer = Trainer(cfg)
        trainer.model.register_forward_pre_hook(lambda module, args: seen.append(args[0]))
        items = trainer.train_set.__getitems__(list(range(8)))
        hq, lq, labels = (torch.stack([i[k] for i in items]) for k in range(3))
        seen.clear()
        trainer.train_step(hq, lq, labels)
        if name != "on":
            assert not calls and seen[0] is hq  # the very batch: not even an identity op
        else:
            (in_hq, in_lq, generator, rotate_deg, scale, num_coords, (out_hq, out_lq)), = calls
            assert in_hq is hq and in_lq is lq and (rotate_deg, scale, num_coords) == (20.0, 0.1, 3)
            assert seen[0] is out_hq and not torch.allclose(out_hq, hq)
            trainer.evaluate()  # evaluation: never augmented
            assert len(calls) == 1
        trainer.close()


def test_augmentation_takes_num_coords_from_the_manifest(tmp_path):
    from types import SimpleNamespace

    from skdcore.train import ConfigError
    from skdcore.train.setup import augment_num_coords

    def dataset(channels, manifest):
        return SimpleNamespace(data=torch.zeros(1, 2 * channels, 1, 1, 1), manifest=manifest, root=tmp_path)

    assert augment_num_coords(dataset(3, {"num_coords": 2})) == (2, "")
    coords, note = augment_num_coords(dataset(3, {}))
    assert coords == 3 and "records no num_coords" in note
    assert augment_num_coords(dataset(2, {}))[0] == 2
    with pytest.raises(ConfigError, match="re-run skd prepare"):
        augment_num_coords(dataset(4, {}))
    with pytest.raises(ConfigError, match="2 or 3 coordinate channels"):
        augment_num_coords(dataset(1, {}))
