"""Atomic writes leave the old file or the new one, never a torn one; temp files of interrupted
writes are removed by the next run (only when their writer is gone)."""

import os
import subprocess
import sys

import numpy as np
import pytest
import torch

from skdcore.atomic_io import (
    atomic_open,
    atomic_save_npy,
    atomic_torch_save,
    atomic_write_json,
    remove_stale_temp_files,
)


def _dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_writes_round_trip(tmp_path):
    atomic_write_json(tmp_path / "a.json", {"x": 1})
    atomic_save_npy(tmp_path / "a.npy", np.arange(3))
    atomic_torch_save({"w": torch.ones(2)}, tmp_path / "sub" / "a.pt")
    assert (tmp_path / "a.json").read_text() == '{\n  "x": 1\n}\n'
    np.testing.assert_array_equal(np.load(tmp_path / "a.npy"), np.arange(3))
    torch.testing.assert_close(torch.load(tmp_path / "sub" / "a.pt")["w"], torch.ones(2))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.json", "a.npy", "sub"]


def test_failed_write_keeps_the_old_file_and_no_temp(tmp_path):
    target = tmp_path / "progress.json"
    target.write_text("old")
    with pytest.raises(KeyboardInterrupt):
        with atomic_open(target) as f:
            f.write(b"half of the new")
            raise KeyboardInterrupt
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["progress.json"]


def test_stale_temp_files_of_dead_writers_are_removed(tmp_path):
    dead, alive = _dead_pid(), os.getpid()
    stale = [
        tmp_path / f".last.pt.tmp{dead}",
        tmp_path / f"progress.json.tmp{dead}",
        tmp_path / f"labels.npy.tmp{dead}.npy",
    ]
    kept = [tmp_path / f".best.pt.tmp{alive}", tmp_path / "notes.tmp", tmp_path / "data.npy.partial"]
    for p in stale + kept:
        p.write_text("x")
    assert sorted(remove_stale_temp_files(tmp_path)) == sorted(stale)
    assert sorted(tmp_path.iterdir()) == sorted(kept)
    assert remove_stale_temp_files(tmp_path / "missing") == []


def test_prepare_cleans_up_after_an_interrupted_write(tmp_path):
    from skdcore.data import prepare_dataset

    out = tmp_path / "data"
    out.mkdir()
    leftover = out / f"progress.json.tmp{_dead_pid()}"  # SIGINT during the fsync of an older run
    leftover.write_text("{")
    prepare_dataset(out, "synthetic", {"num_samples": 8, "clip_frames": 8}, num_frames=None, progress=False)
    assert not leftover.exists() and (out / "manifest.json").exists()
