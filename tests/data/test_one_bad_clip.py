"""One bad clip never stops `skd prepare` (issue 33, item 5) and labels are checked against the class count
(item 8): each case writes a small raw dataset holding one crafted clip, prepares it under a deadline,
and checks that exactly that clip is skipped with a reason naming it, and the others are prepared."""
from __future__ import annotations

import json
import pickle

import numpy as np
import pytest
from bounded_child import deadline
from data_formats import ntu_body, write_kinetics_json, write_ntu_skeleton

from skdcore.cli import main
from skdcore.data import ArraySource, ReaderError, make_source, prepare_dataset


def _prepare(tmp_path, source, options, **extra) -> dict:
    with deadline(120):
        return prepare_dataset(tmp_path / "out", source, options, num_frames=8, progress=False, **extra)


def _skipped(manifest: dict) -> dict:
    return {entry["key"]: entry["error"] for entry in manifest["skipped"]}


# --------------------------------------------------------------------------- NTU
def _ntu_folder(root, crafted: dict) -> None:
    """Two good clips plus ``crafted`` {file stem: joints (T, 25, 3)}."""
    root.mkdir()
    rng = np.random.default_rng(0)
    for stem in ("S001C001P001R001A001", "S001C002P002R001A002"):
        write_ntu_skeleton(root / f"{stem}.skeleton", {1: (range(6), ntu_body(rng, 6))}, 6)
    for stem, joints in crafted.items():
        write_ntu_skeleton(root / f"{stem}.skeleton", {1: (range(len(joints)), joints)}, len(joints))


def test_ntu_clip_that_fails_rotation_alignment_is_skipped_with_its_reason(tmp_path):
    joints = ntu_body(np.random.default_rng(1), 6)
    joints[:, 8] = joints[:, 4]  # right shoulder on the left one: no shoulder direction to align
    _ntu_folder(tmp_path / "raw", {"S001C003P001R001A003": joints})
    manifest = _prepare(tmp_path, "ntu", {"root": str(tmp_path / "raw")})
    assert manifest["counts"]["valid"] == 2 and manifest["counts"]["skipped"] == 1
    reason = _skipped(manifest)["S001C003P001R001A003"]
    assert "S001C003P001R001A003" in reason and "ValueError" in reason and "shoulder vector" in reason


def test_ntu_action_outside_the_classes_is_skipped_with_its_reason(tmp_path):
    rng = np.random.default_rng(2)
    _ntu_folder(tmp_path / "raw", {"S001C001P003R001A999": ntu_body(rng, 6),
                                   "S001C001P004R001A000": ntu_body(rng, 6)})
    manifest = _prepare(tmp_path, "ntu", {"root": str(tmp_path / "raw")})
    assert manifest["num_classes"] == 60  # A999 does not make the folder NTU120
    skipped = _skipped(manifest)
    assert set(skipped) == {"S001C001P003R001A999", "S001C001P004R001A000"}
    assert "action A999 in the file name is not one of NTU's A001..A060" in skipped["S001C001P003R001A999"]
    assert "action A000" in skipped["S001C001P004R001A000"]
    assert sorted(np.load(tmp_path / "out" / "labels.npy").tolist()) == [-1, -1, 0, 1]


def test_ntu_missing_list_that_is_a_directory_is_a_clean_error(tmp_path, capsys):
    _ntu_folder(tmp_path / "raw", {})
    code = main(["prepare", "--source", "ntu", "--input", str(tmp_path / "raw"), "--missing-list",
                 str(tmp_path), "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert code == 2 and "--missing-list" in err and "is a directory" in err and "Traceback" not in err


# --------------------------------------------------------------------------- Kinetics
def _kinetics_folder(root) -> None:
    root.mkdir()
    rng = np.random.default_rng(0)
    for name, label in (("a", 1), ("b", 2), ("c", 3)):
        poses = rng.uniform(0.1, 0.9, (6, 1, 18, 2))
        write_kinetics_json(root / f"{name}.json", poses, np.ones((6, 1, 18)), label)


def test_kinetics_value_beyond_float_range_is_skipped_with_its_reason(tmp_path):
    raw = tmp_path / "raw"
    _kinetics_folder(raw)
    text = (raw / "c.json").read_text()
    first = json.loads(text)["data"][0]["skeleton"][0]["pose"][0]
    (raw / "c.json").write_text(text.replace(json.dumps(first), "1" + "0" * 400, 1))
    manifest = _prepare(tmp_path, "kinetics", {"root": str(raw)})
    assert manifest["counts"]["valid"] == 2
    reason = _skipped(manifest)["c"]
    assert "c.json: data[0].skeleton[0]: pose/score holds a number beyond float32's range" in reason


def test_kinetics_label_index_and_has_skeleton_are_checked(tmp_path):
    raw = tmp_path / "raw"
    _kinetics_folder(raw)
    label_file = tmp_path / "labels.json"
    label_file.write_text(json.dumps({
        "a": {"label_index": 5, "has_skeleton": True},
        "b": {"label_index": 500, "has_skeleton": True},
        "c": {"label_index": 7, "has_skeleton": "false"},
    }))
    manifest = _prepare(tmp_path, "kinetics", {"root": str(raw), "label_file": str(label_file)})
    skipped = _skipped(manifest)
    assert set(skipped) == {"b", "c"}
    assert "'label_index' is 500; Kinetics has 400 classes (0..399)" in skipped["b"]
    assert "'has_skeleton' is 'false'; expected true or false" in skipped["c"]


# --------------------------------------------------------------------------- PYSKL
def _annotation(name, label=1) -> dict:
    keypoint = np.random.default_rng(label).uniform(0.1, 0.9, (1, 6, 17, 2)).astype(np.float32)
    return {"frame_dir": name, "label": label, "keypoint": keypoint, "total_frames": 6}


def test_pyskl_frame_dir_with_a_surrogate_is_skipped_with_its_reason(tmp_path):
    path = tmp_path / "annotations.pkl"
    names = ["ok_1", "bad_\udc80", "ok_2"]
    path.write_bytes(pickle.dumps({"split": {"train": names},
                                   "annotations": [_annotation(n, i) for i, n in enumerate(names)]}))
    manifest = _prepare(tmp_path, "pyskl", {"root": str(path)})
    assert manifest["counts"] == {"samples": 3, "valid": 2, "skipped": 1, "splits": {"train": 2}}
    assert "annotations[1]" in _skipped(manifest)["#1"] and "not UTF-8 text" in _skipped(manifest)["#1"]
    assert (tmp_path / "out" / "samples.txt").read_text().split() == ["ok_1", "#1", "ok_2"]


def test_pyskl_frame_dir_used_twice_keeps_both_clips(tmp_path, caplog):
    path = tmp_path / "annotations.pkl"
    path.write_bytes(pickle.dumps({"split": {"train": ["a", "b"], "test": ["c"]},
                                   "annotations": [_annotation("a", 0), _annotation("b", 1),
                                                   _annotation("a", 2), _annotation("c", 3)]}))
    with caplog.at_level("WARNING"):
        source = make_source("pyskl", root=str(path))
    assert "used by more than one annotation (e.g. 'a')" in caplog.text
    assert source.splits()["train"].tolist() == [0, 1, 2]
    manifest = _prepare(tmp_path, "pyskl", {"root": str(path)})
    assert manifest["counts"]["splits"] == {"train": 3, "test": 1}


# --------------------------------------------------------------------------- arrays
def test_array_labels_beyond_the_class_cap_are_refused_before_anything_is_sized():
    x = np.zeros((3, 3, 4, 25), dtype=np.float32)
    with deadline(30), pytest.raises(ValueError, match=r"max label 4611686018427387904; class indices must"):
        ArraySource(x, np.array([0, 1, 2**62]), layout="ntu25")


def test_array_clips_without_persons_are_refused():
    x = np.zeros((3, 3, 4, 25, 0), dtype=np.float32)
    with pytest.raises(ValueError, match=r"no persons \(M=0\)"):
        ArraySource(x, np.array([0, 1, 2]), layout="ntu25")


# --------------------------------------------------------------------------- strict
def test_strict_names_the_clip_whatever_its_data_raised(tmp_path):
    joints = ntu_body(np.random.default_rng(1), 6)
    joints[:, 8] = joints[:, 4]
    _ntu_folder(tmp_path / "raw", {"S001C003P001R001A003": joints})
    with pytest.raises(ReaderError, match=r"S001C003P001R001A003: its data made the preparation fail"):
        _prepare(tmp_path, "ntu", {"root": str(tmp_path / "raw")}, strict=True)


def test_a_source_of_no_persons_is_refused_before_anything_is_allocated(tmp_path):
    path = tmp_path / "annotations.pkl"
    path.write_bytes(pickle.dumps({"split": {"train": ["a"]}, "annotations": [_annotation("a")]}))
    with pytest.raises(ValueError, match=r"\(M=0: no persons; max_persons / max_bodies must be >= 1\)"):
        _prepare(tmp_path, "pyskl", {"root": str(path), "max_persons": 0})
    assert not (tmp_path / "out" / "data.npy.partial").exists()
