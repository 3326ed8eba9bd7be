"""`--resume` on crafted or stale last.pt files and on changed configs: each one a CheckpointError naming
the file (never a traceback from inside torch), and a changed config refused unless allowed."""

import copy

import pytest
import torch
from tiny_setup import tiny_config

from skdcore.cli import main
from skdcore.train import CheckpointError, config_from_dict, train
from skdcore.train.resume_checks import config_changes


@pytest.fixture(scope="module")
def stopped_run(tiny_data, tmp_path_factory):
    """A run stopped after 3 steps: its last.pt is what --resume continues."""
    out = tmp_path_factory.mktemp("stopped") / "run"
    train(config_from_dict(tiny_config(tiny_data, out, "teacher", max_steps=3)))
    return out, torch.load(out / "last.pt")


def _sgd_to_adamw(ckpt):
    """The optimizer state of an AdamW run of the same model: another optimizer's state."""
    state = ckpt["optimizer"]
    for group in state["param_groups"]:
        for key in ("momentum", "dampening", "nesterov"):
            group.pop(key, None)
        group.update(betas=(0.9, 0.999), eps=1e-8, amsgrad=False)
    return ckpt


# Mutations of a valid last.pt: stale (another config) or crafted (wrong types, missing keys, huge values).
MUTATIONS = {
    "epoch_huge": lambda c: c.update(epoch=10**12),
    "epoch_negative": lambda c: c.update(epoch=-1),
    "step_huge": lambda c: c.update(step=10**15),
    "step_in_epoch_huge": lambda c: c.update(step_in_epoch=10**6),
    "epoch_str": lambda c: c.update(epoch="3"),
    "missing_optimizer": lambda c: c.pop("optimizer"),
    "missing_rng": lambda c: c.pop("rng"),
    "optimizer_list": lambda c: c.update(optimizer=[1, 2]),
    "optimizer_no_groups": lambda c: c.update(optimizer={"state": {}, "param_groups": []}),
    "optimizer_from_adamw": _sgd_to_adamw,
    "optimizer_state_shape": lambda c: c["optimizer"]["state"][0].update(momentum_buffer=torch.zeros(3)),
    "optimizer_state_str": lambda c: c["optimizer"]["state"][0].update(momentum_buffer="x"),
    "optimizer_unknown_param": lambda c: c["optimizer"]["state"].update({999: {}}),
    "scheduler_garbage": lambda c: c.update(scheduler={"last_epoch": "x", "_step_count": []}),
    "rng_garbage": lambda c: c.update(rng={"torch": torch.zeros(3), "numpy": {}, "python": 1}),
    "amp_scaler_garbage": lambda c: c.update(amp_scaler={"scale": "big"}),
    "config_list": lambda c: c.update(config=[1, 2]),
    "config_name_int": lambda c: c["config"].update(name=5),
    "config_missing": lambda c: c.pop("config"),
    "config_changed_batch": lambda c: c["config"]["data"].update(batch_size=4),
    "model_args_self_reference": lambda c: c["model_args"].update(me=c["model_args"]),
    "model_args_list": lambda c: c.update(model_args=[1]),
    "model_wrong_shape": lambda c: c["model"].update({next(iter(c["model"])): torch.zeros(1)}),
    "mode_other": lambda c: c["extra"].update(mode="distill"),
    "format_missing": lambda c: c.pop("format"),
    "model_meta": lambda c: c["model"].update({k: torch.empty(v.shape, device="meta")
                                               for k, v in list(c["model"].items())[:1]}),
    "nested_deep": lambda c: c["extra"].update(deep=_deep(100)),
}


def _deep(levels):
    value = []
    for _ in range(levels):
        value = [value]
    return value


@pytest.mark.parametrize("kind", sorted(MUTATIONS))
def test_crafted_or_stale_last_pt_is_a_clean_error(tiny_data, stopped_run, tmp_path, kind):
    source, valid = stopped_run
    out = tmp_path / "run"
    out.mkdir()
    ckpt = copy.deepcopy(valid)
    MUTATIONS[kind](ckpt)
    torch.save(ckpt, out / "last.pt")
    cfg = config_from_dict(tiny_config(tiny_data, out, "teacher"))
    with pytest.raises(CheckpointError, match=r"last.pt"):
        train(cfg, resume=True)


def test_the_unchanged_checkpoint_resumes(tiny_data, stopped_run, tmp_path):
    """The mutations above start from a checkpoint that resumes cleanly (so each error is the mutation's)."""
    out = tmp_path / "run"
    out.mkdir()
    torch.save(stopped_run[1], out / "last.pt")
    result = train(config_from_dict(tiny_config(tiny_data, out, "teacher")), resume=True)
    assert not result["stopped"] and result["history"][-1]["epoch"] == 2


@pytest.mark.parametrize("override,change", [
    ({"data__batch_size": 4}, "data.batch_size: 8 -> 4"),
    ({"optim__epochs": 5}, "optim.epochs: 2 -> 5"),
    ({"optim__schedule": "cosine"}, "optim.schedule: 'step' -> 'cosine'"),
    ({"train__amp": "bf16"}, "train.amp: 'off' -> 'bf16'"),
    ({"seed": 7}, "seed: 0 -> 7"),
])
def test_resume_refuses_a_changed_config_naming_the_change(tiny_data, stopped_run, tmp_path, override,
                                                           change):
    out = tmp_path / "run"
    out.mkdir()
    torch.save(stopped_run[1], out / "last.pt")
    cfg = config_from_dict(tiny_config(tiny_data, out, "teacher", **override))
    with pytest.raises(CheckpointError, match=rf"config differs .*{_escape(change)}.*--allow-config-change"):
        train(cfg, resume=True)


def _escape(text):
    import re

    return re.escape(text)


def test_allow_config_change_resumes_and_logs_the_change(tiny_data, stopped_run, tmp_path, capsys):
    out = tmp_path / "run"
    out.mkdir()
    torch.save(stopped_run[1], out / "last.pt")
    cfg = config_from_dict(tiny_config(tiny_data, out, "teacher", optim__epochs=3, optim__milestones=[1]))
    result = train(cfg, resume=True, allow_config_change=True)
    assert result["history"][-1]["epoch"] == 3
    assert "--allow-config-change: optim.epochs: 2 -> 3" in (out / "train.log").read_text()


def test_resume_after_changing_the_optimizer_is_a_clean_cli_error(tiny_data, stopped_run, tmp_path, capsys):
    """The reported KeyError: 'step' (AdamW loading an SGD state) is now an error naming optim.name."""
    import yaml

    out = tmp_path / "run"
    out.mkdir()
    torch.save(stopped_run[1], out / "last.pt")
    config = tmp_path / "adamw.yaml"
    config.write_text(yaml.safe_dump(tiny_config(tiny_data, out, "teacher", optim__name="adamw")))
    assert main(["train", "--config", str(config), "--resume"]) == 2
    assert "optim.name: 'sgd' -> 'adamw'" in capsys.readouterr().err
    assert main(["train", "--config", str(config), "--resume", "--allow-config-change"]) == 2
    assert "another optim.name; resume with that optimizer" in capsys.readouterr().err


def test_config_changes_ignores_where_and_how_a_run_logs():
    old = {"output_dir": "a", "log": {"progress": True}, "max_steps": 3, "optim": {"lr": 0.1}}
    new = {"output_dir": "b", "log": {"progress": False}, "max_steps": 0, "optim": {"lr": 0.2}}
    assert config_changes(old, new) == ["optim.lr: 0.1 -> 0.2"]


def test_a_setting_added_since_the_checkpoint_is_no_change_at_its_default():
    old = {"data": {"batch_size": 8}}
    defaults = {"data": {"batch_size": 8, "augment": {"rotate_deg": 0.0, "scale": 0.0}}}
    new = {"data": {"batch_size": 8, "augment": {"rotate_deg": 0.0, "scale": 0.0}}}
    assert config_changes(old, new, defaults) == []
    new["data"]["augment"]["rotate_deg"] = 17.0
    assert config_changes(old, new, defaults) == ["data.augment.rotate_deg: '<unset>' -> 17.0"]
    assert config_changes(old, {"data": {"batch_size": 8, "augment": {"scale": 0.0}}}) == [
        "data.augment.scale: '<unset>' -> 0.0"]  # without defaults: every new key is a change
