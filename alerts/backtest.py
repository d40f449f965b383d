"""The rule editor's preview: the expression charted over the last day, with the threshold
and the intervals the rule would have been firing, and how often it would have fired in
the last week. The same conditions and state machine as live evaluation, over history."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from alerts.conditions import CONDITIONS
from alerts.evaluation import StoreSource
from alerts.statemachine import replay
from monitoring.promql import parse

DAY_MS = 86_400_000
BACKTEST_DAYS = 7
BACKTEST_STEP_MS = 300_000  # how often the week is evaluated
BACKTEST_DATA_STEP_MS = 60_000  # the resolution of the data each evaluation looks at
CHART_STEP_MS = 120_000
MAX_CHART_SERIES = 12


@dataclass
class Preview:
    series: list[dict[str, Any]] = field(default_factory=list)
    lines: list[dict[str, Any]] = field(default_factory=list)
    firing: list[list[int | None]] = field(default_factory=list)
    fired_7d: int = 0
    alerts_7d: int = 0

    def to_json(self) -> dict[str, Any]:
        return {
            "series": self.series,
            "lines": self.lines,
            "firing": self.firing,
            "fired_7d": self.fired_7d,
            "alerts_7d": self.alerts_7d,
        }


def preview(values: dict[str, Any], now_ms: int | None = None) -> Preview:
    """Backtest rule settings (already validated) over stored data."""
    now_ms = now_ms or int(time.time() * 1000)
    now_ms -= now_ms % BACKTEST_STEP_MS
    result = Preview()
    _chart(values["expression"], now_ms, result)
    _threshold_lines(values, result)
    _backtest(values, now_ms, result)
    return result


def _chart(expression: str, now_ms: int, result: Preview) -> None:
    ts, series = StoreSource().grid(expression, now_ms - DAY_MS, now_ms, CHART_STEP_MS)
    for one in series[:MAX_CHART_SERIES]:
        shown = np.where(one.present & np.isfinite(one.values), one.values, np.nan)
        result.series.append(
            {
                "name": ", ".join(f"{k}={v}" for k, v in sorted(one.labels.items())) or "value",
                "t": ts.tolist(),
                "v": [None if math.isnan(v) else v for v in shown.tolist()],
            }
        )


def _threshold_lines(values: dict[str, Any], result: Preview) -> None:
    if values["condition_kind"] != "threshold":
        return
    config = values.get("condition") or {}
    result.lines.append({"value": config.get("value"), "label": f"{config.get('op', '')} {config.get('value')}"})
    if config.get("recovery") is not None:
        result.lines.append({"value": config["recovery"], "label": f"recovers at {config['recovery']}"})


def _backtest(values: dict[str, Any], now_ms: int, result: Preview) -> None:
    condition = CONDITIONS[values["condition_kind"]]()
    config = condition.Config.from_dict(values.get("condition") or {})
    eval_ts = np.arange(now_ms - BACKTEST_DAYS * DAY_MS, now_ms + 1, BACKTEST_STEP_MS, dtype=np.int64)
    absent_of = parse(values["expression"]) if values["condition_kind"] == "absent" else None
    source = StoreSource(absent_of)
    outcomes = condition.evaluate(config, values["expression"], eval_ts, BACKTEST_DATA_STEP_MS, source)
    for_ms = int(values.get("for_s") or 0) * 1000
    day_start = now_ms - DAY_MS
    for outcome in outcomes:
        run = replay(eval_ts, outcome.trigger, outcome.hold, for_ms)
        result.fired_7d += run.fired
        result.alerts_7d += 1 if run.fired else 0
        for start, end in run.firing_intervals:
            if end is None or end > day_start:
                result.firing.append([max(start, day_start), end])
