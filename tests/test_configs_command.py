"""The configs shipped in the package: `skd configs` lists them, `skd configs NAME` prints one, and
`--config NAME` takes one by name from any folder (a path still works; anything else names the configs)."""
from pathlib import Path

import pytest

from skdcore.cli import main
from skdcore.shipped_configs import CONFIG_DIR, config_names, resolve_config
from skdcore.train import ConfigError, load_config

EXPECTED = {"demo_teacher", "demo_baseline", "demo_skd", "own_skeletons", "own_skeletons_shiftgcn",
            "teacher_ntu60_reference", "skd_ntu60_reference", "baseline_ntu60_reference"}


def test_configs_live_in_the_package():
    assert CONFIG_DIR.parent.name == "skdcore" and set(config_names()) == EXPECTED


def test_skd_configs_lists_name_and_description(capsys):
    assert main(["configs"]) == 0
    lines = capsys.readouterr().out.splitlines()
    listed = {line.split()[0]: line for line in lines[: len(EXPECTED)]}
    assert set(listed) == EXPECTED
    assert "Demo teacher: small Shift-GCN" in listed["demo_teacher"]
    assert "small ST-GCN" in listed["own_skeletons"]


@pytest.mark.parametrize("name", ["own_skeletons", "demo_skd.yaml"])
def test_skd_configs_name_prints_the_file(name, capsys):
    assert main(["configs", name]) == 0
    expected = (CONFIG_DIR / name.removesuffix(".yaml")).with_suffix(".yaml").read_text()
    assert capsys.readouterr().out == expected


def test_skd_configs_unknown_name_lists_the_names(capsys):
    assert main(["configs", "own_skeleton"]) == 2
    error = capsys.readouterr().err
    assert "'own_skeleton' not found: neither a file nor a shipped config" in error
    assert "own_skeletons_shiftgcn" in error


def test_config_by_name_from_any_folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    by_name = load_config("own_skeletons", ["seed=3"])
    by_path = load_config(CONFIG_DIR / "own_skeletons.yaml", ["seed=3"])
    assert by_name.to_dict() == by_path.to_dict() and by_name.seed == 3


def test_a_local_file_wins_over_a_shipped_name(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    Path("own_skeletons").write_text("name: mine\n")
    assert resolve_config("own_skeletons") == Path("own_skeletons")
    assert load_config("own_skeletons").name == "mine"


@pytest.mark.parametrize("given", ["nope", "configs/own_skeletons.yaml", "../configs/demo_skd"])
def test_neither_file_nor_name_is_an_error_listing_the_names(given, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConfigError, match="neither a file nor a shipped config.*demo_teacher.*own_skeletons"):
        load_config(given)


def test_train_with_an_unknown_config_exits_2_naming_skd_configs(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main(["train", "--config", "teacher"]) == 2
    assert "`skd configs` describes them" in capsys.readouterr().err
