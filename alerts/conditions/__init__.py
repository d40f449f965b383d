"""Alert condition kinds: each turns a rule's expression, evaluated on a time grid, into masks over
evaluation times. ``CONDITIONS`` maps a kind's name to its class."""

from __future__ import annotations

from alerts.conditions.absent import Absent
from alerts.conditions.anomaly import Anomaly
from alerts.conditions.base import Condition, ConfigError, Outcome, SeriesGrid, Source
from alerts.conditions.drift import Drift
from alerts.conditions.not_finite import NotFinite
from alerts.conditions.threshold import Threshold
from alerts.conditions.trend import Trend

CONDITIONS: dict[str, type[Condition]] = {
    cls.kind: cls for cls in (Threshold, Absent, NotFinite, Anomaly, Trend, Drift)
}

__all__ = ["CONDITIONS", "Condition", "ConfigError", "Outcome", "SeriesGrid", "Source"]
