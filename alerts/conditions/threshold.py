"""threshold: the value compared with a fixed threshold, with optional hysteresis."""

from __future__ import annotations

import operator
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from alerts.conditions.base import (
    Condition,
    ConfigError,
    KindConfig,
    Outcome,
    SeriesGrid,
    Source,
    check_eval_ts,
    fetch,
    one_of,
    values_at,
)
from alerts.stats import BoolArray, FloatArray, IntArray

OPS: dict[str, Callable[[FloatArray, float], BoolArray]] = {
    ">": operator.gt,
    ">=": operator.ge,
    "<": operator.lt,
    "<=": operator.le,
    "==": operator.eq,
    "!=": operator.ne,
}
_ABOVE, _BELOW = (">", ">="), ("<", "<=")


@dataclass(frozen=True)
class ThresholdConfig(KindConfig):
    """``op`` and ``value``: the condition is ``series op value``.

    ``recovery`` (optional, only with > >= < <=) is the hysteresis threshold: an active alert stays
    active while ``series op recovery``. It must be on the looser side of ``value`` (≤ value for
    > and >=, ≥ value for < and <=), so that whatever triggers also holds.
    """

    op: str
    value: float
    recovery: float | None = None

    def __post_init__(self) -> None:
        one_of("op", self.op, OPS)
        if self.recovery is None:
            return
        if self.op in _ABOVE and self.recovery > self.value:
            raise ConfigError("recovery", f"with {self.op} it must be at most the value {self.value:g}")
        if self.op in _BELOW and self.recovery < self.value:
            raise ConfigError("recovery", f"with {self.op} it must be at least the value {self.value:g}")
        if self.op not in _ABOVE + _BELOW:
            raise ConfigError("recovery", f"does not apply with {self.op}")


class Threshold(Condition):
    """Per series and evaluation time: ``trigger = present & (value op threshold)``; ``hold = present
    & (value op recovery)``, or ``trigger`` without a recovery. Comparisons follow IEEE (and
    PromQL): NaN compares false with everything except ``!=``. ``value`` is the series' value
    (NaN where absent). Fetches one grid over the evaluation times.
    """

    kind = "threshold"
    Config = ThresholdConfig

    def evaluate(
        self, config: ThresholdConfig, expression: str, eval_ts: np.ndarray, step_ms: int, source: Source
    ) -> list[Outcome]:
        ts = check_eval_ts(eval_ts, step_ms)
        if ts.size == 0:
            return []
        fetched = fetch(source, self.query(config, expression), ts, step_ms)
        return [self._outcome(config, series, fetched.eval_idx) for series in fetched.series]

    @staticmethod
    def _outcome(config: ThresholdConfig, series: SeriesGrid, idx: IntArray) -> Outcome:
        values, present = values_at(series, idx)
        compare = OPS[config.op]
        trigger = present & compare(values, config.value)
        hold = trigger.copy() if config.recovery is None else present & compare(values, config.recovery)
        return Outcome(dict(series.labels), trigger, hold, np.where(present, values, np.nan))
