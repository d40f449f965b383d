"""The alert conditions' numeric helpers against brute force and hand-computed values."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from alerts import stats

PROPERTY = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@st.composite
def gappy_series(draw: st.DrawFn) -> tuple[np.ndarray, np.ndarray, int]:
    """Values (some NaN/±Inf), presence (with gaps) and a window length in points."""
    size = draw(st.integers(1, 40))
    finite = st.floats(-1e3, 1e3, allow_nan=False)
    special = st.sampled_from([math.nan, math.inf, -math.inf])
    values = draw(st.lists(st.one_of(finite, finite, finite, special), min_size=size, max_size=size))
    present = draw(st.lists(st.booleans(), min_size=size, max_size=size))
    return np.asarray(values), np.asarray(present), draw(st.integers(1, 12))


def usable_window(values: np.ndarray, present: np.ndarray, lo: int, hi: int) -> np.ndarray:
    window, ok = values[lo:hi], present[lo:hi]
    return window[ok & np.isfinite(window)]


def test_trailing_windows() -> None:
    lo, hi = stats.trailing([0, 3, 10], 4, inclusive=False)
    assert lo.tolist() == [0, 0, 6] and hi.tolist() == [0, 3, 10]
    lo, hi = stats.trailing([0, 3, 10], 4, inclusive=True)
    assert lo.tolist() == [0, 0, 6] and hi.tolist() == [1, 4, 11]


@PROPERTY
@given(data=gappy_series())
def test_rolling_mean_std_matches_brute_force(data: tuple[np.ndarray, np.ndarray, int]) -> None:
    values, present, points = data
    lo, hi = stats.trailing(np.arange(values.size), points, inclusive=True)
    moments = stats.rolling_mean_std(values, present, lo, hi)
    for k in range(values.size):
        window = usable_window(values, present, lo[k], hi[k])
        assert moments.count[k] == window.size
        if window.size == 0:
            assert math.isnan(moments.mean[k]) and math.isnan(moments.std[k])
        else:
            assert moments.mean[k] == pytest.approx(window.mean(), abs=1e-9)
            assert moments.std[k] == pytest.approx(window.std(), abs=1e-6)


def test_rolling_std_of_a_constant_window_is_exactly_zero() -> None:
    values = np.array([5.0, 0.1, 0.1, 0.1, 0.1, 0.3, 0.1])
    lo, hi = np.array([1, 1, 0]), np.array([5, 7, 5])
    moments = stats.rolling_mean_std(values, np.ones(7, dtype=bool), lo, hi)
    assert moments.mean[0] == 0.1 and moments.std[0] == 0.0
    assert moments.std[1] > 0 and moments.std[2] > 0


def test_rolling_mean_std_far_from_zero_keeps_precision() -> None:
    rng = np.random.default_rng(3)
    values = 1e12 + rng.normal(0, 1.0, 5000)
    lo, hi = stats.trailing(np.arange(5000), 60, inclusive=False)
    moments = stats.rolling_mean_std(values, np.ones(5000, dtype=bool), lo, hi)
    assert moments.std[4000] == pytest.approx(values[3940:4000].std(), rel=1e-3)


def test_a_huge_value_before_the_window_does_not_spoil_it() -> None:
    values = np.concatenate(([1e12], 1000 + np.random.default_rng(5).normal(0, 1e-3, 200)))
    everywhere = np.ones(values.size, dtype=bool)
    lo, hi = stats.trailing([200], 49, inclusive=True)
    moments = stats.rolling_mean_std(values, everywhere, lo, hi)
    assert moments.std[0] == pytest.approx(values[151:].std(), rel=1e-6)
    times = np.arange(values.size, dtype=float)
    fit = stats.rolling_linear_fit(times, values, everywhere, lo, hi, [200.0])
    assert fit.slope[0] == pytest.approx(np.polyfit(times[151:], values[151:], 1)[0], rel=1e-6)


def ewma_reference(window: np.ndarray, alpha: float) -> tuple[float, float]:
    """The documented recurrence, one point at a time."""
    mean, var = float(window[0]), 0.0
    for x in window[1:]:
        diff = x - mean
        mean += alpha * diff
        var = (1 - alpha) * (var + alpha * diff * diff)
    return mean, math.sqrt(var)


@PROPERTY
@given(data=gappy_series(), alpha=st.floats(0.01, 1.0))
def test_ewma_matches_the_scalar_recurrence(data: tuple[np.ndarray, np.ndarray, int], alpha: float) -> None:
    values, present, points = data
    lo, hi = stats.trailing(np.arange(values.size), points, inclusive=False)
    moments = stats.ewma_mean_std(values, present, lo, hi, alpha)
    for k in range(values.size):
        window = usable_window(values, present, lo[k], hi[k])
        assert moments.count[k] == window.size
        if window.size:
            mean, std = ewma_reference(window, alpha)
            assert moments.mean[k] == pytest.approx(mean, abs=1e-9)
            assert moments.std[k] == pytest.approx(std, abs=1e-9)


def test_ewma_weights_are_the_weighted_mean_and_variance() -> None:
    window = np.array([1.0, 4.0, 2.0, 8.0])
    alpha = 0.3
    weights = np.array([(1 - alpha) ** 3, alpha * (1 - alpha) ** 2, alpha * (1 - alpha), alpha])
    mean = float(np.sum(weights * window))
    var = float(np.sum(weights * (window - mean) ** 2))
    moments = stats.ewma_mean_std(window, np.ones(4, dtype=bool), np.array([0]), np.array([4]), alpha)
    assert moments.mean[0] == pytest.approx(mean) and moments.std[0] == pytest.approx(math.sqrt(var))


def test_zscore_with_zero_std() -> None:
    z = stats.zscore([5.0, 4.0, 6.0, 7.0], [5.0, 5.0, 5.0, 5.0], [0.0, 0.0, 0.0, 2.0])
    assert z.tolist() == [0.0, -math.inf, math.inf, 1.0]


@PROPERTY
@given(data=gappy_series())
def test_linear_fit_matches_polyfit(data: tuple[np.ndarray, np.ndarray, int]) -> None:
    values, present, points = data
    times = np.arange(values.size) * 30.0 + 1e6
    lo, hi = stats.trailing(np.arange(values.size), points, inclusive=True)
    fit = stats.rolling_linear_fit(times, values, present, lo, hi, times)
    for k in range(values.size):
        ok = present[lo[k] : hi[k]] & np.isfinite(values[lo[k] : hi[k]])
        t, v = times[lo[k] : hi[k]][ok], values[lo[k] : hi[k]][ok]
        assert fit.count[k] == t.size
        if t.size < 2:
            assert math.isnan(fit.slope[k]) and math.isnan(fit.intercept[k])
            continue
        slope, intercept = np.polyfit(t - times[k], v, 1)
        assert fit.slope[k] == pytest.approx(slope, abs=1e-6)
        assert fit.intercept[k] == pytest.approx(intercept, abs=1e-5)


def test_linear_fit_of_a_flat_window_is_exactly_flat() -> None:
    values = np.array([1.0, 2.0, 0.7, 0.7, 0.7, 0.7])
    fit = stats.rolling_linear_fit(np.arange(6.0), values, np.ones(6, dtype=bool), np.array([2]), np.array([6]), [5.0])
    assert fit.slope[0] == 0.0 and fit.intercept[0] == 0.7


def test_predict_linear_uses_the_regression_line_at_t() -> None:
    # Points (0, 1), (1, 3), (2, 2): slope 0.5, line at t=2 is 2.5, so 10 s later 7.5.
    fit = stats.rolling_linear_fit(
        np.array([0.0, 1.0, 2.0]), np.array([1.0, 3.0, 2.0]), np.ones(3, dtype=bool), [0], [3], [2.0]
    )
    assert fit.slope[0] == pytest.approx(0.5) and fit.intercept[0] == pytest.approx(2.5)
    assert stats.predict_linear(fit, 10.0)[0] == pytest.approx(7.5)


def test_psi_by_hand() -> None:
    reference = [1.0, 2.0, 3.0, 4.0]  # bins=2: one edge at the median 2.5 → proportions 0.5, 0.5
    assert stats.psi_edges(reference, 2).tolist() == [2.5]
    shifted = 0.25 * math.log(0.75 / 0.5) + (-0.25) * math.log(0.25 / 0.5)  # current 0.75, 0.25
    assert stats.psi(reference, [1.0, 1.0, 1.0, 4.0], bins=2) == pytest.approx(shifted)
    empty_bin = 0.5 * math.log(1 / 0.5) + (1e-4 - 0.5) * math.log(1e-4 / 0.5)  # current 1, 0 → 1, ε
    assert stats.psi(reference, [1.0, 2.0, 2.0, 0.0], bins=2) == pytest.approx(empty_bin)
    assert stats.psi(reference, reference, bins=4) == 0.0


def test_psi_bins_are_left_closed_and_deduplicated() -> None:
    edges = stats.psi_edges([1.0, 1.0, 1.0, 1.0, 2.0], 4)
    assert edges.tolist() == [1.0]
    assert stats.bin_proportions([0.5, 1.0, 1.5, 2.0], edges).tolist() == [0.25, 0.75]


def test_ks_by_hand() -> None:
    # F_a - F_b at 1, 2, 3, 4, 5: 1/3, 2/3-1/4, 1-1/2, 1-3/4, 0 → D = 1/2
    assert stats.ks_statistic([1.0, 2.0, 3.0], [2.0, 3.0, 4.0, 5.0]) == pytest.approx(0.5)
    assert stats.ks_statistic([1.0, 2.0], [3.0, 4.0]) == 1.0
    assert stats.ks_statistic([1.0, 2.0, 2.0], [2.0, 1.0, 2.0]) == 0.0


@PROPERTY
@given(a=st.lists(st.integers(0, 6), min_size=1, max_size=20), b=st.lists(st.integers(0, 6), min_size=1, max_size=20))
def test_ks_matches_brute_force_cdfs(a: list[int], b: list[int]) -> None:
    grid = np.arange(-1, 8)
    brute = max(abs(np.mean(np.asarray(a) <= x) - np.mean(np.asarray(b) <= x)) for x in grid)
    assert stats.ks_statistic(a, b) == pytest.approx(brute)
