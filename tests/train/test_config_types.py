"""Config values are checked against the dataclasses' type annotations before anything runs: each wrong
value is one line naming the key, the value, the expected type and the allowed values."""

import pytest
import yaml

from skdcore.cli import main
from skdcore.train import ConfigError, config_from_dict, load_config


@pytest.mark.parametrize(
    "values, message",
    [
        (
            {"loss": {"gradient_revision": "false"}},
            r"^loss.gradient_revision: 'false' \(str\) is not a boolean \(true/false\)$",
        ),
        ({"seed": "abc"}, r"^seed: 'abc' \(str\) is not an integer$"),
        ({"seed": 1.5}, r"^seed: 1.5 \(float\) is not an integer$"),
        ({"optim": {"lr": "abc"}}, r"^optim.lr: 'abc' \(str\) is not a number$"),
        ({"optim": {"lr": float("nan")}}, r"^optim.lr: nan \(float\) is not a number$"),
        ({"optim": {"lr": True}}, r"^optim.lr: True \(bool\) is not a number$"),
        (
            {"device": "tpu9"},
            r"^device: 'tpu9' is not a device; use 'auto', 'cpu', 'cuda', 'cuda:N' or 'mps'$",
        ),
        (
            {"mode": 3},
            r"^mode: 3 \(int\) is not a string; choose one of \['teacher', 'baseline', 'distill'\]$",
        ),
        ({"optim": {"milestones": [30, "x"]}}, r"^optim.milestones must be epochs .*got \['x'\] in "),
        ({"optim": {"milestones": 30}}, r"^optim.milestones: 30 \(int\) is not a list"),
        ({"loss": {"temperature": "hot"}}, r"^loss.temperature: 'hot' \(str\) is not a number or null$"),
        ({"model": {"args": [1]}}, r"^model.args: \[1\] \(list\) is not a mapping$"),
        ({"optim": 0.1}, r"^optim must be a section \(a mapping of keys to values\), got 0.1 \(float\)$"),
        ({"log": {"eval_every": 0}}, r"^log.eval_every must be a positive integer, got 0$"),
        ({"optim": {"betas": [0.9]}}, r"^optim.betas must be two numbers"),
    ],
)
def test_wrong_types_are_one_clear_line(values, message):
    with pytest.raises(ConfigError, match=message):
        config_from_dict(values)


def test_every_wrong_value_is_reported_at_once():
    with pytest.raises(ConfigError) as error:
        config_from_dict({"seed": "abc", "device": "tpu9", "optim": {"lr": "x", "name": "adam"}, "epochs": 3})
    lines = str(error.value).splitlines()
    assert lines[0] == "3 invalid config values:"
    assert [line.split(":")[0].split(";")[0].strip() for line in lines[1:]] == [
        "seed",
        "optim.lr",
        "unknown config key 'epochs'",
    ]
    # choices and devices are checked once the types are right
    with pytest.raises(
        ConfigError, match=r"2 invalid config values:\n  optim.name: 'adam' .*\n  device: 'tpu9'"
    ):
        config_from_dict({"device": "tpu9", "optim": {"name": "adam"}})


def test_yaml_quirks_are_accepted(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text(
        "log:\n  tensorboard: off\noptim:\n  lr: 1e-3\n  betas: [0.8, 0.9]\n"
    )  # off -> False, 1e-3 a string
    cfg = load_config(path)
    assert cfg.log.tensorboard == "off" and cfg.optim.lr == 0.001 and cfg.optim.betas == (0.8, 0.9)
    assert config_from_dict({"log": {"tensorboard": True}}).log.tensorboard == "on"
    assert config_from_dict({"log": {"tensorboard": "false"}}).log.tensorboard == "off"
    assert (
        config_from_dict({"optim": {"lr": 1}}).optim.lr == 1.0
        and config_from_dict({"device": "cuda:1"}).device == "cuda:1"
    )


def test_top_level_list_and_cli_give_no_traceback(tmp_path, capsys):
    path = tmp_path / "list.yaml"
    path.write_text(yaml.safe_dump([{"mode": "teacher"}]))
    with pytest.raises(
        ConfigError, match=r"list.yaml: the config must be a mapping of keys to values, got a list"
    ):
        load_config(path, ["seed=1"])
    assert main(["train", "--config", str(path)]) == 2
    assert "must be a mapping" in capsys.readouterr().err
    good = tmp_path / "good.yaml"
    good.write_text("seed: 0\n")
    assert (
        main(["train", "--config", str(good), "--set", "loss.gradient_revision='false'", "--set", "seed=abc"])
        == 2
    )
    err = capsys.readouterr().err
    assert "seed: 'abc' (str) is not an integer" in err and "loss.gradient_revision: 'false' (str)" in err
    assert "Traceback" not in err
