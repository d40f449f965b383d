"""trend: the least-squares slope over a trailing window, or where that line reaches a horizon ahead."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from alerts import stats
from alerts.conditions.base import (
    Condition,
    KindConfig,
    Outcome,
    SeriesGrid,
    Source,
    at_least,
    check_eval_ts,
    fetch,
    one_of,
    refused_for,
    required_for,
    window_points,
)
from alerts.stats import BoolArray, FloatArray, IntArray

MODES = ("slope", "forecast")
DIRECTIONS = ("rising", "falling")
MIN_POINTS = 3


@dataclass(frozen=True)
class TrendConfig(KindConfig):
    """``mode`` slope | forecast and ``window_s`` (≥ 60), then per mode:

    * slope: ``rate`` (units per second, ≥ 0) and ``direction`` rising | falling;
    * forecast: ``limit`` and ``horizon_s`` (≥ 60).

    The other mode's settings are refused rather than ignored.
    """

    mode: str
    window_s: int
    rate: float | None = None
    direction: str | None = None
    limit: float | None = None
    horizon_s: int | None = None

    def __post_init__(self) -> None:
        one_of("mode", self.mode, MODES)
        at_least("window_s", self.window_s, 60)
        if self.mode == "slope":
            required_for(self, ("rate", "direction"), "mode slope")
            refused_for(self, ("limit", "horizon_s"), "mode slope")
            at_least("rate", self.rate, 0)
            one_of("direction", self.direction, DIRECTIONS)
        else:
            required_for(self, ("limit", "horizon_s"), "mode forecast")
            refused_for(self, ("rate", "direction"), "mode forecast")
            at_least("horizon_s", self.horizon_s, 60)


class Trend(Condition):
    """A sustained rise or fall, or a forecast crossing (disk full, GPU memory full within N hours).

    At evaluation time ``t`` the window is the series' present, finite values at the grid times in
    ``[t - window_s, t]`` (``t`` included); with at least 3 of them, ordinary least squares of
    value on time in seconds gives the slope (per second) and the line's value at ``t``.

    * slope: ``trigger`` when ``slope > rate`` (rising) or ``slope < -rate`` (falling);
      ``value`` is the slope.
    * forecast: as Prometheus' ``predict_linear(v[window], horizon)``, ``forecast = line(t) +
      slope · horizon_s`` (the regression line, not the last point); ``trigger`` when the
      forecast has reached the limit in the direction of travel: ``forecast >= limit`` with
      ``slope > 0``, ``forecast <= limit`` with ``slope < 0``, never for a flat line (so an
      already-crossed, still-rising value keeps triggering). ``value`` is the forecast.

    ``hold = trigger``; fewer than 3 points → no trigger, value NaN. One grid fetched, from
    ``window_s // step`` points before the first evaluation time; vectorised over all evaluation
    times at once (``stats.rolling_linear_fit``).
    """

    kind = "trend"
    Config = TrendConfig

    def evaluate(
        self, config: TrendConfig, expression: str, eval_ts: np.ndarray, step_ms: int, source: Source
    ) -> list[Outcome]:
        ts = check_eval_ts(eval_ts, step_ms)
        if ts.size == 0:
            return []
        points = window_points(config.window_s * 1000, step_ms)
        fetched = fetch(source, self.query(config, expression), ts, step_ms, lead_points=points)
        seconds = (fetched.ts - fetched.ts[0]) / 1000.0
        return [self._outcome(config, series, seconds, fetched.eval_idx, points) for series in fetched.series]

    @staticmethod
    def _outcome(config: TrendConfig, series: SeriesGrid, seconds: FloatArray, idx: IntArray, points: int) -> Outcome:
        lo, hi = stats.trailing(idx, points, inclusive=True)
        fit = stats.rolling_linear_fit(seconds, series.values, series.present, lo, hi, seconds[idx])
        enough = (fit.count >= MIN_POINTS) & np.isfinite(fit.slope)
        if config.mode == "slope":
            value = fit.slope
            trigger = _slope_trigger(fit.slope, config.rate, config.direction)
        else:
            value = stats.predict_linear(fit, config.horizon_s)
            trigger = ((fit.slope > 0) & (value >= config.limit)) | ((fit.slope < 0) & (value <= config.limit))
        trigger = enough & trigger
        return Outcome(dict(series.labels), trigger, trigger.copy(), np.where(enough, value, np.nan))


def _slope_trigger(slope: FloatArray, rate: float, direction: str) -> BoolArray:
    return slope > rate if direction == "rising" else slope < -rate
