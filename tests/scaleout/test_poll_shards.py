"""Polling sharded over two pollers: targets on two queues, one thread-pool worker per
queue, the dispatcher every second. Each target is polled exactly once per slot (the
loopback server counts the requests, the store holds one ``up`` sample per slot, no slot
missing), and only by the worker of its queue (the server asks the operating system
which worker's socket the request came from)."""

from __future__ import annotations

import itertools
import time
import uuid
from collections import Counter
from http.server import BaseHTTPRequestHandler

import pytest

from monitoring import polling, tasks
from monitoring.models import ModelEndpoint, Sample, Series
from tests import servers
from tests.scaleout.conftest import CeleryWorkers, Workers, owner

pytestmark = pytest.mark.slow

INTERVAL_MS = 2_000
TARGETS = 12
DISPATCH_FOR_S = 10  # five slots of each target


class Recorder:
    """The exposition endpoint of every target (``/<name>/metrics``), noting who asked."""

    def __init__(self) -> None:
        self.workers: Workers = {}
        self.requests: list[tuple[str, str | None]] = []  # (target, worker)

    def handle(self, handler: BaseHTTPRequestHandler) -> None:
        target = handler.path.strip("/").split("/")[0]
        self.requests.append((target, owner(handler.client_address[1], self.workers)))
        servers.send(handler, 200, b"# TYPE work_items gauge\nwork_items 1\n")


def dispatch_every_second(seconds: float) -> dict[str, list[int]]:
    """Run the dispatcher on each second, as beat does; the slots sent, by target uid."""
    sent: dict[str, list[int]] = {}

    def send(role: str, uid: str, slot_ms: int, queue: str, expires_s: int) -> None:
        sent.setdefault(uid, []).append(slot_ms)
        tasks.send_poll(role, uid, slot_ms, queue, expires_s)

    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        polling.dispatch_due(send)
        time.sleep(1 - time.time() % 1)
    return sent


def wait_until_polled(sent: dict[str, list[int]], timeout_s: float = 20) -> None:
    """Until every target finished the last slot sent to it."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        done = dict(ModelEndpoint.objects.values_list("uid", "last_slot_done"))
        if all(done[uuid.UUID(uid)] == slots[-1] for uid, slots in sent.items()):
            return
        time.sleep(0.2)
    pytest.fail(f"polls unfinished after {timeout_s} s")


def up_stamps(target: ModelEndpoint) -> list[int]:
    series = Series.objects.get(name="up", labels__job=target.name)
    return list(Sample.objects.filter(series_id=series.id, value=1.0).order_by("ts").values_list("ts", flat=True))


def test_each_target_is_polled_once_per_slot_by_the_worker_of_its_queue(celery_workers: CeleryWorkers) -> None:
    tag = uuid.uuid4().hex[:8]
    queues = {"poller-a": f"polls-a-{tag}", "poller-b": f"polls-b-{tag}"}
    recorder = Recorder()
    recorder.workers = celery_workers.start(queues, concurrency=4)
    with servers.serve(recorder.handle) as url:
        shard = {f"t{i:02d}": "poller-a" if i % 2 else "poller-b" for i in range(TARGETS)}
        targets = [
            ModelEndpoint.objects.create(
                name=name,
                url=f"{url}/{name}/metrics",
                kind="prometheus",
                config={"family": "none"},
                interval_s=INTERVAL_MS // 1000,
                timeout_s=1.5,
                queue=queues[worker],
            )
            for name, worker in shard.items()
        ]
        sent = dispatch_every_second(DISPATCH_FOR_S)
        wait_until_polled(sent)
    requests = Counter(target for target, _ in recorder.requests)
    for target in targets:
        slots = sent[str(target.uid)]
        assert len(slots) >= DISPATCH_FOR_S * 1000 // INTERVAL_MS - 1, (target.name, slots)
        assert all(b - a == INTERVAL_MS for a, b in itertools.pairwise(slots)), (target.name, slots)
        assert requests[target.name] == len(slots), (target.name, requests[target.name], slots)
        assert up_stamps(target) == slots, target.name
    assert set(recorder.requests) == set(shard.items())  # each by its queue's worker, both at work
