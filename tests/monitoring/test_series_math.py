"""Series math against hand-computed Prometheus results and against plain reference ports of Prometheus."""

from __future__ import annotations

import math
import time
from collections.abc import Sequence

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from monitoring import series_math as sm

NAN, INF = math.nan, math.inf
FNS = ("avg", "min", "max", "sum", "count", "last")
PROPERTY = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def arr(values: Sequence[float]) -> np.ndarray:
    return np.asarray(values, dtype=np.float64)


def ms(seconds: Sequence[float]) -> np.ndarray:
    return (np.asarray(seconds, dtype=np.float64) * 1000).astype(np.int64)


def same_float(actual: float, expected: float, scale: float = 0.0) -> bool:
    """Equal, NaN matching NaN; finite values may differ by rounding relative to ``scale``."""
    if math.isnan(expected) or math.isinf(expected):
        return (math.isnan(actual) and math.isnan(expected)) or actual == expected
    if not math.isfinite(scale):
        scale = 0.0
    return abs(actual - expected) <= 1e-9 * max(scale, abs(expected)) + 1e-300


# --- Plain reference ports of Prometheus (promql/functions.go, promql/quantile.go) --------------


def kahan_inc(inc: float, total: float, c: float) -> tuple[float, float]:
    t = total + inc
    if math.isinf(t):
        c = 0.0
    elif abs(total) >= abs(inc):
        c += (total - t) + inc
    else:
        c += (inc - t) + total
    return t, c


def ref_sum(vs: list[float]) -> float:
    total, c = 0.0, 0.0
    for v in vs:
        total, c = kahan_inc(v, total, c)
    return total if math.isinf(total) else total + c


def ref_avg(vs: list[float]) -> float:
    """avg_over_time: Kahan sum, switching to an incremental mean when finite values overflow."""
    total = mean = c = 0.0
    count = 0
    incremental = False
    for v in vs:
        count += 1
        if not incremental:
            new_total, new_c = kahan_inc(v, total, c)
            if count == 1 or not math.isinf(new_total):
                total, c = new_total, new_c
                continue
            incremental = True
            mean = total / (count - 1)
            c /= count - 1
        if math.isinf(mean):
            if math.isinf(v) and (mean > 0) == (v > 0):
                continue
            if not math.isinf(v) and not math.isnan(v):
                continue
        corrected = mean + c
        mean, c = kahan_inc(v / count - corrected / count, mean, c)
    if incremental:
        return mean + c
    return (total + c) / count


def ref_max(vs: list[float]) -> float:
    best = vs[0]
    for v in vs:
        if v > best or math.isnan(best):
            best = v
    return best


def ref_min(vs: list[float]) -> float:
    best = vs[0]
    for v in vs:
        if v < best or math.isnan(best):
            best = v
    return best


REF_OVER_TIME = {
    "avg": ref_avg,
    "sum": ref_sum,
    "min": ref_min,
    "max": ref_max,
    "count": lambda vs: float(len(vs)),
    "last": lambda vs: vs[-1],
}


def in_window(ts: np.ndarray, values: np.ndarray, t: int, window: int) -> list[tuple[int, float]]:
    return [(int(s), float(v)) for s, v in zip(ts, values, strict=True) if t - window < s <= t]


def ref_rate(
    points: list[tuple[int, float]], t: int, window_ms: int, is_rate: bool, mins: list[float] | None = None
) -> tuple[float, float] | None:
    """extrapolatedRate for a counter, written out; returns (result, magnitude for the tolerance).

    With ``mins`` (rollup points), a point whose bucket minimum is below the previous value is a reset too.
    """
    if len(points) < 2:
        return None
    (first_t, first_v), (last_t, last_v) = points[0], points[-1]
    result = last_v - first_v
    magnitude = abs(first_v) + abs(last_v)
    prev = first_v
    for i, (_, v) in enumerate(points[1:], start=1):
        if v < prev or (mins is not None and mins[i] < prev):
            result += prev
            magnitude += abs(prev)
        prev = v
    to_start = (first_t - (t - window_ms)) / 1000
    to_end = (t - last_t) / 1000
    sampled = (last_t - first_t) / 1000
    average = sampled / (len(points) - 1)
    threshold = average * 1.1
    if to_start >= threshold:
        to_start = average / 2
    if result > 0 and first_v >= 0:
        to_zero = sampled * (first_v / result)
        to_start = min(to_start, to_zero)
    if to_end >= threshold:
        to_end = average / 2
    factor = (sampled + to_start + to_end) / sampled
    if is_rate:
        factor /= window_ms / 1000
    return result * factor, magnitude * abs(factor)


def ref_almost_equal(a: float, b: float, eps: float) -> bool:
    min_normal = 2.2250738585072014e-308
    if math.isnan(a) and math.isnan(b):
        return True
    if a == b:
        return True
    abs_sum = abs(a) + abs(b)
    diff = abs(a - b)
    if a == 0 or b == 0 or abs_sum < min_normal:
        return diff < eps * min_normal
    return diff / min(abs_sum, 1.7976931348623157e308) < eps


def ref_bucket_quantile(q: float, buckets: list[tuple[float, float]]) -> float:
    """BucketQuantile, written out bucket by bucket."""
    if math.isnan(q):
        return NAN
    if q < 0:
        return -INF
    if q > 1:
        return INF
    buckets = sorted(buckets)
    if buckets[-1][0] != INF:
        return NAN
    merged: list[list[float]] = []
    for bound, count in buckets:
        if merged and merged[-1][0] == bound:
            merged[-1][1] += count
        else:
            merged.append([bound, count])
    prev = merged[0][1]
    for b in merged[1:]:
        if b[1] == prev:
            continue
        if ref_almost_equal(prev, b[1], 1e-12) or b[1] < prev:
            b[1] = prev
            continue
        prev = b[1]
    if len(merged) < 2 or merged[-1][1] == 0:
        return NAN
    rank = q * merged[-1][1]
    b = next((i for i in range(len(merged) - 1) if merged[i][1] >= rank), len(merged) - 1)
    if b == len(merged) - 1:
        return merged[-2][0]
    if b == 0 and merged[0][0] <= 0:
        return merged[0][0]
    start, end, count = 0.0, merged[b][0], merged[b][1]
    if b > 0:
        start = merged[b - 1][0]
        count -= merged[b - 1][1]
        rank -= merged[b - 1][1]
    if count == 0:
        return NAN if rank == 0 else math.copysign(INF, rank) * (end - start)
    return start + (end - start) * (rank / count)


# --- Strategies -------------------------------------------------------------------------------

finite = st.floats(-1e6, 1e6, allow_nan=False, allow_infinity=False)
special = st.sampled_from([NAN, INF, -INF])
sample_value = st.one_of(finite, finite, finite, special)


@st.composite
def series(draw: st.DrawFn, value: st.SearchStrategy[float] = sample_value) -> tuple[np.ndarray, np.ndarray]:
    ts = sorted(draw(st.lists(st.integers(0, 20_000), unique=True, max_size=80)))
    values = draw(st.lists(value, min_size=len(ts), max_size=len(ts)))
    return np.asarray(ts, dtype=np.int64), arr(values)


@st.composite
def counter_series(draw: st.DrawFn) -> tuple[np.ndarray, np.ndarray]:
    """A counter: non-negative increments, sometimes restarting from a small value."""
    ts = sorted(draw(st.lists(st.integers(0, 20_000), unique=True, max_size=80)))
    values, current = [], draw(st.floats(0, 1000))
    for _ in ts:
        if draw(st.sampled_from([False] * 6 + [True])):
            current = draw(st.floats(0, 50))
        else:
            current += draw(st.sampled_from([0.0, 1.0, 0.5])) * draw(st.integers(0, 100))
        values.append(current)
    return np.asarray(ts, dtype=np.int64), arr(values)


@st.composite
def evaluation(draw: st.DrawFn, overlapping: bool) -> tuple[np.ndarray, int]:
    """Evaluation times and a window: tiling (window == step) or overlapping (window > step)."""
    step = draw(st.integers(1, 4000))
    window = step * draw(st.integers(2, 6)) + draw(st.integers(0, step - 1)) if overlapping else step
    start = draw(st.integers(-3000, 21_000))
    eval_ts = sm.step_times(start, start + step * draw(st.integers(0, 40)), step)
    return eval_ts, window


# --- step_times, instant_last -----------------------------------------------------------------


def test_step_times_include_end_when_on_a_step() -> None:
    assert sm.step_times(0, 60_000, 15_000).tolist() == [0, 15_000, 30_000, 45_000, 60_000]
    assert sm.step_times(0, 59_999, 15_000).tolist() == [0, 15_000, 30_000, 45_000]
    assert sm.step_times(10, 5, 1).size == 0
    assert sm.step_times(0, 0, 1).dtype == np.int64
    with pytest.raises(ValueError, match="step"):
        sm.step_times(0, 10, 0)


def test_instant_last_with_gaps_longer_than_the_lookback() -> None:
    ts = ms([0, 10, 400])
    values = arr([1.0, NAN, 3.0])
    eval_ts = ms([-1, 0, 5, 10, 309.999, 310, 399, 400, 699.999, 700])
    out, present = sm.instant_last(ts, values, eval_ts, lookback_ms=300_000)
    # 310 s: t - 300 s = 10 s and the window is left-open, so the sample at 10 s is gone.
    assert present.tolist() == [False, True, True, True, True, False, False, True, True, False]
    assert out[present][:2].tolist() == [1.0, 1.0]
    assert math.isnan(out[present][2]) and math.isnan(out[present][3])  # a NaN sample is a value
    assert out[present][4:].tolist() == [3.0, 3.0]


def test_instant_last_on_an_empty_series() -> None:
    out, present = sm.instant_last(np.empty(0, np.int64), np.empty(0), ms([0, 1]))
    assert not present.any() and out.tolist() == [0.0, 0.0]


# --- over_time --------------------------------------------------------------------------------


def test_over_time_window_is_left_open_and_right_closed() -> None:
    ts, values = ms([0, 60, 120]), arr([1.0, 2.0, 4.0])
    out, present = sm.over_time(ts, values, ms([60, 120, 180, 240]), 60_000, "sum")
    # (0, 60] -> 2; (60, 120] -> 4; (120, 180] -> nothing; (180, 240] -> nothing.
    assert out[present].tolist() == [2.0, 4.0]
    assert present.tolist() == [True, True, False, False]


def test_over_time_nan_and_inf_semantics() -> None:
    ts = ms([1, 2, 3, 11, 12, 21, 22, 31])
    values = arr([NAN, 5.0, -1.0, NAN, NAN, INF, -INF, 7.0])
    eval_ts = ms([10, 20, 30, 40])
    got = {fn: sm.over_time(ts, values, eval_ts, 10_000, fn)[0] for fn in FNS}
    assert got["min"][0] == -1.0 and got["max"][0] == 5.0  # NaN skipped while there is a number
    assert math.isnan(got["min"][1]) and math.isnan(got["max"][1])  # all NaN -> NaN
    assert math.isnan(got["sum"][0]) and math.isnan(got["avg"][0])  # NaN propagates
    assert got["count"].tolist() == [3.0, 2.0, 2.0, 1.0]  # NaN samples count
    assert math.isnan(got["sum"][2]) and got["max"][2] == INF and got["min"][2] == -INF  # Inf + -Inf
    assert got["sum"][3] == 7.0 and got["avg"][3] == 7.0  # earlier non-finite samples do not leak
    assert got["last"][3] == 7.0 and math.isnan(got["last"][1])


def test_avg_over_time_does_not_overflow_on_finite_values() -> None:
    ts, values = ms([1, 2, 3]), arr([1e308, 1e308, 1e308])
    out, _ = sm.over_time(ts, values, ms([3]), 10_000, "avg")
    assert out[0] == pytest.approx(1e308)
    out, _ = sm.over_time(ts, values, ms([3]), 10_000, "sum")
    assert out[0] == INF


def test_over_time_rejects_unknown_functions_and_windows() -> None:
    with pytest.raises(ValueError, match="median"):
        sm.over_time(ms([1]), arr([1.0]), ms([1]), 1000, "median")
    with pytest.raises(ValueError, match="window"):
        sm.over_time(ms([1]), arr([1.0]), ms([1]), 0, "sum")


def check_over_time(ts: np.ndarray, values: np.ndarray, eval_ts: np.ndarray, window: int, fn: str) -> None:
    out, present = sm.over_time(ts, values, eval_ts, window, fn)
    assert out.shape == present.shape == eval_ts.shape
    for k, t in enumerate(eval_ts.tolist()):
        vs = [v for _, v in in_window(ts, values, t, window)]
        assert present[k] == bool(vs)
        if vs:
            scale = sum(abs(v) for v in vs if math.isfinite(v))
            assert same_float(out[k], REF_OVER_TIME[fn](vs), scale), (fn, t, vs, out[k])
            if fn in ("min", "max", "count", "last"):
                assert out[k] == REF_OVER_TIME[fn](vs) or math.isnan(out[k])


@pytest.mark.parametrize("fn", FNS)
@PROPERTY
@given(data=series(), evaluation=evaluation(overlapping=False))
def test_over_time_tiling_windows_match_reference(
    fn: str, data: tuple[np.ndarray, np.ndarray], evaluation: tuple[np.ndarray, int]
) -> None:
    check_over_time(*data, *evaluation, fn)


@pytest.mark.parametrize("fn", FNS)
@PROPERTY
@given(data=series(), evaluation=evaluation(overlapping=True))
def test_over_time_overlapping_windows_match_reference(
    fn: str, data: tuple[np.ndarray, np.ndarray], evaluation: tuple[np.ndarray, int]
) -> None:
    check_over_time(*data, *evaluation, fn)


def test_over_time_sum_stays_accurate_far_from_the_origin() -> None:
    # Running totals would reach 3e16 (spacing 4 there) and leave the later 1.0 + 2.0 windows to rounding.
    ts = np.arange(1, 2001, dtype=np.int64) * 1000
    values = np.where(ts <= 1_000_000, math.pi * 1e13, 1.0) + np.where(ts % 2000 == 0, 1.0, 0.0)
    eval_ts = sm.step_times(1_002_000, 2_000_000, 2000)
    out, _ = sm.over_time(ts, values, eval_ts, 2000, "sum")
    assert np.all(out == 3.0)


# --- counter_rate -----------------------------------------------------------------------------


def rate_at(seconds: list[float], values: list[float], t: float, window: float, is_rate: bool) -> tuple[float, bool]:
    out, present = sm.counter_rate(ms(seconds), arr(values), ms([t]), int(window * 1000), is_rate=is_rate)
    return float(out[0]), bool(present[0])


def test_increase_with_exactly_aligned_samples() -> None:
    # Window (0 s, 60 s]: the sample at 0 s is outside, so 15/30/45/60 s with 10, 20, 30, 40 remain.
    # raw increase 40 - 10 = 30; durationToStart = 15 - 0 = 15; durationToEnd = 60 - 60 = 0
    # sampledInterval = 45; avg = 45 / 3 = 15; threshold = 16.5: 15 < 16.5, extrapolate to the start;
    # durationToZero = 45 * (10 / 30) = 15, not < 15; factor = (45 + 15 + 0) / 45 = 4/3 -> 40.
    seconds, values = [0, 15, 30, 45, 60], [0.0, 10.0, 20.0, 30.0, 40.0]
    assert rate_at(seconds, values, 60, 60, is_rate=False) == (pytest.approx(40.0, rel=1e-15), True)
    # rate = 40 / 60 s.
    assert rate_at(seconds, values, 60, 60, is_rate=True) == (pytest.approx(40.0 / 60, rel=1e-15), True)


def test_increase_across_a_counter_reset() -> None:
    # Window (0 s, 60 s] holds 10, 20, 5, 15 at 15/30/45/60 s; 5 < 20 is a reset, adding 20:
    # increase = 15 - 10 + 20 = 25; durationToStart 15 < threshold 16.5; durationToZero = 45 * 10/25 = 18,
    # not < 15; durationToEnd 0; factor = (45 + 15) / 45 = 4/3 -> 25 * 4/3 = 33.333...
    seconds, values = [0, 15, 30, 45, 60], [0.0, 10.0, 20.0, 5.0, 15.0]
    assert rate_at(seconds, values, 60, 60, is_rate=False) == (pytest.approx(100 / 3, rel=1e-15), True)
    assert rate_at(seconds, values, 60, 60, is_rate=True) == (pytest.approx(100 / 3 / 60, rel=1e-15), True)


def test_increase_with_two_resets_in_a_row() -> None:
    # 10, 20 | reset to 5 (+20) | reset to 2 (+5) | 12: increase = 12 - 10 + 20 + 5 = 27.
    # Samples at 15..75 s, window (15 s, 75 s] drops the first: 20, 5, 2, 12 at 30/45/60/75 s.
    # increase = 12 - 20 + 20 + 5 = 17; durationToStart = 30 - 15 = 15; sampled 45; avg 15; threshold 16.5
    # durationToZero = 45 * (20 / 17) = 52.9 > 15; durationToEnd 0; factor = 60 / 45 -> 17 * 4/3.
    seconds, values = [15, 30, 45, 60, 75], [10.0, 20.0, 5.0, 2.0, 12.0]
    assert rate_at(seconds, values, 75, 60, is_rate=False) == (pytest.approx(17 * 4 / 3, rel=1e-15), True)


def test_first_sample_far_from_window_start_extrapolates_half_an_interval() -> None:
    # Window (60 s, 120 s]; samples at 90/100/110/120 s: 100, 110, 120, 130.
    # increase 30; durationToStart = 90 - 60 = 30; sampled = 30; avg = 10; threshold = 11
    # 30 >= 11 -> durationToStart = avg / 2 = 5; durationToZero = 30 * (100 / 30) = 100, not smaller
    # durationToEnd = 0; factor = (30 + 5 + 0) / 30 -> 30 * 35/30 = 35.
    seconds, values = [90, 100, 110, 120], [100.0, 110.0, 120.0, 130.0]
    assert rate_at(seconds, values, 120, 60, is_rate=False) == (pytest.approx(35.0, rel=1e-15), True)


def test_last_sample_far_from_window_end_extrapolates_half_an_interval() -> None:
    # Window (60 s, 120 s]; samples at 70/80/90 s: 100, 110, 120. increase 20; sampled 20; avg 10; threshold 11
    # durationToStart = 10 < 11 (kept); durationToZero = 20 * (100 / 20) = 100; durationToEnd = 30 >= 11 -> 5
    # factor = (20 + 10 + 5) / 20 = 1.75 -> 35; rate = 35 / 60.
    seconds, values = [70, 80, 90], [100.0, 110.0, 120.0]
    assert rate_at(seconds, values, 120, 60, is_rate=False) == (pytest.approx(35.0, rel=1e-15), True)
    assert rate_at(seconds, values, 120, 60, is_rate=True) == (pytest.approx(35.0 / 60, rel=1e-15), True)


def test_counter_starting_near_zero_is_not_extrapolated_below_zero() -> None:
    # Window (0 s, 60 s]; samples at 5, 15, ..., 55 s: 2, 12, 22, 32, 42, 52.
    # increase 50; sampled 50; avg 10; threshold 11; durationToStart = 5 (kept)
    # durationToZero = 50 * (2 / 50) = 2 < 5 -> durationToStart = 2 (the counter was 0 at 3 s)
    # durationToEnd = 60 - 55 = 5 (kept); factor = (50 + 2 + 5) / 50 = 1.14 -> 57; rate = 57 / 60 = 0.95.
    seconds, values = [5, 15, 25, 35, 45, 55], [2.0, 12.0, 22.0, 32.0, 42.0, 52.0]
    assert rate_at(seconds, values, 60, 60, is_rate=False) == (pytest.approx(57.0, rel=1e-15), True)
    assert rate_at(seconds, values, 60, 60, is_rate=True) == (pytest.approx(0.95, rel=1e-15), True)


def test_rate_needs_two_samples_in_the_window() -> None:
    seconds, values = [0, 100, 200], [1.0, 2.0, 3.0]
    out, present = sm.counter_rate(ms(seconds), arr(values), ms([50, 150, 250, 300, 350]), 60_000, is_rate=True)
    assert present.tolist() == [False, False, False, False, False]
    assert out.tolist() == [0.0] * 5
    out, present = sm.counter_rate(np.empty(0, np.int64), np.empty(0), ms([0]), 60_000, is_rate=True)
    assert not present.any()


def test_rate_divides_by_the_window_in_seconds() -> None:
    # Samples at 0.5 s and 1.5 s in window (0 s, 1.5 s]: increase 1; sampled 1; avg 1; threshold 1.1
    # durationToStart 0.5 (kept); durationToZero = 1 * (1 / 1) = 1; durationToEnd 0; factor 1.5 -> 1.5 / 1.5 s.
    assert rate_at([0.5, 1.5], [1.0, 2.0], 1.5, 1.5, is_rate=True) == (pytest.approx(1.0, rel=1e-15), True)


def check_counter_rate(ts: np.ndarray, values: np.ndarray, eval_ts: np.ndarray, window: int, is_rate: bool) -> None:
    out, present = sm.counter_rate(ts, values, eval_ts, window, is_rate=is_rate)
    for k, t in enumerate(eval_ts.tolist()):
        expected = ref_rate(in_window(ts, values, t, window), t, window, is_rate)
        assert present[k] == (expected is not None)
        if expected is not None:
            assert same_float(out[k], *expected), (t, out[k], expected)


@pytest.mark.parametrize("is_rate", [True, False])
@pytest.mark.parametrize("overlapping", [True, False])
@PROPERTY
@given(data=st.data())
def test_counter_rate_matches_reference_on_counters(is_rate: bool, overlapping: bool, data: st.DataObject) -> None:
    check_counter_rate(*data.draw(counter_series()), *data.draw(evaluation(overlapping)), is_rate)


@pytest.mark.parametrize("overlapping", [True, False])
@PROPERTY
@given(data=st.data())
def test_counter_rate_matches_reference_on_any_values(overlapping: bool, data: st.DataObject) -> None:
    check_counter_rate(*data.draw(series()), *data.draw(evaluation(overlapping)), True)


def test_counter_rate_is_exact_without_resets() -> None:
    rng = np.random.default_rng(7)
    ts = np.cumsum(rng.integers(1, 30_000, 500)).astype(np.int64)
    values = np.cumsum(rng.random(500) * 1e6)
    eval_ts = sm.step_times(int(ts[0]), int(ts[-1]), 45_000)
    out, present = sm.counter_rate(ts, values, eval_ts, 300_000, is_rate=True)
    for k in np.flatnonzero(present)[:50]:
        t = int(eval_ts[k])
        expected = ref_rate(in_window(ts, values, t, 300_000), t, 300_000, True)
        assert expected is not None and out[k] == expected[0]


# --- histogram_quantile -----------------------------------------------------------------------

BOUNDS = arr([0.1, 0.5, 1.0, INF])
COUNTS = arr([[10.0], [30.0], [45.0], [50.0]])


@pytest.mark.parametrize(
    ("q", "expected"),
    [
        # rank = 0.5 * 50 = 25 -> first bucket with count >= 25 is le=0.5 (30):
        # 0.1 + (0.5 - 0.1) * ((25 - 10) / (30 - 10)) = 0.1 + 0.4 * 0.75 = 0.4
        (0.5, 0.4),
        # rank = 47.5: no bucket below +Inf reaches it -> upper bound of the second highest, 1.0
        (0.95, 1.0),
        (0.99, 1.0),
        (1.0, 1.0),
        # rank = 40 -> le=1 (45): 0.5 + 0.5 * ((40 - 30) / (45 - 30)) = 0.8333...
        (0.8, 0.5 + 0.5 * (10 / 15)),
        # rank = 45 -> le=1 exactly: 0.5 + 0.5 * (15 / 15) = 1.0
        (0.9, 1.0),
        # rank = 2.5 -> lowest bucket, interpolated from 0: 0 + 0.1 * (2.5 / 10) = 0.025
        (0.05, 0.025),
        (0.0, 0.0),
    ],
)
def test_histogram_quantile_hand_computed(q: float, expected: float) -> None:
    assert sm.histogram_quantile(q, BOUNDS, COUNTS)[0] == pytest.approx(expected, rel=1e-15)


def test_histogram_quantile_out_of_range_q() -> None:
    assert sm.histogram_quantile(-0.1, BOUNDS, COUNTS).tolist() == [-INF]
    assert sm.histogram_quantile(1.1, BOUNDS, COUNTS).tolist() == [INF]
    assert math.isnan(sm.histogram_quantile(NAN, BOUNDS, COUNTS)[0])


def test_histogram_quantile_unsorted_and_duplicate_bounds() -> None:
    # le=0.5 appears twice (20 + 10 = 30) and the order is scrambled: same histogram as BOUNDS/COUNTS.
    bounds = arr([INF, 0.5, 0.1, 1.0, 0.5])
    counts = arr([[50.0], [20.0], [10.0], [45.0], [10.0]])
    assert sm.histogram_quantile(0.5, bounds, counts)[0] == pytest.approx(0.4, rel=1e-15)


@pytest.mark.parametrize(
    ("bounds", "counts"),
    [
        ([0.1, 0.5, 1.0], [10.0, 30.0, 45.0]),  # no +Inf bucket
        ([0.1, 0.5, 1.0, INF], [0.0, 0.0, 0.0, 0.0]),  # zero observations
        ([INF, INF], [3.0, 4.0]),  # one bucket once duplicates are merged
        ([0.1, 0.5, 1.0, INF], [10.0, NAN, 45.0, 50.0]),  # a NaN count
    ],
)
def test_histogram_quantile_nan_cases(bounds: list[float], counts: list[float]) -> None:
    assert math.isnan(sm.histogram_quantile(0.5, arr(bounds), arr(counts)[:, None])[0])


def test_histogram_quantile_leaves_out_unparseable_bounds() -> None:
    bounds = arr([0.1, NAN, 0.5, 1.0, INF])
    counts = arr([[10.0], [99.0], [30.0], [45.0], [50.0]])
    assert sm.histogram_quantile(0.5, bounds, counts)[0] == pytest.approx(0.4, rel=1e-15)


def test_histogram_quantile_forces_monotonic_counts() -> None:
    # le=0.5 dropped to 8 -> taken as 10: rank 25 lands in le=1: 0.5 + 0.5 * ((25 - 10) / (45 - 10)) = 0.7142...
    out = sm.histogram_quantile(0.5, BOUNDS, arr([[10.0], [8.0], [45.0], [50.0]]))
    assert out[0] == pytest.approx(0.5 + 0.5 * 15 / 35, rel=1e-15)


def test_histogram_quantile_ignores_tiny_deltas() -> None:
    # 100 + 1e-11 is within 1e-12 of 100, so le=2 and +Inf count as 100 and rank = 100 stops at le=1 -> 1.0.
    # A plain running maximum would give rank 100 + 1e-11, found in le=2 -> 1 + 1 * (1e-11 / 1e-11) = 2.0.
    counts = arr([[50.0], [100.0], [100.0 + 1e-11], [100.0 + 1e-11]])
    assert sm.histogram_quantile(1.0, arr([0.1, 1.0, 2.0, INF]), counts)[0] == 1.0


def test_histogram_quantile_lowest_bucket_at_or_below_zero() -> None:
    # rank = 0.1 * 20 = 2 falls in the lowest bucket, whose bound -1 <= 0 is returned as is.
    out = sm.histogram_quantile(0.1, arr([-1.0, 0.0, 1.0, INF]), arr([[5.0], [10.0], [20.0], [20.0]]))
    assert out[0] == -1.0


def test_histogram_quantile_many_columns_and_absent_buckets() -> None:
    counts = np.hstack([COUNTS, COUNTS * 2, COUNTS])
    present = np.ones(counts.shape, dtype=bool)
    present[1, 2] = False  # le=0.5 missing at the third time
    present[:, 1] = False  # nothing at the second time
    out = sm.histogram_quantile(0.5, BOUNDS, counts, present)
    # Without le=0.5: rank 25 -> le=1: 0.1 + 0.9 * ((25 - 10) / (45 - 10)) = 0.4857...
    assert out[0] == pytest.approx(0.4, rel=1e-15)
    assert math.isnan(out[1])
    assert out[2] == pytest.approx(0.1 + 0.9 * 15 / 35, rel=1e-15)
    assert sm.histogram_quantile(0.5, BOUNDS, counts)[1] == pytest.approx(0.4, rel=1e-15)


bucket_bound = st.sampled_from([-1.0, 0.0, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0, INF])
bucket_count = st.one_of(st.integers(0, 100).map(float), st.floats(0, 100), st.just(1e12 + 1e-3))


@PROPERTY
@given(
    q=st.one_of(st.floats(0, 1), st.sampled_from([0.0, 0.5, 1.0, -0.5, 1.5])),
    columns=st.lists(st.lists(st.tuples(bucket_bound, bucket_count), min_size=1, max_size=10), min_size=1, max_size=5),
)
def test_histogram_quantile_matches_reference(q: float, columns: list[list[tuple[float, float]]]) -> None:
    for buckets in columns:
        bounds = arr([b for b, _ in buckets])
        counts = arr([c for _, c in buckets])[:, None]
        assert same_float(sm.histogram_quantile(q, bounds, counts)[0], ref_bucket_quantile(q, buckets))


# --- Rollups ----------------------------------------------------------------------------------

MINUTE = 60_000


def build_rollups(ts: np.ndarray, values: np.ndarray) -> dict[str, np.ndarray]:
    """1-minute rollups as the store keeps them: NaN samples left out of min/max/sum/count (an all-NaN
    minute has count 0 and NULL, read as NaN, there), ``last`` the minute's newest sample, NaN or not."""
    rows: dict[int, list[float]] = {}
    for t, v in zip(ts.tolist(), values.tolist(), strict=True):
        rows.setdefault(t - t % MINUTE, []).append(v)
    starts = sorted(rows)
    kept = [[v for v in rows[b] if not math.isnan(v)] for b in starts]
    return {
        "bucket_ts": np.asarray(starts, dtype=np.int64),
        "mins": arr([min(vs) if vs else NAN for vs in kept]),
        "maxs": arr([max(vs) if vs else NAN for vs in kept]),
        "sums": arr([sum(vs) if vs else NAN for vs in kept]),
        "counts": np.asarray([len(vs) for vs in kept], dtype=np.int64),
        "lasts": arr([rows[b][-1] for b in starts]),
    }


@st.composite
def minute_series(draw: st.DrawFn) -> tuple[np.ndarray, np.ndarray]:
    """Raw samples over 30 minutes, none exactly on a minute boundary."""
    minute_offsets = st.integers(1, 30 * MINUTE - 1).filter(lambda t: t % MINUTE != 0)
    ts = sorted(draw(st.lists(minute_offsets, unique=True, max_size=80)))
    values = draw(st.lists(sample_value, min_size=len(ts), max_size=len(ts)))
    return np.asarray(ts, dtype=np.int64), arr(values)


@pytest.mark.parametrize("fn", FNS)
@PROPERTY
@given(
    data=minute_series(),
    start_minute=st.integers(-2, 32),
    step_minutes=st.integers(1, 5),
    window_minutes=st.integers(1, 12),
)
def test_rollup_over_time_matches_raw_over_time(
    fn: str, data: tuple[np.ndarray, np.ndarray], start_minute: int, step_minutes: int, window_minutes: int
) -> None:
    ts, values = data
    rollups = build_rollups(ts, values)
    eval_ts = sm.step_times(start_minute * MINUTE, (start_minute + 40) * MINUTE, step_minutes * MINUTE)
    window = window_minutes * MINUTE
    got, got_present = sm.rollup_over_time(**rollups, eval_ts=eval_ts, window_ms=window, fn=fn)
    kept = ~np.isnan(values) if fn != "last" else np.ones(values.shape, dtype=bool)
    want, want_present = sm.over_time(ts[kept], values[kept], eval_ts, window, fn)
    assert got_present.tolist() == want_present.tolist()
    for k in np.flatnonzero(want_present):
        vs = [v for _, v in in_window(ts[kept], values[kept], int(eval_ts[k]), window)]
        assert same_float(got[k], want[k], sum(abs(v) for v in vs if math.isfinite(v))), (fn, k, got[k], want[k])


def test_rollup_over_time_window_takes_buckets_starting_in_it() -> None:
    # Buckets start at 0, 1, 2, 3 min; window [t - 2 min, t) at t = 3 min takes the ones starting at 1 and 2.
    starts = np.arange(4, dtype=np.int64) * MINUTE
    one = np.ones(4)
    out, present = sm.rollup_over_time(
        starts, one, one, arr([1, 2, 4, 8]), np.ones(4, np.int64), one, [3 * MINUTE], 2 * MINUTE, "sum"
    )
    assert out.tolist() == [6.0] and present.tolist() == [True]


def test_rollup_minutes_with_only_nan_samples() -> None:
    # Minute 1 held only NaN samples: count 0, min/max/sum NULL (NaN), last the NaN sample itself.
    starts = arr([0, MINUTE]).astype(np.int64)
    mins, maxs, sums, lasts = arr([1.0, NAN]), arr([3.0, NAN]), arr([4.0, NAN]), arr([3.0, NAN])
    counts = np.asarray([2, 0], dtype=np.int64)
    eval_ts = [MINUTE, 2 * MINUTE, 3 * MINUTE]

    def run(fn: str, window: int = MINUTE) -> tuple[list[float], list[bool]]:
        out, present = sm.rollup_over_time(starts, mins, maxs, sums, counts, lasts, eval_ts, window, fn)
        return out.tolist(), present.tolist()

    assert run("sum") == ([4.0, 0.0, 0.0], [True, False, False])  # NaN samples are left out of rollups
    assert run("count") == ([2.0, 0.0, 0.0], [True, False, False])
    assert run("avg", 2 * MINUTE) == ([2.0, 2.0, 0.0], [True, True, False])
    assert run("max", 2 * MINUTE) == ([3.0, 3.0, 0.0], [True, True, False])
    last, present = run("last")
    assert last[0] == 3.0 and math.isnan(last[1]) and present == [True, True, False]  # the loss went NaN


def test_rollup_counter_rate_uses_bucket_lasts_at_bucket_ends() -> None:
    # Buckets at 0..4 min with lasts 10, 20, 30, 40, 50: points at 1..5 min. Window (1 min, 5 min] at 5 min
    # takes the points at 2, 3, 4, 5 min (buckets 1..4): increase 30; sampled 180 s; avg 60 s; threshold 66 s
    # durationToStart = 60 s (kept); durationToZero = 180 * (20 / 30) = 120 s; durationToEnd = 0
    # factor = (180 + 60) / 180 -> 40; rate = 40 / 240 s.
    starts = np.arange(5, dtype=np.int64) * MINUTE
    lasts = arr([10, 20, 30, 40, 50])
    mins = lasts - 5
    out, present = sm.rollup_counter_rate(starts, mins, lasts, [5 * MINUTE], 4 * MINUTE, MINUTE, is_rate=False)
    assert present.tolist() == [True] and out[0] == pytest.approx(40.0, rel=1e-15)
    out, _ = sm.rollup_counter_rate(starts, mins, lasts, [5 * MINUTE], 4 * MINUTE, MINUTE, is_rate=True)
    assert out[0] == pytest.approx(40.0 / 240, rel=1e-15)


def test_rollup_counter_rate_detects_resets_from_min_and_last() -> None:
    # lasts 100, 120, 130, 20: bucket 2's min (5) is below 120 -> reset (+120) though its last went up;
    # bucket 3's last 20 < 130 -> reset (+130). Increase over points 1..4 min (window (0, 4 min] at 4 min):
    # 20 - 100 + 120 + 130 = 170; sampled 180 s; avg 60; durationToStart 60 (kept); durationToZero
    # = 180 * (100 / 170) = 105.9, not smaller; durationToEnd 0; factor 240 / 180 -> 170 * 4/3.
    # The reset inside bucket 2 hides what was counted there before it (the documented approximation).
    starts = np.arange(4, dtype=np.int64) * MINUTE
    lasts = arr([100, 120, 130, 20])
    mins = arr([90, 110, 5, 10])
    out, _ = sm.rollup_counter_rate(starts, mins, lasts, [4 * MINUTE], 4 * MINUTE, MINUTE, is_rate=False)
    assert out[0] == pytest.approx(170 * 4 / 3, rel=1e-15)


@PROPERTY
@given(data=counter_series(), window_minutes=st.integers(1, 10), is_rate=st.booleans())
def test_rollup_counter_rate_matches_reference(
    data: tuple[np.ndarray, np.ndarray], window_minutes: int, is_rate: bool
) -> None:
    ts, values = data
    rollups = build_rollups(ts * 60, values)  # spread the samples over 20 minutes
    eval_ts = sm.step_times(0, 21 * MINUTE, MINUTE)
    window = window_minutes * MINUTE
    args = (rollups["bucket_ts"], rollups["mins"], rollups["lasts"], eval_ts, window, MINUTE)
    out, present = sm.rollup_counter_rate(*args, is_rate=is_rate)
    points = list(zip((rollups["bucket_ts"] + MINUTE).tolist(), rollups["lasts"].tolist(), strict=True))
    mins = rollups["mins"].tolist()
    for k, t in enumerate(eval_ts.tolist()):
        chosen = [i for i, (p, _) in enumerate(points) if t - window < p <= t]
        expected = ref_rate([points[i] for i in chosen], t, window, is_rate, [mins[i] for i in chosen])
        assert present[k] == (expected is not None)
        if expected is not None:
            assert same_float(out[k], *expected)


# --- downsample_minmax ------------------------------------------------------------------------


def test_downsample_returns_short_series_as_is() -> None:
    ts, values = ms([1, 2, 3]), arr([1.0, NAN, 3.0])
    out_ts, out_values = sm.downsample_minmax(ts, values, 3)
    assert out_ts.tolist() == ts.tolist() and np.array_equal(out_values, values, equal_nan=True)


def test_downsample_keeps_a_single_sample_spike() -> None:
    ts = np.arange(100_000, dtype=np.int64) * 1000
    values = np.sin(np.arange(100_000) / 500.0)
    values[54_321] = 1e9
    values[77_777] = -1e9
    out_ts, out_values = sm.downsample_minmax(ts, values, 200)
    assert out_ts.size <= 200
    assert 1e9 in out_values and -1e9 in out_values
    assert int(ts[54_321]) in out_ts.tolist()


def test_downsample_keeps_nan_and_inf() -> None:
    ts = np.arange(1000, dtype=np.int64)
    values = np.linspace(0.0, 1.0, 1000)
    values[[100, 500, 501, 800, 801, 802]] = [NAN, NAN, INF, NAN, INF, -INF]
    out_ts, out_values = sm.downsample_minmax(ts, values, 20)  # 10 buckets of 100 ms
    kept = dict(zip(out_ts.tolist(), out_values.tolist(), strict=True))
    assert math.isnan(kept[100])  # replaces the bucket's maximum, keeps its minimum
    assert math.isnan(kept[500]) and kept[501] == INF  # NaN and +Inf, the finite minimum gives way
    assert math.isnan(kept[800]) and kept[801] == INF  # NaN, +Inf, -Inf: NaN and +Inf are shown
    assert kept[0] == 0.0 and 99 in kept  # an ordinary bucket keeps its min and max


def test_downsample_rejects_too_few_points() -> None:
    with pytest.raises(ValueError, match="max_points"):
        sm.downsample_minmax(ms([1, 2, 3]), arr([1, 2, 3]), 1)


@PROPERTY
@given(data=series(), max_points=st.integers(2, 40))
def test_downsample_bounds_order_and_extremes(data: tuple[np.ndarray, np.ndarray], max_points: int) -> None:
    ts, values = data
    out_ts, out_values = sm.downsample_minmax(ts, values, max_points)
    assert out_ts.size <= max_points
    assert np.all(np.diff(out_ts) > 0)  # time order, no duplicates
    index = np.searchsorted(ts, out_ts)
    assert np.array_equal(ts[index], out_ts) and np.array_equal(values[index], out_values, equal_nan=True)
    if np.isnan(values).any():
        assert np.isnan(out_values).any()
    finite_values = values[np.isfinite(values)]
    if finite_values.size and not np.isnan(values).any():
        assert finite_values.max() in out_values or INF in out_values
        assert finite_values.min() in out_values or -INF in out_values


# --- Speed ------------------------------------------------------------------------------------


def test_a_million_samples_stay_fast() -> None:
    rng = np.random.default_rng(1)
    ts = np.cumsum(rng.integers(1, 2000, 1_000_000)).astype(np.int64)
    values = np.cumsum(rng.random(1_000_000))
    eval_ts = np.linspace(ts[0], ts[-1], 1200).astype(np.int64)
    window = int(eval_ts[1] - eval_ts[0])
    began = time.perf_counter()
    sm.counter_rate(ts, values, eval_ts, 5 * window, is_rate=True)
    for fn in FNS:
        sm.over_time(ts, values, eval_ts, window, fn)
        sm.over_time(ts, values, eval_ts, 5 * window, fn)
    sm.downsample_minmax(ts, values, 2400)
    assert time.perf_counter() - began < 2.0
