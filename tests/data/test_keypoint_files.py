"""Pose-estimator output files -> clips: the formats, tracking, missing joints, errors, `skd prepare`."""

import json

import numpy as np
import pytest
from keypoint_writers import expected_clip, frame_line, moving_people, write_coco, write_lines, write_npz

from skdcore.data.lq import impute_absent
from skdcore.data.readers import ReaderError, read_keypoint_file
from skdcore.data.readers.keypoints import KeypointSource, keypoint_clip
from skdcore.data.readers.person_tracks import frames_to_clip
from skdcore.layouts import get_layout

LAYOUTS = ["coco17", "halpe26", "mediapipe33", "h36m17", "openpose25", "kinect20"]
FORMATS = ["coco", "lines", "npz", "npy"]


def write(fmt, path, keypoints, scores):
    if fmt == "coco":
        return write_coco(path.with_suffix(".json"), keypoints, scores)
    if fmt == "lines":
        return write_lines(path.with_suffix(".jsonl"), keypoints, scores)
    if fmt == "npz":
        return write_npz(path.with_suffix(".npz"), keypoints, scores)
    np.save(path.with_suffix(".npy"), keypoints[:, 0])
    np.save(path.with_name(path.name + "_scores.npy"), scores[:, 0])
    return path.with_suffix(".npy")


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("layout", LAYOUTS)
def test_each_format_and_layout_reads_back_with_low_scores_missing(tmp_path, layout, fmt):
    K = get_layout(layout).num_joints
    dims = 3 if fmt in ("lines", "npz") and layout in ("mediapipe33", "h36m17", "kinect20") else 2
    keypoints, scores = moving_people(12, K, dims=dims, seed=K)
    scores[3, 0, 1] = scores[7, 0, K - 1] = 0.1  # below the threshold: missing
    path = write(fmt, tmp_path / "clip", keypoints, scores)
    frames = read_keypoint_file(path)
    clip = frames_to_clip(frames, K, max_persons=1, where=str(path))
    np.testing.assert_allclose(clip, expected_clip(keypoints, scores), rtol=1e-6)
    assert clip[:, 3, 1].sum() == 0 and clip.shape == (dims + 1, 12, K, 1)


def test_missing_joints_get_the_lq_imputation(tmp_path):
    keypoints, scores = moving_people(10, 17, seed=1)
    scores[4, 0, 5] = 0.0
    path = write_coco(tmp_path / "clip.json", keypoints, scores)
    clip = keypoint_clip(read_keypoint_file(path), get_layout("coco17"), 1, 0.3, 3, str(path))
    raw = expected_clip(keypoints, scores)
    np.testing.assert_allclose(clip, impute_absent(raw, 3), rtol=1e-6)
    # the hole is the mean of frames 1..7 without frame 4 (window 3), for coordinates and score alike
    neighbours = [1, 2, 3, 5, 6, 7]
    expected = np.concatenate([keypoints[neighbours, 0, 5], scores[neighbours, 0, 5, None]], axis=1).mean(0)
    np.testing.assert_allclose(clip[:, 4, 5, 0], expected, rtol=1e-5)


@pytest.mark.parametrize("track_ids", [True, False])
def test_people_keep_their_slots_whatever_order_the_estimator_lists_them(tmp_path, track_ids):
    keypoints, scores = moving_people(15, 17, persons=3, seed=2)
    path = write_coco(tmp_path / "clip.json", keypoints, scores, track_ids=track_ids, shuffle_seed=3)
    frames = read_keypoint_file(path)
    clip = frames_to_clip(frames, 17, max_persons=3)
    expected = expected_clip(keypoints, scores)  # person p in slot p: person 0 came first in frame 0?
    first = [int(np.argmin(np.abs(clip[0, 0, 0, :] - keypoints[0, p, 0, 0]))) for p in range(3)]
    assert sorted(first) == [0, 1, 2]
    np.testing.assert_allclose(clip, expected[..., first], rtol=1e-6)
    # two slots: the third person never enters a taken slot (each slot holds one person throughout)
    two = frames_to_clip(frames, 17, max_persons=2)
    for slot in range(2):
        person = int(np.argmin(np.abs(two[0, 0, 0, slot] - keypoints[0, :, 0, 0])))
        np.testing.assert_allclose(two[..., slot], expected[..., person], rtol=1e-6)


def test_frames_without_people_are_zero_and_gaps_in_image_ids_are_frames(tmp_path):
    keypoints, scores = moving_people(6, 17, seed=4)
    entries = json.loads(write_coco(tmp_path / "c.json", keypoints, scores).read_text())
    entries = [e for e in entries if e["image_id"] != 2]
    (tmp_path / "c.json").write_text(json.dumps(entries))
    clip = frames_to_clip(read_keypoint_file(tmp_path / "c.json"), 17, 1)
    assert clip.shape[1] == 6 and not clip[:, 2].any() and clip[:, 3].any()
    lines = tmp_path / "c.jsonl"
    lines.write_text(frame_line(keypoints[0, 0], scores[0, 0]) + '\n{"landmarks": []}\n[]\n')
    clip = frames_to_clip(read_keypoint_file(lines), 17, 1)
    assert clip.shape[1] == 3 and clip[:, 0].any() and not clip[:, 1:].any()


def test_errors_name_the_file_and_the_fix(tmp_path):
    keypoints, scores = moving_people(4, 17, seed=5)
    coco = write_coco(tmp_path / "c.json", keypoints, scores)
    with pytest.raises(ReaderError, match="c.json frame 0: a person has 17 joints but the layout has 26"):
        frames_to_clip(read_keypoint_file(coco), 26, 1, where=str(coco))
    no_scores = tmp_path / "xy.json"
    no_scores.write_text(json.dumps([{"image_id": 0, "keypoints": [1.0, 2.0] * 17}]))
    with pytest.raises(ReaderError, match="xy.json entry 0: 34 keypoint values is not a multiple of 3"):
        read_keypoint_file(no_scores)
    np.savez(tmp_path / "k.npz", keypoints=keypoints[:, 0])
    with pytest.raises(ReaderError, match="k.npz: no 'scores' array"):
        read_keypoint_file(tmp_path / "k.npz")
    np.save(tmp_path / "lone.npy", keypoints[:, 0])
    with pytest.raises(ReaderError, match="no scores file lone_scores.npy"):
        read_keypoint_file(tmp_path / "lone.npy")
    empty = tmp_path / "e.jsonl"
    empty.write_text("[]\n{}\n")
    with pytest.raises(ReaderError, match="e.jsonl: no person in any of its 2 frames"):
        read_keypoint_file(empty)
    (tmp_path / "none.json").write_text("[]")
    with pytest.raises(ReaderError, match="none.json: no detections"):
        read_keypoint_file(tmp_path / "none.json")
    marks = tmp_path / "m.jsonl"
    marks.write_text(json.dumps({"landmarks": [{"x": 1, "y": 2}] * 3}) + "\n")
    with pytest.raises(ReaderError, match="m.jsonl line 1 person 0 joint 0: landmark has no 'visibility'"):
        read_keypoint_file(marks)
    deep = tmp_path / "d.jsonl"
    deep.write_text("[" * 50 + "]" * 50 + "\n")
    with pytest.raises(ReaderError, match="d.jsonl line 1: JSON nested deeper"):
        read_keypoint_file(deep)
    deep_json = tmp_path / "d.json"
    deep_json.write_text("[" * 100 + "]" * 100)
    with pytest.raises(ReaderError, match="nested more than 64 levels deep"):
        read_keypoint_file(deep_json)
    obj = tmp_path / "o.npz"
    np.savez(obj, keypoints=np.array([None, 1], dtype=object), scores=scores[:, 0])
    with pytest.raises(ReaderError, match="Python objects"):
        read_keypoint_file(obj)
    with pytest.raises(ReaderError, match="unknown keypoint file type '.txt'"):
        read_keypoint_file(tmp_path / "clip.txt")


def write_folder(tmp_path, n=12, K=17):
    folder = tmp_path / "keypoints"
    folder.mkdir()
    rows = ["file,label"]
    for i in range(n):
        keypoints, scores = moving_people(20, K, seed=i)
        keypoints[..., 0] += 20 * np.sin(np.arange(20) * (0.3 if i % 2 else 0.05))[:, None, None]
        name = f"clip{i}.json" if i % 3 == 0 else (f"clip{i}.jsonl" if i % 3 == 1 else f"clip{i}.npz")
        write(
            {"json": "coco", "jsonl": "lines", "npz": "npz"}[name.split(".")[1]],
            folder / f"clip{i}",
            keypoints,
            scores,
        )
        rows.append(f"{name},{'wave' if i % 2 else 'walk'}")
    (tmp_path / "labels.csv").write_text("\n".join(rows) + "\n")
    return folder, tmp_path / "labels.csv"


def test_keypoint_source_and_skd_prepare(tmp_path, capsys):
    from skdcore.cli import main
    from skdcore.data import PairedSkeletonDataset

    folder, labels = write_folder(tmp_path)
    source = KeypointSource(folder, labels, "coco17")
    assert source.label_names == ("walk", "wave") and list(source.labels[:3]) == [0, 1, 0]
    clip, label = source.load(1)
    assert clip.shape == (3, 20, 17, 1) and label == 1
    out = tmp_path / "prepared"
    code = main(
        [
            "prepare",
            "--source",
            "keypoints",
            "--input",
            str(folder),
            "--labels",
            str(labels),
            "--layout",
            "coco17",
            "--num-frames",
            "16",
            "--test-fraction",
            "0.25",
            "--out",
            str(out),
        ]
    )
    assert code == 0, capsys.readouterr().err
    data = PairedSkeletonDataset(out, split="train")
    hq, lq, _ = data[0]
    assert hq.shape == (3, 16, 17, 1) and data.manifest["label_names"] == ["walk", "wave"]
    assert data.manifest["config"]["source"]["imputation_window"] == 3 and data.manifest["num_coords"] == 2


def test_skd_prepare_errors(tmp_path, capsys):
    from skdcore.cli import main

    folder, labels = write_folder(tmp_path, n=3)
    base = ["prepare", "--source", "keypoints", "--input", str(folder), "--out", str(tmp_path / "o")]
    assert main(base + ["--layout", "coco17"]) == 2
    assert "needs --labels labels.csv" in capsys.readouterr().err
    assert main(base + ["--labels", str(labels)]) == 2
    assert "needs --layout" in capsys.readouterr().err
    assert main(base + ["--labels", str(labels), "--layout", "halpe26", "--strict"]) == 2
    assert "clip0.json frame 0: a person has 17 joints but the layout has 26" in capsys.readouterr().err
    labels.write_text("file,label\nmissing.json,0\n")
    assert main(base + ["--labels", str(labels), "--layout", "coco17"]) == 2
    assert "row 2: file 'missing.json' not found" in capsys.readouterr().err


def test_a_malformed_first_file_is_skipped_like_any_other(tmp_path, capsys):
    from skdcore.cli import main

    folder, labels = write_folder(tmp_path, n=6)
    (folder / "clip0.json").write_text('[{"image_id": 0}]')
    out = tmp_path / "o"
    args = ["prepare", "--source", "keypoints", "--input", str(folder), "--labels", str(labels)]
    assert main(args + ["--layout", "coco17", "--num-frames", "8", "--out", str(out)]) == 0
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["counts"]["skipped"] == 1 and "clip0.json entry 0: each entry needs" in str(
        manifest["skipped"]
    )


def test_without_a_score_channel_joints_are_present_unless_all_zero():
    from skdcore.data.readers.keypoint_files import Detection
    from skdcore.data.readers.person_tracks import PersonTracker

    tracker = PersonTracker(1, 3, 3, score_threshold=0.3, scores=False)
    xyz = np.array([[1.0, 2.0, 0.0], [0.0, 0.0, 0.0], [3.0, 1.0, 0.1]], dtype=np.float32)  # z is no score
    np.testing.assert_array_equal(tracker.update([Detection(xyz)])[0], xyz)
    with_scores = PersonTracker(1, 3, 3, score_threshold=0.3)
    np.testing.assert_array_equal(with_scores.update([Detection(xyz)])[0], np.zeros((3, 3)))


@pytest.mark.parametrize("fmt", ["coco", "lines", "npz"])
def test_mutated_files_read_cleanly_or_raise_a_reader_error(tmp_path, fmt):
    """Seeded byte flips, insertions and truncations of a valid file: a finite clip or a ReaderError."""
    import random

    keypoints, scores = moving_people(6, 17, persons=2, seed=7)
    writer = {"coco": write_coco, "lines": write_lines, "npz": write_npz}[fmt]
    valid = writer(
        tmp_path / f"valid.{ {'coco': 'json', 'lines': 'jsonl', 'npz': 'npz'}[fmt] }", keypoints, scores
    )
    data = valid.read_bytes()
    rng = random.Random(0)
    outcomes = {"ok": 0, "reader_error": 0}
    for case in range(150):
        mutated = bytearray(data)
        for _ in range(rng.randint(1, 4)):
            at = rng.randrange(len(mutated))
            kind = rng.random()
            if kind < 0.5:
                mutated[at] = rng.choice(b'0123456789.-e[]{}",:x \x00\xff')
            elif kind < 0.8:
                mutated[at:at] = bytes(rng.choice(b"[]{}9") for _ in range(rng.randint(1, 50)))
            else:
                del mutated[at:]
                break
        path = tmp_path / f"case{case}{valid.suffix}"
        path.write_bytes(bytes(mutated))
        try:
            clip = frames_to_clip(read_keypoint_file(path), 17, 2, where=str(path))
        except ReaderError as error:
            assert str(path) in str(error)
            outcomes["reader_error"] += 1
        else:
            assert np.isfinite(clip).all() and clip.dtype == np.float32
            outcomes["ok"] += 1
    assert (
        outcomes["ok"] >= 1
        and outcomes["reader_error"] >= 30
        and outcomes["ok"] + outcomes["reader_error"] == 150
    ), outcomes


def test_a_frame_line_may_hold_several_people_with_flat_coco_keypoints():
    from skdcore.data.readers.keypoint_files import parse_frame_line

    keypoints, scores = moving_people(1, 17, persons=2, seed=3)
    people = [
        {
            "keypoints": np.concatenate([keypoints[0, p], scores[0, p, :, None]], 1).ravel().tolist(),
            "track_id": p,
        }
        for p in range(2)
    ]
    detections = parse_frame_line(json.dumps({"people": people}), "line")
    assert [d.track_id for d in detections] == [0, 1]
    np.testing.assert_allclose(detections[1].keypoints[:, :2], keypoints[0, 1], rtol=1e-6)
    np.testing.assert_allclose(detections[1].keypoints[:, 2], scores[0, 1], rtol=1e-6)
    with pytest.raises(ReaderError, match="line person 0: 34 flat keypoint values is not a multiple of 3"):
        parse_frame_line(json.dumps({"people": [{"keypoints": [1.0] * 34}]}), "line")
