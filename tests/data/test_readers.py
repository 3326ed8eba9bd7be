import json

import numpy as np
import pytest
from data_formats import ntu_body, write_kinetics_json, write_ntu_skeleton, write_penn_mat, write_pyskl_pickle

from skdcore.data import ReaderError, make_source
from skdcore.data.readers import (
    annotation_to_clip,
    is_training,
    parse_ntu_name,
    read_kinetics_json,
    read_ntu_skeleton,
    read_penn_mat,
)
from skdcore.data.readers.ntu import NTU60_XSUB_TRAIN_SUBJECTS, NTU120_XSUB_TRAIN_SUBJECTS


# --------------------------------------------------------------------------- NTU
def test_ntu_name_parsing_and_splits():
    n = parse_ntu_name("some/dir/S017C003P020R002A060.skeleton")
    assert (n.setup, n.camera, n.subject, n.replication, n.action, n.label) == (17, 3, 20, 2, 60, 59)
    with pytest.raises(ReaderError, match="SsssCcccPpppRrrrAaaa"):
        parse_ntu_name("clip_001.skeleton")
    names = [
        parse_ntu_name(f"S{s:03d}C{c:03d}P{p:03d}R001A{a:03d}")
        for s in (1, 2)
        for c in (1, 2, 3)
        for p in range(1, 41)
        for a in (1, 61)
    ]
    for name in names:
        assert is_training(name, "xview") == (name.camera in (2, 3))
        assert is_training(name, "xset") == (name.setup % 2 == 0)
        subjects = NTU120_XSUB_TRAIN_SUBJECTS if name.action > 60 else NTU60_XSUB_TRAIN_SUBJECTS
        assert is_training(name, "xsub") == (name.subject in subjects)
    assert len(NTU60_XSUB_TRAIN_SUBJECTS) == 20 and len(NTU120_XSUB_TRAIN_SUBJECTS) == 53
    with pytest.raises(ValueError, match="unknown NTU benchmark"):
        is_training(names[0], "xcam")


def test_ntu_round_trip_and_body_selection(tmp_path):
    rng = np.random.default_rng(0)
    still = ntu_body(rng, 30, motion=0.001)
    active = ntu_body(rng, 30, offset=(1, 0, 3), motion=0.05)
    late = ntu_body(rng, 20, offset=(-1, 0, 3), motion=0.02)
    path = write_ntu_skeleton(
        tmp_path / "S001C002P003R001A004.skeleton",
        {
            "72057594037931101": (np.arange(30), still),
            "72057594037931102": (np.arange(30), active),
            "72057594037931103": (np.arange(10, 30), late),
        },
        num_frames=30,
    )
    x = read_ntu_skeleton(path)
    assert x.shape == (3, 30, 25, 2)
    np.testing.assert_allclose(x[..., 0], active.transpose(2, 0, 1), atol=1e-5)  # most energetic first
    np.testing.assert_allclose(x[:, 10:, :, 1], late.transpose(2, 0, 1), atol=1e-5)
    assert np.all(x[:, :10, :, 1] == 0)  # not tracked in the first 10 frames


def test_ntu_denoising_drops_short_bodies(tmp_path):
    rng = np.random.default_rng(1)
    main = ntu_body(rng, 40, motion=0.01)
    flicker = ntu_body(rng, 5, motion=0.5)  # 5 frames of wild motion: a tracking glitch
    path = write_ntu_skeleton(
        tmp_path / "S001C001P001R001A001.skeleton",
        {"1": (np.arange(40), main), "2": (np.arange(5), flicker)},
        num_frames=40,
    )
    x = read_ntu_skeleton(path)
    np.testing.assert_allclose(x[..., 0], main.transpose(2, 0, 1), atol=1e-5)
    assert np.all(x[..., 1] == 0)
    assert np.any(read_ntu_skeleton(path, denoise=False)[..., 1] != 0)


@pytest.mark.parametrize(
    "problem, match",
    [
        ("truncated", r":\d+: file ends early"),
        ("joints", r":4: joint count is 24"),
        ("nan", r":\d+: joint 3 of frame 1 contains NaN"),
        ("empty", r":1: frame count is 0"),
        ("nobody", r"no body in any of the 3 frames"),
        ("text", r":1: expected an integer frame count"),
    ],
)
def test_ntu_corrupt_files_name_file_and_line(tmp_path, problem, match):
    rng = np.random.default_rng(2)
    path = tmp_path / "S001C001P001R001A001.skeleton"
    body = {"1": (np.arange(3), ntu_body(rng, 3))}
    if problem == "truncated":
        write_ntu_skeleton(path, body, 3)
        path.write_text("\n".join(path.read_text().splitlines()[:40]))
    elif problem == "joints":
        write_ntu_skeleton(path, body, 3, joint_count=24)
    elif problem == "nan":
        write_ntu_skeleton(path, body, 3, nan_at=(1, 3))
    elif problem == "empty":
        path.write_text("0\n")
    elif problem == "nobody":
        path.write_text("3\n0\n0\n0\n")
    else:
        path.write_text("frames\n")
    with pytest.raises(ReaderError, match=str(path.name) + ".*" + match if problem != "nobody" else match):
        read_ntu_skeleton(path)


def test_ntu_source_splits_and_missing_list(tmp_path):
    rng = np.random.default_rng(3)
    raw = tmp_path / "raw"
    raw.mkdir()
    for p in (1, 3):
        for c in (1, 2):
            write_ntu_skeleton(
                raw / f"S001C{c:03d}P{p:03d}R001A002.skeleton", {"1": (np.arange(12), ntu_body(rng, 12))}, 12
            )
    (tmp_path / "missing.txt").write_text("S001C001P003R001A002\n")
    src = make_source("ntu", root=raw, missing_list=tmp_path / "missing.txt")
    assert src.keys == ["S001C001P001R001A002", "S001C002P001R001A002", "S001C002P003R001A002"]
    splits = src.splits()
    np.testing.assert_array_equal(splits["xsub_train"], [0, 1])  # subject 1 trains, 3 does not
    np.testing.assert_array_equal(splits["xview_train"], [1, 2])
    x, label = src.load(0)
    assert x.shape == (3, 12, 25, 2) and label == 1 and src.num_classes == 60


# --------------------------------------------------------------------------- Kinetics
def test_kinetics_round_trip_and_person_ranking(tmp_path):
    rng = np.random.default_rng(4)
    poses = rng.uniform(0.1, 0.9, (6, 3, 18, 2))
    scores = np.stack([np.full((6, 18), s) for s in (0.2, 0.9, 0.5)], axis=1)
    scores[2, 1, 4] = 0  # an undetected joint
    path = write_kinetics_json(tmp_path / "abc.json", poses, scores, label_index=7)
    x, label = read_kinetics_json(path)
    assert x.shape == (3, 6, 18, 2) and label == 7
    expected = poses[:, 1, :, 0] - 0.5
    expected[2, 4] = 0  # zeroed where the score is 0
    np.testing.assert_allclose(x[0, :, :, 0], expected, atol=1e-6)  # best score first
    np.testing.assert_allclose(x[2, :, :, 1], scores[:, 2], atol=1e-6)
    assert x[0, 2, 4, 0] == 0 and x[1, 2, 4, 0] == 0


@pytest.mark.parametrize(
    "problem, match",
    [
        ("json", "not valid JSON"),
        ("data", "field 'data'"),
        ("joints", r"data\[0\].skeleton\[0\]: .pose. must be a list of 36 numbers"),
        ("nan", "NaN or Inf"),
        ("empty", "'data' is empty"),
    ],
)
def test_kinetics_corrupt_files(tmp_path, problem, match):
    path = tmp_path / "bad.json"
    poses, scores = np.full((2, 1, 18, 2), 0.5), np.ones((2, 1, 18))
    if problem == "json":
        write_kinetics_json(path, poses, scores)
        path.write_text(path.read_text()[:50])
    elif problem == "data":
        write_kinetics_json(path, poses, scores, drop="data")
    elif problem == "joints":
        write_kinetics_json(path, np.full((2, 1, 17, 2), 0.5), np.ones((2, 1, 17)))
    elif problem == "nan":
        poses[1, 0, 3, 0] = np.nan
        write_kinetics_json(path, poses, scores)
    else:
        path.write_text('{"data": [], "label_index": 1}')
    with pytest.raises(ReaderError, match="bad.json.*" + match):
        read_kinetics_json(path)


def test_kinetics_source_label_file(tmp_path):
    poses, scores = np.full((2, 1, 18, 2), 0.5), np.ones((2, 1, 18))
    for name in ("a", "b", "c"):
        write_kinetics_json(tmp_path / f"{name}.json", poses, scores, label_index=1)
    (tmp_path / "labels.json").write_text(
        '{"a": {"has_skeleton": true, "label_index": 5}, "b": {"has_skeleton": false, "label_index": 6}}'
    )
    src = make_source("kinetics", root=tmp_path, label_file=tmp_path / "labels.json")
    assert src.keys == ["a"] and src.load(0)[1] == 5


# --------------------------------------------------------------------------- PYSKL
def test_pyskl_round_trip_2d_and_3d(tmp_path):
    rng = np.random.default_rng(5)
    kp2 = rng.normal(size=(3, 8, 17, 2)).astype(np.float32)
    score = np.stack([np.full((8, 17), s) for s in (0.1, 0.8, 0.5)]).astype(np.float32)
    kp3 = rng.normal(size=(1, 9, 25, 3)).astype(np.float32)
    anns = [
        {"frame_dir": "v1", "label": 2, "keypoint": kp2, "keypoint_score": score, "total_frames": 8},
        {"frame_dir": "v2", "label": 0, "keypoint": kp2[:1], "total_frames": 8},
    ]
    path = write_pyskl_pickle(
        tmp_path / "coco.pkl", anns, {"xsub_train": ["v2"], "xsub_val": ["v1"], "other": ["v1"]}
    )
    src = make_source("pyskl", root=path, split_prefix="xsub")
    assert src.layout.name == "coco17" and src.num_coords == 2
    x, label = src.load(0)
    assert x.shape == (3, 8, 17, 2) and label == 2
    np.testing.assert_allclose(x[:2, :, :, 0], kp2[1].transpose(2, 0, 1))
    np.testing.assert_allclose(x[2, :, :, 1], score[2])
    assert set(src.splits()) == {"xsub_train", "xsub_val"}
    np.testing.assert_array_equal(src.splits()["xsub_train"], [1])
    assert np.all(src.load(1)[0][2, :, :, 0] == 1)  # no scores given -> confidence 1
    x3 = annotation_to_clip({"keypoint": kp3, "label": 1}, "here")
    np.testing.assert_allclose(x3[..., 0], kp3[0].transpose(2, 0, 1))


@pytest.mark.parametrize(
    "ann, match",
    [
        ({"label": 1}, "field 'keypoint' is missing"),
        ({"label": 1, "keypoint": np.zeros((1, 4, 17))}, r"must be \(M, T, V, 2\|3\)"),
        ({"label": 1, "keypoint": np.zeros((1, 0, 17, 2))}, "is empty"),
        ({"label": 1, "keypoint": np.full((1, 2, 17, 2), np.nan)}, "NaN or Inf"),
        (
            {"label": 1, "keypoint": np.zeros((1, 2, 17, 2)), "keypoint_score": np.zeros((1, 3, 17))},
            "keypoint_score",
        ),
        ({"label": 1, "keypoint": np.zeros((1, 2, 25, 3))}, "has 25 joints, the layout expects 17"),
    ],
)
def test_pyskl_bad_annotations(tmp_path, ann, match):
    good = {"frame_dir": "ok", "label": 0, "keypoint": np.zeros((1, 2, 17, 2))}
    path = write_pyskl_pickle(
        tmp_path / "a.pkl", [good, {"frame_dir": "bad", **ann}], {"train": ["ok", "bad"]}
    )
    src = make_source("pyskl", root=path)
    with pytest.raises(ReaderError, match=r"a.pkl: annotations\[1\] \(bad\).*" + match):
        src.load(1)


def test_pyskl_truncated_pickle(tmp_path):
    path = write_pyskl_pickle(
        tmp_path / "t.pkl", [{"frame_dir": "x", "label": 0, "keypoint": np.zeros((1, 2, 17, 2))}], {}
    )
    path.write_bytes(path.read_bytes()[:40])
    with pytest.raises(ReaderError, match="t.pkl: not a readable pickle"):
        make_source("pyskl", root=path)


# --------------------------------------------------------------------------- Penn Action
def test_penn_round_trip_and_errors(tmp_path):
    rng = np.random.default_rng(6)
    x, y = rng.uniform(0, 640, (5, 13)), rng.uniform(0, 480, (5, 13))
    vis = np.ones((5, 13))
    vis[2, 3] = 0
    path = write_penn_mat(tmp_path / "0001.mat", x, y, vis, action="pushup", train=-1)
    clip, label, train = read_penn_mat(path)
    assert clip.shape == (3, 5, 13, 1) and label == 9 and train is False
    np.testing.assert_allclose(clip[0, :, :, 0][vis > 0], (x / 640 - 0.5)[vis > 0], rtol=1e-5)
    assert clip[0, 2, 3, 0] == 0 and clip[2, 2, 3, 0] == 0
    write_penn_mat(tmp_path / "0002.mat", x[:, :12], y[:, :12], vis[:, :12])
    with pytest.raises(ReaderError, match=r"0002.mat: field 'x' must be \(T, 13\)"):
        read_penn_mat(tmp_path / "0002.mat")
    write_penn_mat(tmp_path / "0003.mat", x, y, vis, action="dancing")
    with pytest.raises(ReaderError, match="0003.mat: field 'action' is 'dancing'"):
        read_penn_mat(tmp_path / "0003.mat")
    (tmp_path / "0004.mat").write_bytes(b"MATLAB 5.0 garbage")
    with pytest.raises(ReaderError, match="0004.mat: not a readable .mat"):
        read_penn_mat(tmp_path / "0004.mat")
    src = make_source("penn", root=tmp_path)
    np.testing.assert_array_equal(src.splits()["train"], [1, 2])


# --------------------------------------------------------------------------- untrusted files
class _Payload:
    """Unpickling calls open(marker, 'w'): the marker appears only if code from the pickle ran."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


def _valid_annotation(frame_dir="v1"):
    return {
        "frame_dir": frame_dir,
        "label": 1,
        "keypoint": np.ones((1, 4, 17, 2), np.float32),
        "keypoint_score": np.ones((1, 4, 17), np.float32),
    }


@pytest.mark.parametrize("where", ["top", "annotation", "keypoint"])
def test_pyskl_malicious_pickle_is_refused_and_never_runs(tmp_path, where):
    import pickle

    marker = tmp_path / "EXECUTED"
    ann = _valid_annotation()
    content = {"split": {}, "annotations": [ann]}
    if where == "top":
        content = _Payload(marker)
    elif where == "annotation":
        content["annotations"].append(_Payload(marker))
    else:
        ann["keypoint"] = _Payload(marker)
    path = tmp_path / "evil.pkl"
    path.write_bytes(pickle.dumps(content))
    with pytest.raises(ReaderError, match=r"evil.pkl: the pickle asks for io.open.*refused.*--trust-pickle"):
        make_source("pyskl", root=path)
    assert not marker.exists()


def test_pyskl_malicious_pickle_through_the_cli_and_the_trust_opt_in(tmp_path, capsys):
    import pickle

    from skdcore.cli import main

    marker = tmp_path / "EXECUTED"
    path = tmp_path / "evil.pkl"
    path.write_bytes(pickle.dumps({"split": {}, "annotations": [_valid_annotation()], "x": _Payload(marker)}))
    assert main(["prepare", "--source", "pyskl", "--input", str(path), "--out", str(tmp_path / "out")]) == 2
    assert "asks for io.open" in capsys.readouterr().err and not marker.exists()
    make_source(
        "pyskl", root=path, trust_pickle=True
    )  # the explicit opt-out is plain pickle: the payload runs
    assert marker.exists()


@pytest.mark.parametrize("protocol", [2, 4, 5])
def test_pyskl_restricted_loader_reads_what_annotation_files_hold(tmp_path, protocol):
    import collections
    import pickle

    from skdcore.data.readers import load_pickle

    content = {
        "split": {"train": ["v1"]},
        "annotations": [_valid_annotation()],
        "tags": {"a", "b"},
        "order": collections.OrderedDict(a=1),
        "shape": (480, 640),
        "raw": b"\x00\xff",
        "f": np.float32(2.5),
        "n": np.int64(7),
        "c": 1 + 2j,
        "halves": np.zeros((2, 3), np.float16),
    }
    payload = pickle.dumps(content, protocol=protocol)
    if protocol == 2:  # as written by numpy 1.x
        payload = payload.replace(b"numpy._core.multiarray\n", b"numpy.core.multiarray\n")
    (tmp_path / "a.pkl").write_bytes(payload)
    got = load_pickle(tmp_path / "a.pkl")
    assert got["tags"] == {"a", "b"} and got["order"] == {"a": 1} and got["raw"] == b"\x00\xff"
    assert got["f"] == np.float32(2.5) and got["n"] == 7 and got["shape"] == (480, 640) and got["c"] == 1 + 2j
    np.testing.assert_array_equal(got["annotations"][0]["keypoint"], np.ones((1, 4, 17, 2), np.float32))
    assert got["halves"].dtype == np.float16 and got["halves"].shape == (2, 3)


@pytest.mark.parametrize(
    "payload, match",
    [
        (b"\x80\x04\x8e" + (10**12).to_bytes(8, "little") + b"abc.", r"expected 1000000000000 bytes"),
        (b"\x80\x04\x8d" + (10**12).to_bytes(8, "little") + b"abc.", r"expected 1000000000000 bytes"),
        (b"\x80\x02cnumpy\nndarray\nK\x05\x85R.", "not a readable pickle"),  # ndarray(5): would allocate
        (
            b"\x80\x02cbuiltins\nbytearray\nJ\x00\x00\x00\x7f\x85R.",
            "not a readable pickle",
        ),  # bytearray(2**31)
        (b"\x80\x02cposix\nsystem\nX\x02\x00\x00\x00ls\x85R.", "asks for posix.system"),
    ],
)
def test_pyskl_pickle_declaring_huge_sizes_or_calls_is_refused_at_once(tmp_path, payload, match):
    from skdcore.data.readers import load_pickle

    (tmp_path / "big.pkl").write_bytes(payload)
    with pytest.raises(ReaderError, match="big.pkl: .*" + match):
        load_pickle(tmp_path / "big.pkl")


def test_pyskl_memo_amplified_lists_are_capped(tmp_path):
    rows = [[[[0.0, 0.0]] * 17] * 100_000] * 100_000  # 3.4e11 numbers from ~1 MB of memo references
    path = write_pyskl_pickle(tmp_path / "amp.pkl", [{"frame_dir": "a", "label": 0, "keypoint": rows}], {})
    # refused when the source opens: more keypoint values than the file has bytes
    with pytest.raises(ReaderError, match=r"amp.pkl: .*more keypoint values \(\d+\+\) than the file has"):
        make_source("pyskl", root=path)


def test_kinetics_deep_json_and_type_confused_fields(tmp_path):
    path = tmp_path / "deep.json"
    path.write_text('{"data": ' + "[" * 100_000 + "]" * 100_000 + "}")
    with pytest.raises(
        ReaderError, match=r"deep.json: JSON nested more than 64 levels deep \(the limit\)"
    ):
        read_kinetics_json(path)
    for frame, match in [
        ("[1, 2]", r"data\[0\] is a list"),
        ('{"frame_index": "1"}', r"data\[0\].frame_index is '1'"),
        ('{"frame_index": 1, "skeleton": {"pose": 1}}', r"data\[0\].skeleton is a dict"),
        (
            '{"frame_index": 1, "skeleton": [{"pose": [1e39], "score": [1]}]}',
            r"data\[0\].skeleton\[0\]: 'pose' must be a list of 36 numbers",
        ),
    ]:
        path.write_text('{"data": [' + frame + '], "label_index": 1}')
        with pytest.raises(ReaderError, match="deep.json: " + match):
            read_kinetics_json(path)
    pose = [1e39] * 36  # finite in JSON (float64), infinite as float32
    path.write_text(
        json.dumps({"data": [{"frame_index": 1, "skeleton": [{"pose": pose, "score": [1] * 18}]}]})
    )
    with pytest.raises(
        ReaderError, match=r"pose/score contains NaN or Inf \(or values beyond float32's range\)"
    ):
        read_kinetics_json(path)


@pytest.mark.parametrize(
    "first_line, match",
    [
        ("1000000000000", "frame count is 1000000000000, more than the limit"),
        ("2\n1000000", "body count of frame 0 is 1000000, more than the limit"),
        ("1" * 5000, "line longer than 4096 characters"),
    ],
)
def test_ntu_huge_declared_counts_are_refused_before_allocating(tmp_path, first_line, match):
    path = tmp_path / "S001C001P001R001A001.skeleton"
    path.write_text(first_line + "\n")
    with pytest.raises(ReaderError, match="S001C001P001R001A001.skeleton:.*" + match):
        read_ntu_skeleton(path)


@pytest.mark.parametrize(
    "dims, match",
    [((0, 0), "'dimensions' must start with the image height and width"), ((-1, 640), "'dimensions'")],
)
def test_penn_zero_dimensions_are_an_error_not_inf(tmp_path, dims, match):
    x = np.full((5, 13), 100.0)
    write_penn_mat(tmp_path / "0001.mat", x, x, np.ones((5, 13)), dims=dims)
    with pytest.raises(ReaderError, match="0001.mat: field " + match):
        read_penn_mat(tmp_path / "0001.mat")


def test_penn_parser_crash_or_hang_costs_one_file(tmp_path):
    import sys

    from skdcore.data.readers import mat_worker

    x = np.full((5, 13), 100.0)
    path = write_penn_mat(tmp_path / "0001.mat", x, x, np.ones((5, 13)))

    class Crashing(mat_worker.MatParser):
        def _start(self):
            import subprocess

            code = "import os, signal, sys; sys.stdin.readline(); os.kill(os.getpid(), signal.SIGSEGV)"
            return subprocess.Popen(
                [sys.executable, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE
            )

    class Hanging(Crashing):
        def _start(self):
            import subprocess

            return subprocess.Popen(
                [sys.executable, "-c", "import time; time.sleep(60)"],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
            )

    with pytest.raises(
        ReaderError,
        match=r"0001.mat: not a readable .mat file \(scipy crashed the parser: killed by signal 11\)",
    ):
        Crashing().load(path)
    hanging = Hanging(timeout_s=0.5)
    with pytest.raises(ReaderError, match=r"0001.mat: .*scipy took longer than 0.5 s"):
        hanging.load(path)
    assert hanging.child is None  # killed; the next call starts a fresh child
    arrays, kinds = mat_worker.MatParser().load(path)
    assert kinds["x"] == "numeric" and arrays["x"].shape == (5, 13)
