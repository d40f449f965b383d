"""Evaluation as the data arrives: the store announces each write, and the rules that
watch the written metric names are evaluated at once, debounced per rule.

Per rule, two Redis keys: ``dirty`` (new data since the last evaluation began) and
``queued`` (an evaluation task is on its way or running). The announcement sets dirty and
sends a task only if it can set queued; the task clears dirty before evaluating and,
once done, clears queued and evaluates again if dirty was set meanwhile. A burst of writes
thus costs one or two evaluations, and no write is left unevaluated.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from celery import current_app
from redis.exceptions import RedisError

from alerts.models import AlertRule
from monitoring.promql import PromQLError, parse, selectors_of
from monitoring.store import Touched
from opsboard.redis_client import redis_client, redis_key

logger = logging.getLogger(__name__)

QUEUED_TTL_S = 60  # a task that died without clearing `queued` blocks its rule this long at most
REBUILD_EVERY_S = 60  # the index is rebuilt this often even if no change was announced
_index: dict[str, object] = {"version": None, "checked": 0.0, "built": 0.0, "rules": {}}


def rule_index() -> dict[str, set[int]]:
    """Metric name → ids of the enabled rules whose expressions select it; rebuilt when
    the rules change (a counter in Redis), checked at most every half second."""
    now = time.monotonic()
    if now - _index["checked"] < 0.5:
        return _index["rules"]
    version = redis_client().get(redis_key("alerts", "rules-version"))
    if version != _index["version"] or now - _index["built"] > REBUILD_EVERY_S:
        _index.update(version=version, rules=_build_index(), built=now)
    _index["checked"] = now
    return _index["rules"]


def _build_index() -> dict[str, set[int]]:
    index: dict[str, set[int]] = {}
    for rule_id, expression in AlertRule.objects.filter(enabled=True).values_list("pk", "expression"):
        try:
            names = {s.metric for s in selectors_of(parse(expression)) if s.metric}
        except PromQLError:
            continue
        for name in names:
            index.setdefault(name, set()).add(rule_id)
    return index


def forget_index() -> None:
    _index.update(version=None, checked=0.0, built=0.0, rules={})


def _keys(rule_id: int) -> tuple[str, str]:
    return redis_key("alerts", "dirty", str(rule_id)), redis_key("alerts", "queued", str(rule_id))


def on_samples(touched: Touched) -> None:
    """Store subscriber: queue an evaluation of every rule watching the written names."""
    try:
        index = rule_index()
        if not index:
            return
        names = {s.name for s in touched.samples}
        rule_ids = sorted({rid for name in names & index.keys() for rid in index[name]})
        if rule_ids:
            _queue(rule_ids)
    except RedisError as exc:
        logger.warning("evaluation on arrival skipped (Redis): %s; the next pass evaluates", exc)


def _queue(rule_ids: list[int]) -> None:
    client = redis_client()
    with client.pipeline() as pipe:
        for rule_id in rule_ids:
            dirty, queued = _keys(rule_id)
            pipe.set(dirty, 1, ex=QUEUED_TTL_S).set(queued, 1, nx=True, ex=QUEUED_TTL_S)
        answers = pipe.execute()
    fresh = [rule_id for rule_id, won in zip(rule_ids, answers[1::2], strict=True) if won]
    if fresh:
        current_app.send_task("alerts.evaluate_on_arrival", (fresh,), queue="alerts")


def run_debounced(rule_ids: list[int], evaluate: Callable[[list[int]], None]) -> int:
    """Evaluate ``rule_ids`` together (one evaluation shares its silences, firing states and
    series catalogue), then again those whose data arrived meanwhile, until none did;
    returns how many rule evaluations ran."""
    client = redis_client()
    runs = 0
    while rule_ids:
        keys = [_keys(rule_id) for rule_id in rule_ids]
        client.delete(*(dirty for dirty, _ in keys))
        evaluate(rule_ids)
        runs += len(rule_ids)
        with client.pipeline() as pipe:
            for dirty, queued in keys:
                pipe.delete(queued).exists(dirty)
            dirtied = pipe.execute()[1::2]
        with client.pipeline() as pipe:
            for (_, queued), again in zip(keys, dirtied, strict=True):
                if again:
                    pipe.set(queued, 1, nx=True, ex=QUEUED_TTL_S)
            won = iter(pipe.execute())
        # A rule another worker queued meanwhile is that worker's to evaluate.
        rule_ids = [rule_id for rule_id, again in zip(rule_ids, dirtied, strict=True) if again and next(won)]
    return runs
