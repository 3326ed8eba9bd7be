"""UTD-MHAD converter: a tiny .mat folder written here -> utd_mhad.npz + layout.yaml -> skd prepare."""

import numpy as np
import pytest
import scipy.io

from skdcore.data.converters import utd_mhad
from skdcore.data.prepare import prepare_dataset
from skdcore.data.readers import ArraySource
from skdcore.layouts import load_layout

# (action, subject, trial, frames)
CLIPS = [(1, 1, 1, 41), (1, 2, 1, 50), (27, 3, 2, 45), (5, 4, 1, 60), (2, 5, 1, 44), (2, 8, 4, 43)]


def write_folder(folder, clips=CLIPS, seed=0):
    rng = np.random.default_rng(seed)
    skeletons = {}
    folder.mkdir(parents=True, exist_ok=True)
    for action, subject, trial, frames in clips:
        skel = rng.normal(size=(20, 3, frames))
        scipy.io.savemat(folder / f"a{action}_s{subject}_t{trial}_skeleton.mat", {"d_skel": skel})
        skeletons[(action, subject, trial)] = skel
    (folder / "Skeleton_joint_order.txt").write_text("1. head;\n")
    return skeletons


def test_convert_keeps_clips_labels_subjects_and_the_cross_subject_split(tmp_path):
    skeletons = write_folder(tmp_path / "UTD" / "Skeleton")
    counts = utd_mhad.convert(tmp_path / "UTD", tmp_path / "out", log=lambda _: None)
    assert counts == {"clips": 6, "skipped": 0, "train": 3, "test": 3, "frames": [41, 60]}
    with np.load(tmp_path / "out" / "utd_mhad.npz", allow_pickle=False) as npz:
        x, lengths, labels = npz["x"], npz["lengths"], npz["labels"]
        subjects, split, names = npz["subjects"], npz["split"], npz["label_names"]
    order = sorted(CLIPS)  # files sorted by (action, subject, trial)
    assert x.shape == (6, 3, 60, 20, 1) and x.dtype == np.float32
    assert lengths.tolist() == [c[3] for c in order]
    assert labels.tolist() == [c[0] - 1 for c in order]
    assert subjects.tolist() == [c[1] for c in order]
    assert split.tolist() == ["train" if c[1] in (1, 3, 5, 7) else "test" for c in order]
    assert len(names) == 27 and names[0] == "swipe_left" and names[26] == "squat"
    for i, (action, subject, trial, frames) in enumerate(order):
        expected = skeletons[(action, subject, trial)].transpose(1, 2, 0).astype(np.float32)  # (3, T, 20)
        np.testing.assert_array_equal(x[i, :, :frames, :, 0], expected)
        assert not x[i, :, frames:].any()  # zero padding after the clip
    layout = load_layout(tmp_path / "out" / "layout.yaml")
    assert layout.num_joints == 20 and len(layout.edges) == 19
    assert layout.joint_names[layout.center] == "spine"
    assert {layout.joint_names[a] + "-" + layout.joint_names[b] for a, b in layout.edges} >= {
        "head-shoulder_center",
        "spine-hip_center",
        "left_wrist-left_hand",
        "right_ankle-right_foot",
    }
    source = ArraySource(tmp_path / "out" / "utd_mhad.npz", layout=layout)
    assert source.lengths.tolist() == lengths.tolist()
    assert {k: v.tolist() for k, v in source.splits().items()} == {"train": [0, 2, 5], "test": [1, 3, 4]}


def test_prepared_validation_is_held_out_by_subject(tmp_path):
    clips = [(a, s, t, 41 + a) for a in (1, 2) for s in range(1, 9) for t in (1, 2)]
    write_folder(tmp_path / "Skeleton", clips)
    utd_mhad.convert(tmp_path / "Skeleton", tmp_path / "out", log=lambda _: None)
    source = ArraySource(tmp_path / "out" / "utd_mhad.npz", layout=tmp_path / "out" / "layout.yaml")
    prepare_dataset(tmp_path / "prep", source, val_fraction=0.25, num_frames=48)
    with np.load(tmp_path / "out" / "utd_mhad.npz", allow_pickle=False) as npz:
        subjects = npz["subjects"]
    split = {name: np.load(tmp_path / "prep" / f"split_{name}.npy") for name in ("train", "val", "test")}
    assert set(subjects[split["test"]]) == {2, 4, 6, 8}
    assert set(subjects[split["val"]]) | set(subjects[split["train"]]) == {1, 3, 5, 7}
    assert len(set(subjects[split["val"]])) == 1 and not set(subjects[split["val"]]) & set(
        subjects[split["train"]]
    )


def test_a_damaged_file_is_skipped_and_named(tmp_path):
    write_folder(tmp_path / "Skeleton")
    (tmp_path / "Skeleton" / "a3_s1_t1_skeleton.mat").write_bytes(b"MATLAB 5.0 not really" * 10)
    scipy.io.savemat(tmp_path / "Skeleton" / "a4_s1_t1_skeleton.mat", {"d_skel": np.zeros((25, 3, 9))})
    said = []
    counts = utd_mhad.convert(tmp_path / "Skeleton", tmp_path / "out", log=said.append)
    assert counts["clips"] == 6 and counts["skipped"] == 2
    assert any("a3_s1_t1_skeleton.mat" in s for s in said)
    assert any("a4_s1_t1_skeleton.mat" in s and "(25, 3, 9)" in s for s in said)


def test_command_line_errors_name_the_folder(tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    assert utd_mhad.main([str(tmp_path / "empty"), str(tmp_path / "out")]) == 2
    assert "no a<A>_s<S>_t<T>_skeleton.mat files" in capsys.readouterr().err
    write_folder(tmp_path / "Skeleton")
    assert utd_mhad.main([str(tmp_path / "Skeleton"), str(tmp_path / "out")]) == 0
    assert (
        "6 clips (3 train: subjects 1, 3, 5, 7; 3 test), 41-60 frames, 0 skipped" in capsys.readouterr().out
    )
    with pytest.raises(ValueError, match="action 28 is outside 1..27"):
        write_folder(tmp_path / "bad", [(28, 1, 1, 41)])
        utd_mhad.convert(tmp_path / "bad", tmp_path / "out2")
