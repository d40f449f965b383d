"""Rules evaluated over the store: the state machine per label set, exactly-once
transitions, silences, inhibition, absence, errors that stay on their rule."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection

from alerts import arrival, evaluation, rules
from alerts.models import AlertRule, AlertState, AlertTransition, Silence
from monitoring import store
from monitoring.samples import sample
from opsboard.audit.services import Actor

NOW = int(time.time() * 1000) // 1000 * 1000
SETUP = Actor.system("test")


def rule(
    name: str = "hot", expression: str = "gpu_temp", kind: str = "threshold", condition: dict | None = None, **extra
):
    values = {
        "name": name,
        "expression": expression,
        "condition_kind": kind,
        "condition": condition if condition is not None else {"op": ">", "value": 80},
        **extra,
    }
    return rules.create_rule(values, by=SETUP)


def write(value: float, at_ms: int, name: str = "gpu_temp", **labels: str) -> None:
    store.write([sample(name, labels or {"gpu": "0"}, at_ms, value)])


def run(r: AlertRule, at_ms: int) -> int:
    return evaluation.evaluate_many([r.pk], at_ms)


def states(r: AlertRule) -> dict[str, str]:
    return {s.labels.get("gpu", ""): s.state for s in AlertState.objects.filter(rule=r)}


def transitions(r: AlertRule) -> list[tuple[str, str]]:
    return list(AlertTransition.objects.filter(rule=r).order_by("at", "id").values_list("from_state", "to_state"))


def test_a_threshold_with_for_goes_pending_then_firing_then_resolved(db) -> None:
    r = rule(for_s=60)
    write(85, NOW)
    run(r, NOW)
    assert states(r) == {"0": "pending"}
    write(86, NOW + 30_000)
    run(r, NOW + 30_000)
    assert states(r) == {"0": "pending"}
    write(87, NOW + 60_000)
    run(r, NOW + 60_000)
    assert states(r) == {"0": "firing"}
    write(70, NOW + 90_000)
    run(r, NOW + 90_000)
    assert states(r) == {"0": "resolved"}
    assert transitions(r) == [("inactive", "pending"), ("pending", "firing"), ("firing", "resolved")]
    firing = AlertTransition.objects.get(rule=r, to_state="firing")
    assert firing.value == 87.0
    assert firing.labels == {"gpu": "0", "alertname": "hot", "severity": "warning"}


def test_for_zero_fires_at_once_and_each_label_set_has_its_own_state(db) -> None:
    r = rule()
    store.write([sample("gpu_temp", {"gpu": "0"}, NOW, 90), sample("gpu_temp", {"gpu": "1"}, NOW, 50)])
    assert run(r, NOW) == 1
    assert states(r) == {"0": "firing"}


def test_evaluating_the_same_moment_twice_changes_nothing(db) -> None:
    r = rule()
    write(90, NOW)
    run(r, NOW)
    assert run(r, NOW) == 0
    assert len(transitions(r)) == 1


def test_a_stale_evaluation_is_dropped(db) -> None:
    r = rule()
    write(90, NOW)
    write(10, NOW + 15_000)
    run(r, NOW + 15_000)
    assert run(r, NOW) == 0  # looked at an older moment than the last evaluation
    assert transitions(r) == []


def test_hysteresis_holds_until_the_recovery_threshold(db) -> None:
    r = rule(condition={"op": ">", "value": 80, "recovery": 75})
    for step, value in enumerate([81, 79, 81, 79, 76, 74]):
        write(value, NOW + step * 15_000)
        run(r, NOW + step * 15_000)
    assert transitions(r) == [("inactive", "firing"), ("firing", "resolved")]
    assert AlertTransition.objects.get(rule=r, to_state="resolved").value == 74.0


@pytest.mark.django_db(transaction=True)
def test_two_evaluators_at_once_make_each_transition_once() -> None:
    if connection.vendor != "postgresql":
        pytest.skip("concurrent evaluators need PostgreSQL's row locks")
    r = rule()
    write(90, NOW)
    barrier = threading.Barrier(4)
    made: list[int] = []

    def evaluate() -> None:
        barrier.wait()
        try:
            made.append(run(r, NOW))
        finally:
            connection.close()

    threads = [threading.Thread(target=evaluate) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(made) == [0, 0, 0, 1]
    assert transitions(r) == [("inactive", "firing")]


def test_a_silenced_alert_still_changes_state_and_shows_as_silenced(db) -> None:
    r = rule()
    Silence.objects.create(
        matchers='gpu="0"',
        starts_at=datetime.now(UTC) - timedelta(minutes=1),
        ends_at=datetime.now(UTC) + timedelta(hours=1),
        comment="maintenance",
    )
    write(90, NOW)
    run(r, NOW)
    alert = AlertState.objects.get(rule=r)
    assert alert.state == "firing" and alert.silenced
    assert AlertTransition.objects.get(rule=r).silenced


def test_inhibition_by_a_firing_alert_with_equal_labels(db) -> None:
    node_down = rule("node down", "node_up", condition={"op": "==", "value": 0})
    model_slow = rule(
        "model slow",
        "latency",
        condition={"op": ">", "value": 1},
        inhibited_by='alertname="node down"',
        inhibit_equal=["node"],
    )
    store.write(
        [
            sample("node_up", {"node": "a"}, NOW, 0),
            sample("latency", {"node": "a"}, NOW, 5),
            sample("latency", {"node": "b"}, NOW, 5),
        ]
    )
    run(node_down, NOW)
    run(model_slow, NOW)
    inhibited = dict(AlertState.objects.filter(rule=model_slow).values_list("labels__node", "inhibited"))
    assert inhibited == {"a": True, "b": False}


def test_absent_fires_for_a_series_that_stopped_and_for_nothing_matching(db) -> None:
    stopped = rule("trainer silent", 'heartbeat{job="trainer"}', "absent", {"seconds": 60})
    never = rule("nothing there", 'heartbeat{job="ghost"}', "absent", {"seconds": 60})
    write(1, NOW - 300_000, name="heartbeat", job="trainer")
    run(stopped, NOW)
    run(never, NOW)
    assert list(AlertState.objects.filter(rule=stopped).values_list("labels__job", "state")) == [("trainer", "firing")]
    assert list(AlertState.objects.filter(rule=never).values_list("labels__job", "state")) == [("ghost", "firing")]
    write(1, NOW + 10_000, name="heartbeat", job="trainer")
    run(stopped, NOW + 10_000)
    assert AlertState.objects.get(rule=stopped).state == "resolved"


def test_not_finite_fires_on_a_nan_loss(db) -> None:
    r = rule("loss", "train_loss", "not_finite", {})
    write(float("nan"), NOW, name="train_loss", run_id="r1")
    run(r, NOW)
    assert AlertState.objects.get(rule=r).state == "firing"


def test_a_failing_rule_keeps_its_error_and_the_others_run(db, settings) -> None:
    settings.QUERY_MAX_SERIES = 2
    wide = rule("wide", "wide_metric", condition={"op": ">", "value": 0})
    fine = rule()
    store.write([sample("wide_metric", {"i": str(i)}, NOW, 1) for i in range(5)])
    write(90, NOW)
    evaluation.evaluate_many([wide.pk, fine.pk], NOW)
    wide.refresh_from_db()
    assert "matches more than 2 series" in wide.last_eval_error
    assert states(fine) == {"0": "firing"}


def test_the_arrival_index_finds_the_rules_of_a_written_metric(db) -> None:
    r = rule()
    rule("other", "something_else")
    arrival.forget_index()
    assert arrival.rule_index()["gpu_temp"] == {r.pk}


def test_arrival_queues_each_rule_once_while_it_is_queued(db, monkeypatch) -> None:
    r = rule()
    arrival.forget_index()
    sent: list = []
    monkeypatch.setattr(arrival.current_app, "send_task", lambda name, args, queue: sent.append((name, args, queue)))
    touched = store.Touched([1], [sample("gpu_temp", {"gpu": "0"}, NOW, 90)])
    arrival.on_samples(touched)
    arrival.on_samples(touched)
    assert sent == [("alerts.evaluate_on_arrival", ([r.pk],), "alerts")]
    runs = arrival.run_debounced([r.pk], lambda ids: None)
    assert runs == 1
    arrival.on_samples(touched)  # queued was cleared: the next write queues again
    assert len(sent) == 2


def test_data_arriving_during_an_evaluation_is_evaluated_again(db) -> None:
    r = rule()
    calls: list[int] = []

    def evaluate(rule_ids: list[int]) -> None:
        calls.extend(rule_ids)
        if len(calls) == 1:  # a write lands while the first evaluation runs
            dirty, _queued = arrival._keys(rule_ids[0])
            arrival.redis_client().set(dirty, 1)

    assert arrival.run_debounced([r.pk], evaluate) == 2


def test_rules_queued_together_are_evaluated_together(db) -> None:
    """One evaluation loads silences, firing states and the series catalogue for all of them."""
    a, b = rule("hot"), rule("cold")
    calls: list[list[int]] = []
    assert arrival.run_debounced([a.pk, b.pk], calls.append) == 2
    assert calls == [[a.pk, b.pk]]


def test_a_pass_reads_the_series_once_and_notes_its_rules_in_one_statement(db) -> None:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    made = [rule(f"hot-{i}", expression=f"temp_{i}") for i in range(20)]
    for i in range(20):
        write(50, NOW, name=f"temp_{i}")
    with CaptureQueriesContext(connection) as queries:
        evaluation.evaluate_many([r.pk for r in made], NOW)
    statements = [q["sql"] for q in queries.captured_queries]
    series_reads = [s for s in statements if 'FROM "monitoring_series"' in s]
    notes = [s for s in statements if s.startswith('UPDATE "alerts_alertrule"') and "last_eval_error" in s]
    assert len(series_reads) == 1 and len(notes) == 1
    assert all(r.last_eval_ms == NOW for r in AlertRule.objects.filter(pk__in=[r.pk for r in made]))
