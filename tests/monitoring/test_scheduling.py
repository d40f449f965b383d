"""Polls scheduled for real: a Celery worker (thread pool) in its own process, the
dispatcher sending due polls, a fast and a hanging target. The fast one keeps its
interval while the hanging one times out, and no poll of either overlaps another."""

from __future__ import annotations

import contextlib
import itertools
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection

from monitoring import polling, tasks
from monitoring.models import ModelEndpoint
from tests import servers

ROOT = Path(__file__).resolve().parents[2]
pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def database_url() -> str:
    db = connection.settings_dict
    auth = db["USER"] + (f":{db['PASSWORD']}" if db["PASSWORD"] else "")
    return f"postgres://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


def start_worker(queue: str) -> subprocess.Popen:
    env = {
        **os.environ,
        "DATABASE_URL": database_url(),
        "REDIS_URL": settings.REDIS_URL,
        "OPSBOARD_REDIS_PREFIX": settings.REDIS_KEY_PREFIX,
    }
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "--app",
            "opsboard",
            "worker",
            "--queues",
            queue,
            "--pool",
            "threads",
            "--concurrency",
            "8",
            "--without-mingle",
            "--without-gossip",
            "--loglevel",
            "WARNING",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


def recording(log: list, delay_s: float = 0.0):
    def handle(handler) -> None:
        started = time.monotonic()
        time.sleep(delay_s)
        with contextlib.suppress(OSError):  # the poller gave up and closed the connection
            servers.send(handler, 200, b"work_items 1\n")
        log.append((started, time.monotonic()))

    return handle


def test_a_hanging_target_does_not_delay_the_others() -> None:
    if connection.vendor != "postgresql":
        pytest.skip("a worker in another process needs the PostgreSQL test database")
    queue = f"polls-test-{uuid.uuid4().hex[:8]}"
    fast_log: list = []
    slow_log: list = []
    with servers.serve(recording(fast_log)) as fast_url, servers.serve(recording(slow_log, delay_s=5)) as slow_url:
        common = {"kind": "prometheus", "interval_s": 2, "timeout_s": 1.5, "queue": queue}
        ModelEndpoint.objects.create(name="fast", url=fast_url, **common)
        ModelEndpoint.objects.create(name="hanging", url=slow_url, **common)
        worker = start_worker(queue)
        try:
            deadline = time.monotonic() + 14
            while time.monotonic() < deadline:
                polling.dispatch_due(tasks.send_poll)
                time.sleep(0.1)
        finally:
            worker.send_signal(signal.SIGTERM)
            worker.wait(timeout=30)
    # The first poll waits for the worker to start; from then on, every 2 s.
    gaps = [b[0] - a[0] for a, b in itertools.pairwise(fast_log[1:])]
    assert len(gaps) >= 3, fast_log
    assert all(1.8 <= gap <= 2.2 for gap in gaps), gaps
    assert len(slow_log) >= 2
    hanging = ModelEndpoint.objects.get(name="hanging")
    assert hanging.last_error == "no answer within 1.5 s" and hanging.last_up is False
    fast = ModelEndpoint.objects.get(name="fast")
    assert fast.last_up is True
