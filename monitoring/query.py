"""Range queries over the store: ``query_range(query, start, end, step, fn, q)``.

A query is an expression of the PromQL subset in ``monitoring.promql``, or a bare
selector with a function name (``fn``), as the query API and the dashboards send it.
Points are evaluated at ``start, start+step, …, end`` (at most ``MAX_POINTS`` per series:
a wider range raises the step). The source is chosen from the step: raw samples below a
minute, 1-minute rollups below an hour, 1-hour rollups above, each only while its
retention still covers the range.

Arithmetic follows Prometheus. A number alone is a scalar query: one series without labels,
present at every evaluation time. Between a vector and a number, every series is computed
elementwise and loses ``__name__``. Between two vectors, series match one-to-one on their labels
without ``__name__`` (or only the ``on(...)`` labels, or all but the ``ignoring(...)`` ones); the
result has the left series' labels without ``__name__``, restricted to the ``on`` labels or
without the ``ignoring`` ones (so, as in Prometheus, exactly the labels it matched on). Series
without a partner are dropped, and a point exists where both sides have one. As Prometheus
matches at each evaluation time, series of one side with the same matching labels are one series
while they never overlap in time (a restarted pod, say); when two have a value at the same time,
the query fails (many-to-many). Division by zero gives ±Inf or NaN, as IEEE division does.
"""

from __future__ import annotations

import math
import operator
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field

import numpy as np
from django.conf import settings
from django.db import connection

from monitoring import series_math
from monitoring.fetch import fetch_columns, in_list
from monitoring.models import Series
from monitoring.promql import (
    ARITHMETIC,
    Aggregation,
    BinaryOp,
    Call,
    Comparison,
    Matcher,
    Node,
    NumberLiteral,
    RangeSelector,
    Selector,
    parse,
    parse_selector,
)

MAX_POINTS = 11_000
LOOKBACK_MS = 300_000
RATE_MIN_WINDOW_MS = 60_000
MINUTE_MS, HOUR_MS = 60_000, 3_600_000
# Minutes this recent are aggregated from raw samples at query time: the rollup task
# reaches them a minute or two later.
FRESH_MS = 5 * MINUTE_MS
FUNCTIONS = ("raw", "last", "rate", "increase", "avg", "min", "max", "sum", "count", "histogram_quantile")


class QueryError(ValueError):
    """A query that cannot be answered as asked; the message says why."""


@dataclass(frozen=True)
class Source:
    name: str
    resolution_ms: int
    retention_s: int


@dataclass
class ResultSeries:
    labels: dict[str, str]
    ts: np.ndarray
    values: np.ndarray


@dataclass
class QueryResult:
    series: list[ResultSeries]
    step_ms: int
    source: str
    infos: list[str] = field(default_factory=list)


@dataclass
class Vector:
    """One series evaluated at the plan's times: values, and which of them exist."""

    labels: dict[str, str]
    values: np.ndarray
    present: np.ndarray


@dataclass
class Plan:
    eval_ts: np.ndarray
    step_ms: int
    source: Source
    now_ms: int


def query_range(
    query: str,
    start_ms: int,
    end_ms: int,
    step_ms: int,
    fn: str | None = None,
    q: float | None = None,
    *,
    max_points: int = MAX_POINTS,
) -> QueryResult:
    """Evaluate ``query`` over ``[start_ms, end_ms]``; QueryError/PromQLError on bad input."""
    if end_ms < start_ms:
        raise QueryError("end is before start")
    if step_ms <= 0:
        raise QueryError("step must be positive")
    if fn == "raw":
        return _raw(parse_selector(query), start_ms, end_ms, step_ms, max_points)
    node = parse(query) if fn is None else _node_for(query, fn, q, step_ms)
    plan = _plan(start_ms, end_ms, step_ms, max_points)
    vectors = _evaluate(node, plan)
    infos = (
        [] if plan.step_ms == step_ms else [f"step raised to {plan.step_ms / 1000:g} s: at most {max_points} points"]
    )
    series = [_to_result(vector, plan) for vector in vectors if vector.present.any()]
    return QueryResult(series, plan.step_ms, plan.source.name, infos)


def query_grid(query: str | Node, start_ms: int, end_ms: int, step_ms: int) -> tuple[np.ndarray, list[Vector]]:
    """The expression on its evaluation grid, every series with its presence mask: for alert
    rules, which need to know where a series has no value, not only where it has one."""
    if end_ms < start_ms or step_ms <= 0:
        raise QueryError("the grid needs start <= end and a positive step")
    plan = _plan(start_ms, end_ms, step_ms, MAX_POINTS)
    return plan.eval_ts, _evaluate(parse(query) if isinstance(query, str) else query, plan)


def _node_for(query: str, fn: str, q: float | None, step_ms: int) -> Node:
    """The expression a bare selector with a function name stands for."""
    if fn not in FUNCTIONS:
        raise QueryError(f"unknown fn {fn!r}; use one of {', '.join(FUNCTIONS)}")
    selector = parse_selector(query)
    if fn == "last":
        return selector
    if fn in ("rate", "increase"):
        return Call(fn, (RangeSelector(selector, max(step_ms, RATE_MIN_WINDOW_MS) / 1000),))
    if fn == "histogram_quantile":
        if q is None or not 0 <= q <= 1:
            raise QueryError("histogram_quantile needs q between 0 and 1")
        if selector.metric and not selector.metric.endswith("_bucket"):
            selector = Selector(f"{selector.metric}_bucket", selector.matchers, selector.position)
        window = RangeSelector(selector, max(step_ms, RATE_MIN_WINDOW_MS) / 1000)
        return Call("histogram_quantile", (NumberLiteral(q), Call("rate", (window,))))
    return Call(f"{fn}_over_time", (RangeSelector(selector, step_ms / 1000),))


# --- Planning ------------------------------------------------------------------------


def _plan(start_ms: int, end_ms: int, step_ms: int, max_points: int) -> Plan:
    if (end_ms - start_ms) // step_ms + 1 > max_points:
        step_ms = math.ceil((end_ms - start_ms) / (max_points - 1))
    now = int(time.time() * 1000)
    source = choose_source(step_ms, start_ms, now)
    if source.resolution_ms:
        step_ms = max(step_ms, source.resolution_ms) // source.resolution_ms * source.resolution_ms
        start_ms = start_ms - start_ms % source.resolution_ms
    return Plan(series_math.step_times(start_ms, end_ms, step_ms), step_ms, source, now)


def sources() -> list[Source]:
    return [
        Source("raw", 0, settings.RETENTION_RAW_S),
        Source("1m", MINUTE_MS, settings.RETENTION_1M_S),
        Source("1h", HOUR_MS, settings.RETENTION_1H_S),
    ]


def choose_source(step_ms: int, start_ms: int, now_ms: int) -> Source:
    """The coarsest source at least as fine as the step, or a coarser one when its retention
    no longer reaches back to ``start_ms`` (the step then rises to its resolution)."""
    ordered = sources()
    index = max(i for i, source in enumerate(ordered) if source.resolution_ms <= step_ms)
    while index < len(ordered) - 1 and start_ms < now_ms - ordered[index].retention_s * 1000:
        index += 1
    return ordered[index]


# --- Evaluation ----------------------------------------------------------------------


def _evaluate(node: Node, plan: Plan) -> list[Vector]:
    if isinstance(node, Selector):
        return _instant(node, plan)
    if isinstance(node, Call):
        return _call(node, plan)
    if isinstance(node, Aggregation):
        return _aggregate(node, _evaluate(node.expr, plan))
    if isinstance(node, Comparison):
        return _compare(node, _evaluate(node.expr, plan))
    if isinstance(node, BinaryOp):
        return _binary(node, plan)
    if isinstance(node, NumberLiteral):
        return [_scalar(node.value, plan)]
    if isinstance(node, RangeSelector):
        raise QueryError("a range selector needs a function such as rate()")
    raise QueryError(f"cannot evaluate {node!r}")


def _instant(selector: Selector, plan: Plan) -> list[Vector]:
    window = max(LOOKBACK_MS, plan.step_ms)
    vectors = []
    for series, columns in _columns(selector, plan, window):
        labels = {"__name__": series.name, **series.labels}
        if plan.source.resolution_ms:
            values, present = series_math.rollup_over_time(
                columns["bucket"],
                columns["min"],
                columns["max"],
                columns["sum"],
                columns["count"],
                columns["last"],
                plan.eval_ts,
                window,
                "last",
            )
        else:
            values, present = series_math.instant_last(columns["ts"], columns["value"], plan.eval_ts, window)
        vectors.append(Vector(labels, values, present))
    return vectors


def _call(call: Call, plan: Plan) -> list[Vector]:
    if call.func in ("rate", "increase"):
        return _range_function(call.args[0], plan, _counter(call.func == "rate"))
    if call.func.endswith("_over_time"):
        return _range_function(call.args[0], plan, _over_time(call.func.removesuffix("_over_time")))
    if call.func == "histogram_quantile":
        return _histogram_quantile(call.args[0].value, _evaluate(call.args[1], plan))
    if call.func == "absent":
        return _absent(call.args[0], _evaluate(call.args[0], plan), plan)
    raise QueryError(f"unsupported function {call.func!r}")


RangeFn = Callable[[dict[str, np.ndarray], np.ndarray, int, int], tuple[np.ndarray, np.ndarray]]


def _range_function(arg: RangeSelector, plan: Plan, fn: RangeFn) -> list[Vector]:
    window = round(arg.window_s * 1000)
    resolution = plan.source.resolution_ms
    if resolution:
        window = max(resolution, math.ceil(window / resolution) * resolution)
    vectors = []
    for series, columns in _columns(arg.selector, plan, window):
        values, present = fn(columns, plan.eval_ts, window, resolution)
        vectors.append(Vector(dict(series.labels), values, present))
    return vectors


def _counter(is_rate: bool) -> RangeFn:
    def compute(columns: dict, eval_ts: np.ndarray, window: int, resolution: int) -> tuple:
        if resolution:
            return series_math.rollup_counter_rate(
                columns["bucket"], columns["min"], columns["last"], eval_ts, window, resolution, is_rate=is_rate
            )
        return series_math.counter_rate(columns["ts"], columns["value"], eval_ts, window, is_rate=is_rate)

    return compute


def _over_time(fn: str) -> RangeFn:
    def compute(columns: dict, eval_ts: np.ndarray, window: int, resolution: int) -> tuple:
        if resolution:
            return series_math.rollup_over_time(
                columns["bucket"],
                columns["min"],
                columns["max"],
                columns["sum"],
                columns["count"],
                columns["last"],
                eval_ts,
                window,
                fn,
            )
        return series_math.over_time(columns["ts"], columns["value"], eval_ts, window, fn)

    return compute


def _histogram_quantile(q: float, vectors: list[Vector]) -> list[Vector]:
    """Prometheus's histogram_quantile: buckets grouped by every label but ``le``."""
    groups: dict[tuple, list[Vector]] = {}
    for vector in vectors:
        if "le" not in vector.labels:
            continue
        key = tuple(sorted((k, v) for k, v in vector.labels.items() if k not in ("le", "__name__")))
        groups.setdefault(key, []).append(vector)
    out = []
    for key, members in groups.items():
        bounds = np.array([_le(vector.labels["le"]) for vector in members])
        values = np.vstack([vector.values for vector in members])
        present = np.vstack([vector.present for vector in members])
        quantiles = series_math.histogram_quantile(q, bounds, values, present)
        out.append(Vector(dict(key), quantiles, present.any(axis=0) & ~np.isnan(bounds).all()))
    return out


def _le(raw: str) -> float:
    try:
        return float(raw)
    except ValueError:
        return math.nan


def _absent(selector: Selector, vectors: list[Vector], plan: Plan) -> list[Vector]:
    """1 at the times when nothing matches, labelled with the selector's equality matchers."""
    anything = np.zeros(plan.eval_ts.shape, dtype=bool)
    for vector in vectors:
        anything |= vector.present
    labels = {m.name: m.value for m in selector.matchers if m.op == "=" and m.name != "__name__"}
    return [Vector(labels, np.ones(plan.eval_ts.shape), ~anything)]


AGGREGATORS: dict[str, Callable[[np.ndarray, np.ndarray], np.ndarray]] = {
    "sum": lambda v, p: np.where(p, v, 0.0).sum(axis=0),
    "count": lambda v, p: p.sum(axis=0).astype(np.float64),
    "min": lambda v, p: np.fmin.reduce(np.where(p, v, np.nan), axis=0),
    "max": lambda v, p: np.fmax.reduce(np.where(p, v, np.nan), axis=0),
    "avg": lambda v, p: np.where(p, v, 0.0).sum(axis=0) / np.maximum(p.sum(axis=0), 1),
}


def _aggregate(node: Aggregation, vectors: list[Vector]) -> list[Vector]:
    groups: dict[tuple, list[Vector]] = {}
    for vector in vectors:
        groups.setdefault(_group_key(node, vector.labels), []).append(vector)
    out = []
    for key, members in groups.items():
        values = np.vstack([vector.values for vector in members])
        present = np.vstack([vector.present for vector in members])
        with np.errstate(invalid="ignore"):
            combined = AGGREGATORS[node.op](values, present)
        out.append(Vector(dict(key), combined, present.any(axis=0)))
    return out


def _group_key(node: Aggregation, labels: dict[str, str]) -> tuple:
    if node.by is None and node.without is None:
        return ()
    if node.by is not None:
        return tuple(sorted((k, labels[k]) for k in node.by if k in labels))
    dropped = {"__name__", *(node.without or ())}
    return tuple(sorted((k, v) for k, v in labels.items() if k not in dropped))


COMPARISONS = {
    ">": operator.gt,
    ">=": operator.ge,
    "<": operator.lt,
    "<=": operator.le,
    "==": operator.eq,
    "!=": operator.ne,
}


def _compare(node: Comparison, vectors: list[Vector]) -> list[Vector]:
    test = COMPARISONS[node.op]
    with np.errstate(invalid="ignore"):
        return [Vector(v.labels, v.values, v.present & test(v.values, node.threshold)) for v in vectors]


# --- Arithmetic ----------------------------------------------------------------------


def _scalar(value: float, plan: Plan) -> Vector:
    """A number as a query: one series without labels, present at every evaluation time."""
    return Vector({}, np.full(plan.eval_ts.shape, value, dtype=np.float64), np.ones(plan.eval_ts.shape, dtype=bool))


def _constant(node: Node) -> float | None:
    """The value of an expression made only of numbers (the parser folds them; a tree built
    by hand may not be), else None."""
    if isinstance(node, NumberLiteral):
        return node.value
    if isinstance(node, BinaryOp):
        left, right = _constant(node.left), _constant(node.right)
        if left is not None and right is not None:
            return float(_apply(node.op, np.float64(left), np.float64(right)))
    return None


def _apply(op: str, left: np.ndarray | np.float64, right: np.ndarray | np.float64) -> np.ndarray:
    """``left op right`` elementwise, with IEEE results for ±Inf, NaN and division by zero."""
    with np.errstate(all="ignore"):
        return ARITHMETIC[op](left, right)


def _binary(node: BinaryOp, plan: Plan) -> list[Vector]:
    """Vector ⊕ number, number ⊕ vector or vector ⊕ vector (matched one-to-one)."""
    value = _constant(node)
    if value is not None:
        return [_scalar(value, plan)]
    left, right = _constant(node.left), _constant(node.right)
    if right is not None:
        return [_with_number(v, lambda values: _apply(node.op, values, right)) for v in _evaluate(node.left, plan)]
    if left is not None:
        return [_with_number(v, lambda values: _apply(node.op, left, values)) for v in _evaluate(node.right, plan)]
    return _match(node, _evaluate(node.left, plan), _evaluate(node.right, plan))


def _with_number(vector: Vector, compute: Callable[[np.ndarray], np.ndarray]) -> Vector:
    """One series combined with a number: same presence, labels without ``__name__``."""
    labels = {k: v for k, v in vector.labels.items() if k != "__name__"}
    return Vector(labels, np.where(vector.present, compute(vector.values), 0.0), vector.present.copy())


def _match(node: BinaryOp, left: list[Vector], right: list[Vector]) -> list[Vector]:
    """One-to-one matching: each left series with the right series of the same matching labels."""
    partners = _by_key(node, right, "right")
    out = []
    for key, vector in _by_key(node, left, "left").items():
        partner = partners.get(key)
        if partner is None:
            continue
        present = vector.present & partner.present
        values = np.where(present, _apply(node.op, vector.values, partner.values), 0.0)
        # The left labels restricted as the key is: without __name__, only the on() labels or
        # without the ignoring() ones.
        out.append(Vector({k: v for k, v in key if k != "__name__"}, values, present))
    return out


def _matching_key(node: BinaryOp, labels: dict[str, str]) -> tuple[tuple[str, str], ...]:
    """The labels a series is matched on."""
    if node.on is not None:
        return tuple(sorted((k, v) for k, v in labels.items() if k in node.on))
    dropped = {"__name__", *(node.ignoring or ())}
    return tuple(sorted((k, v) for k, v in labels.items() if k not in dropped))


def _by_key(node: BinaryOp, vectors: list[Vector], side: str) -> dict[tuple, Vector]:
    """One series per matching key: series sharing a key are one while they never overlap in time."""
    groups: dict[tuple, list[Vector]] = {}
    for vector in vectors:
        groups.setdefault(_matching_key(node, vector.labels), []).append(vector)
    return {key: _join(key, members, side) for key, members in groups.items()}


def _join(key: tuple, members: list[Vector], side: str) -> Vector:
    """Series of one key, one after the other; QueryError when two have a value at one time."""
    if len(members) == 1:
        return members[0]
    present = np.vstack([member.present for member in members])
    overlap = present.sum(axis=0) > 1
    if overlap.any():
        first, second = (members[i] for i in np.flatnonzero(present[:, overlap.argmax()])[:2])
        raise QueryError(
            f"many-to-many matching not allowed: on the {side} side, {_format_labels(first.labels)} and "
            f"{_format_labels(second.labels)} both match {_format_labels(dict(key))}; give on(...) or "
            "ignoring(...) labels that tell them apart (group_left and group_right are not supported)"
        )
    values = np.vstack([member.values for member in members])
    which = present.argmax(axis=0)
    return Vector(dict(members[0].labels), values[which, np.arange(values.shape[1])], present.any(axis=0))


def _format_labels(labels: dict[str, str]) -> str:
    """Labels as PromQL writes them: ``{a="1", b="2"}``, the name first and bare when there is one."""
    name = labels.get("__name__", "")
    inner = ", ".join(str(Matcher(k, "=", v)) for k, v in sorted(labels.items()) if k != "__name__")
    return f"{name}{{{inner}}}"


def _to_result(vector: Vector, plan: Plan) -> ResultSeries:
    return ResultSeries(vector.labels, plan.eval_ts[vector.present], vector.values[vector.present])


# --- Fetching ------------------------------------------------------------------------


_catalogue: ContextVar[dict[str, list[Series]] | None] = ContextVar("series_catalogue", default=None)


@contextmanager
def series_catalogue(names: Iterable[str]) -> Iterator[None]:
    """Within the block, selectors of these metric names match against series read once, in
    one query, instead of one query each: an evaluation pass over a thousand rules reads
    the catalogue once. Series created during the block are seen after it."""
    wanted = sorted(set(names))
    catalogue: dict[str, list[Series]] = {name: [] for name in wanted}
    if wanted:
        for series in Series.objects.filter(name__in=wanted).only("id", "name", "labels"):
            catalogue[series.name].append(series)
    token = _catalogue.set(catalogue)
    try:
        yield
    finally:
        _catalogue.reset(token)


def matching_series(selector: Selector, *, limit: int | None = None) -> list[Series]:
    """The series a selector matches. Equality matchers narrow in SQL; the rest, in Python."""
    limit = settings.QUERY_MAX_SERIES if limit is None else limit
    catalogue = _catalogue.get()
    if catalogue is not None and selector.metric in catalogue:
        return _matching(selector, catalogue[selector.metric], limit)
    candidates = Series.objects.all()
    if selector.metric is not None:
        candidates = candidates.filter(name=selector.metric)
    for matcher in selector.matchers:
        if matcher.op == "=" and matcher.value and matcher.name != "__name__":
            # The explicit __exact keeps a label named like a lookup ("contains") a key.
            candidates = candidates.filter(**{f"labels__{matcher.name}__exact": matcher.value})
    return _matching(selector, candidates.only("id", "name", "labels").iterator(chunk_size=2000), limit)


def _matching(selector: Selector, candidates: Iterable[Series], limit: int) -> list[Series]:
    found = []
    for series in candidates:
        if selector.matches(series.name, series.labels):
            found.append(series)
            if len(found) > limit:
                raise QueryError(f"{selector} matches more than {limit} series; narrow it with more labels")
    return found


def _columns(selector: Selector, plan: Plan, window_ms: int) -> list[tuple[Series, dict[str, np.ndarray]]]:
    """Each matching series with its rows from the plan's source, covering every window."""
    matched = matching_series(selector)
    if not matched:
        return []
    lo, hi = int(plan.eval_ts[0]) - window_ms, int(plan.eval_ts[-1])
    ids = [series.id for series in matched]
    if plan.source.resolution_ms:
        columns = _rollup_rows(ids, plan.source.resolution_ms, lo, hi, plan.now_ms)
        key = "bucket"
    else:
        columns = _raw_rows(ids, lo, hi)
        key = "ts"
    return [(series, rows) for series, rows in _split(matched, columns, key)]


def _raw_rows(ids: list[int], lo: int, hi: int) -> dict[str, np.ndarray]:
    where, params = in_list("series_id", ids)
    sql = (
        "SELECT series_id, ts, COALESCE(value, 'NaN'::float8) FROM monitoring_sample "  # noqa: S608
        f"WHERE {where} AND ts > %s AND ts <= %s ORDER BY series_id, ts"
    )
    return fetch_columns(_portable(sql), [*params, lo, hi], {"series_id": "int", "ts": "int", "value": "float"})


ROLLUP_COLUMNS = {
    "series_id": "int",
    "bucket": "int",
    "min": "float",
    "max": "float",
    "sum": "float",
    "count": "int",
    "last": "float",
}


def _rollup_rows(ids: list[int], resolution: int, lo: int, hi: int, now_ms: int) -> dict[str, np.ndarray]:
    """Stored rollups, with the minutes not rolled up yet computed from raw samples."""
    where, params = in_list("series_id", ids)
    nan = "'NaN'::float8"
    sql = (
        f"SELECT series_id, bucket, COALESCE(min, {nan}), COALESCE(max, {nan}), COALESCE(sum, {nan}), "  # noqa: S608
        f"count::int8, COALESCE(last, {nan}) FROM monitoring_rollup "
        f"WHERE {where} AND resolution = %s AND bucket >= %s AND bucket < %s ORDER BY series_id, bucket"
    )
    stored = fetch_columns(_portable(sql), [*params, resolution // 1000, lo, hi], ROLLUP_COLUMNS)
    if resolution != MINUTE_MS or hi < now_ms - FRESH_MS:
        return stored
    return _merge(stored, _fresh_minutes(ids, max(lo, now_ms - FRESH_MS), hi))


def _fresh_minutes(ids: list[int], lo: int, hi: int) -> dict[str, np.ndarray]:
    """1-minute rollups computed on the fly from raw samples, for the newest minutes."""
    lo -= lo % MINUTE_MS
    where, params = in_list("series_id", ids)
    not_nan = "value <> 'NaN'::float8"
    sql = (
        "SELECT series_id, ts - ts %% 60000 AS bucket, "  # noqa: S608
        f"COALESCE(MIN(value) FILTER (WHERE {not_nan}), 'NaN'::float8), "
        f"COALESCE(MAX(value) FILTER (WHERE {not_nan}), 'NaN'::float8), "
        f"COALESCE(SUM(value) FILTER (WHERE {not_nan}), 'NaN'::float8), "
        f"(COUNT(*) FILTER (WHERE {not_nan}))::int8, "
        "COALESCE((ARRAY_AGG(value ORDER BY ts DESC))[1], 'NaN'::float8) "
        f"FROM monitoring_sample WHERE {where} AND ts >= %s AND ts < %s "
        "GROUP BY series_id, bucket ORDER BY series_id, bucket"
    )
    if _vendor() != "postgresql":
        sql = _sqlite_fresh_minutes(where)
    return fetch_columns(_portable(sql), [*params, lo, hi], ROLLUP_COLUMNS)


def _sqlite_fresh_minutes(where: str) -> str:
    return (
        "SELECT series_id, ts - ts %% 60000 AS bucket, MIN(value), MAX(value), SUM(value), COUNT(value), "  # noqa: S608
        "(SELECT s2.value FROM monitoring_sample s2 WHERE s2.series_id = s1.series_id "
        "AND s2.ts - s2.ts %% 60000 = s1.ts - s1.ts %% 60000 ORDER BY s2.ts DESC LIMIT 1) "
        f"FROM monitoring_sample s1 WHERE {where} AND ts >= %s AND ts < %s "
        "GROUP BY series_id, bucket ORDER BY series_id, bucket"
    )


def _merge(stored: dict[str, np.ndarray], fresh: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Rows of both, ordered by (series, bucket); a fresh row replaces a stored one."""
    if not fresh["bucket"].size:
        return stored
    stale = np.isin(stored["series_id"] * 10**13 + stored["bucket"], fresh["series_id"] * 10**13 + fresh["bucket"])
    merged = {name: np.concatenate((column[~stale], fresh[name])) for name, column in stored.items()}
    order = np.lexsort((merged["bucket"], merged["series_id"]))
    return {name: column[order] for name, column in merged.items()}


def _split(matched: list[Series], columns: dict[str, np.ndarray], key: str) -> list[tuple[Series, dict]]:
    ids = columns["series_id"]
    out = []
    for series in matched:
        lo, hi = np.searchsorted(ids, series.id, "left"), np.searchsorted(ids, series.id, "right")
        out.append((series, {name: column[lo:hi] for name, column in columns.items() if name != "series_id"}))
    return out


def _vendor() -> str:
    return connection.vendor


def _portable(sql: str) -> str:
    """PostgreSQL's spelling of NaN and of casts, made to work on SQLite too."""
    if _vendor() == "postgresql":
        return sql
    return sql.replace("'NaN'::float8", "NULL").replace("::int8", "")


# --- raw -----------------------------------------------------------------------------


def _raw(selector: Selector, start_ms: int, end_ms: int, step_ms: int, max_points: int) -> QueryResult:
    """The stored samples themselves, thinned to keep each step's extremes when too many."""
    points = min(max_points, (end_ms - start_ms) // step_ms + 1)
    now = int(time.time() * 1000)
    source = choose_source(0, start_ms, now)
    if source.resolution_ms:
        raise QueryError("raw samples are kept for RETENTION_RAW_DAYS; use another fn for older ranges")
    matched = matching_series(selector)
    if not matched:
        return QueryResult([], step_ms, "raw")
    columns = _raw_rows([series.id for series in matched], start_ms - 1, end_ms)
    out = []
    for series, rows in _split(matched, columns, "ts"):
        ts, values = series_math.downsample_minmax(rows["ts"], rows["value"], max(points, 2))
        out.append(ResultSeries({"__name__": series.name, **series.labels}, ts, values))
    return QueryResult(out, step_ms, "raw")
