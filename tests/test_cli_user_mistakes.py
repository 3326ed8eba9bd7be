"""Every user mistake through the real `skd` entry point ends in a clean error: a non-zero exit code, no
Python traceback, and a message that names the argument or file and the fix. Each case crafts its bad
input (files, directories, values) itself; the good inputs are one tiny prepared dataset and one tiny
trained run shared by the module."""
from __future__ import annotations

import json
import shutil
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import pytest
import torch
import yaml
from tiny_models import TINY_ARGS

from skdcore.cli import main

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@dataclass
class World:
    """The good inputs every case starts from, and a fresh folder of its own."""
    data: Path  # a prepared dataset
    run: Path  # a finished teacher run on it (best.pt, log.csv, config.yaml)
    tmp: Path  # this case's scratch folder

    @property
    def checkpoint(self) -> str:
        return str(self.run / "best.pt")

    def config(self, **extra) -> str:
        """A valid tiny teacher config (one epoch) writing into tmp/out."""
        cfg = {"name": "mistake", "mode": "teacher", "output_dir": str(self.tmp / "out"),
               "data": {"root": str(self.data), "batch_size": 8},
               "model": {"name": "shift_gcn", "args": TINY_ARGS},
               "optim": {"lr": 0.05, "epochs": 1, "milestones": []},
               "log": {"progress": False, "tensorboard": "off"}}
        for key, value in extra.items():
            section, _, name = key.partition("__")
            if name:
                cfg[section][name] = value
            else:
                cfg[key] = value
        path = self.tmp / "config.yaml"
        path.write_text(yaml.safe_dump(cfg))
        return str(path)

    def file(self, name: str = "a_file.txt", text: str = "not a folder\n") -> str:
        path = self.tmp / name
        path.write_text(text)
        return str(path)

    def folder(self, name: str = "a_folder") -> str:
        path = self.tmp / name
        path.mkdir(exist_ok=True)
        return str(path) + "/"

    def data_copy(self) -> Path:
        copy = self.tmp / "data"
        shutil.copytree(self.data, copy)
        return copy

    def damaged_data(self, edit: Callable[[Path], None]) -> str:
        """A copy of the prepared data, damaged by ``edit``."""
        copy = self.data_copy()
        edit(copy)
        return str(copy)

    def tampered(self, edit: Callable[[Path], None]) -> list:
        """`skd eval` of the run's checkpoint on a copy of its data, damaged by ``edit``."""
        return ["eval", "--checkpoint", self.checkpoint, "--data", self.damaged_data(edit), "--input", "lq"]


@dataclass
class Case:
    name: str
    argv: Callable[[World], list]
    expected: tuple  # substrings of the error message: the argument / file and the fix
    code: int = 2


def _train(w: World, *extra, **config) -> list:
    return ["train", "--config", w.config(**config), *extra]


def _save(path: Path, array) -> None:
    np.save(path, np.asarray(array))


def _labels(root: Path) -> np.ndarray:
    return np.load(root / "labels.npy")


def _manifest_without(key: str):
    def edit(root: Path) -> None:
        manifest = json.loads((root / "manifest.json").read_text())
        del manifest[key]
        (root / "manifest.json").write_text(json.dumps(manifest))
    return edit


def _plot_dir(w: World, log: str = None, config: str = None) -> str:
    run = w.tmp / "foreign_run"
    run.mkdir()
    (run / "log.csv").write_text(log if log is not None else (w.run / "log.csv").read_text())
    if config is not None:
        (run / "config.yaml").write_text(config)
    return str(run)


PYTHON_TAG_CONFIG = "mode: !!python/object/apply:os.getcwd []\nname: x\n"

CASES = [
    # ---- train / distill: config values, checked before any data is read
    Case("model_args_unknown", lambda w: _train(w, "--set", "model.args.chanels=[8,16]"),
         ("model.args", "'chanels'", "did you mean 'channels'", "accepted arguments")),
    Case("model_args_bad_value", lambda w: _train(w, "--set", "model.args.num_class=0"),
         ("model.args", "num_class must be a positive integer")),
    Case("model_args_layout_of_other_joints", lambda w: _train(w, "--set", "model.args.layout=coco17"),
         ("model.args.layout", "17 joints", "V=25")),
    Case("model_args_set_by_the_trainer", lambda w: _train(w, "--set", "model.args.ops=reference"),
         ("model.args.ops", "top-level ops")),
    Case("learning_rate_that_diverges", lambda w: _train(w, "--set", "optim.lr=1e9", "--set", "max_steps=4"),
         ("loss became", "lower optim.lr")),
    Case("data_prepare_unknown_key",
         lambda w: _train(w, data__root=str(w.tmp / "fresh"),
                          data__prepare={"source": "synthetic", "num_sample": 8}),
         ("data.prepare", "'num_sample'", "valid keys")),
    Case("device_cuda_without_cuda", lambda w: _train(w, "--set", "device=cuda"),
         ("device: 'cuda'", "no CUDA", "device: cpu")),
    Case("distill_without_teacher", lambda w: ["distill", "--config", w.config()],
         ("teacher_checkpoint", "--teacher")),
    Case("distill_teacher_file_missing",
         lambda w: ["distill", "--config", w.config(), "--teacher", str(w.tmp / "nope.pt")],
         ("nope.pt",)),
    Case("data_root_missing", lambda w: _train(w, "--set", f"data.root={w.tmp / 'nowhere'}"),
         ("data.root", "nowhere", "skd prepare")),
    Case("unknown_train_split", lambda w: _train(w, "--set", "data.train_split=trian"),
         ("data.train_split", "'trian'", "available splits")),
    Case("unknown_test_split", lambda w: _train(w, "--set", "data.test_split=tset"),
         ("data.test_split", "'tset'", "available splits")),
    Case("layout_is_a_directory", lambda w: _train(w, "--layout", w.folder()),
         ("a_folder", "is a directory", "layout.yaml")),
    Case("set_bad_yaml", lambda w: _train(w, "--set", "optim.milestones=[1,2"),
         ("--set", "optim.milestones=[1,2", "YAML")),
    Case("set_without_equals", lambda w: _train(w, "--set", "optim.lr"),
         ("optim.lr", "key.sub=value")),
    Case("config_is_a_directory", lambda w: ["train", "--config", w.folder()],
         ("a_folder", "is a directory", "YAML file")),
    Case("config_missing", lambda w: ["train", "--config", str(w.tmp / "nope.yaml")],
         ("nope.yaml", "not found")),
    Case("config_python_tag", lambda w: ["train", "--config", w.file("tagged.yaml", PYTHON_TAG_CONFIG)],
         ("tagged.yaml", "not valid YAML")),
    Case("output_dir_is_a_file", lambda w: _train(w, "--output-dir", w.file()),
         ("output_dir", "a_file.txt", "not a directory")),
    Case("output_dir_unwritable", lambda w: _train(w, "--output-dir", w.file() + "/run"),
         ("output_dir", "a_file.txt/run", "cannot")),
    Case("momentum_one", lambda w: _train(w, "--set", "optim.momentum=1.0"),
         ("optim.momentum", "[0, 1)")),
    Case("momentum_negative", lambda w: _train(w, "--set", "optim.momentum=-0.5"),
         ("optim.momentum",)),
    Case("negative_milestone", lambda w: _train(w, "--set", "optim.milestones=[-3,1]"),
         ("optim.milestones", "-3")),
    Case("negative_every_steps", lambda w: _train(w, "--set", "log.every_steps=-1"),
         ("log.every_steps", ">= 0")),
    Case("resume_and_force", lambda w: _train(w, "--resume", "--force"),
         ("--force", "not allowed with argument --resume")),
    Case("resume_of_no_run", lambda w: _train(w, "--resume"), ("--resume", "last.pt not found")),
    Case("train_on_tampered_labels",
         lambda w: _train(w, data__root=w.damaged_data(lambda d: _save(d / "labels.npy", _labels(d)[:5]))),
         ("labels.npy", "5", "--force")),
    Case("absurd_epochs", lambda w: _train(w, "--set", "optim.epochs=1000000000", "--set", "max_steps=1"),
         ("optim.epochs", "1000000000", "at most")),
    # ---- eval / robustness
    Case("eval_batch_size_zero", lambda w: ["eval", "--checkpoint", w.checkpoint, "--batch-size", "0"],
         ("--batch-size", ">= 1")),
    Case("eval_batch_size_negative", lambda w: ["eval", "--checkpoint", w.checkpoint, "--batch-size", "-4"],
         ("--batch-size", ">= 1")),
    Case("eval_out_is_a_file", lambda w: ["eval", "--checkpoint", w.checkpoint, "--out", w.file()],
         ("--out", "a_file.txt", "not a directory")),
    Case("eval_out_unwritable", lambda w: ["eval", "--checkpoint", w.checkpoint, "--out", w.file() + "/ev"],
         ("--out", "a_file.txt/ev", "cannot")),
    Case("eval_layout_is_a_directory",
         lambda w: ["eval", "--checkpoint", w.checkpoint, "--layout", w.folder()],
         ("a_folder", "is a directory")),
    Case("eval_unknown_split", lambda w: ["eval", "--checkpoint", w.checkpoint, "--split", "tset"],
         ("'tset'", "available splits")),
    Case("eval_checkpoint_missing", lambda w: ["eval", "--checkpoint", str(w.tmp / "none.pt")],
         ("none.pt", "not found")),
    Case("robustness_out_is_a_file",
         lambda w: ["robustness", "--checkpoint", w.checkpoint, "--out", w.file()],
         ("--out", "a_file.txt", "not a directory")),
    Case("severity_nan", lambda w: ["robustness", "--checkpoint", w.checkpoint, "--out", str(w.tmp / "r"),
                                    "--severities", "occlusion=0,nan"],
         ("--severities", "occlusion", "nan", "finite")),
    Case("severity_inf", lambda w: ["robustness", "--checkpoint", w.checkpoint, "--out", str(w.tmp / "r"),
                                    "--severities", "jitter=0,inf"],
         ("--severities", "jitter", "inf", "finite")),
    Case("severity_out_of_range",
         lambda w: ["robustness", "--checkpoint", w.checkpoint, "--out", str(w.tmp / "r"),
                    "--severities", "occlusion=0,1.5"],
         ("--severities", "occlusion", "1.5", "[0, 1]")),
    Case("severity_negative",
         lambda w: ["robustness", "--checkpoint", w.checkpoint, "--out", str(w.tmp / "r"),
                    "--severities", "jitter=-0.1"],
         ("--severities", "jitter", "-0.1", ">= 0")),
    Case("severity_names_no_corruption",
         lambda w: ["robustness", "--checkpoint", w.checkpoint, "--out", str(w.tmp / "r"),
                    "--severities", "occlusoin=0,0.5"],
         ("--severities", "'occlusoin'", "did you mean 'occlusion'")),
    Case("severity_of_an_unselected_corruption",
         lambda w: ["robustness", "--checkpoint", w.checkpoint, "--out", str(w.tmp / "r"),
                    "--corruptions", "jitter", "--severities", "occlusion=0,0.5"],
         ("--severities", "'occlusion'", "--corruptions")),
    # ---- eval --data on a damaged prepared directory
    Case("tampered_manifest_not_json",
         lambda w: w.tampered(lambda d: (d / "manifest.json").write_text("{not json")),
         ("manifest.json", "corrupt", "--force")),
    Case("tampered_manifest_no_num_classes", lambda w: w.tampered(_manifest_without("num_classes")),
         ("manifest.json", "num_classes", "--force")),
    Case("tampered_labels_not_npy",
         lambda w: w.tampered(lambda d: (d / "labels.npy").write_text("garbage")),
         ("labels.npy", "--force")),
    Case("tampered_labels_short",
         lambda w: w.tampered(lambda d: _save(d / "labels.npy", _labels(d)[:5])),
         ("labels.npy", "5", "--force")),
    Case("tampered_labels_out_of_range",
         lambda w: w.tampered(lambda d: _save(d / "labels.npy", _labels(d) + 100)),
         ("labels.npy", "num_classes", "--force")),
    Case("tampered_labels_float",
         lambda w: w.tampered(lambda d: _save(d / "labels.npy", _labels(d).astype(np.float32))),
         ("labels.npy", "integer", "--force")),
    Case("tampered_split_out_of_range",
         lambda w: w.tampered(lambda d: _save(d / "split_test.npy", [0, 1, 10_000])),
         ("split_test.npy", "10000", "--force")),
    Case("tampered_split_float",
         lambda w: w.tampered(lambda d: _save(d / "split_test.npy", [0.5, 1.0])),
         ("split_test.npy", "integer", "--force")),
    Case("tampered_split_2d",
         lambda w: w.tampered(lambda d: _save(d / "split_test.npy", [[0, 1], [2, 3]])),
         ("split_test.npy", "--force")),
    Case("tampered_data_truncated",
         lambda w: w.tampered(lambda d: (d / "data.npy").write_bytes((d / "data.npy").read_bytes()[:4096])),
         ("data.npy", "--force")),
    # ---- plot
    Case("plot_foreign_log_csv",
         lambda w: ["plot", _plot_dir(w, log="a,b\n1,2\n"), "--out", str(w.tmp / "p")],
         ("log.csv", "epoch")),
    Case("plot_config_with_python_tags",
         lambda w: ["plot", _plot_dir(w, config=PYTHON_TAG_CONFIG), "--confusion", "--out", str(w.tmp / "p")],
         ("config.yaml", "not valid YAML")),
    Case("plot_out_is_a_file", lambda w: ["plot", str(w.run), "--out", w.file()],
         ("--out", "a_file.txt", "not a directory")),
    Case("plot_run_without_log", lambda w: ["plot", w.folder(), "--out", str(w.tmp / "p")], ("log.csv",)),
    # ---- export
    Case("export_out_is_a_directory",
         lambda w: ["export", w.checkpoint, "--format", "pt2", "--out", w.folder()],
         ("--out", "a_folder", "is a directory", "file name")),
    Case("export_out_unwritable",
         lambda w: ["export", w.checkpoint, "--format", "pt2", "--out", w.file() + "/m.pt2"],
         ("--out", "a_file.txt/m.pt2", "cannot")),
    Case("export_opset_too_old", lambda w: ["export", w.checkpoint, "--format", "onnx", "--opset", "9"],
         ("--opset", "9")),
    Case("export_opset_unknown", lambda w: ["export", w.checkpoint, "--format", "onnx", "--opset", "99"],
         ("--opset", "99")),
    Case("export_frames_zero", lambda w: ["export", w.checkpoint, "--format", "pt2", "--frames", "0"],
         ("--frames",)),
    # ---- bench
    Case("bench_batch_size_zero", lambda w: ["bench", "--quick", "--batch-size", "0"],
         ("--batch-size", ">= 1")),
    Case("bench_unknown_model", lambda w: ["bench", "--model", "resnet"],
         ("--model", "'resnet'", "shift_gcn")),
    # ---- prepare, demo, ablation: --out
    Case("prepare_out_is_a_file", lambda w: ["prepare", "--out", w.file(), "--num-samples", "8"],
         ("--out", "a_file.txt", "not a directory")),
    Case("prepare_out_unwritable", lambda w: ["prepare", "--out", w.file() + "/d", "--num-samples", "8"],
         ("--out", "a_file.txt/d", "cannot")),
    Case("prepare_layout_is_a_directory",
         lambda w: ["prepare", "--source", "arrays", "--input", str(w.data / "data.npy"), "--labels",
                    str(w.data / "labels.npy"), "--layout", w.folder(), "--out", str(w.tmp / "p")],
         ("a_folder", "is a directory")),
    Case("demo_out_is_a_file", lambda w: ["demo", "--quick", "--out", w.file()],
         ("--out", "a_file.txt", "not a directory")),
    Case("ablation_out_is_a_file", lambda w: ["ablation", "--quick", "--out", w.file()],
         ("--out", "a_file.txt", "not a directory")),
]


@pytest.fixture(scope="module")
def good_inputs(tmp_path_factory):
    """(prepared data, finished one-epoch teacher run)."""
    base = tmp_path_factory.mktemp("mistakes")
    data = base / "data"
    assert main(["prepare", "--out", str(data), "--num-samples", "48", "--clip-frames", "16",
                 "--num-classes", "4", "--val-fraction", "0.2"]) == 0
    world = World(data, base / "run", base)
    assert main(["train", "--config", world.config(output_dir=str(world.run))]) == 0
    return data, world.run


def run_cli(argv: list) -> tuple:
    """(exit code, the traceback if the CLI raised instead of exiting cleanly)."""
    try:
        return main(argv), None
    except SystemExit as stop:  # argparse's own errors
        return stop.code, None
    except BaseException:  # noqa: BLE001 - a traceback is exactly what this test looks for
        return None, traceback.format_exc()


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_user_mistake_is_a_clean_error(case, good_inputs, tmp_path, capsys):
    if case.name == "device_cuda_without_cuda" and torch.cuda.is_available():
        pytest.skip("CUDA is available here")
    world = World(*good_inputs, tmp_path)
    argv = case.argv(world)
    capsys.readouterr()
    code, raised = run_cli(argv)
    err = capsys.readouterr().err
    assert raised is None, f"skd {' '.join(argv)} raised instead of a clean error:\n{raised}"
    assert "Traceback" not in err
    assert code == case.code, f"exit code {code}, stderr: {err}"
    missing = [text for text in case.expected if text not in err]
    assert not missing, f"the message lacks {missing}:\n{err}"
