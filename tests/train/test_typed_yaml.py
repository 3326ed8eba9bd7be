"""The typed-YAML engine on its own (train/typed_yaml.py): a schema of any dataclasses."""
from dataclasses import dataclass, field
from typing import Optional

import pytest

from skdcore.did_you_mean import did_you_mean
from skdcore.train.typed_yaml import ConfigError, from_dict, load_yaml


@dataclass
class Inner:
    size: int = 1
    mode: str = "off"


@dataclass
class Outer:
    name: str = "x"
    rate: Optional[float] = None
    args: dict = field(default_factory=dict)
    inner: Inner = field(default_factory=Inner)


def test_a_schema_of_its_own_is_read_and_checked():
    built = from_dict(Outer, {"name": "a", "rate": "1e-3", "inner": {"size": 3, "mode": False}},
                      {"inner.mode": ("off", "low")})
    assert built == Outer(name="a", rate=0.001, inner=Inner(size=3, mode="off"))
    with pytest.raises(ConfigError) as caught:
        from_dict(Outer, {"nmae": "a", "inner": {"size": "big", "mode": 3}}, {"inner.mode": ("off", "low")})
    assert str(caught.value).splitlines() == [
        "3 invalid config values:",
        "  unknown config key 'nmae' (did you mean 'name'?); valid keys of the top level: "
        "['args', 'inner', 'name', 'rate']",
        "  inner.size: 'big' (str) is not an integer",
        "  inner.mode: 3 (int) is not a string; choose one of ['off', 'low']",
    ]


def test_load_yaml_merges_the_file_values_and_overrides(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("name: file\nargs: {a: 1, b: 2}\ninner: {size: 2}\n")
    built = load_yaml(lambda data: from_dict(Outer, data), path, ["inner.size=5", "args={a: 9}"],
                      {"rate": 0.5})
    assert built == Outer(name="file", rate=0.5, args={"a": 9, "b": 2}, inner=Inner(size=5))
    with pytest.raises(ConfigError, match=r"c.yaml: unknown config key 'inner.sise' \(did you mean 'size'"):
        load_yaml(lambda data: from_dict(Outer, data), path, ["inner.sise=5"])


def test_did_you_mean():
    assert did_you_mean("lrr", ["lr", "momentum"]) == " (did you mean 'lr'?)"
    assert did_you_mean("zzz", ["lr", "momentum"]) == ""
    assert did_you_mean(3, {"3d": 1}) == " (did you mean '3d'?)"


@dataclass
class Deepest:
    level: float = 0.0


@dataclass
class Middle:
    count: int = 1
    deepest: Deepest = field(default_factory=Deepest)


@dataclass
class Top:
    middle: Middle = field(default_factory=Middle)


def test_sections_nest_to_any_depth_in_files_and_overrides(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("middle: {deepest: {level: 17}}\n")
    built = load_yaml(lambda data: from_dict(Top, data), path)
    assert built == Top(Middle(deepest=Deepest(level=17.0)))
    built = load_yaml(lambda data: from_dict(Top, data), path, ["middle.deepest.level=0.5", "middle.count=2"])
    assert built == Top(Middle(count=2, deepest=Deepest(level=0.5)))
    with pytest.raises(ConfigError, match=r"middle.deepest.level: 'x' \(str\) is not a number"):
        load_yaml(lambda data: from_dict(Top, data), None, ["middle.deepest.level=x"])
    with pytest.raises(ConfigError, match=r"middle.deepest must be a section"):
        from_dict(Top, {"middle": {"deepest": 3}})
