"""Outputs stay in their folder and never go through planted links; a full disk is one clear error with no
partial file at the target; names made from data are checked; prepare takes train's run lock."""

import errno
import os
import subprocess

import numpy as np
import pytest
import torch

from skdcore.atomic_io import DiskFullError, atomic_write_bytes, atomic_write_text, preallocate, temp_path
from skdcore.cli import main
from skdcore.reports.plots import write_confusion_csv
from skdcore.safe_names import UnsafeNameError, check_file_name, file_name_part
from skdcore.train.run_dir import LOCK_NAME, RunLock


@pytest.mark.parametrize("name", ["../../../../x/TRAVERSAL", "a/b", "", ".hidden", "..", "-rf", "a\0b",
                                  "x" * 101, "naïve", "a b"])
def test_unsafe_names_from_data_are_refused(name):
    with pytest.raises(UnsafeNameError, match=r"split .*cannot be part of a file name"):
        check_file_name(name, "split")


@pytest.mark.parametrize("name", ["train", "xsub_train", "fold-1.val", "x" * 100])
def test_safe_names_pass(name):
    assert check_file_name(name, "split") == name


def test_a_display_name_becomes_a_safe_file_name_part():
    assert file_name_part("../../../../evil/TRAVERSAL_on_lq") == "_.._.._.._evil_TRAVERSAL_on_lq"
    assert "/" not in file_name_part("a/b") and not file_name_part(".x").startswith(".")
    assert file_name_part("") == "unnamed" and len(file_name_part("y" * 500)) == 100


def test_a_split_name_that_is_a_path_stops_prepare_before_any_split_file(tmp_path):
    from skdcore.data import prepare_dataset
    from skdcore.data.sources import make_source

    source = make_source("synthetic", num_samples=8, clip_frames=8, num_classes=2, seed=0)
    source.splits = lambda: {"train": np.arange(4), "../../TRAVERSAL": np.arange(4, 8)}
    out = tmp_path / "deep" / "er" / "data"
    with pytest.raises(UnsafeNameError, match=r"split name .*'../../TRAVERSAL'"):
        prepare_dataset(out, source, progress=False)
    assert not list(tmp_path.rglob("*TRAVERSAL*"))


# --------------------------------------------------------------------------- planted links
def test_a_link_at_an_output_path_is_replaced_never_written_through(tmp_path):
    target = tmp_path / "victim.txt"
    target.write_text("keep")
    out = tmp_path / "out"
    out.mkdir()
    (out / "confusion_a_lq.csv").symlink_to(target)
    write_confusion_csv(np.eye(2, dtype=int), ["a", "b"], out / "confusion_a_lq.csv")
    assert target.read_text() == "keep"
    assert not (out / "confusion_a_lq.csv").is_symlink()
    assert (out / "confusion_a_lq.csv").read_text().splitlines()[0] == "true/predicted,a,b"


def test_a_link_at_the_temp_path_is_not_followed(tmp_path):
    target = tmp_path / "victim.txt"
    target.write_text("keep")
    temp_path(tmp_path / "out.json").symlink_to(target)
    atomic_write_text(tmp_path / "out.json", "{}")
    assert target.read_text() == "keep" and (tmp_path / "out.json").read_text() == "{}"


def test_a_link_as_the_run_lock_is_refused(tmp_path):
    from skdcore.train.run_dir import RunLockedError

    target = tmp_path / "victim.txt"
    target.write_text("keep")
    (tmp_path / LOCK_NAME).symlink_to(target)
    with pytest.raises(RunLockedError, match=r"symbolic link; refusing to write through it"):
        RunLock(tmp_path).acquire()
    assert target.read_text() == "keep"


def test_a_link_as_a_prepare_partial_file_is_refused(tmp_path):
    target = tmp_path / "victim.npy"
    target.write_bytes(b"keep")
    out = tmp_path / "data"
    out.mkdir()
    (out / "data.npy.partial").symlink_to(target)
    code = main(["prepare", "--out", str(out), "--num-samples", "16", "--clip-frames", "8"])
    assert code == 2 and target.read_bytes() == b"keep"


# --------------------------------------------------------------------------- empty output options
@pytest.mark.parametrize("argv", [
    ["prepare", "--out", "", "--num-samples", "8"],
    ["eval", "--checkpoint", "missing.pt", "--out", ""],
    ["train", "--config", "missing.yaml", "--output-dir", ""],
    ["export", "missing.pt", "--format", "onnx", "--out", ""],
])
def test_an_empty_output_option_is_refused(argv, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(argv) == 2
    assert "is empty; give a folder or file path" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


# --------------------------------------------------------------------------- prepare lock
def test_a_second_prepare_into_a_folder_being_prepared_is_refused(tmp_path, capsys):
    out = tmp_path / "data"
    out.mkdir()
    held = RunLock(out).acquire()  # what a running `skd prepare` (or `skd train`) holds
    try:
        assert main(["prepare", "--out", str(out), "--num-samples", "16", "--clip-frames", "8"]) == 2
        assert "is in use" in capsys.readouterr().err
        assert not (out / "manifest.json").exists()
    finally:
        held.release()
    assert main(["prepare", "--out", str(out), "--num-samples", "16", "--clip-frames", "8"]) == 0


# --------------------------------------------------------------------------- full disk
def _no_space(*args, **kwargs):
    raise OSError(errno.ENOSPC, "No space left on device")


def test_a_full_disk_leaves_no_file_at_the_target(tmp_path, monkeypatch):
    monkeypatch.setattr(os, "fsync", _no_space)
    with pytest.raises(DiskFullError, match=r"no space left on the device writing .*out.bin"):
        atomic_write_bytes(tmp_path / "out.bin", b"x" * 100)
    assert list(tmp_path.iterdir()) == []


@pytest.fixture
def small_tmpfs(tmp_path):
    """A 1 MiB tmpfs (needs root and a kernel that lets this process mount)."""
    mount = tmp_path / "small"
    mount.mkdir()
    command = ["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mount)]
    done = subprocess.run(command, capture_output=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.decode().strip()[:100]}")
    yield mount
    import gc

    gc.collect()  # NB: a memory map still open in a dropped traceback keeps the mount busy
    subprocess.run(["umount", "-l", str(mount)], check=False)


def test_a_pt2_export_on_a_full_disk_is_a_clear_error_and_no_file(small_tmpfs):
    from skdcore.export import save_pt2

    model = torch.nn.Linear(512, 1024).eval()  # 2 MB of weights: more than the disk holds
    program = torch.export.export(model, (torch.randn(2, 512),))
    with pytest.raises(DiskFullError, match=r"no space left on the device writing .*model.pt2"):
        save_pt2(program, small_tmpfs / "model.pt2", {})
    assert list(small_tmpfs.iterdir()) == []


def test_a_memory_map_is_preallocated_so_a_full_disk_is_an_error_not_sigbus(small_tmpfs):
    path = small_tmpfs / "data.npy.partial"
    with pytest.raises(DiskFullError, match=r"data.npy.partial"):
        preallocate(path, 4 << 20)


def test_prepare_on_a_full_disk_is_a_clear_error_not_sigbus(small_tmpfs, capsys):
    out = str(small_tmpfs / "data")
    code = main(["prepare", "--out", out, "--num-samples", "2000", "--clip-frames", "64"])
    assert code == 1
    err = capsys.readouterr().err
    assert "no space left on the device" in err and "Traceback" not in err


def test_train_on_a_full_disk_ends_with_one_line(tmp_path, monkeypatch, capsys):
    import yaml

    assert main(["prepare", "--out", str(tmp_path / "data"), "--num-samples", "32", "--clip-frames", "8",
                 "--val-fraction", "0.25"]) == 0
    config = tmp_path / "run.yaml"
    config.write_text(yaml.safe_dump({
        "name": "full", "mode": "teacher", "output_dir": str(tmp_path / "run"),
        "data": {"root": str(tmp_path / "data"), "batch_size": 8},
        "model": {"name": "shift_gcn", "args": {"channels": [8, 16], "strides": [1, 2]}},
        "optim": {"epochs": 1, "milestones": []}, "log": {"progress": False, "tensorboard": "off"}}))
    capsys.readouterr()
    monkeypatch.setattr(os, "fsync", _no_space)
    assert main(["train", "--config", str(config)]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("skd train: error: no space left on the device writing"), err


def test_run_logs_are_never_written_through_a_link(tmp_path):
    from skdcore.train.run_log import RunLogger

    target = tmp_path / "victim.txt"
    target.write_text("keep")
    out = tmp_path / "run"
    out.mkdir()
    (out / "train.log").symlink_to(target)
    with pytest.raises(OSError, match=r"symbolic link; refusing to write through it"):
        RunLogger(out, "off", enabled=True, every_steps=0, progress=False)
    assert target.read_text() == "keep"
