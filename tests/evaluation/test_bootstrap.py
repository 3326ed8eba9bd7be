import numpy as np
import pytest

from skdcore.evaluation.bootstrap import paired_bootstrap


def test_paired_bootstrap_interval_brackets_the_difference_and_shrinks_with_more_clips():
    rng = np.random.default_rng(0)
    a = rng.random(200) < 0.7
    b = a.copy()
    b[rng.choice(200, 20, replace=False)] = True  # b right on up to 20 more clips
    small = paired_bootstrap(a, b, seed=1)
    assert small["diff"] == pytest.approx(b.mean() - a.mean())
    assert small["low"] <= small["diff"] <= small["high"] and small["low"] > -0.01
    large = paired_bootstrap(np.tile(a, 10), np.tile(b, 10), seed=1)
    assert large["high"] - large["low"] < 0.5 * (small["high"] - small["low"])
    same = paired_bootstrap(a, a)
    assert same["low"] == same["high"] == same["diff"] == 0


def test_paired_bootstrap_rejects_unpaired_input():
    with pytest.raises(ValueError, match="equally long"):
        paired_bootstrap([1, 0, 1], [1, 0])
