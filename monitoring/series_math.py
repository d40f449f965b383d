"""Series math: one series' stored samples turned into values at evaluation times, as Prometheus 3 does.

Framework-free and vectorised with numpy; the query layer fetches rows and calls these.

Conventions shared by every function:

* Times are int64 milliseconds since the epoch; values are float64. NaN and ±Inf are legitimate
  sample values, so "no value at this step" is never NaN: every evaluation function returns
  ``(values, present)``, one entry per evaluation time, and ``values`` is 0.0 (meaningless)
  wherever ``present`` is False.
* Sample times ``ts`` are sorted ascending and unique.
* Range windows are left-open and right-closed, as in Prometheus 3: the window of evaluation
  time ``t`` holds the samples with ``t - window < ts <= t``. The instant lookback is the same
  shape: ``t - lookback < ts <= t``.

Windows are reduced in O(samples + evaluation times · log evaluation times) whatever their
overlap: the samples are cut into segments at every window edge, each segment is reduced once
(``ufunc.reduceat``), and each window combines its run of whole segments with power-of-two
blocks of segments (binary lifting). Sums are therefore never differences of running totals,
which would lose precision far from the origin and turn every later window into NaN after one
infinite sample.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numpy.typing import ArrayLike, NDArray

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]
BoolArray = NDArray[np.bool_]
Result = tuple[FloatArray, BoolArray]

OVER_TIME_FNS = frozenset({"avg", "min", "max", "sum", "count", "last"})
DEFAULT_LOOKBACK_MS = 300_000

# Prometheus' histogram_quantile ignores relative differences between adjacent buckets below this
# (promql/quantile.go, smallDeltaTolerance): they are floating-point noise, not observations.
SMALL_DELTA_TOLERANCE = 1e-12
_MIN_NORMAL = float(np.finfo(np.float64).smallest_normal)
_MAX_FLOAT = float(np.finfo(np.float64).max)


def _quiet() -> np.errstate:
    """NaN and ±Inf are ordinary sample values here, so float warnings about them are noise."""
    return np.errstate(invalid="ignore", over="ignore", divide="ignore")


# --- Evaluation times and windows -------------------------------------------------------------


def step_times(start_ms: int, end_ms: int, step_ms: int) -> IntArray:
    """Evaluation times of a range query: ``start, start + step, ...`` up to and including ``end``."""
    if step_ms <= 0:
        raise ValueError(f"step must be positive, got {step_ms} ms")
    if end_ms < start_ms:
        return np.empty(0, dtype=np.int64)
    return np.arange(start_ms, end_ms + 1, step_ms, dtype=np.int64)


def _series(ts: ArrayLike, values: ArrayLike) -> tuple[IntArray, FloatArray]:
    ts_arr = np.asarray(ts, dtype=np.int64)
    values_arr = np.asarray(values, dtype=np.float64)
    if ts_arr.shape != values_arr.shape or ts_arr.ndim != 1:
        raise ValueError(f"ts and values must be 1-D and of one length, got {ts_arr.shape} and {values_arr.shape}")
    return ts_arr, values_arr


def _check_window(window_ms: int) -> None:
    if window_ms <= 0:
        raise ValueError(f"window must be positive, got {window_ms} ms")


def _windows(ts: IntArray, eval_ts: IntArray, window_ms: int) -> tuple[IntArray, IntArray]:
    """Sample index ranges ``[lo, hi)`` of the windows ``(t - window, t]``."""
    lo = np.searchsorted(ts, eval_ts - window_ms, side="right").astype(np.int64)
    hi = np.searchsorted(ts, eval_ts, side="right").astype(np.int64)
    return lo, hi


# --- Reducing many (possibly overlapping) index ranges at once --------------------------------


def _range_reduce(ufunc: np.ufunc, values: FloatArray, lo: IntArray, hi: IntArray) -> FloatArray:
    """``ufunc`` reduced over ``values[lo[k]:hi[k]]`` for every k, in index order; 0.0 for empty ranges.

    The ranges are cut into disjoint segments at every range edge; each segment is reduced once,
    then each range combines its run of segments (see ``_combine_runs``).
    """
    out = np.zeros(lo.shape, dtype=np.float64)
    nonempty = hi > lo
    if not nonempty.any():
        return out
    lo_n, hi_n = lo[nonempty], hi[nonempty]
    bounds = np.unique(np.concatenate((lo_n, hi_n)))
    segments = ufunc.reduceat(values[: bounds[-1]], bounds[:-1])
    first = np.searchsorted(bounds, lo_n)
    stop = np.searchsorted(bounds, hi_n)
    out[nonempty] = _combine_runs(ufunc, segments, first, stop)
    return out


def _combine_runs(ufunc: np.ufunc, segments: FloatArray, first: IntArray, stop: IntArray) -> FloatArray:
    """``ufunc`` over ``segments[first[k]:stop[k]]`` (each non-empty) by binary lifting.

    ``level[i]`` holds the reduction of ``segments[i : i + 2**k]``; a run of length L takes one
    block per set bit of L, smallest first, so blocks are combined left to right.
    """
    length = stop - first
    pos = first.copy()
    result = np.zeros(first.shape, dtype=np.float64)
    started = np.zeros(first.shape, dtype=bool)
    level, k, longest = segments, 0, int(length.max())
    while True:
        take = ((length >> k) & 1).astype(bool)
        if take.any():
            block = level[pos[take]]
            result[take] = np.where(started[take], ufunc(result[take], block), block)
            started |= take
            pos[take] += 1 << k
        if (1 << (k + 1)) > longest:
            return result
        half = 1 << k
        level = ufunc(level[:-half], level[half:])
        k += 1


# --- *_over_time ------------------------------------------------------------------------------


@_quiet()
def over_time(ts: ArrayLike, values: ArrayLike, eval_ts: ArrayLike, window_ms: int, fn: str) -> Result:
    """``<fn>_over_time(series[window])`` at each evaluation time; windows are ``(t - window, t]``.

    ``fn`` is one of avg, min, max, sum, count, last. A window without samples is not present.
    sum and avg propagate NaN and ±Inf as float addition does (Inf + -Inf is NaN); min and max skip
    NaN unless every sample in the window is NaN (Prometheus: ``if cur > max || math.IsNaN(max)``);
    count counts NaN samples too; last is the newest sample, NaN included.
    """
    if fn not in OVER_TIME_FNS:
        raise ValueError(f"unknown over_time function {fn!r}; expected one of {sorted(OVER_TIME_FNS)}")
    _check_window(window_ms)
    ts_arr, values_arr = _series(ts, values)
    lo, hi = _windows(ts_arr, np.asarray(eval_ts, dtype=np.int64), window_ms)
    return _reduce_windows(values_arr, lo, hi, fn)


def _reduce_windows(values: FloatArray, lo: IntArray, hi: IntArray, fn: str) -> Result:
    """The over_time reduction ``fn`` of ``values[lo:hi]`` per window."""
    present = hi > lo
    count = (hi - lo).astype(np.float64)
    if fn == "count":
        out = count
    elif fn == "last":
        out = np.zeros(lo.shape, dtype=np.float64)
        out[present] = values[hi[present] - 1]
    elif fn in ("sum", "avg"):
        out = _range_reduce(np.add, values, lo, hi)
        if fn == "avg":
            out = _average(values, lo, hi, out, count)
    else:
        out = _range_reduce(np.fmin if fn == "min" else np.fmax, values, lo, hi)
    return np.where(present, out, 0.0), present


def _average(values: FloatArray, lo: IntArray, hi: IntArray, sums: FloatArray, count: FloatArray) -> FloatArray:
    """Window means from window sums.

    When finite samples overflow the sum to ±Inf, Prometheus falls back to an incremental mean
    and returns a finite average; those (rare) windows are recomputed here as sum(v / n).
    """
    avg = sums / count
    overflowed = np.flatnonzero(np.isinf(sums) & (hi > lo))
    if overflowed.size:
        nonfinite = np.concatenate(([0], np.cumsum(~np.isfinite(values))))
        for k in overflowed[nonfinite[hi[overflowed]] == nonfinite[lo[overflowed]]]:
            avg[k] = np.sum(values[lo[k] : hi[k]] / count[k])
    return avg


def instant_last(
    ts: ArrayLike, values: ArrayLike, eval_ts: ArrayLike, lookback_ms: int = DEFAULT_LOOKBACK_MS
) -> Result:
    """A plain selector's value at each evaluation time: the newest sample with ``t - lookback < ts <= t``."""
    _check_window(lookback_ms)
    ts_arr, values_arr = _series(ts, values)
    eval_arr = np.asarray(eval_ts, dtype=np.int64)
    idx = np.searchsorted(ts_arr, eval_arr, side="right") - 1
    present = idx >= 0
    present[present] = ts_arr[idx[present]] > eval_arr[present] - lookback_ms
    out = np.zeros(eval_arr.shape, dtype=np.float64)
    out[present] = values_arr[idx[present]]
    return out, present


# --- rate / increase --------------------------------------------------------------------------


@_quiet()
def counter_rate(ts: ArrayLike, values: ArrayLike, eval_ts: ArrayLike, window_ms: int, *, is_rate: bool) -> Result:
    """``rate`` (``is_rate``) or ``increase`` of a counter over ``(t - window, t]``, as Prometheus 3 computes it.

    A window needs at least two samples. A sample lower than the one before it is a counter reset
    and adds that previous value to the increase. The result is then extrapolated towards the
    window edges exactly as Prometheus' ``extrapolatedRate`` (see ``_extrapolate``).
    """
    _check_window(window_ms)
    ts_arr, values_arr = _series(ts, values)
    return _extrapolated_rate(ts_arr, values_arr, _reset_corrections(values_arr), eval_ts, window_ms, is_rate)


def _reset_corrections(values: FloatArray, mins: FloatArray | None = None) -> FloatArray:
    """Per point, what a reset there adds to the increase: the previous value, else 0.

    A point is a reset when its value (or, for rollups, its bucket's minimum) is below the previous
    value. Kept apart from the values and summed per window, so a window's increase is
    ``last - first + sum(corrections between)``, never a difference of running totals.
    """
    corrections = np.zeros(values.shape, dtype=np.float64)
    if values.size < 2:
        return corrections
    previous = values[:-1]
    reset = values[1:] < previous
    if mins is not None:
        reset |= mins[1:] < previous
    corrections[1:] = np.where(reset, previous, 0.0)
    return corrections


def _extrapolated_rate(
    ts: IntArray, values: FloatArray, corrections: FloatArray, eval_ts: ArrayLike, window_ms: int, is_rate: bool
) -> Result:
    """rate/increase over the points ``(ts, values)`` with per-point reset ``corrections``."""
    eval_arr = np.asarray(eval_ts, dtype=np.int64)
    lo, hi = _windows(ts, eval_arr, window_ms)
    present = hi - lo >= 2
    first, last = lo[present], hi[present] - 1
    increase = values[last] - values[first]
    increase = increase + _range_reduce(np.add, corrections, first + 1, last + 1)
    window = _Window(start=eval_arr[present] - window_ms, end=eval_arr[present], seconds=_go_seconds(window_ms))
    extrapolated = _extrapolate(increase, ts[first], ts[last], values[first], last - first, window, is_rate)
    out = np.zeros(eval_arr.shape, dtype=np.float64)
    out[present] = extrapolated
    return out, present


class _Window(NamedTuple):
    """The range of each evaluated window: ``(start, end]`` in ms, and its length in seconds."""

    start: IntArray
    end: IntArray
    seconds: float


def _go_seconds(ms: int) -> float:
    """``time.Duration.Seconds()`` of ``ms`` milliseconds, rounded as Go rounds it."""
    seconds, rest_ms = divmod(ms, 1000)
    return float(seconds) + float(rest_ms * 1_000_000) / 1e9


def _extrapolate(
    increase: FloatArray,
    first_t: IntArray,
    last_t: IntArray,
    first_v: FloatArray,
    intervals: IntArray,
    window: _Window,
    is_rate: bool,
) -> FloatArray:
    """Prometheus ``extrapolatedRate`` after the increase is known, vectorised, in Go's operation order.

    Extrapolate to a window edge when the nearest sample is within 1.1 average sample intervals of
    it, else by half an interval; never extrapolate the start back past the counter's zero point.
    """
    to_start = (first_t - window.start).astype(np.float64) / 1000
    to_end = (window.end - last_t).astype(np.float64) / 1000
    sampled = (last_t - first_t).astype(np.float64) / 1000
    average = sampled / intervals.astype(np.float64)
    threshold = average * 1.1
    to_start = np.where(to_start >= threshold, average / 2, to_start)
    to_zero = sampled * (first_v / increase)
    to_start = np.where((increase > 0) & (first_v >= 0) & (to_zero < to_start), to_zero, to_start)
    to_end = np.where(to_end >= threshold, average / 2, to_end)
    factor = (sampled + to_start + to_end) / sampled
    if is_rate:
        factor = factor / window.seconds
    return increase * factor


# --- histogram_quantile -----------------------------------------------------------------------


@_quiet()
def histogram_quantile(
    q: float, upper_bounds: ArrayLike, bucket_values: ArrayLike, present: ArrayLike | None = None
) -> FloatArray:
    """``histogram_quantile(q, ...)`` of classic-histogram buckets per evaluation time (Prometheus ``BucketQuantile``).

    ``upper_bounds`` (B,) are the ``le`` values, in any order, duplicates allowed; ``bucket_values``
    (B, T) are cumulative counts (or rates) per evaluation time. Optional ``present`` (B, T) marks
    which bucket series have a value at each time: as in Prometheus, an absent bucket is left out
    of that time's histogram (which is not the same as a count of 0). A NaN bound (an unparseable
    ``le``) is left out, as Prometheus skips such buckets. A column without buckets, or with a NaN
    count among its buckets, gives NaN.
    """
    bounds = np.asarray(upper_bounds, dtype=np.float64)
    counts = np.asarray(bucket_values, dtype=np.float64)
    if counts.ndim != 2 or bounds.shape != counts.shape[:1]:
        raise ValueError(f"expected upper_bounds (B,) and bucket_values (B, T), got {bounds.shape} and {counts.shape}")
    mask = np.ones(counts.shape, dtype=bool) if present is None else np.asarray(present, dtype=bool)
    if mask.shape != counts.shape:
        raise ValueError(f"present must have the shape of bucket_values {counts.shape}, got {mask.shape}")
    parsed = ~np.isnan(bounds)
    bounds, counts, mask = bounds[parsed], counts[parsed], mask[parsed]
    if bounds.size == 0:
        return np.full(counts.shape[1], np.nan)
    if mask.all():
        return _bucket_quantile(q, bounds, counts)
    out = np.full(counts.shape[1], np.nan)
    patterns, which = np.unique(mask.T, axis=0, return_inverse=True)
    which = which.reshape(-1)
    for p, pattern in enumerate(patterns):
        if pattern.any():
            cols = which == p
            out[cols] = _bucket_quantile(q, bounds[pattern], counts[pattern][:, cols])
    return out


def _bucket_quantile(q: float, bounds: FloatArray, counts: FloatArray) -> FloatArray:
    """``BucketQuantile`` for one set of buckets, vectorised over the T columns of ``counts``."""
    columns = counts.shape[1]
    if np.isnan(q):
        return np.full(columns, np.nan)
    if q < 0 or q > 1:
        return np.full(columns, -np.inf if q < 0 else np.inf)
    order = np.argsort(bounds, kind="stable")
    bounds, counts = bounds[order], counts[order]
    if bounds.size == 0 or bounds[-1] != np.inf:
        return np.full(columns, np.nan)
    starts = np.flatnonzero(np.concatenate(([True], bounds[1:] != bounds[:-1])))
    bounds, counts = bounds[starts], np.add.reduceat(counts, starts, axis=0)
    if bounds.size < 2:
        return np.full(columns, np.nan)
    broken = np.isnan(counts).any(axis=0)
    counts = _ensure_monotonic(counts)
    observations = counts[-1]
    result = _interpolate(q * observations, bounds, counts)
    return np.where(broken | (observations == 0), np.nan, result)


def _ensure_monotonic(counts: FloatArray) -> FloatArray:
    """Prometheus ``ensureMonotonicAndIgnoreSmallDeltas``, one bucket row at a time across all columns.

    A count equal to the last accepted one within the relative tolerance, or below it, is replaced
    by the last accepted count; only a clear increase becomes the new accepted count.
    """
    counts = counts.copy()
    accepted = counts[0].copy()
    for i in range(1, counts.shape[0]):
        current = counts[i]
        same = current == accepted
        ignored = ~same & (_almost_equal(accepted, current, SMALL_DELTA_TOLERANCE) | (current < accepted))
        counts[i] = np.where(ignored, accepted, current)
        accepted = np.where(same | ignored, accepted, current)
    return counts


def _almost_equal(a: FloatArray, b: FloatArray, epsilon: float) -> BoolArray:
    """Prometheus ``almost.Equal``: relative difference below ``epsilon``; both NaN counts as equal."""
    abs_sum = np.abs(a) + np.abs(b)
    diff = np.abs(a - b)
    tiny = (a == 0) | (b == 0) | (abs_sum < _MIN_NORMAL)
    relative = np.where(tiny, diff < epsilon * _MIN_NORMAL, diff / np.minimum(abs_sum, _MAX_FLOAT) < epsilon)
    return (np.isnan(a) & np.isnan(b)) | (a == b) | relative


def _interpolate(rank: FloatArray, bounds: FloatArray, counts: FloatArray) -> FloatArray:
    """The rank's position within its bucket, interpolated linearly (the tail of ``BucketQuantile``)."""
    top = bounds.size - 1
    reached = counts[:-1] >= rank
    b = np.where(reached.any(axis=0), reached.argmax(axis=0), top)
    inner = np.minimum(b, top - 1)
    columns = np.arange(counts.shape[1])
    below = np.where(b > 0, counts[np.maximum(inner - 1, 0), columns], 0.0)
    start = np.where(b > 0, bounds[np.maximum(inner - 1, 0)], 0.0)
    count = counts[inner, columns] - below
    result = start + (bounds[inner] - start) * ((rank - below) / count)
    result = np.where((b == 0) & (bounds[0] <= 0), bounds[0], result)
    return np.where(b == top, bounds[top - 1], result)


# --- Rollups ----------------------------------------------------------------------------------


@_quiet()
def rollup_over_time(
    bucket_ts: ArrayLike,
    mins: ArrayLike,
    maxs: ArrayLike,
    sums: ArrayLike,
    counts: ArrayLike,
    lasts: ArrayLike,
    eval_ts: ArrayLike,
    window_ms: int,
    fn: str,
) -> Result:
    """``<fn>_over_time`` from pre-aggregated buckets (1-minute or 1-hour rollups).

    ``bucket_ts`` are bucket START times, sorted and unique. The window of ``t`` takes the buckets
    whose start lies in ``[t - window, t)``: with ``t`` and ``window`` multiples of the resolution,
    exactly the buckets covering ``[t - window, t)``. That equals the raw window ``(t - window, t]``
    except for samples exactly on its edges (a sample at ``t - window`` is counted, one at ``t`` is
    not), so callers align evaluation times and windows to the resolution.

    Rollups leave NaN samples out of min/max/sum/count but keep the literal newest sample as
    ``last``. So ``last`` is the newest bucket's last (NaN included, as raw last_over_time), present
    when the window holds any bucket. The others skip buckets with count 0 (only NaN samples; their
    NULL fields read as NaN) and are present when the window's buckets count at least one sample:
    avg = sum(sums) / sum(counts), min = min(mins), max = max(maxs), sum = sum(sums), count = sum(counts).
    A bucket with samples whose sum is NaN (+Inf and -Inf in it) makes sum and avg NaN, as raw data would.
    """
    if fn not in OVER_TIME_FNS:
        raise ValueError(f"unknown over_time function {fn!r}; expected one of {sorted(OVER_TIME_FNS)}")
    _check_window(window_ms)
    starts = np.asarray(bucket_ts, dtype=np.int64)
    eval_arr = np.asarray(eval_ts, dtype=np.int64)
    lo = np.searchsorted(starts, eval_arr - window_ms, side="left").astype(np.int64)
    hi = np.searchsorted(starts, eval_arr, side="left").astype(np.int64)
    if fn == "last":
        return _reduce_windows(np.asarray(lasts, dtype=np.float64), lo, hi, "last")
    field = {"min": mins, "max": maxs, "sum": sums, "avg": sums, "count": counts}[fn]
    return _rollup_aggregate(np.asarray(field, dtype=np.float64), np.asarray(counts, dtype=np.int64), lo, hi, fn)


def _rollup_aggregate(field: FloatArray, counts: IntArray, lo: IntArray, hi: IntArray, fn: str) -> Result:
    """min / max / sum / avg / count of one rollup column over the buckets ``[lo, hi)`` that hold samples."""
    running = np.concatenate(([0], np.cumsum(counts)))
    total = (running[hi] - running[lo]).astype(np.float64)
    present = total > 0
    filled = counts > 0
    if fn == "count":
        out = total
    elif fn in ("sum", "avg"):
        out = _range_reduce(np.add, np.where(filled, field, 0.0), lo, hi)
        if fn == "avg":
            out = out / total
    else:
        out = _range_reduce(np.fmin if fn == "min" else np.fmax, np.where(filled, field, np.nan), lo, hi)
    return np.where(present, out, 0.0), present


@_quiet()
def rollup_counter_rate(
    bucket_ts: ArrayLike,
    mins: ArrayLike,
    lasts: ArrayLike,
    eval_ts: ArrayLike,
    window_ms: int,
    resolution_ms: int,
    *,
    is_rate: bool,
) -> Result:
    """Approximate ``rate`` / ``increase`` from rollups.

    Each bucket becomes one counter point: its ``last`` at time ``bucket_start + resolution``.
    Buckets whose last is NaN (or NULL, read as NaN) are skipped: there is no counter value there.
    A bucket whose ``min`` or ``last`` is below the previous bucket's ``last`` is a reset and adds
    that previous last. Then the points in ``(t - window, t]`` (for aligned ``t`` and ``window``:
    the buckets starting in ``[t - window, t)``) are extrapolated exactly as ``counter_rate`` does.

    The approximation: points sit at bucket ends rather than at the real sample times, and a reset
    inside a bucket loses the part of the increase made in that bucket before the reset.
    """
    _check_window(window_ms)
    starts = np.asarray(bucket_ts, dtype=np.int64)
    last_v = np.asarray(lasts, dtype=np.float64)
    min_v = np.asarray(mins, dtype=np.float64)
    keep = ~np.isnan(last_v)
    points_t, points_v, points_min = starts[keep] + resolution_ms, last_v[keep], min_v[keep]
    corrections = _reset_corrections(points_v, points_min)
    return _extrapolated_rate(points_t, points_v, corrections, eval_ts, window_ms, is_rate)


# --- Charts -----------------------------------------------------------------------------------


def downsample_minmax(ts: ArrayLike, values: ArrayLike, max_points: int) -> tuple[IntArray, FloatArray]:
    """At most ``max_points`` samples for a chart, keeping each time bucket's extremes.

    Series of ``max_points`` samples or fewer come back as they are. Otherwise ``[ts[0], ts[-1]]``
    is cut into ``max_points // 2`` equal time buckets, and each non-empty bucket keeps the sample
    with its minimum and the one with its maximum (one sample when they coincide), in time order,
    so a one-sample spike is never lost. Non-finite samples matter most: -Inf and +Inf are the
    extremes anyway, and a bucket with NaN keeps its first NaN in place of its maximum, or of its
    minimum when the maximum is +Inf (a bucket with NaN, +Inf and -Inf shows NaN and +Inf).
    """
    ts_arr, values_arr = _series(ts, values)
    if ts_arr.size <= max_points:
        return ts_arr, values_arr
    if max_points < 2:
        raise ValueError(f"max_points must be at least 2, got {max_points}")
    buckets = max_points // 2
    span = float(ts_arr[-1] - ts_arr[0])
    bucket = np.minimum(((ts_arr - ts_arr[0]) * (buckets / span)).astype(np.int64), buckets - 1)
    starts = np.flatnonzero(np.concatenate(([True], bucket[1:] != bucket[:-1])))
    keep = np.unique(np.concatenate(_bucket_extremes(values_arr, starts)))
    return ts_arr[keep], values_arr[keep]


def _bucket_extremes(values: FloatArray, starts: IntArray) -> tuple[IntArray, IntArray]:
    """Per bucket (starting at ``starts``), the indexes of the sample to show as its high and its low."""
    n = values.size
    index = np.arange(n)
    sizes = np.diff(np.concatenate((starts, [n])))
    nan = np.isnan(values)

    def first_where(mask: BoolArray) -> IntArray:
        return np.minimum.reduceat(np.where(mask, index, n), starts)

    high_v = np.maximum.reduceat(np.where(nan, -np.inf, values), starts)
    low_v = np.minimum.reduceat(np.where(nan, np.inf, values), starts)
    high = first_where(~nan & (values == np.repeat(high_v, sizes)))
    low = first_where(~nan & (values == np.repeat(low_v, sizes)))
    first_nan = first_where(nan)
    has_nan = first_nan < n
    all_nan = high == n
    high_finite = ~all_nan & np.isfinite(values[np.minimum(high, n - 1)])
    replace_high = has_nan & (high_finite | all_nan)
    replace_low = has_nan & ~(high_finite & ~all_nan)
    return np.where(replace_high, first_nan, high), np.where(replace_low, first_nan, low)
