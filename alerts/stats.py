"""Numeric helpers of the alert conditions: windowed statistics over a series on a time grid.

Framework-free, numpy only. Used both for one live evaluation and for a 7-day backtest, so every
windowed statistic is computed for many windows at once.

Conventions:

* A series is ``values`` (float64, one per grid time) with ``valid`` (bool): the points a statistic
  may use. Points that are not finite are never used, whatever ``valid`` says: NaN and ±Inf are
  legitimate sample values, but a mean or a regression line over them means nothing.
* A window is a range of grid indices ``[lo, hi)`` with ``0 <= lo`` and ``hi <= len(values)``;
  ``trailing`` builds the usual ones. Windows may overlap freely; a window with too few usable
  points yields NaN, never an error.

Window means, variances and regression sums are never differences of running totals: a running
total carries the rounding error of every large value before the window (one spike of 1e12
earlier in a week leaves a window's variance of 1e-6 as pure noise). Instead each window merges
the exact moments of disjoint power-of-two blocks (binary lifting, as ``monitoring.series_math``
does for sums) with the pairwise update of Chan, Golub and LeVeque: ``O(points · log window)``,
vectorised, and as accurate as a two-pass computation. A window of equal values has a standard
deviation and a slope of exactly 0.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import NamedTuple

import numpy as np
from numpy.typing import ArrayLike, NDArray

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]
BoolArray = NDArray[np.bool_]
State = tuple[FloatArray, ...]

PSI_EPSILON = 1e-4


def _quiet() -> np.errstate:
    """Empty windows divide 0 by 0 on purpose (and yield NaN); the warnings are noise."""
    return np.errstate(invalid="ignore", divide="ignore", over="ignore", under="ignore")


# --- Windows ----------------------------------------------------------------------------------


def trailing(end: ArrayLike, points: int, *, inclusive: bool) -> tuple[IntArray, IntArray]:
    """Index ranges ``[lo, hi)`` of trailing windows of ``points`` grid points before index ``end``.

    ``inclusive`` False: the ``points`` indices before ``end`` (``end`` itself excluded, as an
    anomaly baseline). True: those and ``end`` itself (``points + 1`` indices, as a trend window
    ``[t - window, t]``). ``lo`` is clipped at 0.
    """
    end_arr = np.asarray(end, dtype=np.int64)
    hi = end_arr + 1 if inclusive else end_arr.copy()
    return np.maximum(end_arr - points, 0), hi


def finite_present(values: ArrayLike, valid: ArrayLike) -> tuple[FloatArray, BoolArray]:
    """The values as float64, and where they are both present and finite."""
    values_arr = np.asarray(values, dtype=np.float64)
    return values_arr, np.asarray(valid, dtype=bool) & np.isfinite(values_arr)


def _reduce_ranges(base: State, lo: IntArray, hi: IntArray, merge: Callable[[State, State], State]) -> State:
    """``merge`` folded over ``base[lo[k]:hi[k]]`` (per field) for every window k.

    ``merge`` must be associative with the all-zero state as identity. ``level`` holds the
    reduction of every block ``[i, i + 2**k)``; a window of length L takes one block per set bit
    of L, smallest first, so blocks are merged left to right and never overlap.
    """
    length = np.maximum(hi - lo, 0)
    result = tuple(np.zeros(lo.shape, dtype=np.float64) for _ in base)
    longest = int(length.max()) if length.size else 0
    pos, level, k = lo.copy(), base, 0
    while longest:
        take = ((length >> k) & 1).astype(bool)
        if take.any():
            merged = merge(tuple(f[take] for f in result), tuple(f[pos[take]] for f in level))
            for field, update in zip(result, merged, strict=True):
                field[take] = update
            pos[take] += 1 << k
        if (1 << (k + 1)) > longest:
            break
        half = 1 << k
        level = merge(tuple(f[:-half] for f in level), tuple(f[half:] for f in level))
        k += 1
    return result


@_quiet()
def _merge_comoments(a: State, b: State) -> State:
    """Pairwise update of (n, mean t, mean v, Σdt², Σdt·dv, Σdv²) for two disjoint blocks, a before b."""
    na, ta, va, tta, tva, vva = a
    nb, tb, vb, ttb, tvb, vvb = b
    n = na + nb
    w = np.divide(nb, n, out=np.zeros_like(n), where=n > 0)
    dt, dv = tb - ta, vb - va
    f = na * w
    return (n, ta + dt * w, va + dv * w, tta + ttb + dt * dt * f, tva + tvb + dt * dv * f, vva + vvb + dv * dv * f)


def _comoments(times: FloatArray, values: FloatArray, usable: BoolArray, lo: ArrayLike, hi: ArrayLike) -> State:
    """Per window: count, mean time, mean value and the centred sums Σdt², Σdt·dv, Σdv²."""
    zeros = np.zeros(values.shape, dtype=np.float64)
    base = (usable.astype(np.float64), np.where(usable, times, 0.0), np.where(usable, values, 0.0), zeros, zeros, zeros)
    return _reduce_ranges(base, np.asarray(lo, dtype=np.int64), np.asarray(hi, dtype=np.int64), _merge_comoments)


# --- Mean and standard deviation --------------------------------------------------------------


class Moments(NamedTuple):
    """Per window: how many usable points, their mean and standard deviation (NaN when none)."""

    count: IntArray
    mean: FloatArray
    std: FloatArray


@_quiet()
def rolling_mean_std(values: ArrayLike, valid: ArrayLike, lo: ArrayLike, hi: ArrayLike) -> Moments:
    """Mean and population standard deviation (divided by n) of each window's usable points.

    Vectorised by merging block moments (see the module's docstring): ``O(points · log window)``
    whatever the overlap of the windows.
    """
    values_arr, usable = finite_present(values, valid)
    n, _, mean, _, _, m2 = _comoments(np.zeros(values_arr.shape), values_arr, usable, lo, hi)
    empty = n == 0
    std = np.sqrt(np.maximum(m2, 0.0) / n)
    return Moments(n.astype(np.int64), np.where(empty, np.nan, mean), np.where(empty, np.nan, std))


@_quiet()
def ewma_mean_std(values: ArrayLike, valid: ArrayLike, lo: ArrayLike, hi: ArrayLike, alpha: float) -> Moments:
    """Exponentially weighted mean and standard deviation of each window's usable points, in time order.

    The recurrence (Finch, "Incremental calculation of weighted mean and variance", 2009): each
    window starts afresh at its first usable point ``x0`` with ``mean = x0, var = 0``; then for
    every later usable point ``x``::

        diff = x - mean
        mean = mean + alpha * diff
        var  = (1 - alpha) * (var + alpha * diff * diff)

    Its result is exactly the weighted mean and (biased) weighted variance with weight
    ``alpha * (1 - alpha)**age`` per point and ``(1 - alpha)**age`` for ``x0``, ``age`` counting
    the usable points after it in the window (missing points are skipped, not decayed over).

    Vectorised without running the recurrence: blocks carry weighted moments with weights
    ``(1 - alpha)**age`` (the common factor alpha drops out of a weighted mean), merged as the
    other moments are, the older block's weights first decayed by ``(1 - alpha)**n`` for the
    newer block's n usable points; then ``x0`` gets its extra weight ``(1/alpha - 1) · (1 -
    alpha)**(n - 1)``. ``O(points · log window)``, like ``rolling_mean_std``.
    """
    values_arr, usable = finite_present(values, valid)
    lo_arr, hi_arr = np.asarray(lo, dtype=np.int64), np.asarray(hi, dtype=np.int64)
    ones = usable.astype(np.float64)
    base = (ones, ones.copy(), np.where(usable, values_arr, 0.0), np.zeros(values_arr.shape))
    n, weight, mean, m2 = _reduce_ranges(base, lo_arr, hi_arr, partial(_merge_decayed, 1.0 - alpha))
    first = _first_usable(values_arr, usable, lo_arr, n)
    extra = np.where(n > 0, (1.0 / alpha - 1.0) * (1.0 - alpha) ** np.maximum(n - 1, 0), 0.0)
    _, weight, mean, m2 = _merge_weighted((n, weight, mean, m2), (np.zeros_like(n), extra, first, np.zeros_like(n)))
    empty = n == 0
    std = np.sqrt(np.maximum(m2, 0.0) / weight)
    return Moments(n.astype(np.int64), np.where(empty, np.nan, mean), np.where(empty, np.nan, std))


@_quiet()
def _merge_decayed(keep: float, a: State, b: State) -> State:
    """(n, Σw, weighted mean, Σw·d²) of block a followed by block b, a's weights decayed by keep**n_b."""
    decay = keep ** b[0]
    return _merge_weighted((a[0], a[1] * decay, a[2], a[3] * decay), b)


@_quiet()
def _merge_weighted(a: State, b: State) -> State:
    """Pairwise update of weighted moments (n, Σw, weighted mean, Σw·d²) of two disjoint sets."""
    na, wa, ma, qa = a
    nb, wb, mb, qb = b
    weight = wa + wb
    share = np.divide(wb, weight, out=np.zeros_like(weight), where=weight > 0)
    delta = mb - ma
    return (na + nb, weight, ma + delta * share, qa + qb + delta * delta * wa * share)


def _first_usable(values: FloatArray, usable: BoolArray, lo: IntArray, count: FloatArray) -> FloatArray:
    """Each window's first usable value (0.0 for a window without one)."""
    index = np.flatnonzero(usable)
    if index.size == 0:
        return np.zeros(lo.shape)
    first = np.minimum(np.searchsorted(index, lo), index.size - 1)
    return np.where(count > 0, values[index[first]], 0.0)


@_quiet()
def zscore(x: ArrayLike, mean: ArrayLike, std: ArrayLike) -> FloatArray:
    """``(x - mean) / std``; with a std of 0, ±Inf for any other value and 0 for the mean itself."""
    diff = np.asarray(x, dtype=np.float64) - np.asarray(mean, dtype=np.float64)
    std_arr = np.broadcast_to(np.asarray(std, dtype=np.float64), diff.shape)
    flat = np.where(diff == 0, 0.0, np.copysign(np.inf, diff))
    return np.where(std_arr == 0, flat, diff / std_arr)


# --- Least squares ----------------------------------------------------------------------------


class LinearFit(NamedTuple):
    """Per window: usable points, the least-squares slope (per unit of time), and the line's value
    at the window's evaluation time (``intercept``, as Prometheus' ``linearRegression`` with
    ``interceptTime = t``). NaN where fewer than two points."""

    count: IntArray
    slope: FloatArray
    intercept: FloatArray


@_quiet()
def rolling_linear_fit(
    times: ArrayLike, values: ArrayLike, valid: ArrayLike, lo: ArrayLike, hi: ArrayLike, at: ArrayLike
) -> LinearFit:
    """Ordinary least squares of value on time over each window's usable points.

    ``times`` are float (seconds, say: the slope is per that unit; subtract an origin near the
    data, as the grid's first time, to keep precision); ``at`` is the time of each window's
    intercept. With the window's means and centred sums (merged blockwise, see the module's
    docstring): ``slope = Σdt·dv / Σdt²`` and ``intercept = mean(v) + slope · (at - mean(t))``.
    A window of equal values has slope exactly 0.
    """
    values_arr, usable = finite_present(values, valid)
    times_arr = np.asarray(times, dtype=np.float64)
    n, mean_t, mean_v, stt, stv, _ = _comoments(times_arr, values_arr, usable, lo, hi)
    fitted = (n >= 2) & (stt > 0)
    slope = np.where(fitted, stv / stt, np.nan)
    intercept = np.where(fitted, mean_v + slope * (np.asarray(at, dtype=np.float64) - mean_t), np.nan)
    return LinearFit(n.astype(np.int64), slope, intercept)


def predict_linear(fit: LinearFit, horizon: float) -> FloatArray:
    """Prometheus' ``predict_linear``: the window's regression line evaluated ``horizon`` after ``at``."""
    return fit.intercept + fit.slope * horizon


# --- Distribution drift -----------------------------------------------------------------------


def psi_edges(reference: ArrayLike, bins: int) -> FloatArray:
    """Inner bin edges: the reference's quantiles at 1/bins … (bins-1)/bins (linear interpolation),
    duplicates removed. The outer bins are open-ended, so there are ``len(edges) + 1`` bins:
    ``(-inf, e1), [e1, e2), …, [e_last, inf)``."""
    ordered = np.sort(np.asarray(reference, dtype=np.float64))
    position = np.arange(1, bins) / bins * (ordered.size - 1)  # numpy's "linear" quantile, without its overhead
    below = np.floor(position).astype(np.int64)
    above = np.minimum(below + 1, ordered.size - 1)
    return np.unique(ordered[below] + (position - below) * (ordered[above] - ordered[below]))


def bin_proportions(values: ArrayLike, edges: FloatArray, epsilon: float = PSI_EPSILON) -> FloatArray:
    """Share of ``values`` in each bin of ``edges`` (see ``psi_edges``), each at least ``epsilon``
    so that an empty bin does not make the PSI infinite. Not renormalised."""
    values_arr = np.asarray(values, dtype=np.float64)
    counts = np.bincount(np.searchsorted(edges, values_arr, side="right"), minlength=edges.size + 1)
    return np.maximum(counts / max(values_arr.size, 1), epsilon)


def psi(reference: ArrayLike, current: ArrayLike, bins: int = 10, epsilon: float = PSI_EPSILON) -> float:
    """Population stability index ``Σ (c - r) · ln(c / r)`` over bins cut at the reference's quantiles.

    ``r`` and ``c`` are the reference's and the current sample's proportions per bin (at least
    ``epsilon`` each). 0 for identical samples; conventionally < 0.1 stable, > 0.2 shifted.
    """
    edges = psi_edges(reference, bins)
    r = bin_proportions(reference, edges, epsilon)
    c = bin_proportions(current, edges, epsilon)
    return float(np.sum((c - r) * np.log(c / r)))


def ks_statistic(a: ArrayLike, b: ArrayLike) -> float:
    """Two-sample Kolmogorov-Smirnov statistic ``D = max_x |F_a(x) - F_b(x)|``, exactly.

    Both empirical CDFs are step functions that only jump at sample values, so the supremum is
    reached at one of them: evaluate both CDFs (searchsorted on the sorted samples, right side)
    at every sample value.
    """
    a_sorted = np.sort(np.asarray(a, dtype=np.float64))
    b_sorted = np.sort(np.asarray(b, dtype=np.float64))
    points = np.concatenate((a_sorted, b_sorted))
    cdf_a = np.searchsorted(a_sorted, points, side="right") / a_sorted.size
    cdf_b = np.searchsorted(b_sorted, points, side="right") / b_sorted.size
    return float(np.max(np.abs(cdf_a - cdf_b)))
