"""`skd prepare` over folders holding damaged files: it finishes, skips and lists them with reasons,
writes no non-finite clip; --strict stops at the first."""

import json

import numpy as np
import pytest
from data_formats import write_kinetics_json, write_penn_mat

from skdcore.cli import main
from skdcore.data import ReaderError, SkeletonSource, prepare_dataset
from skdcore.layouts import get_layout


def _kinetics_folder(root):
    root.mkdir()
    rng = np.random.default_rng(0)
    for name in ("a", "b", "c", "d"):
        write_kinetics_json(
            root / f"{name}.json", rng.uniform(0.1, 0.9, (6, 1, 18, 2)), np.ones((6, 1, 18)), 2
        )
    (root / "torn.json").write_text((root / "a.json").read_text()[:100])
    (root / "deep.json").write_text('{"data": ' + "[" * 5000 + "]" * 5000 + "}")
    (root / "typed.json").write_text(json.dumps({"data": [{"frame_index": "one"}], "label_index": 1}))
    return root


def test_prepare_skips_lists_and_summarises_damaged_files(tmp_path, capsys):
    raw = _kinetics_folder(tmp_path / "raw")
    out = tmp_path / "out"
    assert (
        main(["prepare", "--source", "kinetics", "--input", str(raw), "--out", str(out), "--num-frames", "8"])
        == 0
    )
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["counts"]["valid"] == 4 and manifest["counts"]["skipped"] == 3
    reasons = {e["key"]: e["error"] for e in manifest["skipped"]}
    assert set(reasons) == {"torn", "deep", "typed"}
    assert "torn.json: not valid JSON" in reasons["torn"]
    assert "deep.json: JSON nested more than 64 levels deep" in reasons["deep"]
    assert "typed.json: data[0].frame_index is 'one'" in reasons["typed"]
    printed = capsys.readouterr().out
    assert "skipped 3 malformed input file(s)" in printed and "torn.json: not valid JSON" in printed
    labels = np.load(out / "labels.npy")
    samples = (out / "samples.txt").read_text().split()
    assert [samples[i] for i in np.flatnonzero(labels < 0)] == sorted(reasons, key=samples.index)
    assert np.all(np.isfinite(np.load(out / "data.npy")))


def test_strict_makes_the_first_damaged_file_fatal(tmp_path, capsys):
    raw = _kinetics_folder(tmp_path / "raw")
    with pytest.raises(ReaderError, match="deep.json: JSON nested"):
        prepare_dataset(
            tmp_path / "out", "kinetics", {"root": str(raw)}, num_frames=8, progress=False, strict=True
        )
    assert (
        main(
            [
                "prepare",
                "--source",
                "kinetics",
                "--input",
                str(raw),
                "--out",
                str(tmp_path / "out2"),
                "--strict",
            ]
        )
        == 2
    )
    assert "deep.json: JSON nested" in capsys.readouterr().err


def test_penn_zero_dimensions_clip_is_skipped_not_written(tmp_path):
    raw = tmp_path / "labels"
    raw.mkdir()
    x = np.full((5, 13), 100.0)
    write_penn_mat(raw / "0001.mat", x, x, np.ones((5, 13)))
    write_penn_mat(
        raw / "0002.mat", x, x, np.ones((5, 13)), dims=(0, 0)
    )  # used to divide by zero into data.npy
    manifest = prepare_dataset(tmp_path / "out", "penn", {"root": str(raw)}, num_frames=8, progress=False)
    assert manifest["counts"]["valid"] == 1 and [e["key"] for e in manifest["skipped"]] == ["0002"]
    assert np.all(np.isfinite(np.load(tmp_path / "out" / "data.npy")))


class _NaNSource(SkeletonSource):
    """A reader that lets a NaN through: prepare itself must refuse to write it."""

    name = "nan_test"

    def __init__(self):
        self.layout, self.keys = get_layout("ntu25"), ["good", "bad"]

    def load(self, index):
        x = np.zeros((3, 4, 25, 2), np.float32)
        x[0, 0, 0, 0] = np.nan if index == 1 else 0.5
        return x, 0

    def splits(self):
        return {"all": np.arange(2)}

    def options(self):
        return {}


def test_non_finite_clips_are_never_written(tmp_path):
    manifest = prepare_dataset(
        tmp_path / "out",
        _NaNSource(),
        lq={"name": "compose", "steps": []},
        num_frames=4,
        normalise=False,
        progress=False,
    )
    assert [(e["key"], "contains NaN or Inf" in e["error"]) for e in manifest["skipped"]] == [("bad", True)]
    assert np.all(np.isfinite(np.load(tmp_path / "out" / "data.npy")))


def test_json_depth_is_a_streaming_scan():
    """The depth pre-check of every Kinetics JSON costs little beyond the file's own bytes (it used to
    build a string-free copy and int64 arrays per byte: ~20x the file size)."""
    import tracemalloc

    from skdcore.data.readers.base import json_depth

    frame = {"frame_index": 1, "skeleton": [{"pose": [0.5] * 36, "score": [0.9] * 18}]}
    payload = json.dumps(
        {"data": [frame] * 15_000, "label": 'a [ { tricky " name', "label_index": 3}
    ).encode()
    assert len(payload) > 4 << 20
    tracemalloc.start()
    try:
        depth = json_depth(payload)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert depth == 6  # {data: [ {skeleton: [ {pose: [
    assert peak < len(payload) // 10, f"peak {peak} bytes for a {len(payload)}-byte file"
    assert json_depth(b'[[["]]]]]]", {"a": "\\"[["}]]]') == 4
    assert json_depth(b'[[ "unterminated [[[[') == 2


def test_trust_pickle_cannot_come_from_a_config_file():
    from skdcore.train import ConfigError, config_from_dict

    values = {
        "data": {"prepare": {"source": "pyskl", "source_options": {"root": "a.pkl", "trust_pickle": True}}}
    }
    with pytest.raises(
        ConfigError, match=r"data.prepare.source_options.trust_pickle: trust cannot come from a"
    ):
        config_from_dict(values)
    del values["data"]["prepare"]["source_options"]["trust_pickle"]
    assert config_from_dict(values).data.prepare["source_options"] == {"root": "a.pkl"}
