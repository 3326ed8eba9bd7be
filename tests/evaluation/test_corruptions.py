"""Batched LQ corruptions for robustness curves: per-clip generators' maths, seeded, absent joints kept."""
import numpy as np
import pytest

from skdcore.data.lq import SKDOcclusion
from skdcore.evaluation.corruptions import CORRUPTIONS, DEFAULT_GRID, corrupt


@pytest.fixture
def clips():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((4, 3, 20, 25, 2)).astype(np.float32)
    x[1, :, 15:] = 0  # zero-padded frames
    x[2, :, :, :, 1] = 0  # an absent second person
    return x


def test_batched_occlusion_is_the_per_clip_skd_reference(clips):
    out = corrupt("occlusion", clips, 0.6, np.random.default_rng(1))
    mask = np.random.default_rng(1).random((4, 20, 25, 2)) < 0.6  # the draw corrupt() makes
    expected = np.stack([SKDOcclusion(0.6, 3).reference(clip, m) for clip, m in zip(clips, mask)])
    np.testing.assert_array_equal(out, expected)
    assert 0.3 < np.mean(out != clips) < 0.9  # it did occlude (imputation restores some values)


@pytest.mark.parametrize("name", sorted(CORRUPTIONS))
def test_every_corruption_is_seeded_keeps_absent_joints_and_none_at_zero(clips, name):
    severity = DEFAULT_GRID[name][3]
    a = corrupt(name, clips, severity, np.random.default_rng(5))
    b = corrupt(name, clips, severity, np.random.default_rng(5))
    np.testing.assert_array_equal(a, b)
    assert a.dtype == np.float32 and a.shape == clips.shape
    assert not np.array_equal(a, clips)
    absent = ~np.any(clips != 0, axis=1, keepdims=True) & np.ones_like(clips, dtype=bool)
    if name != "occlusion":  # NB: SKD's imputation fills zeros next to real frames, as the reference does
        assert np.all(a[absent] == 0)
    np.testing.assert_array_equal(corrupt(name, clips, 0.0, np.random.default_rng(5)), clips)


def test_confidence_noise_spares_the_score_channel_and_confident_joints():
    x = np.ones((2, 3, 8, 18, 1), dtype=np.float32)
    x[:, 2] = 1.0  # fully confident: no noise at all
    confident = corrupt("confidence_noise", x, 0.5, np.random.default_rng(0), score_channel=2)
    np.testing.assert_array_equal(confident, x)
    x[:, 2] = 0.5
    out = corrupt("confidence_noise", x, 0.5, np.random.default_rng(0), score_channel=2)
    np.testing.assert_array_equal(out[:, 2], x[:, 2])
    assert 0.15 < float(np.std(out[:, :2] - 1.0)) < 0.35  # sigma * (1 - 0.5) = 0.25


def test_unknown_corruption_names_the_choices(clips):
    with pytest.raises(ValueError, match="unknown corruption 'blur'.*occlusion"):
        corrupt("blur", clips, 0.1, np.random.default_rng(0))
