"""Scheduling and running polls: each slot once, no overlap, outcomes on the target."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from monitoring import polling
from monitoring.models import GpuNode, ModelEndpoint, Sample, Series
from tests import servers

EXPOSITION = "# TYPE jobs_total counter\njobs_total 3\nqueue_depth 7\n"


def make_endpoint(url: str, **fields: object) -> ModelEndpoint:
    values = {"name": "llama", "kind": "prometheus", "url": url, "interval_s": 15, "timeout_s": 2.0, **fields}
    return ModelEndpoint.objects.create(**values)


class Sent(list):
    def __call__(self, role: str, uid: str, slot_ms: int, queue: str, expires_s: int) -> None:
        self.append((role, uid, slot_ms, queue, expires_s))


def test_a_new_target_is_dispatched_at_once_then_each_interval(db) -> None:
    target = make_endpoint("http://127.0.0.1:9/metrics")
    now = timezone.now()
    sent = Sent()
    assert polling.dispatch_due(sent, now) == 1
    assert polling.dispatch_due(sent, now + timedelta(seconds=14)) == 0
    assert polling.dispatch_due(sent, now + timedelta(seconds=15)) == 1
    slots = [slot for _, _, slot, _, _ in sent]
    assert slots[1] - slots[0] == 15_000
    assert sent[0][:2] == ("model", str(target.uid)) and sent[0][3:] == ("polls", 15)


def test_paused_targets_are_not_dispatched(db) -> None:
    make_endpoint("http://127.0.0.1:9/metrics", enabled=False)
    assert polling.dispatch_due(Sent()) == 0


def test_missed_slots_are_skipped_not_piled_up(db) -> None:
    target = make_endpoint("http://127.0.0.1:9/metrics")
    now = timezone.now()
    ModelEndpoint.objects.filter(pk=target.pk).update(next_poll_at=now - timedelta(minutes=10))
    sent = Sent()
    assert polling.dispatch_due(sent, now) == 1
    assert polling.dispatch_due(sent, now + timedelta(seconds=1)) == 0
    target.refresh_from_db()
    assert target.next_poll_at == now + timedelta(seconds=15)


def test_a_poll_stores_samples_and_its_outcome(db) -> None:
    with servers.serve(servers.exposition(EXPOSITION)) as url:
        target = make_endpoint(url)
        outcome = polling.poll("model", str(target.uid), 1_800_000_000_000)
    assert outcome == "up: 5 samples"
    target.refresh_from_db()
    assert (target.last_up, target.last_sample_count, target.last_error) == (True, 5, "")
    assert target.last_slot_done == 1_800_000_000_000 and target.polling_since is None
    assert set(Series.objects.filter(target_uid=target.uid).values_list("name", flat=True)) == {
        "jobs_total",
        "queue_depth",
        "up",
        "scrape_duration_seconds",
        "scrape_samples_scraped",
    }
    assert set(Sample.objects.values_list("ts", flat=True)) == {1_800_000_000_000}


def test_the_same_slot_twice_stores_nothing_twice(db) -> None:
    with servers.serve(servers.exposition(EXPOSITION)) as url:
        target = make_endpoint(url)
        polling.poll("model", str(target.uid), 1_800_000_000_000)
        assert polling.poll("model", str(target.uid), 1_800_000_000_000).startswith("skipped")
        ModelEndpoint.objects.filter(pk=target.pk).update(last_slot_done=None)  # as if the task was redelivered
        polling.poll("model", str(target.uid), 1_800_000_000_000)
    assert Sample.objects.count() == 5


def test_an_unreachable_target_is_down_with_its_error(db) -> None:
    target = make_endpoint(f"http://127.0.0.1:{servers.free_port()}/metrics")
    assert polling.poll("model", str(target.uid), 1_800_000_000_000).startswith("down: 3 samples (cannot connect")
    target.refresh_from_db()
    assert target.last_up is False and target.state == "down"
    up = Sample.objects.get(series__name="up")
    assert up.value == 0.0


def test_a_bad_configuration_shows_on_the_target(db) -> None:
    target = make_endpoint("http://127.0.0.1:9/metrics", config={"family": "nonsense"})
    polling.poll("model", str(target.uid), 1_800_000_000_000)
    target.refresh_from_db()
    assert target.last_error.startswith("configuration: family")


def test_a_deleted_or_paused_target_is_skipped(db) -> None:
    target = make_endpoint("http://127.0.0.1:9/metrics", enabled=False)
    assert polling.poll("model", str(target.uid), 1).startswith("skipped")
    uid = str(target.uid)
    target.delete()
    assert polling.poll("model", uid, 1) == "skipped: the target was deleted"


@pytest.mark.django_db(transaction=True)
def test_two_polls_of_one_target_never_overlap() -> None:
    if connection.vendor != "postgresql":
        pytest.skip("threads on the in-memory SQLite test database lock whole tables")
    outcomes: dict[str, str] = {}
    with servers.serve(lambda handler: (threading.Event().wait(1.5), servers.send(handler, 200, b"x 1\n"))) as url:
        target = make_endpoint(url, interval_s=1, timeout_s=5)

        def run(slot: int) -> None:
            try:
                outcomes[str(slot)] = polling.poll("model", str(target.uid), slot)
            finally:
                connection.close()

        first = threading.Thread(target=run, args=(1_000,))
        first.start()
        threading.Event().wait(0.5)
        run(2_000)  # the next slot, while the first poll still waits on the slow target
        first.join()
    assert outcomes["1000"].startswith("up")
    assert outcomes["2000"].startswith("skipped")


def test_a_poll_left_by_a_dead_worker_does_not_block_the_next(db) -> None:
    with servers.serve(servers.exposition(EXPOSITION)) as url:
        target = make_endpoint(url)
        stale = timezone.now() - timedelta(minutes=5)
        ModelEndpoint.objects.filter(pk=target.pk).update(polling_since=stale, polling_slot=1)
        assert polling.poll("model", str(target.uid), 2).startswith("up")


def test_a_local_node_polls_this_machine(db) -> None:
    node = GpuNode.objects.create(name="this-box", kind="local", url="")
    assert polling.poll("node", str(node.uid), 1_800_000_000_000).startswith("up")
    names = set(Series.objects.filter(target_uid=node.uid).values_list("name", flat=True))
    assert {"node_memory_MemAvailable_bytes", "opsboard_agent_gpu_available", "up"} <= names
