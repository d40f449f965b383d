"""not_finite: the value is NaN or ±Inf (a training loss blowing up, a division by zero)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from alerts.conditions.base import Condition, KindConfig, Outcome, Source, check_eval_ts, fetch, values_at


@dataclass(frozen=True)
class NotFiniteConfig(KindConfig):
    """No settings."""


class NotFinite(Condition):
    """``trigger = hold = present & not isfinite(value)``; ``value`` is the series' value (NaN where
    absent). Fetches one grid over the evaluation times."""

    kind = "not_finite"
    Config = NotFiniteConfig

    def evaluate(
        self, config: NotFiniteConfig, expression: str, eval_ts: np.ndarray, step_ms: int, source: Source
    ) -> list[Outcome]:
        ts = check_eval_ts(eval_ts, step_ms)
        if ts.size == 0:
            return []
        fetched = fetch(source, self.query(config, expression), ts, step_ms)
        outcomes = []
        for series in fetched.series:
            values, present = values_at(series, fetched.eval_idx)
            trigger = present & ~np.isfinite(values)
            outcomes.append(Outcome(dict(series.labels), trigger, trigger.copy(), np.where(present, values, np.nan)))
        return outcomes
