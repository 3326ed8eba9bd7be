"""A failed `skd prepare` removes the output folder it created (never one that existed); labels that skip
0 (1-based labels) are named with a warning."""
import logging

import numpy as np
import pytest

from skdcore.commands.prepare import main as prepare_main
from skdcore.data import ArraySource


@pytest.fixture
def arrays(tmp_path):
    x = np.random.default_rng(0).normal(size=(12, 3, 10, 25)).astype(np.float32)
    np.save(tmp_path / "x.npy", x)
    np.save(tmp_path / "y1.npy", (np.arange(12) % 3 + 1).astype(np.float64))  # 1-based float labels
    np.save(tmp_path / "y_short.npy", np.arange(11) % 3)
    return tmp_path


def _prepare(folder, labels, out, *extra):
    return prepare_main(["--source", "arrays", "--input", str(folder / "x.npy"), "--labels",
                         str(folder / labels), "--out", str(out), *extra])


@pytest.mark.parametrize("labels, extra, message", [
    ("y_short.npy", [], "labels: shape (11,) but x has N=12"),  # refused while reading
    ("y1.npy", ["--val-fraction", "0.9", "--test-fraction", "0.9"], "--val-fraction 0.9"),  # after reading
])
def test_a_failed_prepare_removes_the_folder_it_created(arrays, capsys, labels, extra, message):
    out = arrays / "new" / "data"
    assert _prepare(arrays, labels, out, *extra) == 2
    assert message in capsys.readouterr().err
    assert not out.exists()


def test_a_failed_prepare_keeps_a_folder_that_existed(arrays, capsys):
    out = arrays / "mine"
    out.mkdir()
    (out / "notes.txt").write_text("kept")
    assert _prepare(arrays, "y_short.npy", out) == 2
    assert (out / "notes.txt").read_text() == "kept"


def test_labels_that_skip_zero_are_named(arrays, caplog):
    x = np.load(arrays / "x.npy")
    with caplog.at_level(logging.WARNING, logger="skdcore.data.arrays"):
        source = ArraySource(x, np.load(arrays / "y1.npy"), layout="ntu25")
    assert source.num_classes == 4
    assert "no clip has label 0 (they run 1..3)" in caplog.text and "pass labels - 1" in caplog.text
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="skdcore.data.arrays"):
        ArraySource(x, np.arange(12) % 3, layout="ntu25")
    assert "label 0" not in caplog.text
