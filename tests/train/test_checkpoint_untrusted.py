"""Crafted checkpoints that torch's weights_only loader accepts but that would cost memory the file does
not hold, or that two zip readers see differently; NaN weights; models sized before they are built."""

import io
import sys
import zipfile
from pathlib import Path

import pytest
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/zip_mutations.py
from zip_mutations import ZIP_MUTATIONS, mutate_zip  # noqa: E402

from skdcore.checkpoints.checkpoint import FORMAT, model_from_checkpoint, save_checkpoint  # noqa: E402
from skdcore.models import build_model  # noqa: E402
from skdcore.models.registry import ModelArgumentError  # noqa: E402
from skdcore.train import CheckpointError, load_checkpoint  # noqa: E402

ARGS = {"num_class": 4, "channels": [8, 16], "strides": [1, 2]}


@pytest.fixture(scope="module")
def valid(tmp_path_factory):
    path = tmp_path_factory.mktemp("ckpt") / "valid.pt"
    model = build_model("shift_gcn", **ARGS)
    save_checkpoint(path, model=model, model_name="shift_gcn", model_args=ARGS,
                    config={"name": "tiny", "data": {"root": "x"}})
    return path


def _with_pickle(valid: Path, target: Path, pickle_bytes: bytes) -> Path:
    """A copy of a torch.save archive whose data.pkl is replaced (written by Python's zipfile: a tight
    archive, so only the pickle check can refuse it)."""
    with zipfile.ZipFile(valid) as old, zipfile.ZipFile(target, "w") as new:
        for info in old.infolist():
            is_pickle = info.filename.endswith("/data.pkl")
            new.writestr(info.filename, pickle_bytes if is_pickle else old.read(info))
    return target


def test_a_valid_checkpoint_passes_every_check(valid):
    ckpt = load_checkpoint(valid)
    assert ckpt["model_args"] == ARGS and ckpt["config"]["name"] == "tiny"


@pytest.mark.parametrize("mutation", ZIP_MUTATIONS)
def test_zip_layouts_two_readers_could_disagree_on_are_refused(valid, tmp_path, mutation):
    """Data before the first member made Python's zipfile (the size check) and torch's reader see
    different archives: a 1.2 MB checkpoint inflated 1.28 GB."""
    crafted = tmp_path / "layout.pt"
    crafted.write_bytes(mutate_zip(valid.read_bytes(), mutation))
    with pytest.raises(CheckpointError, match=r"layout.pt.*(damaged or crafted|not a readable|not a zip)"):
        load_checkpoint(crafted)


@pytest.mark.parametrize("size", [1 << 40])
def test_a_bytearray_of_declared_size_is_refused_before_torch_allocates_it(valid, tmp_path, size):
    """torch's weights_only loader allows builtins.bytearray(n): a 53 KB file asked for 2.33 GB."""
    payload = b"\x80\x02cbuiltins\nbytearray\n\x8a\x06" + size.to_bytes(6, "little") + b"\x85R."
    crafted = _with_pickle(valid, tmp_path / "bytearray.pt", payload)
    with pytest.raises(CheckpointError, match=r"bytearray.pt: its pickle builds a bytearray .*refused"):
        load_checkpoint(crafted)


def test_stack_global_is_refused(valid, tmp_path):
    payload = b"\x80\x04\x8c\x08builtins\x8c\tbytearray\x93K\x10\x85R."
    crafted = _with_pickle(valid, tmp_path / "stack.pt", payload)
    with pytest.raises(CheckpointError, match=r"stack.pt: its pickle names objects with STACK_GLOBAL"):
        load_checkpoint(crafted)


def test_meta_tensors_are_refused(tmp_path):
    """Meta tensors hold no data but counted as held bytes: a 76 KB file built a 1.4 GB model."""
    big = {"num_class": 4, "channels": [512, 512], "strides": [1, 1]}
    with torch.device("meta"):
        weights = build_model("shift_gcn", **big).state_dict()
    torch.save({"format": FORMAT, "model_name": "shift_gcn", "model_args": big, "model": weights},
               tmp_path / "meta.pt")
    assert (tmp_path / "meta.pt").stat().st_size < 1 << 20  # the model it describes: ~4 MB
    with pytest.raises(CheckpointError, match=r"meta.pt: .*meta tensor"):
        load_checkpoint(tmp_path / "meta.pt")


@pytest.mark.parametrize("kind", ["self_reference", "deep", "shared_many_times"])
def test_pickle_graph_shapes_are_refused(tmp_path, kind):
    """Pickle memo references build structures a tree walk never finishes: self-references (a
    RecursionError before), 100-deep nesting, one list shared 2**40 times over 40 levels."""
    args = dict(ARGS)
    if kind == "self_reference":
        args["me"] = args
        match = r"contains itself"
    elif kind == "deep":
        value = []
        for _ in range(100):
            value = [value]
        args["deep"] = value
        match = r"nested more than 64 levels"
    else:
        value = [0]
        for _ in range(40):
            value = [value, value]
        args["shared"] = value
        match = r"more than 2000000 values"
    torch.save({"format": FORMAT, "model_name": "shift_gcn", "model_args": args, "model": {}},
               tmp_path / "graph.pt")
    with pytest.raises(CheckpointError, match=match):
        load_checkpoint(tmp_path / "graph.pt")


@pytest.mark.parametrize("config,match", [
    ([1, 2], r"field 'config' is a list"),
    (7, r"field 'config' is a int"),
    ({"name": 5}, r"config' has name of type int"),
    ({"data": {"root": 3}}, r"data.root of type int"),
])
def test_a_config_field_of_the_wrong_type_is_a_clean_error(valid, tmp_path, config, match):
    ckpt = torch.load(valid)
    ckpt["config"] = config
    torch.save(ckpt, tmp_path / "config.pt")
    with pytest.raises(CheckpointError, match=match):
        load_checkpoint(tmp_path / "config.pt")


def test_zero_strides_in_model_args_are_refused(valid, tmp_path):
    ckpt = torch.load(valid)
    ckpt["model_args"]["strides"] = [0, 0]
    with pytest.raises(CheckpointError, match=r"model_args\['strides'\]\[0\] is 0, expected a stride >= 1"):
        model_from_checkpoint(ckpt, tmp_path / "strides.pt")


def test_nan_weights_are_refused_at_eval(valid, tmp_path, capsys):
    from skdcore.cli import main
    from skdcore.evaluation.checkpoints import load_trained_model

    ckpt = torch.load(valid)
    key = next(k for k, v in ckpt["model"].items() if v.is_floating_point() and v.numel() > 1)
    ckpt["model"][key].view(-1)[0] = float("nan")
    torch.save(ckpt, tmp_path / "nan.pt")
    with pytest.raises(CheckpointError, match=rf"nan.pt: weight '{key}' holds 1 NaN/Inf values"):
        load_trained_model(tmp_path / "nan.pt")
    assert main(["eval", "--checkpoint", str(tmp_path / "nan.pt")]) == 2
    assert "NaN/Inf" in capsys.readouterr().err


@pytest.mark.parametrize("args,match", [
    ({"channels": [30000, 30000], "strides": [1, 1]}, r"GiB of parameters and buffers, more than the limit"),
    ({"num_person": 10**6}, r"values per input frame .* more than the limit"),
])
def test_models_are_sized_on_the_meta_device_before_they_are_built(args, match):
    """From a config (not a checkpoint): channels [30000, 30000] allocated 32 GB."""
    with pytest.raises(ModelArgumentError, match=match):
        build_model("st_gcn", num_class=4, **args)


def test_a_checkpoint_model_too_large_is_refused_before_it_is_built(valid, tmp_path):
    ckpt = torch.load(valid)
    ckpt["model_args"]["num_person"] = 10**6  # what made `skd export` try 40.8 GB
    with pytest.raises(CheckpointError, match=r"too large to build: .*(GiB of param|values per input frame)"):
        model_from_checkpoint(ckpt, tmp_path / "persons.pt")


def test_checked_bytes_are_what_the_fresh_archive_holds():
    """check_zip_structure accepts what torch.save and numpy write (a tight archive)."""
    import numpy as np

    from skdcore.zip_structure import check_zip_structure

    for writer in (lambda f: torch.save({"a": torch.zeros(3)}, f), lambda f: np.savez(f, a=np.zeros(3)),
                   lambda f: np.savez_compressed(f, a=np.zeros(3))):
        buffer = io.BytesIO()
        writer(buffer)
        check_zip_structure(buffer.getvalue(), "archive")


def test_eval_out_file_names_from_a_checkpoint_name_stay_in_out(tiny_data, tiny_teacher, tmp_path):
    """A checkpoint's config.name went into `skd eval --out` file names (and wrote five levels up); runs are
    now named by their folder, and nothing the checkpoint holds leaves --out."""
    from skdcore.cli import main

    deep = tmp_path / "a" / "b" / "c" / "d"
    deep.mkdir(parents=True)
    ckpt = torch.load(tiny_teacher)
    ckpt["config"]["name"] = "../../../../escaped/TRAVERSAL"
    torch.save(ckpt, deep / "crafted.pt")
    out = deep / "out"
    assert main(["eval", "--checkpoint", str(deep / "crafted.pt"), "--data", str(tiny_data),
                 "--out", str(out),
                 "--input", "lq"]) == 0
    written = sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*") if p.is_file())
    assert written == ["a/b/c/d/crafted.pt", "a/b/c/d/out/confusion_d_lq.csv",
                       "a/b/c/d/out/confusion_d_lq.png", "a/b/c/d/out/eval.json"]
