"""Checkpoints hold no pickled code: skdcore's own open with torch.load(weights_only=True); a checkpoint
that needs weights_only=False is refused (naming --trust-checkpoint) and its payload never runs."""

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch

from skdcore.checkpoints.checkpoint import (
    FORMAT,
    load_model_state,
    model_from_checkpoint,
    plain_data,
    rng_state,
    set_rng_state,
)
from skdcore.cli import main
from skdcore.train import CheckpointError, load_checkpoint


class _Payload:
    """Unpickling calls open(marker, 'w'): the file appears only if the pickle's code ran."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


def _malicious_checkpoint(path, marker, where="model_args"):
    ckpt = {"format": FORMAT, "model_name": "shift_gcn", "model_args": {}, "model": {}}
    ckpt[where] = _Payload(marker)
    torch.save(ckpt, path)
    return path


def test_own_checkpoints_open_with_plain_torch_load(tiny_teacher):
    for name in ("best.pt", "last.pt"):
        ckpt = torch.load(tiny_teacher.parent / name)  # torch's default: weights_only=True
        assert ckpt["format"] == FORMAT and ckpt["model_name"] == "shift_gcn"
        assert isinstance(ckpt["config"], dict) and ckpt["config"]["mode"] == "teacher"
        assert torch.is_tensor(ckpt["rng"]["numpy"]["keys"]) and ckpt["rng"]["numpy"]["keys"].shape == (624,)


@pytest.mark.parametrize("where", ["model_args", "config", "extra"])
def test_malicious_checkpoint_is_refused_and_never_runs(tmp_path, where):
    marker = tmp_path / "EXECUTED"
    path = _malicious_checkpoint(tmp_path / "evil.pt", marker, where)
    with pytest.raises(
        CheckpointError,
        match=r"evil.pt holds pickled Python objects \(it needs io.open\).*"
        r"--trust-checkpoint",
    ):
        load_checkpoint(path)
    assert not marker.exists()


def test_malicious_checkpoint_through_the_cli(tmp_path, capsys):
    marker = tmp_path / "EXECUTED"
    path = _malicious_checkpoint(tmp_path / "evil.pt", marker)
    assert main(["eval", "--checkpoint", str(path)]) == 2
    assert "--trust-checkpoint" in capsys.readouterr().err
    assert not marker.exists()


def test_older_pickled_checkpoint_needs_trust(tmp_path):
    """Format 1 stored numpy's RNG tuple (a numpy array): refused by default, loaded with trust=True."""
    path = tmp_path / "old.pt"
    torch.save(
        {
            "format": "skdcore-checkpoint-1",
            "model_name": "shift_gcn",
            "model_args": {},
            "model": {},
            "rng": {"numpy": np.random.get_state()},
        },
        path,
    )
    with pytest.raises(CheckpointError, match=r"numpy.*--trust-checkpoint \(Python: trust=True\)"):
        load_checkpoint(path)
    assert load_checkpoint(path, trust=True)["rng"]["numpy"][0] == "MT19937"


@pytest.mark.parametrize(
    "ckpt, match",
    [
        (
            {"format": FORMAT, "model_args": {}, "model": {}},
            "field 'model_name' is missing, expected a string",
        ),
        (
            {"format": FORMAT, "model_name": "shift_gcn", "model_args": [], "model": {}},
            "field 'model_args' is a list",
        ),
        ({"format": FORMAT, "model_name": "shift_gcn", "model_args": {}}, "field 'model' is missing"),
        (
            {"format": FORMAT, "model_name": "shift_gcn", "model_args": {}, "model": {"w": 3}},
            "field .model. holds non-tensor entries",
        ),
    ],
)
def test_incomplete_checkpoint_is_a_checkpoint_error(tmp_path, ckpt, match):
    torch.save(ckpt, tmp_path / "bad.pt")
    with pytest.raises(CheckpointError, match="bad.pt: " + match):
        load_checkpoint(tmp_path / "bad.pt")


def test_resume_of_a_best_checkpoint_names_the_missing_field(tmp_path):
    from skdcore.checkpoints.checkpoint import resume_state

    with pytest.raises(CheckpointError, match="x.pt: field 'optimizer' is missing.*resume from last.pt"):
        resume_state({"format": FORMAT, "model_name": "m", "model_args": {}, "model": {}}, tmp_path / "x.pt")


def test_rng_state_round_trips_as_plain_data():
    import random

    state = rng_state()
    expected = (torch.rand(3), np.random.rand(3), random.random())
    torch.manual_seed(123), np.random.seed(123), random.seed(123)
    set_rng_state(plain_data(state))
    got = (torch.rand(3), np.random.rand(3), random.random())
    torch.testing.assert_close(got[0], expected[0], rtol=0, atol=0)
    np.testing.assert_array_equal(got[1], expected[1])
    assert got[2] == expected[2]


def test_plain_data_converts_or_names_the_key():
    from skdcore.layouts import get_layout

    out = plain_data({"layout": get_layout("coco17"), "n": np.int64(3), "a": np.zeros(2)}, "model_args")
    assert out["n"] == 3 and type(out["n"]) is int and torch.is_tensor(out["a"])
    assert out["layout"]["name"] == "coco17" and out["layout"]["center"] == get_layout("coco17").center
    with pytest.raises(CheckpointError, match=r"model_args\['fn'\] is a builtins.function"):
        plain_data({"fn": lambda: 0}, "model_args")
    assert not os.path.exists("EXECUTED")


def test_unknown_model_or_bad_model_args_are_checkpoint_errors(tmp_path, capsys):
    torch.save({"format": FORMAT, "model_name": "resnet", "model_args": {}, "model": {}}, tmp_path / "m.pt")
    with pytest.raises(
        CheckpointError, match=r"m.pt: field 'model_name' is 'resnet', not a model of this skdcore"
    ):
        load_checkpoint(tmp_path / "m.pt")
    torch.save(
        {"format": FORMAT, "model_name": "shift_gcn", "model_args": {"bogus": 1}, "model": {}},
        tmp_path / "a.pt",
    )
    assert main(["eval", "--checkpoint", str(tmp_path / "a.pt")]) == 2
    assert "a.pt: cannot build its model 'shift_gcn' from the recorded model_args" in capsys.readouterr().err


# ------------------------------------------------------------------ declared sizes (issue #23, item 4)
def _deflated_copy(source, target):
    """The same checkpoint with every record deflated: torch.save stores records, so a deflated one
    can declare far more bytes than the file holds."""
    with zipfile.ZipFile(source) as old, zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as new:
        for info in old.infolist():
            new.writestr(info.filename, old.read(info))
    return target


def test_a_deflated_record_larger_than_the_file_is_refused_before_torch_load(tmp_path):
    plain = tmp_path / "plain.pt"
    model = {"w": torch.zeros(4 << 20)}  # a 16 MiB record of zeros
    torch.save({"format": FORMAT, "model_name": "shift_gcn", "model_args": {}, "model": model}, plain)
    bomb = _deflated_copy(plain, tmp_path / "bomb.pt")
    assert bomb.stat().st_size < 1 << 20
    with pytest.raises(
        CheckpointError, match=r"bomb.pt: member '.*data/0' declares 16777216 bytes, more than"
    ):
        load_checkpoint(bomb)
    assert load_checkpoint(plain)["model"]["w"].numel() == 4 << 20  # what torch.save writes still loads


def test_a_legacy_format_checkpoint_needs_trust(tmp_path):
    path = tmp_path / "legacy.pt"
    ckpt = {"format": FORMAT, "model_name": "shift_gcn", "model_args": {}, "model": {}}
    torch.save(ckpt, path, _use_new_zipfile_serialization=False)
    with pytest.raises(
        CheckpointError, match=r"legacy.pt is not a readable checkpoint: not a zip archive.*--trust-chec"
    ):
        load_checkpoint(path)
    assert load_checkpoint(path, trust=True)["model_name"] == "shift_gcn"


def _memory_capped_child(code: str) -> subprocess.CompletedProcess:
    """``code`` in a child whose address space is capped 3 GiB above its size after importing skdcore."""
    fuzz = Path(__file__).resolve().parents[1] / "data"
    prelude = (
        f"import sys; sys.path.insert(0, {str(fuzz)!r}); import skdcore.train; "
        "from fuzz_readers import cap_address_space; cap_address_space(3 << 30); "
    )
    return subprocess.run([sys.executable, "-c", prelude + code], capture_output=True, text=True, timeout=300)


def test_model_args_describing_a_huge_model_are_refused_before_building(tmp_path):
    """channels [30000, 30000] in a 2 KB checkpoint: a 7 GB model used to be built before any check."""
    path = tmp_path / "wide.pt"
    args = {"num_class": 6, "channels": [30000, 30000], "strides": [1, 1]}
    torch.save({"format": FORMAT, "model_name": "shift_gcn", "model_args": args, "model": {}}, path)
    child = _memory_capped_child(
        "from skdcore.checkpoints.checkpoint import CheckpointError, load_checkpoint, model_from_checkpoint\n"
        f"try:\n    model_from_checkpoint(load_checkpoint({str(path)!r}), {str(path)!r})\n"
        "except CheckpointError as err:\n    print('REFUSED', err)\n"
        # VmHWM: this process's peak resident memory (ru_maxrss would include the parent's at fork)
        "peak = [int(line.split()[1]) for line in open('/proc/self/status') if 'VmHWM' in line][0]\n"
        "print('PEAK_MB', peak // 1024)\n"
    )
    assert child.returncode == 0, child.stderr[-800:]
    assert (
        "REFUSED" in child.stdout
        and "wide.pt: its model_args describe a" in child.stdout
    )
    # NB: the size cap (models/model_size.py) refuses it even before the held-bytes comparison
    assert "but the checkpoint holds 0" in child.stdout or "too large to build" in child.stdout
    peak = int(child.stdout.split("PEAK_MB")[1])
    assert peak < 2000, f"{peak} MB: the model was allocated"


@pytest.mark.parametrize(
    "args, where",
    [
        ({"num_class": 10**9}, r"model_args\['num_class'\] is 1000000000"),
        ({"channels": [8] * 5000}, r"model_args\['channels'\] has 5000 entries"),
        ({"init_scale": float("nan")}, r"model_args\['init_scale'\] is nan"),
    ],
)
def test_model_args_beyond_sane_limits_are_named(tmp_path, args, where):
    path = tmp_path / "args.pt"
    torch.save({"format": FORMAT, "model_name": "shift_gcn", "model_args": args, "model": {}}, path)
    with pytest.raises(CheckpointError, match=rf"args.pt: {where}"):
        model_from_checkpoint(load_checkpoint(path), path)


def test_a_real_checkpoint_still_builds_its_model(tiny_teacher):
    ckpt = load_checkpoint(tiny_teacher)
    model = model_from_checkpoint(ckpt, tiny_teacher)
    load_model_state(model, ckpt, tiny_teacher)
    assert sum(p.numel() for p in model.parameters()) > 0
