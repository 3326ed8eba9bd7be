"""benchmarks/seed_sweep.py's paired statistics on hand-made numbers (no training)."""
import importlib.util
import math
from pathlib import Path

import pytest

_spec = importlib.util.spec_from_file_location(
    "seed_sweep", Path(__file__).resolve().parents[2] / "benchmarks" / "seed_sweep.py")
seed_sweep = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(seed_sweep)


def test_paired_stats_values():
    # diffs = 0.02, 0.01, 0.00, 0.03, -0.01: mean 0.01, sample std sqrt(0.00025)
    stats = seed_sweep.paired_stats([0.90, 0.91, 0.92, 0.90, 0.95], [0.92, 0.92, 0.92, 0.93, 0.94])
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
    stats = seed_sweep.paired_stats([0.5, 0.6, 0.7], [0.6, 0.7, 0.8])
    assert stats["diff_std"] == pytest.approx(0.0, abs=1e-12)
    assert stats["t"] > 1e6  # no spread: +inf, or huge when float rounding leaves a tiny spread
    assert stats["sign_test_p"] == pytest.approx(0.25)


def test_paired_stats_rejects_unpaired():
    with pytest.raises(ValueError, match="equally long"):
        seed_sweep.paired_stats([0.1, 0.2], [0.1])
    with pytest.raises(ValueError, match=">= 2 values"):
        seed_sweep.paired_stats([0.1], [0.2])
