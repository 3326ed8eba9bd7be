"""skdcore.evaluation.paired (used by `skd sweep` and benchmarks/seed_sweep.py) on hand-made numbers."""
import math

import pytest

from skdcore.evaluation.paired import paired_stats, t_quantile, t_test_p


def test_paired_stats_values():
    # diffs = 0.02, 0.01, 0.00, 0.03, -0.01: mean 0.01, sample std sqrt(0.00025)
    stats = paired_stats([0.90, 0.91, 0.92, 0.90, 0.95], [0.92, 0.92, 0.92, 0.93, 0.94])
    assert stats["n"] == 5 and stats["df"] == 4
    assert stats["baseline_mean"] == pytest.approx(0.916)
    assert stats["baseline_std"] == pytest.approx(math.sqrt(0.00172 / 4))
    assert stats["skd_mean"] == pytest.approx(0.926)
    assert stats["diff_mean"] == pytest.approx(0.01)
    assert stats["diff_std"] == pytest.approx(math.sqrt(0.001 / 4))
    assert stats["t"] == pytest.approx(0.01 / (math.sqrt(0.00025) / math.sqrt(5)))  # 1.4142
    assert (stats["wins"], stats["ties"], stats["losses"]) == (3, 1, 1)
    assert stats["sign_test_p"] == pytest.approx(2 * 5 / 16)  # 3 vs 1 of 4 untied: 2 * P(X <= 1)


def test_paired_stats_all_better_and_constant_diff():
    stats = paired_stats([0.5, 0.6, 0.7], [0.6, 0.7, 0.8])
    assert stats["diff_std"] == pytest.approx(0.0, abs=1e-12)
    assert stats["t"] > 1e6  # no spread: +inf, or huge when float rounding leaves a tiny spread
    assert stats["sign_test_p"] == pytest.approx(0.25)


def test_paired_stats_rejects_unpaired():
    with pytest.raises(ValueError, match="equally long"):
        paired_stats([0.1, 0.2], [0.1])
    with pytest.raises(ValueError, match=">= 2 values"):
        paired_stats([0.1], [0.2])


@pytest.mark.parametrize("df", [1, 2, 3, 4, 5, 9, 10, 29])
def test_t_distribution_matches_scipy(df):
    stats = pytest.importorskip("scipy.stats")
    for t in (0.0, 0.3, 1.0, 2.0, 4.5, -2.5):
        assert t_test_p(t, df) == pytest.approx(2 * stats.t.sf(abs(t), df), abs=1e-12)
    for level in (0.9, 0.95, 0.99):
        assert t_quantile(level, df) == pytest.approx(stats.t.ppf(0.5 + level / 2, df), rel=1e-9)


def test_paired_interval():
    # diffs 0.02, 0.01, 0.00, 0.03, -0.01: mean 0.01, std sqrt(0.00025), t_{0.975, 4} = 2.7764451
    stats = paired_stats([0.90, 0.91, 0.92, 0.90, 0.95], [0.92, 0.92, 0.92, 0.93, 0.94])
    half = 2.7764451052 * math.sqrt(0.00025) / math.sqrt(5)
    assert (stats["diff_low"], stats["diff_high"]) == pytest.approx((0.01 - half, 0.01 + half))
    assert stats["t_test_p"] == pytest.approx(0.2302, abs=1e-4)  # two-sided, t = 1.4142, df 4
