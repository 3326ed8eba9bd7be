"""Paired comparison over seeds: does model B beat model A by more than seed-to-seed noise?

One pair of accuracies per seed (e.g. the LQ baseline and the SKD student trained with the same seed).
:func:`paired_stats` gives means, sample standard deviations, the paired difference with its Student t
interval, the t statistic and its p-value, and an exact sign test; no scipy needed (the t distribution
with an integer number of degrees of freedom has a closed-form CDF, Abramowitz & Stegun 26.7.3-4).
"""
from __future__ import annotations

import math
from typing import Sequence


def _central_probability(t: float, df: int) -> float:
    """P(|T| <= t) for Student's T with ``df`` (integer >= 1) degrees of freedom."""
    theta = math.atan(abs(t) / math.sqrt(df))
    s, c2 = math.sin(theta), math.cos(theta) ** 2
    if df % 2:  # odd: (2/pi) (theta + sin cos (1 + 2/3 cos^2 + 2*4/(3*5) cos^4 + ...))
        term = total = 1.0 if df > 1 else 0.0
        for j in range(1, (df - 1) // 2):
            term *= (2 * j) / (2 * j + 1) * c2
            total += term
        return 2 / math.pi * (theta + s * math.cos(theta) * total)
    term = total = 1.0  # even: sin (1 + 1/2 cos^2 + 1*3/(2*4) cos^4 + ...)
    for j in range(1, df // 2):
        term *= (2 * j - 1) / (2 * j) * c2
        total += term
    return s * total


def t_test_p(t: float, df: int) -> float:
    """Two-sided p-value of a Student t statistic with ``df`` degrees of freedom."""
    if math.isnan(t):
        return math.nan
    if math.isinf(t):
        return 0.0
    return max(0.0, 1.0 - _central_probability(t, df))


def t_quantile(level: float, df: int) -> float:
    """The t with P(|T| <= t) = ``level`` (e.g. 0.95 -> 12.71 for df 1, 2.78 for df 4)."""
    if not 0 < level < 1:
        raise ValueError(f"level must be in (0, 1), got {level}")
    low, high = 0.0, 1.0
    while _central_probability(high, df) < level:
        high *= 2
    for _ in range(100):  # NB: bisection; the CDF is monotone
        middle = (low + high) / 2
        low, high = (middle, high) if _central_probability(middle, df) < level else (low, middle)
    return (low + high) / 2


def mean_std(values: Sequence[float]) -> tuple:
    """(mean, sample standard deviation; nan for a single value)."""
    mean = sum(values) / len(values)
    if len(values) == 1:
        return float(mean), math.nan
    return mean, math.sqrt(sum((v - mean) ** 2 for v in values) / (len(values) - 1))


def paired_stats(baseline: Sequence[float], skd: Sequence[float], level: float = 0.95) -> dict:
    """Summary of paired values (one pair per seed): means, sample stds, the paired difference.

    d = skd - baseline; t = mean(d) / (std(d) / sqrt(n)) with n - 1 degrees of freedom;
    ``diff_low``/``diff_high``: the ``level`` t interval of mean(d); the sign test p-value is the exact
    two-sided binomial one over the non-tied pairs.
    """
    n = len(baseline)
    if n != len(skd) or n < 2:
        raise ValueError(f"paired_stats needs two equally long lists of >= 2 values, got {n} and {len(skd)}")
    diffs = [s - b for b, s in zip(baseline, skd)]
    (base_mean, base_std), (skd_mean, skd_std), (diff_mean, diff_std) = map(mean_std, (baseline, skd, diffs))
    if diff_std > 0:
        t = diff_mean / (diff_std / math.sqrt(n))
    else:  # every pair differs by the same amount: no spread to compare against
        t = math.copysign(math.inf, diff_mean) if diff_mean != 0 else math.nan
    half_width = t_quantile(level, n - 1) * diff_std / math.sqrt(n)
    wins, losses = sum(d > 0 for d in diffs), sum(d < 0 for d in diffs)
    untied = wins + losses
    tail = sum(math.comb(untied, i) for i in range(min(wins, losses) + 1)) / 2 ** untied if untied else 1.0
    return {"n": n, "baseline_mean": base_mean, "baseline_std": base_std, "skd_mean": skd_mean,
            "skd_std": skd_std, "diff_mean": diff_mean, "diff_std": diff_std,
            "diff_low": diff_mean - half_width, "diff_high": diff_mean + half_width, "level": level,
            "t": t, "df": n - 1, "t_test_p": t_test_p(t, n - 1),
            "wins": wins, "ties": n - untied, "losses": losses, "sign_test_p": min(1.0, 2 * tail)}

