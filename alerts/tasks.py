"""Evaluation tasks: the beat pass over every rule (fanned out in chunks) and the
evaluations on arrival."""

from __future__ import annotations

import time

from celery import shared_task
from django.conf import settings

from alerts import arrival, evaluation
from alerts.models import AlertRule


@shared_task(name="alerts.evaluate_all", ignore_result=True)
def evaluate_all() -> str:
    """The periodic pass: every enabled rule at one moment, in chunks a worker each."""
    now_ms = int(time.time() * 1000)
    ids = list(AlertRule.objects.filter(enabled=True).order_by("pk").values_list("pk", flat=True))
    size = settings.EVAL_CHUNK
    for start in range(0, len(ids), size):
        evaluate_rules.apply_async((ids[start : start + size], now_ms), queue="alerts")
    return f"{len(ids)} rules in {(len(ids) + size - 1) // size} chunks"


@shared_task(name="alerts.evaluate_rules", ignore_result=True)
def evaluate_rules(rule_ids: list[int], now_ms: int | None = None) -> str:
    return f"{evaluation.evaluate_many(rule_ids, now_ms)} transitions"


@shared_task(name="alerts.evaluate_on_arrival", ignore_result=True)
def evaluate_on_arrival(rule_ids: list[int]) -> str:
    runs = sum(arrival.run_debounced(rule_id, lambda rid: evaluation.evaluate_many([rid])) for rule_id in rule_ids)
    return f"{runs} evaluations of {len(rule_ids)} rules"
