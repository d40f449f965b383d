"""drift: the distribution of recent values differs from a reference period's (PSI or KS)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from alerts import stats
from alerts.conditions.base import (
    Condition,
    ConfigError,
    KindConfig,
    Outcome,
    SeriesGrid,
    Source,
    at_least,
    at_most,
    check_eval_ts,
    fetch,
    fetch_span,
    labels_key,
    no_outcome,
    one_of,
    positive,
    refused_for,
    required_for,
    window_points,
)
from alerts.stats import FloatArray, IntArray

DAY_MS = 86_400_000
METHODS = ("psi", "ks")
REFERENCES = ("previous_day", "fixed")
Ranges = tuple[IntArray, IntArray]


@dataclass(frozen=True)
class DriftConfig(KindConfig):
    """``method`` psi | ks; ``window_s`` (≥ 60) the current window; ``threshold`` (> 0; typically
    0.2 for PSI, 0.1 for KS); ``reference`` previous_day (the same window 24 h earlier) or fixed
    (with ``reference_start_ms`` < ``reference_end_ms``, refused otherwise); ``bins`` (PSI, 2..100,
    ignored by KS); ``min_samples`` (≥ 2) in each of the two samples."""

    method: str
    window_s: int
    threshold: float
    reference: str = "previous_day"
    reference_start_ms: int | None = None
    reference_end_ms: int | None = None
    bins: int = 10
    min_samples: int = 30

    def __post_init__(self) -> None:
        one_of("method", self.method, METHODS)
        at_least("window_s", self.window_s, 60)
        positive("threshold", self.threshold)
        one_of("reference", self.reference, REFERENCES)
        span = ("reference_start_ms", "reference_end_ms")
        if self.reference == "fixed":
            required_for(self, span, "reference fixed")
            if self.reference_end_ms <= self.reference_start_ms:
                raise ConfigError("reference_end_ms", "must be after reference_start_ms")
        else:
            refused_for(self, span, f"reference {self.reference}")
        at_least("bins", self.bins, 2)
        at_most("bins", self.bins, 100)
        at_least("min_samples", self.min_samples, 2)


STATISTICS: dict[str, Callable[[FloatArray, FloatArray, DriftConfig], float]] = {
    "psi": lambda reference, current, config: stats.psi(reference, current, config.bins),
    "ks": lambda reference, current, config: stats.ks_statistic(reference, current),
}


class Drift(Condition):
    """The current window's values are distributed unlike the reference's.

    At evaluation time ``t`` the current sample is the series' present, finite values at the grid
    times in ``[t - window_s, t]``; the reference sample is the same for ``[t - 24 h - window_s,
    t - 24 h]`` (previous_day) or for the whole fixed period ``[reference_start_ms,
    reference_end_ms]`` (every grid point of that period). Series are matched across the two by
    their labels. With at least ``min_samples`` in both: PSI (``stats.psi``) or the two-sample KS
    statistic (``stats.ks_statistic``); ``trigger = hold`` when it is greater than ``threshold``;
    ``value`` is the statistic. A label set without a reference, or short of samples, never
    triggers and has value NaN.

    Two grids are fetched: the current span (``window_s // step`` points before the first
    evaluation time to the last) and the reference span (the same shifted by 24 h, or the fixed
    period). The statistic is computed in a loop over evaluation times, each a few numpy calls on
    its window: O(eval times * (W + R) log(W + R)) for windows of W and references of R samples.
    """

    kind = "drift"
    Config = DriftConfig

    def evaluate(
        self, config: DriftConfig, expression: str, eval_ts: np.ndarray, step_ms: int, source: Source
    ) -> list[Outcome]:
        ts = check_eval_ts(eval_ts, step_ms)
        if ts.size == 0:
            return []
        query = self.query(config, expression)
        points = window_points(config.window_s * 1000, step_ms)
        current = fetch(source, query, ts, step_ms, lead_points=points)
        current_ranges = stats.trailing(current.eval_idx, points, inclusive=True)
        if config.reference == "previous_day":
            ref = fetch(source, query, ts, step_ms, lead_points=points, shift_ms=DAY_MS)
            ref_series, ref_ranges = ref.series, stats.trailing(ref.eval_idx, points, inclusive=True)
        else:
            grid_ts, ref_series = fetch_span(source, query, config.reference_start_ms, config.reference_end_ms, step_ms)
            ref_ranges = (np.zeros(ts.size, dtype=np.int64), np.full(ts.size, grid_ts.size, dtype=np.int64))
        by_labels = {labels_key(series.labels): series for series in ref_series}
        outcomes = []
        for series in current.series:
            reference = by_labels.get(labels_key(series.labels))
            if reference is None:
                outcomes.append(no_outcome(series.labels, ts.size))
                continue
            value = _statistics(config, series, current_ranges, reference, ref_ranges)
            trigger = value > config.threshold
            outcomes.append(Outcome(dict(series.labels), trigger, trigger.copy(), value))
        return outcomes


def _statistics(
    config: DriftConfig, current: SeriesGrid, current_ranges: Ranges, reference: SeriesGrid, ref_ranges: Ranges
) -> FloatArray:
    """The drift statistic at each evaluation time; NaN where either sample is short."""
    cur_values, cur_ok = stats.finite_present(current.values, current.present)
    ref_values, ref_ok = stats.finite_present(reference.values, reference.present)
    enough = (_counts(cur_ok, current_ranges) >= config.min_samples) & (
        _counts(ref_ok, ref_ranges) >= config.min_samples
    )
    statistic = STATISTICS[config.method]
    out = np.full(enough.shape, np.nan)
    for i in np.flatnonzero(enough):
        cur = slice(current_ranges[0][i], current_ranges[1][i])
        ref = slice(ref_ranges[0][i], ref_ranges[1][i])
        out[i] = statistic(ref_values[ref][ref_ok[ref]], cur_values[cur][cur_ok[cur]], config)
    return out


def _counts(ok: np.ndarray, ranges: Ranges) -> IntArray:
    """Usable points per window, from a cumulative count."""
    running = np.concatenate(([0], np.cumsum(ok)))
    return running[ranges[1]] - running[ranges[0]]
