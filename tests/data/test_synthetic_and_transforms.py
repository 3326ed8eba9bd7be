import numpy as np
import pytest

from skdcore.data import (
    ACTION_NAMES,
    align_rotation,
    bones,
    center_on_joint,
    make_synthetic_dataset,
    motion,
    pad_or_loop,
    pre_normalise,
    resample_uniform,
    synthesize_clip,
)
from skdcore.data.skeleton_tree import parents
from skdcore.layouts import NTU25, make_layout


def test_synthetic_shapes_labels_and_determinism():
    clips = make_synthetic_dataset(28, num_frames=32, seed=3)
    assert clips.data.shape == (28, 3, 32, 25, 2) and clips.data.dtype == np.float32
    np.testing.assert_array_equal(clips.labels, np.arange(28) % len(ACTION_NAMES))
    again = make_synthetic_dataset(4, num_frames=32, seed=3, start_index=10)
    np.testing.assert_array_equal(again.data, clips.data[10:14])
    other = make_synthetic_dataset(4, num_frames=32, seed=4, start_index=10)
    assert not np.array_equal(other.data, again.data)
    assert len(ACTION_NAMES) >= 10


def test_synthetic_bone_lengths_constant_within_a_clip():
    # forward kinematics on a tree: without sensor noise every bone keeps its length
    parent = parents(NTU25, root=NTU25.index("spine_base"))
    for index in range(len(ACTION_NAMES)):
        x, label, _ = synthesize_clip(index, num_frames=40, noise_std=0.0, second_person_prob=0.0)
        p = x[..., 0]
        lengths = np.linalg.norm(p - p[:, :, parent], axis=0)  # (T, V)
        np.testing.assert_allclose(lengths, lengths[:1].repeat(40, 0), atol=1e-5,
                                   err_msg=f"bone lengths change in class {ACTION_NAMES[label]}")


def test_synthetic_classes_move_differently_and_subjects_differ():
    x_wave_r, *_ = synthesize_clip(0, noise_std=0.0, second_person_prob=0.0)
    x_wave_l, *_ = synthesize_clip(1, noise_std=0.0, second_person_prob=0.0)
    rw, lw = NTU25.index("right_wrist"), NTU25.index("left_wrist")
    assert x_wave_r[:, :, rw, 0].std(axis=1).sum() > 3 * x_wave_r[:, :, lw, 0].std(axis=1).sum()
    assert x_wave_l[:, :, lw, 0].std(axis=1).sum() > 3 * x_wave_l[:, :, rw, 0].std(axis=1).sum()
    heights = [np.ptp(synthesize_clip(i * 14 + 12, num_classes=14, noise_std=0.0)[0][1, 0, :, 0])
               for i in range(12)]
    assert np.std(heights) > 0.03  # body size varies across subjects


def test_synthetic_second_person_optional():
    clips = make_synthetic_dataset(30, num_frames=16, second_person_prob=1.0)
    assert np.all(np.abs(clips.data[..., 1]).sum(axis=(1, 2, 3)) > 0)
    solo = make_synthetic_dataset(5, num_frames=16, num_persons=1)
    assert solo.data.shape[-1] == 1
    with pytest.raises(ValueError, match=f"num_classes must be in 1..{len(ACTION_NAMES)}"):
        synthesize_clip(0, num_classes=99)


def rotation(rng):
    q, _ = np.linalg.qr(rng.normal(size=(3, 3)))
    return q * np.sign(np.linalg.det(q))


def test_pre_normalise_centres_and_aligns_any_rotation():
    x, *_ = synthesize_clip(3, num_frames=20, noise_std=0.0, second_person_prob=1.0)
    rotated = np.einsum("ij,jtvm->itvm", rotation(np.random.default_rng(0)), x).astype(np.float32)
    a, b = pre_normalise(x, NTU25), pre_normalise(rotated, "ntu25")
    np.testing.assert_allclose(a, b, atol=1e-4)  # the camera rotation is undone
    r = NTU25.roles
    spine = a[:, 0, r["spine_top"], 0] - a[:, 0, r["spine_base"], 0]
    shoulders = a[:, 0, r["left_shoulder"], 0] - a[:, 0, r["right_shoulder"], 0]
    np.testing.assert_allclose(spine[:2], 0, atol=1e-5)
    assert spine[2] > 0 and shoulders[0] > 0 and abs(shoulders[2]) < 1e-5
    np.testing.assert_allclose(a[:, :, NTU25.center, 0], 0, atol=1e-6)


def test_center_keeps_absent_persons_zero_and_scores():
    x = np.zeros((3, 5, 4, 2), dtype=np.float32)
    x[:, :, :, 0] = np.arange(4)[None, None] + 1.0
    layout = make_layout("line", list("abcd"), [(0, 1), (1, 2), (2, 3)], center="b")
    out = center_on_joint(x, layout)
    assert np.all(out[..., 1] == 0)
    np.testing.assert_allclose(out[0, 0, :, 0], [-1, 0, 1, 2])
    scored = center_on_joint(x, layout, num_coords=2)
    np.testing.assert_array_equal(scored[2], x[2])
    assert np.array_equal(align_rotation(x, layout), x)  # no roles -> unchanged


def test_resample_pad_loop():
    x = np.zeros((1, 10, 1, 1), dtype=np.float32)
    x[0, :4, 0, 0] = [1, 2, 3, 4]  # 4 valid frames, then zero padding
    np.testing.assert_allclose(resample_uniform(x, 7)[0, :, 0, 0], [1, 1.5, 2, 2.5, 3, 3.5, 4])
    np.testing.assert_array_equal(pad_or_loop(x, 6, "loop")[0, :, 0, 0], [1, 2, 3, 4, 1, 2])
    np.testing.assert_array_equal(pad_or_loop(x, 6, "edge")[0, :, 0, 0], [1, 2, 3, 4, 4, 4])
    np.testing.assert_array_equal(pad_or_loop(x, 6, "zero")[0, :, 0, 0], [1, 2, 3, 4, 0, 0])
    with pytest.raises(ValueError, match="mode must be"):
        pad_or_loop(x, 6, "mirror")


def test_bones_and_motion_streams():
    x, *_ = synthesize_clip(5, num_frames=12, second_person_prob=0.0)
    b = bones(x, NTU25)
    parent = parents(NTU25)
    j = NTU25.index("left_elbow")
    np.testing.assert_allclose(b[:, :, j, 0], x[:, :, j, 0] - x[:, :, parent[j], 0])
    assert np.all(b[:, :, NTU25.center] == 0) and np.all(b[..., 1] == 0)
    m = motion(x)
    np.testing.assert_allclose(m[:, :-1, :, 0], x[:, 1:, :, 0] - x[:, :-1, :, 0])
    assert np.all(m[:, -1] == 0)
    with pytest.raises(ValueError, match="has 18 joints"):
        bones(x, "openpose18")


def test_synthetic_source_subjects_match_generated_clips():
    from skdcore.data import SyntheticSource

    src = SyntheticSource(num_samples=30, clip_frames=16, seed=2)
    clips = make_synthetic_dataset(30, num_frames=16, seed=2)
    np.testing.assert_array_equal(src.subjects(), clips.subjects)
    splits = src.splits()
    assert np.all(clips.subjects[splits["train"]] < 14) and np.all(clips.subjects[splits["test"]] >= 14)


def test_synthetic_source_train_fraction_sizes_the_test_split():
    """More subjects and a smaller train_fraction: the same 14 training people, a larger test split."""
    from skdcore.data import SyntheticSource

    src = SyntheticSource(num_samples=80, clip_frames=16, seed=2, num_subjects=40, train_fraction=0.35)
    subjects = src.subjects()
    splits = src.splits()
    assert np.all(subjects[splits["train"]] < 14) and np.all(subjects[splits["test"]] >= 14)
    assert len(splits["test"]) > 1.5 * len(splits["train"])
    assert src.config()["train_fraction"] == 0.35
    assert "train_fraction" not in SyntheticSource(num_samples=4).config()  # older manifests still match
    # the clip generator draws the same subject as the split uses
    _, _, subject = synthesize_clip(5, num_frames=16, seed=2, num_subjects=40)
    assert subject == subjects[5]
    for bad in (0.0, 0.01, 0.99, 1.0):
        with pytest.raises(ValueError, match="train_fraction"):
            SyntheticSource(num_samples=4, num_subjects=40, train_fraction=bad)
