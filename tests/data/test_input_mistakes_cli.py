"""Mistakes in the inputs of `skd prepare`, `skd train` and `skd export` (issue 33, items 6 and 9) end as one
clean error line naming the argument and the fix: exit code 2, no traceback. Each case writes what it
needs and runs the real entry point under a deadline."""
from __future__ import annotations

import zipfile

import pytest
import yaml
from bounded_child import deadline

from skdcore.cli import main

LQ_ERRORS = [
    ("[1,2]", ("--lq[0]: 1 is not an LQ generator", '"name": "skd_occlusion"')),
    ("5", ("--lq: 5 is not an LQ generator",)),
    ('{"name": "skd_occlusion", "window": 1e30}', ("--lq: skd_occlusion.window is 1e+30", "[0, 10000]")),
    ('{"name": "gaussian_jitter", "sigma": 1e30}', ("--lq: gaussian_jitter.sigma is 1e+30", "[0, 10000]")),
    ('{"name": "compose", "steps": {"name": "frame_drop"}}', ("'steps' of a compose generator",)),
]


def _run(argv, capsys) -> str:
    capsys.readouterr()
    with deadline(120):
        try:
            code = main([str(a) for a in argv])
        except SystemExit as stop:
            code = stop.code
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert code == 2, f"exit {code}: {err}"
    return err


def _expect(err: str, *expected) -> None:
    missing = [text for text in expected if text not in err]
    assert not missing, f"the message lacks {missing}:\n{err}"


@pytest.mark.parametrize("lq, expected", LQ_ERRORS, ids=[c[0] for c in LQ_ERRORS])
def test_prepare_lq_mistakes(lq, expected, tmp_path, capsys):
    _expect(_run(["prepare", "--out", tmp_path / "out", "--num-samples", 8, "--lq", lq], capsys), *expected)


def test_prepare_occlusion_probability_out_of_range(tmp_path, capsys):
    err = _run(["prepare", "--out", tmp_path / "out", "--num-samples", 8, "--p", 5], capsys)
    _expect(err, "--p (of --lq skd): skd_occlusion.p is 5.0", "[0, 1]")


def test_prepare_negative_seed(tmp_path, capsys):
    err = _run(["prepare", "--out", tmp_path / "out", "--num-samples", 8, "--seed", -3], capsys)
    _expect(err, "seed (--seed) must be an integer in [0, 4294967295]", "got -3")


def test_prepare_absurd_num_frames(tmp_path, capsys):
    argv = ["prepare", "--out", tmp_path / "out", "--num-samples", 8, "--num-frames", 100_000_000]
    err = _run(argv, capsys)
    _expect(err, "num_frames (--num-frames) is 100000000", "at most 100000 frames")


def test_prepare_input_that_is_a_directory(tmp_path, capsys):
    err = _run(["prepare", "--source", "arrays", "--input", tmp_path, "--out", tmp_path / "out"], capsys)
    _expect(err, f"--input {tmp_path} is a directory", ".npz")


def test_prepare_out_with_a_name_too_long(tmp_path, capsys):
    err = _run(["prepare", "--out", tmp_path / ("a" * 300), "--num-samples", 8], capsys)
    _expect(err, "--out", "cannot write there", "choose a writable folder")


@pytest.mark.parametrize("field, value, expected", [
    ("center", float("inf"), "center=inf is not a joint: give a joint name or an index 0..1"),
    ("roles", ["left_shoulder"], "roles must map role names to joints"),
    ("edges", 7, "joint_names and edges must be lists"),
])
def test_prepare_layout_mistakes(field, value, expected, tmp_path, capsys):
    layout = {"name": "pair", "joint_names": ["a", "b"], "edges": [[0, 1]], field: value}
    path = tmp_path / "layout.yaml"
    path.write_text(yaml.safe_dump(layout))
    err = _run(["prepare", "--source", "arrays", "--input", tmp_path / "none.npz", "--layout", path,
                "--out", tmp_path / "out"], capsys)
    _expect(err, "layout.yaml", expected)


def _config(tmp_path, **values) -> str:
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump({"name": "x", "output_dir": str(tmp_path / "run"),
                                    "data": {"root": str(tmp_path / "data")}, **values}))
    return str(path)


def test_train_seed_beyond_numpy_seeds(tmp_path, capsys):
    err = _run(["train", "--config", _config(tmp_path), "--set", f"seed={2**70}"], capsys)
    _expect(err, "seed must be an integer in [0, 4294967295]", f"got {2**70}")


def test_train_source_options_as_a_list(tmp_path, capsys):
    config = _config(tmp_path, data={"root": str(tmp_path / "data"),
                                     "prepare": {"source": "synthetic", "source_options": [8]}})
    err = _run(["train", "--config", config], capsys)
    _expect(err, "data.prepare.source_options must be a mapping", "got a list")


def test_train_deep_override(tmp_path, capsys):
    err = _run(["train", "--config", _config(tmp_path), "--set", "seed=" + "[" * 5_000 + "]" * 5_000], capsys)
    _expect(err, "--set", "nested more than 64 levels deep")


def test_export_absurd_frames(tmp_path, capsys):
    err = _run(["export", tmp_path / "best.pt", "--format", "onnx", "--frames", 100_000_000], capsys)
    _expect(err, "--frames must be in 1..10,000", "got 100000000")


def test_damaged_zip_from_any_reader_is_a_clean_error(tmp_path, capsys, monkeypatch):
    """Whatever zip reader meets a damaged archive, the CLI names the files it was given."""
    from skdcore.commands import export

    damaged = tmp_path / "model.pt2"
    damaged.write_bytes(b"PK\x03\x04" + bytes(100))

    def reads_the_archive(args):
        zipfile.ZipFile(args.checkpoint)

    monkeypatch.setattr(export, "run", reads_the_archive)
    err = _run(["export", damaged, "--format", "pt2"], capsys)
    _expect(err, f"checkpoint {damaged}", "damaged or not a zip file", "again")


@pytest.mark.parametrize("flag, value", [("--max-persons", "2"), ("--score-threshold", "0.5")])
def test_prepare_keypoint_options_on_another_source(flag, value, tmp_path, capsys):
    err = _run(["prepare", "--out", tmp_path / "data", "--num-samples", 8, flag, value], capsys)
    _expect(err, flag, "--source keypoints only", "leave them out")
