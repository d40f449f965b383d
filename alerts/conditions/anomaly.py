"""anomaly: the value leaves a band around its own recent baseline (z-score or EWMA)."""

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
    at_most,
    check_eval_ts,
    fetch,
    one_of,
    positive,
    values_at,
    window_points,
)
from alerts.stats import FloatArray, IntArray

METHODS = ("zscore", "ewma")
DIRECTIONS = ("both", "above", "below")


@dataclass(frozen=True)
class AnomalyConfig(KindConfig):
    """``method`` zscore | ewma; ``baseline_s`` (≥ 60) the trailing baseline; ``k`` (> 0) the band's
    half-width in standard deviations; ``min_samples`` (≥ 3) below which no verdict; ``alpha`` in
    (0, 1] the EWMA smoothing (ignored by zscore); ``direction`` both | above | below."""

    method: str = "zscore"
    baseline_s: int = 3600
    k: float = 3.0
    min_samples: int = 30
    alpha: float = 0.1
    direction: str = "both"

    def __post_init__(self) -> None:
        one_of("method", self.method, METHODS)
        at_least("baseline_s", self.baseline_s, 60)
        positive("k", self.k)
        at_least("min_samples", self.min_samples, 3)
        positive("alpha", self.alpha)
        at_most("alpha", self.alpha, 1)
        one_of("direction", self.direction, DIRECTIONS)


class Anomaly(Condition):
    """The current value is more than ``k`` standard deviations from its baseline.

    At evaluation time ``t`` the baseline is the series' present, finite values at the grid times
    in ``[t - baseline_s, t)`` (``t`` excluded). With at least ``min_samples`` of them:

    * zscore: their mean and population standard deviation;
    * ewma: their exponentially weighted mean and variance in time order (recurrence in
      ``stats.ewma_mean_std``);

    ``z = (x - mean) / std`` (±Inf when std is 0 and x differs from the mean, 0 when equal), and
    ``trigger = hold`` when ``|z| > k`` (both), ``z > k`` (above) or ``z < -k`` (below): the value
    is strictly outside the band ``mean ± k·std``. A current value that is absent or not finite,
    or a baseline short of ``min_samples``, never triggers and has value NaN. ``value`` is z.

    One grid is fetched, from ``baseline_s // step`` grid points before the first evaluation
    time to the last. Both methods are vectorised over all evaluation times at once, in
    ``O(grid points · log baseline points)`` (``stats.rolling_mean_std``, ``stats.ewma_mean_std``).
    """

    kind = "anomaly"
    Config = AnomalyConfig

    def evaluate(
        self, config: AnomalyConfig, expression: str, eval_ts: np.ndarray, step_ms: int, source: Source
    ) -> list[Outcome]:
        ts = check_eval_ts(eval_ts, step_ms)
        if ts.size == 0:
            return []
        points = window_points(config.baseline_s * 1000, step_ms)
        fetched = fetch(source, self.query(config, expression), ts, step_ms, lead_points=points)
        return [self._outcome(config, series, fetched.eval_idx, points) for series in fetched.series]

    @staticmethod
    def _outcome(config: AnomalyConfig, series: SeriesGrid, idx: IntArray, points: int) -> Outcome:
        lo, hi = stats.trailing(idx, points, inclusive=False)
        if config.method == "zscore":
            baseline = stats.rolling_mean_std(series.values, series.present, lo, hi)
        else:
            baseline = stats.ewma_mean_std(series.values, series.present, lo, hi, config.alpha)
        x, present = values_at(series, idx)
        judged = present & np.isfinite(x) & (baseline.count >= config.min_samples)
        z = np.where(judged, stats.zscore(np.where(judged, x, 0.0), baseline.mean, baseline.std), np.nan)
        trigger = judged & _outside(z, config.k, config.direction)
        return Outcome(dict(series.labels), trigger, trigger.copy(), z)


def _outside(z: FloatArray, k: float, direction: str) -> np.ndarray:
    """Whether z lies strictly outside ``[-k, k]`` on the chosen side(s); False for NaN."""
    above, below = z > k, z < -k
    return {"both": above | below, "above": above, "below": below}[direction]
