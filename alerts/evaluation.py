"""Evaluating rules: the condition over the store's data, then the state machine of each
alert (a rule and one label set), with silences and inhibition applied.

Transitions happen exactly once even when two evaluators run the same rule at once (the
beat pass and an arrival, or two workers): the rule row is locked while states change,
and an evaluation that looked at an older moment than the last one is dropped as stale.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import numpy as np
from django.conf import settings
from django.db import transaction
from django.db.models import Case, Field, FloatField, Q, TextField, Value, When

from alerts import incidents, matchers, silences
from alerts.conditions import CONDITIONS
from alerts.conditions.base import SeriesGrid
from alerts.models import AlertRule, AlertState, AlertTransition, Silence
from alerts.statemachine import INACTIVE, AlertStatus, advance
from monitoring.promql import PromQLError, Selector, parse, selectors_of
from monitoring.query import matching_series, query_grid, series_catalogue
from monitoring.samples import series_hash
from opsboard import metrics

logger = logging.getLogger(__name__)


class StoreSource:
    """The conditions' view of the store: a query evaluated on a grid, every series with
    its presence mask. For an absent rule it also lists the matching series that have no
    data, and, when nothing matches at all, one series labelled with the selector's
    equality matchers."""

    def __init__(self, absent_of: Selector | None = None) -> None:
        self.absent_of = absent_of

    def grid(self, query: str, start_ms: int, end_ms: int, step_ms: int) -> tuple[np.ndarray, list[SeriesGrid]]:
        eval_ts, vectors = query_grid(query, start_ms, end_ms, step_ms)
        series = [SeriesGrid(_without_name(v.labels), v.values, v.present) for v in vectors]
        if self.absent_of is not None:
            series = self._complete(series, eval_ts.size)
        return eval_ts, series

    def _complete(self, series: list[SeriesGrid], size: int) -> list[SeriesGrid]:
        seen = {_key(s.labels) for s in series}
        empty = np.zeros(size, dtype=bool)
        for found in matching_series(self.absent_of):
            if _key(found.labels) not in seen:
                series.append(SeriesGrid(dict(found.labels), np.full(size, math.nan), empty.copy()))
        if not series:
            labels = {m.name: m.value for m in self.absent_of.matchers if m.op == "=" and m.name != "__name__"}
            series.append(SeriesGrid(labels, np.full(size, math.nan), empty.copy()))
        return series


def _without_name(labels: dict[str, str]) -> dict[str, str]:
    return {k: v for k, v in labels.items() if k != "__name__"}


def _key(labels: dict[str, str]) -> tuple:
    return tuple(sorted(labels.items()))


@dataclass
class Verdict:
    labels: dict[str, str]
    trigger: bool
    hold: bool
    value: float | None


@dataclass
class Context:
    """What a batch of evaluations shares: active silences and firing alerts (for inhibition)."""

    now: datetime
    silences: list[tuple] = field(default_factory=list)
    firing: list[tuple[int, dict[str, str]]] = field(default_factory=list)

    @classmethod
    def load(cls, now: datetime) -> Context:
        muting = [
            matchers.parse_matchers(s.matchers)
            for s in Silence.objects.filter(expired_at__isnull=True, starts_at__lte=now)
            if silences.is_active(s, now)
        ]
        firing = list(AlertState.objects.filter(state=AlertState.FIRING).values_list("rule_id", "labels"))
        return cls(now, muting, firing)

    def silenced(self, labels: dict[str, str]) -> bool:
        return any(matchers.matches(found, labels) for found in self.silences)

    def inhibited(self, rule: AlertRule, labels: dict[str, str]) -> bool:
        if not rule.inhibited_by.strip():
            return False
        source = matchers.parse_matchers(rule.inhibited_by)
        equal = rule.inhibit_equal or []
        return any(
            rule_id != rule.pk and matchers.matches(source, other) and all(other.get(k) == labels.get(k) for k in equal)
            for rule_id, other in self.firing
        )


def alert_labels(rule: AlertRule, series_labels: dict[str, str]) -> dict[str, str]:
    """An alert's labels: its series', the rule's own, its name and severity (as Alertmanager)."""
    return {**series_labels, **(rule.labels or {}), "alertname": rule.name, "severity": rule.severity}


def labels_hash(labels: dict[str, str]) -> str:
    return series_hash("", tuple(sorted(labels.items())))


def verdicts(rule: AlertRule, now_ms: int) -> dict[str, Verdict]:
    """The condition at ``now_ms``, one verdict per alert label set."""
    condition = CONDITIONS[rule.condition_kind]()
    config = condition.Config.from_dict(rule.condition or {})
    absent_of = parse(rule.expression) if rule.condition_kind == "absent" else None
    step = int(settings.EVAL_INTERVAL_S * 1000)
    outcomes = condition.evaluate(
        config, rule.expression, np.array([now_ms], dtype=np.int64), step, StoreSource(absent_of)
    )
    result = {}
    for outcome in outcomes:
        labels = alert_labels(rule, outcome.labels)
        value = float(outcome.value[-1])
        result[labels_hash(labels)] = Verdict(labels, bool(outcome.trigger[-1]), bool(outcome.hold[-1]), value)
    return result


def _evaluate(rule: AlertRule, now_ms: int, context: Context, active_rules: set[int] | None) -> Evaluated:
    started = time.monotonic()
    try:
        found = verdicts(rule, now_ms)
        quiet = active_rules is not None and rule.pk not in active_rules and not any(v.trigger for v in found.values())
        transitions = 0 if quiet else _apply(rule, found, now_ms, context)
        error = ""
    except Exception as exc:  # a broken rule shows its error; the pass goes on
        logger.warning("rule %s failed: %s", rule.name, exc)
        transitions, error = 0, f"{type(exc).__name__}: {exc}"[:1000]
    return Evaluated(rule.pk, transitions, time.monotonic() - started, error)


@dataclass(frozen=True)
class Evaluated:
    rule_id: int
    transitions: int
    duration_s: float
    error: str


RECORD_CHUNK = 500


def _record_evaluations(done: list[Evaluated], now_ms: int) -> None:
    """Note the evaluations on their rules (one UPDATE per chunk, not one per rule), except
    on rules where a newer evaluation was noted already (then this one was stale)."""
    newer_or_first = Q(last_eval_ms__isnull=True) | Q(last_eval_ms__lte=now_ms)
    for first in range(0, len(done), RECORD_CHUNK):
        chunk = done[first : first + RECORD_CHUNK]
        AlertRule.objects.filter(newer_or_first, pk__in=[e.rule_id for e in chunk]).update(
            last_eval_ms=now_ms,
            last_eval_at=_at(now_ms),
            last_eval_duration_s=_per_rule(chunk, lambda e: e.duration_s, FloatField()),
            last_eval_error=_per_rule(chunk, lambda e: e.error, TextField()),
        )


def _per_rule(chunk: list[Evaluated], value: Any, output: Field) -> Case:
    return Case(*[When(pk=e.rule_id, then=Value(value(e), output_field=output)) for e in chunk], output_field=output)


def _apply(rule: AlertRule, found: dict[str, Verdict], now_ms: int, context: Context) -> int:
    """Advance every alert of the rule under the rule's lock; stale evaluations change nothing."""
    with transaction.atomic():
        locked = AlertRule.objects.select_for_update().filter(pk=rule.pk).first()
        if locked is None or (locked.last_eval_ms is not None and now_ms < locked.last_eval_ms):
            return 0
        states = {s.labels_hash: s for s in AlertState.objects.filter(rule=rule)}
        changed = 0
        for key in found.keys() | {k for k, s in states.items() if s.state != INACTIVE}:
            changed += _advance_one(rule, key, found.get(key), states.get(key), now_ms, context)
        AlertRule.objects.filter(pk=rule.pk).update(last_eval_ms=now_ms)
    return changed


def _advance_one(
    rule: AlertRule, key: str, verdict: Verdict | None, row: AlertState | None, now_ms: int, context: Context
) -> int:
    status = _status_of(row)
    trigger, hold = (verdict.trigger, verdict.hold) if verdict else (False, False)
    new, transition = advance(status, trigger, hold, now_ms, rule.for_s * 1000)
    if transition is None and (row is None or new.state == INACTIVE):
        return 0
    labels = verdict.labels if verdict else row.labels
    value = verdict.value if verdict else None
    row = row or AlertState(rule=rule, labels=labels, labels_hash=key, changed_at=context.now)
    flags = {"silenced": context.silenced(labels), "inhibited": context.inhibited(rule, labels)}
    _write(row, new, transition, value, flags, now_ms)
    if transition:
        AlertTransition.objects.create(
            alert=row,
            rule=rule,
            from_state=status.state,
            to_state=new.state,
            at=_at(now_ms),
            value=_storable(value),
            labels=labels,
            **flags,
        )
        _tell_incidents(rule, row, new.state, value)
    return 1 if transition else 0


def _tell_incidents(rule: AlertRule, alert: AlertState, state: str, value: float | None) -> None:
    """In the same transaction: a firing alert opens or joins an incident, a resolved one may close it."""
    if state == AlertState.FIRING:
        incidents.on_alert_firing(rule, alert, value)
    elif state == AlertState.RESOLVED:
        incidents.on_alert_resolved(alert)


def _status_of(row: AlertState | None) -> AlertStatus:
    if row is None:
        return AlertStatus()
    return AlertStatus(row.state, _ms(row.active_since), _ms(row.fired_at))


def _write(row: AlertState, new: AlertStatus, transition: str | None, value: Any, flags: dict, now_ms: int) -> None:
    if transition:
        row.changed_at = _at(now_ms)
        if new.state == AlertState.RESOLVED:
            row.resolved_at = _at(now_ms)
    row.state = new.state
    row.active_since = _at(new.active_since_ms) if new.active_since_ms is not None else None
    row.fired_at = _at(new.fired_at_ms) if new.fired_at_ms is not None else row.fired_at
    row.last_value = _storable(value)
    row.last_eval_at = _at(now_ms)
    row.silenced, row.inhibited = flags["silenced"], flags["inhibited"]
    row.save()


def _storable(value: Any) -> float | None:
    """NaN cannot be stored by SQLite; ±Inf can. A NaN value is kept as no value."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    return float(value)


def _ms(moment: datetime | None) -> int | None:
    return None if moment is None else int(moment.timestamp() * 1000)


def _at(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, tz=UTC)


def rules_with_active_alerts() -> set[int]:
    """Rules with an alert that is not inactive: only these need their states read when
    nothing triggers (a pass over quiet rules then writes nothing)."""
    return set(AlertState.objects.exclude(state=AlertState.INACTIVE).values_list("rule_id", flat=True).distinct())


def evaluate_many(rule_ids: list[int], now_ms: int | None = None) -> int:
    """Evaluate the given enabled rules at one moment; returns the transitions made."""
    started = time.monotonic()
    now_ms = now_ms or int(time.time() * 1000)
    context = Context.load(_at(now_ms))
    busy = rules_with_active_alerts()
    rules = list(AlertRule.objects.filter(pk__in=rule_ids, enabled=True))
    with series_catalogue(_metric_names(rules)):
        done = [_evaluate(rule, now_ms, context, busy) for rule in rules]
    _record_evaluations(done, now_ms)
    metrics.observe_evaluation(time.monotonic() - started, len(rules))
    return sum(e.transitions for e in done)


def _metric_names(rules: list[AlertRule]) -> set[str]:
    """The metric names the rules' expressions select (a rule that does not parse has none:
    its evaluation reports the error)."""
    names: set[str] = set()
    for rule in rules:
        try:
            names.update(s.metric for s in selectors_of(parse(rule.expression)) if s.metric)
        except PromQLError:
            continue
    return names
