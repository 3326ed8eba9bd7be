import subprocess
import sys

import numpy as np
import pytest

from skdcore.data import lq as lqmod
from skdcore.data.lq import (
    Compose,
    ConfidenceNoise,
    FrameDrop,
    GaussianJitter,
    JointSubset,
    Quantise,
    SKDOcclusion,
    build_lq,
    cut_or_pad,
    impute_window_mean,
    impute_window_mean_reference,
    sample_rng,
)
from skdcore.layouts import NTU25


def brute_force_impute(series: np.ndarray, window: int) -> np.ndarray:
    """Literal per-element loop of step 3 of LQ generation in docs/method.md, for one 1-D series."""
    out = series.copy()
    T = len(series)
    for t in range(T):
        if not np.isnan(series[t]):
            continue
        vals = [series[s] for s in range(t - window, t + window + 1)
                if s != t and 0 <= s < T and not np.isnan(series[s])]
        out[t] = np.mean(vals) if vals else np.nan
    return out


def random_clip(rng, C=3, T=40, V=25, M=2, absent_person=True):
    x = rng.normal(0, 1, (C, T, V, M)).astype(np.float32)
    if absent_person:
        x[..., 1] = 0
    return x


@pytest.mark.parametrize("window", [0, 1, 3, 5])
def test_reference_imputation_matches_brute_force(window):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(6, 17))
    x[rng.random(x.shape) < 0.6] = np.nan
    expected = np.stack([brute_force_impute(row, window) for row in x])
    np.testing.assert_allclose(impute_window_mean_reference(x, window), expected, rtol=1e-12, equal_nan=True)


def test_imputation_uses_pre_imputation_values_only():
    x = np.array([1.0, np.nan, np.nan, np.nan, np.nan, np.nan, np.nan, np.nan, 9.0])
    out = impute_window_mean_reference(x, 3)
    # frame 4 has neighbours 1..7, all NaN before imputation -> stays NaN (no chaining)
    assert np.isnan(out[4])
    assert out[1] == 1.0 and out[3] == 1.0 and out[5] == 9.0 and out[7] == 9.0


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_dispatching_imputation_equals_reference(dtype):
    rng = np.random.default_rng(1)
    x = rng.normal(size=(3, 25, 2, 64)).astype(dtype)
    x[rng.random(x.shape) < 0.6] = np.nan
    got = impute_window_mean(x, 3)
    tol = 1e-6 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(got, impute_window_mean_reference(x, 3), rtol=tol, atol=tol, equal_nan=True)
    assert got.dtype == dtype


def test_skd_occlusion_rate_and_semantics():
    rng = np.random.default_rng(2)
    x = random_clip(rng, T=300)
    gen = SKDOcclusion(p=0.6, window=3)
    mask = gen.occlusion_mask(x.shape, sample_rng(5, 0))
    assert abs(mask.mean() - 0.6) < 0.01  # 15000 Bernoulli draws: std ~0.004
    out = gen(x, sample_rng(5, 0))
    # same generator stream -> the occluded joints of the present person are exactly the imputed ones
    kept = ~mask[..., 0]
    np.testing.assert_array_equal(out[:, kept, 0], x[:, kept, 0])
    occluded = x.copy()
    occluded[:, mask] = 0
    occluded[occluded == 0] = np.nan
    imputed = impute_window_mean_reference(np.moveaxis(occluded, 1, -1), 3)
    expected = np.nan_to_num(np.moveaxis(imputed, -1, 1))
    np.testing.assert_allclose(out, expected, rtol=1e-6, atol=1e-6)
    assert np.all(out[..., 1] == 0), "an absent (zero) person stays zero"
    assert not np.isnan(out).any()


def test_skd_occlusion_deterministic_by_seed():
    x = random_clip(np.random.default_rng(3))
    gen = SKDOcclusion()
    np.testing.assert_array_equal(gen(x, sample_rng(7, 4)), gen(x, sample_rng(7, 4)))
    assert not np.array_equal(gen(x, sample_rng(7, 4)), gen(x, sample_rng(8, 4)))
    assert not np.array_equal(gen(x, sample_rng(7, 4)), gen(x, sample_rng(7, 5)))
    assert not np.array_equal(gen(x, sample_rng(7, 4, epoch=1)), gen(x, sample_rng(7, 4, epoch=2)))


def test_cut_or_pad_reference_indices():
    T = 257
    x = np.arange(T, dtype=np.float32)[None, :, None, None] + 1
    out = cut_or_pad(x, 100)
    np.testing.assert_array_equal(out[0, :, 0, 0], [int(a * T / 100) + 1 for a in range(100)])
    short = cut_or_pad(x[:, :30], 100)
    assert short.shape == (1, 100, 1, 1)
    np.testing.assert_array_equal(short[0, :30, 0, 0], np.arange(1, 31))
    assert np.all(short[:, 30:] == 0)


def test_gaussian_jitter_keeps_absent_and_has_sigma():
    x = random_clip(np.random.default_rng(4), T=200)
    out = GaussianJitter(0.1)(x, np.random.default_rng(0))
    diff = (out - x)[..., 0]
    assert abs(diff.std() - 0.1) < 0.005
    assert np.all(out[..., 1] == 0)


def test_frame_drop_interpolates_linearly():
    T = 50
    x = np.zeros((3, T, 2, 1), dtype=np.float32)
    x[0, :, :, 0] = np.linspace(1, 50, T)[:, None]
    out = FrameDrop(0.5)(x, np.random.default_rng(1))
    # a linear ramp survives linear re-interpolation except before/after the kept range
    inner = slice(5, 45)
    np.testing.assert_allclose(out[0, inner], x[0, inner], rtol=1e-5)
    with pytest.raises(ValueError, match="FrameDrop: p"):
        FrameDrop(1.0)


def test_quantise_and_joint_subset():
    x = random_clip(np.random.default_rng(5))
    q = Quantise(0.25)(x, None)
    np.testing.assert_allclose(q / 0.25, np.round(q / 0.25), atol=1e-5)
    keep = ["spine_base", "spine_shoulder", "left_wrist", "right_wrist", "left_ankle", "right_ankle", "head"]
    sub = JointSubset("ntu25", keep)
    out = sub(x, None)
    for name in keep:
        j = NTU25.index(name)
        np.testing.assert_array_equal(out[:, :, j], x[:, :, j])
    # left_hand (not kept) copies its nearest kept joint: left_wrist
    np.testing.assert_array_equal(out[:, :, NTU25.index("left_hand")], x[:, :, NTU25.index("left_wrist")])
    with pytest.raises(KeyError, match="no joint 'tail'"):
        JointSubset("ntu25", ["tail"])


def test_confidence_noise_scales_with_confidence():
    rng = np.random.default_rng(6)
    x = np.zeros((3, 400, 18, 1), dtype=np.float32)
    x[0:2] = 0.1
    x[2, :, :9] = 1.0  # confident joints: no noise
    x[2, :, 9:] = 0.5
    out = ConfidenceNoise(0.2)(x, rng)
    np.testing.assert_array_equal(out[:2, :, :9], x[:2, :, :9])
    assert abs((out - x)[:2, :, 9:].std() - 0.1) < 0.01
    np.testing.assert_array_equal(out[2], x[2])
    with pytest.raises(ValueError, match="score channel"):
        ConfidenceNoise(score_channel=5)(x, rng)


def test_compose_and_build_from_config_round_trip():
    gen = Compose([GaussianJitter(0.01), SKDOcclusion(0.3, 2), Quantise(0.01)])
    rebuilt = build_lq(gen.config())
    x = random_clip(np.random.default_rng(7))
    np.testing.assert_array_equal(gen(x, sample_rng(1, 2)), rebuilt(x, sample_rng(1, 2)))
    assert build_lq(None).config() == {"name": "skd_occlusion", "p": 0.6, "window": 3}
    with pytest.raises(ValueError, match="unknown LQ generator 'blur'"):
        build_lq({"name": "blur"})
    with pytest.raises(ValueError, match="bad parameters for LQ generator 'quantise'"):
        build_lq({"name": "quantise", "size": 2})


def test_clip_shape_errors():
    with pytest.raises(ValueError, match=r"\(C, T, V, M\)"):
        SKDOcclusion()(np.zeros((4, 3, 10, 25, 2)), np.random.default_rng(0))
    with pytest.raises(ValueError, match="p must be a probability"):
        SKDOcclusion(p=1.5)


def test_dtypes_the_kernel_does_not_take_use_the_numpy_path():
    x = np.array([[1.0, np.nan, 3.0]], dtype=np.float16)
    out = lqmod.impute_window_mean(x, 1)
    assert out.dtype == np.float16
    np.testing.assert_allclose(out, [[1.0, 2.0, 3.0]])
    clip = np.zeros((3, 9, 25, 2), dtype=np.float16)
    clip[:, ::2] = 1.0
    clip[clip == 0] = np.nan
    np.testing.assert_allclose(lqmod.impute_clip(clip, 1), np.ones_like(clip))


def test_a_missing_prep_module_is_an_error_not_a_silent_fallback():
    # the package is built with skdcore._prep; without it the install is broken and says so
    code = (
        "import sys\n"
        "import numpy as np\n"
        "import skdcore\n"
        "sys.modules['skdcore._prep'] = None  # as if the extension were missing\n"
        "from skdcore.data.lq import impute_window_mean\n"
        "try:\n"
        "    impute_window_mean(np.array([[1.0, np.nan, 3.0]]), 1)\n"
        "except ImportError:\n"
        "    print('ImportError')\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.stdout.strip() == "ImportError", result.stdout + result.stderr


def test_compiled_kernel_matches_reference_on_clips():
    rng = np.random.default_rng(9)
    clip = rng.normal(size=(3, 120, 25, 2)).astype(np.float32)
    clip[rng.random(clip.shape) < 0.6] = np.nan
    expected = np.moveaxis(impute_window_mean_reference(np.moveaxis(clip, 1, -1), 3), -1, 1)
    np.testing.assert_allclose(lqmod.impute_clip(clip, 3), expected, rtol=1e-6, atol=1e-6, equal_nan=True)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("T, p, window", [(300, 0.6, 3), (7, 0.9, 3), (50, 0.3, 0), (40, 1.0, 2)])
def test_fused_compiled_occlusion_equals_numpy_steps(dtype, T, p, window):
    if lqmod.compiled_prep_kernel("skd_occlude_impute") is None:
        pytest.skip("skdcore._prep not built")
    rng = np.random.default_rng(T)
    x = random_clip(rng, T=T).astype(dtype)
    x[0, 3, 4, 0] = 0.0  # a genuine zero coordinate is missing too (reference step 2)
    x[1, 5 % T, 6, 0] = np.nan  # so is a NaN
    gen = SKDOcclusion(p, window)
    got = gen(x, sample_rng(0, T))
    expected = gen.reference(x, gen.occlusion_mask(x.shape, sample_rng(0, T)))
    np.testing.assert_allclose(got, expected, rtol=1e-6, atol=1e-7)
    assert got.dtype == dtype and not np.isnan(got).any()


def test_fused_kernel_rejects_bad_mask():
    fused = lqmod.compiled_prep_kernel("skd_occlude_impute")
    if fused is None:
        pytest.skip("skdcore._prep not built")
    with pytest.raises(ValueError, match=r"mask must be \(T, inner\) = \(10, 50\)"):
        fused(np.zeros((3, 10, 50), np.float32), np.zeros((10, 49), bool), 3)
