"""skdcore.data.lq.impute_window_mean (C++ kernel of skdcore._prep) vs a direct numpy reference."""
import numpy as np
import pytest

from skdcore.data.lq import impute_window_mean as impute_last_axis


def impute_window_mean(x, window=3, axis=-1):
    """lq.impute_window_mean imputes along the last axis; move ``axis`` there and back."""
    return np.ascontiguousarray(np.moveaxis(impute_last_axis(np.moveaxis(x, axis, -1), window), -1, axis))


def impute_reference(x, window, axis):
    """Loop-by-loop restatement of the imputation step of docs/method.md."""
    series = np.moveaxis(x, axis, 0).astype(np.float64)
    out = series.copy()
    T = series.shape[0]
    for t in range(T):
        lo, hi = max(0, t - window), min(T, t + window + 1)
        neighbours = np.delete(series[lo:hi], t - lo, axis=0)
        count = (~np.isnan(neighbours)).sum(axis=0)
        total = np.nansum(neighbours, axis=0)
        with np.errstate(invalid="ignore", divide="ignore"):
            mean = np.where(count > 0, total / np.maximum(count, 1), np.nan)
        out[t] = np.where(np.isnan(series[t]), mean, series[t])
    return np.moveaxis(out, 0, axis).astype(x.dtype)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("window", [0, 1, 3, 10])
@pytest.mark.parametrize("shape,axis", [((3, 40, 25, 2), 1), ((30,), 0), ((5, 17), 0), ((2, 3, 12), -1)])
def test_matches_numpy_reference(dtype, window, shape, axis):
    rng = np.random.default_rng(0)
    x = rng.normal(size=shape).astype(dtype)
    x[rng.random(shape) < 0.6] = np.nan
    out = impute_window_mean(x, window=window, axis=axis)
    assert out.shape == x.shape and out.dtype == x.dtype and out.flags.c_contiguous
    np.testing.assert_allclose(out, impute_reference(x, window, axis), rtol=1e-6, equal_nan=True)


def test_imputed_values_never_feed_each_other():
    x = np.array([1.0, np.nan, np.nan, np.nan, np.nan, np.nan, np.nan, np.nan, np.nan, 9.0])
    out = impute_window_mean(x, window=3, axis=0)
    expected = [1.0, 1.0, 1.0, 1.0, np.nan, np.nan, 9.0, 9.0, 9.0, 9.0]
    np.testing.assert_array_equal(out, expected)


def test_values_present_are_untouched_and_input_not_modified():
    x = np.array([[1.0, np.nan, 3.0]], dtype=np.float32)
    before = x.copy()
    out = impute_window_mean(x, window=1, axis=1)
    np.testing.assert_array_equal(out, [[1.0, 2.0, 3.0]])
    np.testing.assert_array_equal(x, before)


def test_bad_input():
    with pytest.raises(ValueError, match="window must be >= 0"):
        impute_window_mean(np.zeros((3, 4)), window=-1)


@pytest.mark.parametrize("window", [2**62, 2**63 - 1])
def test_huge_window_means_the_whole_series(window):
    # t + window used to overflow int64 and leave every hole NaN (issue #23 item 6).
    rng = np.random.default_rng(1)
    x = rng.normal(size=(2, 9, 3))
    x[rng.random(x.shape) < 0.5] = np.nan
    x[0, 0, 0] = 1.0
    out = impute_window_mean(x, window=window, axis=1)
    np.testing.assert_allclose(out, impute_reference(x, 9, axis=1), rtol=1e-12, equal_nan=True)
    assert not np.isnan(out[0, :, 0]).any()


def test_huge_window_in_the_fused_occlusion_kernel():
    from skdcore.data.lq import compiled_prep_kernel

    fused = compiled_prep_kernel("skd_occlude_impute")
    rng = np.random.default_rng(2)
    clip = rng.normal(size=(3, 9, 4))  # (C, T, inner)
    mask = (rng.random((9, 4)) < 0.6).astype(np.uint8)
    whole = np.asarray(fused(clip, mask, 9))  # a window of T frames already covers the clip
    np.testing.assert_array_equal(np.asarray(fused(clip, mask, 2**63 - 1)), whole)
    assert not np.isnan(whole).any()
