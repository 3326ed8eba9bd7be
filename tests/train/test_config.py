from pathlib import Path

import pytest
import yaml

from skdcore.train import ConfigError, config_from_dict, load_config

CONFIGS = Path(__file__).resolve().parents[2] / "python" / "skdcore" / "configs"


def test_reference_config_has_skd_notes_defaults():
    cfg = load_config(CONFIGS / "skd_ntu60_reference.yaml")
    assert cfg.mode == "distill" and cfg.model.name == "shift_gcn" and cfg.model.args == {}
    optim = cfg.optim
    assert (optim.name, optim.lr, optim.nesterov, optim.weight_decay) == ("sgd", 0.1, True, 1e-4)
    assert (optim.milestones, optim.gamma, optim.epochs, cfg.data.batch_size) == ([30, 40, 50], 0.1, 55, 8)
    assert (cfg.loss.ce, cfg.loss.kl, cfg.loss.mse, cfg.loss.graph_matching) == (1.0, 1.0, 1.0, 1.0)
    assert cfg.loss.temperature is None and cfg.loss.gradient_revision


@pytest.mark.parametrize("path", sorted(CONFIGS.glob("*.yaml")), ids=lambda p: p.name)
def test_every_shipped_config_loads(path):
    load_config(path)


def test_unknown_key_names_the_key_and_valid_keys():
    with pytest.raises(ConfigError,
                       match=r"unknown config key 'optim.lrr' \(did you mean 'lr'\?\).*valid keys of optim"):
        config_from_dict({"optim": {"lrr": 0.1}})
    with pytest.raises(ConfigError, match=r"unknown config key 'epochs'.*valid keys of the top level"):
        config_from_dict({"epochs": 3})


@pytest.mark.parametrize("values, message", [
    ({"optim": {"name": "adam"}}, r"optim.name: 'adam' is not valid; choose one of \['sgd', 'adamw'\]"),
    ({"mode": "student"},
     r"mode: 'student' is not valid; choose one of \['teacher', 'baseline', 'distill'\]"),
    ({"ops": "cuda"}, r"ops: 'cuda' is not valid; choose one of \['fused', 'reference'\]"),
    ({"model": {"name": "resnet"}},
     r"model.name: 'resnet' is not valid; choose one of \['ctr_gcn', 'shift_gcn', 'st_gcn'\]"),
    ({"loss": {"temperature": 0}}, r"loss.temperature must be > 0"),
    ({"data": {"batch_size": 0}}, r"data.batch_size must be a positive integer"),
])
def test_bad_values_name_key_and_choices(values, message):
    with pytest.raises(ConfigError, match=message):
        config_from_dict(values)


def test_file_errors_name_the_file_and_overrides_apply(tmp_path):
    path = tmp_path / "x.yaml"
    path.write_text(yaml.safe_dump({"optim": {"momentun": 0.9}}))
    with pytest.raises(ConfigError, match=r"x.yaml: unknown config key 'optim.momentun'"):
        load_config(path)
    path.write_text(yaml.safe_dump({"optim": {"lr": 0.2}}))
    cfg = load_config(path, ["optim.lr=0.05", "data.batch_size=4", "loss.temperature=null"])
    assert (cfg.optim.lr, cfg.data.batch_size, cfg.loss.temperature) == (0.05, 4, None)
    with pytest.raises(ConfigError, match="key.sub=value"):
        load_config(path, ["optim.lr"])


@pytest.mark.parametrize("mode", ["teacher", "baseline", "distill"])
def test_demo_yaml_mirrors_demo_settings(mode):
    from skdcore.demo import demo_config

    name = {"teacher": "teacher", "baseline": "baseline", "distill": "skd"}[mode]
    on_disk = load_config(CONFIGS / f"demo_{name}.yaml")
    in_code = config_from_dict(demo_config(mode, Path("runs/demo")))
    assert on_disk == in_code


def test_lq_corruption_needs_random_lq_and_a_known_generator():
    with pytest.raises(ConfigError, match=r"data.lq_corruption is only used with data.lq: random"):
        config_from_dict({"data": {"lq_corruption": {"name": "skd_occlusion", "p": 0.9}}})
    with pytest.raises(ConfigError, match=r"data.lq_corruption: unknown LQ generator 'blur'"):
        config_from_dict({"data": {"lq": "random", "lq_corruption": {"name": "blur"}}})
    cfg = config_from_dict({"data": {"lq": "random", "lq_corruption": {"name": "skd_occlusion", "p": 0.9}}})
    assert cfg.data.lq_corruption == {"name": "skd_occlusion", "p": 0.9}


def test_data_augment_from_yaml_and_set_and_its_ranges(tmp_path):
    assert not config_from_dict({}).data.augment.enabled  # off by default
    path = tmp_path / "a.yaml"
    path.write_text("data: {augment: {rotate_deg: 17, scale: 0.1}}\n")
    cfg = load_config(path)
    assert (cfg.data.augment.rotate_deg, cfg.data.augment.scale) == (17.0, 0.1) and cfg.data.augment.enabled
    cfg = load_config(path, ["data.augment.rotate_deg=30", "data.batch_size=4"])
    assert (cfg.data.augment.rotate_deg, cfg.data.augment.scale, cfg.data.batch_size) == (30.0, 0.1, 4)
    assert load_config(None, ["data.augment.scale=0.2"]).data.augment.scale == 0.2
    for values, key in [({"rotate_deg": -1}, "rotate_deg"), ({"rotate_deg": 200}, "rotate_deg"),
                        ({"scale": 1.0}, "scale"), ({"scale": -0.1}, "scale")]:
        with pytest.raises(ConfigError, match=rf"data\.augment\.{key} must be in \["):
            config_from_dict({"data": {"augment": values}})
    with pytest.raises(ConfigError, match=r"data.augment.rotate_deg: 'a lot' \(str\) is not a number"):
        load_config(None, ["data.augment.rotate_deg=a lot"])
    with pytest.raises(ConfigError, match=r"unknown config key 'data.augment.rotate' \(did you mean"):
        load_config(None, ["data.augment.rotate=3"])
    assert config_from_dict({"data": {"augment": {"rotate_deg": 180, "scale": 0.99}}}).data.augment.enabled
