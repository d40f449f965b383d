"""Alert evaluation on two evaluator workers (queue ``alerts``, thread pools): many rules,
the beat pass sent twice at one moment while the evaluations on arrival of the same data
race them. Each alert becomes firing once and resolved once, each rule opens one incident
and resolves it once, and each notification is written once."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable

import pytest

from alerts import rules
from alerts.models import AlertRule, AlertState, AlertTransition, Incident, Notification
from alerts.tasks import evaluate_all
from monitoring import store
from monitoring.samples import sample
from opsboard.audit.services import Actor
from opsboard.celery import app
from tests.alerts.incident_kit import make_policy, webhook_channel
from tests.scaleout.conftest import CeleryWorkers

pytestmark = pytest.mark.slow

RULES = 40
GPUS = 2  # alerts per rule, grouped into one incident


def make_rules() -> None:
    make_policy(webhook_channel("ops-hook", "http://127.0.0.1:9/hook"), wait_minutes=60)
    for i in range(RULES):
        values = {
            "name": f"Hot{i:02d}",
            "expression": f'scaleout_temp{{rack="{i}"}}',
            "condition_kind": "threshold",
            "condition": {"op": ">", "value": 80},
            "group_by": [],
        }
        rules.create_rule(values, by=Actor.system("test"))


def write_and_pass_twice(value: float) -> None:
    """Write every series (each write queues evaluations on arrival), then two beat passes at once."""
    now_ms = int(time.time() * 1000)
    store.write(
        [
            sample("scaleout_temp", {"rack": str(i), "gpu": str(g)}, now_ms, value)
            for i in range(RULES)
            for g in range(GPUS)
        ]
    )
    for _ in range(2):
        evaluate_all.apply_async(queue="alerts")


def queued(queue: str) -> int:
    with app.connection_for_write() as conn:
        return conn.default_channel.client.llen(queue)


def settle(done: Callable[[], bool], timeout_s: float = 60, quiet_s: float = 3) -> None:
    """Until ``done()`` holds and the queue stayed empty for ``quiet_s`` (late duplicates would show)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and not done():
        time.sleep(0.2)
    assert done(), "evaluations did not finish in time"
    while time.monotonic() < deadline:
        quiet_until = time.monotonic() + quiet_s
        while queued("alerts") == 0 and time.monotonic() < quiet_until:
            time.sleep(0.2)
        if time.monotonic() >= quiet_until:
            return
    pytest.fail("the alerts queue never emptied")


def test_two_evaluators_make_each_transition_incident_and_notification_once(celery_workers: CeleryWorkers) -> None:
    make_rules()
    names = {"evaluator-a": "alerts", "evaluator-b": "alerts"}
    celery_workers.start(names, concurrency=4, env={"EVAL_CHUNK": "4"})

    write_and_pass_twice(95.0)
    settle(lambda: AlertState.objects.filter(state=AlertState.FIRING).count() == RULES * GPUS)
    write_and_pass_twice(20.0)
    settle(lambda: Incident.objects.filter(status=Incident.RESOLVED).count() == RULES)

    transitions = Counter(AlertTransition.objects.values_list("alert_id", "from_state", "to_state"))
    assert len(transitions) == 2 * RULES * GPUS and set(transitions.values()) == {1}
    assert Counter((f, t) for _, f, t in transitions) == {
        ("inactive", "firing"): RULES * GPUS,
        ("firing", "resolved"): RULES * GPUS,
    }
    assert AlertState.objects.filter(state=AlertState.RESOLVED).count() == RULES * GPUS
    incidents = Counter(Incident.objects.values_list("rule_id", "status", "reopened"))
    assert incidents == {
        (rule_id, Incident.RESOLVED, 0): 1 for rule_id in AlertRule.objects.values_list("pk", flat=True)
    }
    outbox = Counter(Notification.objects.values_list("incident_id", "event"))
    assert set(outbox.values()) == {1}
    assert Counter(event for _, event in outbox) == {"triggered": RULES, "resolved": RULES}
    assert not AlertRule.objects.exclude(last_eval_error="").exists()
    for name in names:  # both evaluators took part in the passes
        assert "Task alerts.evaluate_rules[" in celery_workers.log(name), name
