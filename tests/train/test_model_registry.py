"""register_model: a user's backbone through build_model, configs, checkpoints and `skd`; `skd distill`
with CTR-GCN as teacher and student."""
import json
from importlib import metadata

import pytest
import torch
import yaml
from tiny_setup import tiny_config
from torch import nn

from skdcore.cli import main
from skdcore.models import (
    SkeletonModel,
    accepted_arguments,
    available_models,
    build_model,
    register_model,
    registry,
)


@pytest.fixture(autouse=True)
def _restore_registry(monkeypatch):
    saved = dict(registry.MODELS)
    monkeypatch.setattr(registry, "_entry_points_loaded", False)
    yield
    registry.MODELS.clear()
    registry.MODELS.update(saved)


class TinyUserGCN(SkeletonModel):
    """A user's backbone: one linear joint mixing + a 1x1 conv."""

    persons_fixed = False

    def __init__(self, num_class=4, in_channels=3, num_person=2, num_joints=25, width=6,
                 adaption_channels=None, ops="fused", layout=None):
        super().__init__(num_class, num_joints, num_person, in_channels, width, adaption_channels, ops)
        self.data_bn = nn.BatchNorm1d(in_channels * num_joints)
        self.mix = nn.Parameter(torch.eye(num_joints))
        self.conv = nn.Conv2d(in_channels, width, 1)

    def backbone(self, x):
        return torch.relu(self.conv(torch.einsum("nctv,vw->nctw", x, self.mix)))


def test_register_build_list_and_arguments():
    assert register_model("tiny_user_gcn")(TinyUserGCN) is TinyUserGCN
    model = build_model("tiny_user_gcn", num_class=3, width=5)
    logits, features = model(torch.randn(2, 3, 4, 25, 1))
    assert logits.shape == (2, 3) and features.shape == (2, 5, 4, 25)
    models = available_models()
    assert models["tiny_user_gcn"] is TinyUserGCN and {"ctr_gcn", "shift_gcn", "st_gcn"} <= set(models)
    assert list(models) == sorted(models)
    arguments = accepted_arguments("tiny_user_gcn")
    assert arguments["width"] == 6 and "self" not in arguments
    assert accepted_arguments("ctr_gcn")["dilations"] == (1, 2)
    with pytest.raises(ValueError, match=r"accepted arguments: \['num_class', .*'width'"):
        build_model("tiny_user_gcn", depth=3)


def test_register_errors():
    register_model("tiny_user_gcn")(TinyUserGCN)
    register_model("tiny_user_gcn")(TinyUserGCN)  # the same class again: fine
    with pytest.raises(ValueError, match="taken by skdcore.models.st_gcn.STGCN"):
        register_model("st_gcn")(TinyUserGCN)
    with pytest.raises(TypeError, match="not a subclass of skdcore.models.SkeletonModel"):
        register_model("plain")(nn.Linear)
    with pytest.raises(ValueError, match="must be an identifier"):
        register_model("my-gcn")(TinyUserGCN)
    with pytest.raises(ValueError, match="unknown model 'nope'.*register_model"):
        build_model("nope")


ENTRY_POINT_MODULE = """
from torch import nn
from skdcore.models import SkeletonModel


class EntryGCN(SkeletonModel):
    persons_fixed = False

    def __init__(self, num_class=4, in_channels=3, num_person=2, num_joints=25, adaption_channels=None,
                 ops="fused"):
        super().__init__(num_class, num_joints, num_person, in_channels, 3, adaption_channels, ops)
        self.data_bn = nn.BatchNorm1d(in_channels * num_joints)

    def backbone(self, x):
        return x
"""


@pytest.fixture
def plugin_models(tmp_path, monkeypatch):
    """Two models of an installed plugin package (entry points): a good one and one that fails to load."""
    (tmp_path / "skd_test_user_models.py").write_text(ENTRY_POINT_MODULE)
    monkeypatch.syspath_prepend(str(tmp_path))
    entry = metadata.EntryPoint(name="entry_gcn", value="skd_test_user_models:EntryGCN",
                                group="skdcore.models")
    broken = metadata.EntryPoint(name="broken_gcn", value="skd_no_such_module:Model", group="skdcore.models")
    monkeypatch.setattr(metadata, "entry_points",
                        lambda group: [entry, broken] if group == "skdcore.models" else [])


def test_entry_points_are_loaded_on_lookup(plugin_models):
    with pytest.warns(UserWarning, match="broken_gcn = 'skd_no_such_module:Model' skipped"):
        model = build_model("entry_gcn", num_class=2)
    assert type(model).__name__ == "EntryGCN" and "entry_gcn" in available_models()


def test_skd_bench_takes_a_plugin_model(plugin_models):
    from skdcore.cli import build_parser

    with pytest.warns(UserWarning, match="broken_gcn"):
        assert build_parser().parse_args(["bench", "--model", "entry_gcn"]).model == "entry_gcn"


def test_a_registered_model_trains_from_a_config_and_its_checkpoint_evaluates(tiny_data, tmp_path, capsys):
    register_model("tiny_user_gcn")(TinyUserGCN)
    cfg = tiny_config(tiny_data, tmp_path / "run", "teacher", model={"name": "tiny_user_gcn", "args": {}},
                      optim={"lr": 0.05, "epochs": 1, "milestones": []})
    path = tmp_path / "cfg.yaml"
    path.write_text(yaml.safe_dump(cfg))
    assert main(["train", "--config", str(path)]) == 0
    assert json.loads((tmp_path / "run" / "results.json").read_text())["model"] == "tiny_user_gcn"
    capsys.readouterr()
    assert main(["eval", "--checkpoint", str(tmp_path / "run" / "best.pt")]) == 0
    assert "top1" in capsys.readouterr().out


def test_skd_distill_with_ctr_gcn_teacher_and_student(tiny_data, tmp_path):
    model = {"name": "ctr_gcn", "args": {"channels": [8, 16], "strides": [1, 2]}}
    one_epoch = {"lr": 0.05, "epochs": 1, "milestones": []}
    teacher = tmp_path / "teacher.yaml"
    teacher.write_text(yaml.safe_dump(tiny_config(tiny_data, tmp_path / "teacher", "teacher", model=model,
                                                  optim=one_epoch)))
    assert main(["train", "--config", str(teacher)]) == 0
    student = tmp_path / "skd.yaml"
    student.write_text(yaml.safe_dump(tiny_config(tiny_data, tmp_path / "skd", "distill", model=model,
                                                  optim=one_epoch)))
    assert main(["distill", "--config", str(student), "--teacher",
                 str(tmp_path / "teacher" / "best.pt")]) == 0
    results = json.loads((tmp_path / "skd" / "results.json").read_text())
    assert results["model"] == "ctr_gcn" and results["mode"] == "distill" and results["epochs_done"] == 1
    log = (tmp_path / "skd" / "train.log").read_text()
    assert "graph_matching_loss=fused" in log
    assert "cos_graph_matching" in (tmp_path / "skd" / "log.csv").read_text()


PLUGIN = '''
import torch
from torch import nn
from skdcore.models import SkeletonModel, register_model


@register_model("{name}")
class PluginGCN(SkeletonModel):
    """An own backbone registered by a module given to skd with --plugin."""

    def __init__(self, num_class=4, in_channels=3, num_person=1, num_joints=5, width=6,
                 adaption_channels=None, ops="fused", layout=None):
        super().__init__(num_class, num_joints, num_person, in_channels, width, adaption_channels, ops)
        self.data_bn = nn.BatchNorm1d(in_channels * num_joints)
        self.conv = nn.Conv2d(in_channels, width, 1)

    def backbone(self, x):
        return torch.relu(self.conv(x))
'''


def test_plugin_option_makes_an_own_model_known_to_skd(tmp_path, monkeypatch, capsys):
    from skdcore.checkpoints.checkpoint import save_checkpoint

    monkeypatch.chdir(tmp_path)
    (tmp_path / "plugin_models_a.py").write_text(PLUGIN.format(name="plugin_gcn_a"))
    (tmp_path / "plugin_file_b.py").write_text(PLUGIN.format(name="plugin_gcn_b"))
    assert main(["models", "plugin_gcn_a", "--plugin", "plugin_models_a"]) == 0  # a module of this folder
    assert "plugin_gcn_a: PluginGCN, An own backbone" in capsys.readouterr().out

    model = registry.MODELS["plugin_gcn_a"](num_class=3)
    registry.MODELS.pop("plugin_gcn_a")  # a fresh process knows nothing of it
    save_checkpoint(tmp_path / "own.pt", model=model, model_name="plugin_gcn_b", model_args={"num_class": 3})
    assert main(["export", "own.pt", "--format", "pt2", "--frames", "8"]) == 2
    error = capsys.readouterr().err
    assert "'plugin_gcn_b', not a model of this skdcore" in error
    assert "--plugin MODULE" in error and "'skdcore.models' entry points" in error
    assert main(["export", "own.pt", "--format", "pt2", "--frames", "8", "--plugin", "plugin_file_b.py"]) == 0
    assert (tmp_path / "own.pt2").stat().st_size > 0

    assert main(["models", "--plugin", "no_such_plugin_module"]) == 2
    error = capsys.readouterr().err
    assert "--plugin no_such_plugin_module: no module named 'no_such_plugin_module'" in error
