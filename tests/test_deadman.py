"""The dead man's switch: beat and the evaluator prove they are alive through Redis; /healthz
and the Overview name the one that is late and since when; a healthy pass pings an outside
checker, at most once per OPSBOARD_HEARTBEAT_EVERY_S."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest
import time_machine
from django.conf import settings as django_settings
from django.test import Client

from alerts import tasks
from opsboard import health, metrics
from opsboard.celery import app as celery_app
from opsboard.redis_client import redis_client, redis_key
from tests import servers
from tests.alerts.incident_kit import make_rule
from tests.conftest import TEST_PREFIX, client_for

ROOT = Path(__file__).resolve().parent.parent
T0 = datetime(2030, 1, 7, 9, 0, 0, tzinfo=UTC)


@pytest.fixture
def intervals(settings) -> None:
    settings.HEARTBEAT_INTERVAL = 10.0
    settings.EVAL_INTERVAL_S = 15.0


def everything_alive() -> None:
    health.heartbeat()
    health.mark_beat_tick()
    health.evaluation_pass_done()


def healthz() -> tuple[int, dict]:
    response = Client().get("/healthz")
    return response.status_code, response.json()


# --- Late beat, late evaluator --------------------------------------------------------------------


def test_beat_is_late_after_two_heartbeat_intervals(db, intervals) -> None:
    with time_machine.travel(T0, tick=False) as clock:
        everything_alive()
        clock.move_to(T0 + timedelta(seconds=20))
        assert healthz()[0] == 200
        clock.move_to(T0 + timedelta(seconds=21))
        status, body = healthz()
    assert status == 503
    assert body["down"] == ["beat"]
    beat = body["checks"]["beat"]
    assert beat["since"] == "2030-01-07T09:00:20+00:00"
    assert beat["detail"] == "late since 2030-01-07 09:00:20 UTC: last tick 21 s ago, expected every 10 s"


def test_the_evaluator_is_late_after_two_evaluation_intervals(db, intervals) -> None:
    with time_machine.travel(T0, tick=False) as clock:
        everything_alive()
        clock.move_to(T0 + timedelta(seconds=31))
        health.heartbeat()
        health.mark_beat_tick()
        status, body = healthz()
    assert status == 503
    assert body["down"] == ["evaluator"]
    assert body["checks"]["evaluator"]["since"] == "2030-01-07T09:00:30+00:00"
    assert body["checks"]["evaluator"]["detail"].startswith("late since 2030-01-07 09:00:30 UTC: last pass completed")


def test_never_seen_is_down_with_a_hint(db) -> None:
    health.heartbeat()
    status, body = healthz()
    assert status == 503 and body["down"] == ["beat", "evaluator"]
    assert body["checks"]["beat"]["detail"] == "no tick yet: is celery beat running?"
    assert "no evaluation pass completed yet" in body["checks"]["evaluator"]["detail"]


def test_the_overview_shows_a_red_banner_naming_the_late_part(viewer, intervals) -> None:
    with time_machine.travel(T0, tick=False) as clock:
        everything_alive()
        clock.move_to(T0 + timedelta(seconds=31))
        health.heartbeat()
        health.mark_beat_tick()
        page = client_for(viewer).get("/").content.decode()  # signed in at the travelled time
    banner = page[page.index('class="banner down"') :].split("</p>")[0]
    assert "<strong>evaluator</strong>: late since 2030-01-07 09:00:30 UTC" in banner
    assert "beat" not in banner


# --- Passes ------------------------------------------------------------------------------------


def test_a_pass_completes_when_its_last_chunk_does(db) -> None:
    rules = [make_rule(f"rule-{n}").pk for n in range(3)]
    pass_ms = int(time.time() * 1000)
    health.evaluation_pass_started(pass_ms, 2)
    tasks.evaluate_rules(rules[:2], pass_ms)
    assert health.check_evaluator().ok is False
    tasks.evaluate_rules(rules[2:], pass_ms)
    assert health.check_evaluator().ok is True
    assert redis_client().exists(redis_key("evaluation-pass", str(pass_ms))) == 0


def test_evaluate_all_in_chunks_marks_the_evaluator_alive(db, settings) -> None:
    settings.EVAL_CHUNK = 2
    for n in range(5):
        make_rule(f"rule-{n}")
    celery_app.conf.task_always_eager = True  # the three chunks run here, one after the other
    try:
        assert tasks.evaluate_all() == "5 rules in 3 chunks"
    finally:
        celery_app.conf.task_always_eager = False
    assert health.check_evaluator().ok is True


def test_a_pass_of_no_rules_is_complete_at_once(db) -> None:
    assert tasks.evaluate_all() == "0 rules in 0 chunks"
    assert health.check_evaluator().ok is True


def test_arrival_evaluations_are_not_passes(db) -> None:
    tasks.evaluate_rules([make_rule().pk])
    assert health.check_evaluator().ok is False


# --- Beat's ticks --------------------------------------------------------------------------------


def test_tasks_published_outside_beat_are_not_ticks(db) -> None:
    celery_app.send_task("opsboard.heartbeat", queue="default")
    redis_client().delete("default")
    assert redis_client().get(redis_key("beat")) is None


@pytest.mark.slow
def test_a_real_beat_ticks_and_stamps_its_messages(tmp_path: Path) -> None:
    env = {**os.environ, "OPSBOARD_REDIS_PREFIX": TEST_PREFIX, "HEARTBEAT_INTERVAL": "1"}
    command = [sys.executable, "-m", "celery", "--app", "opsboard", "beat", "--loglevel", "INFO"]
    command += ["--scheduler", "celery.beat:PersistentScheduler", "--schedule", str(tmp_path / "schedule")]
    beat = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        first = wait_for(lambda: redis_client().get(redis_key("beat")), 60, beat)
        later = wait_for(lambda: _newer(first), 10, beat)
        heartbeat = wait_for(lambda: redis_client().lindex("default", -1), 10, beat)
    finally:
        beat.send_signal(signal.SIGTERM)
        beat.communicate(timeout=30)
        redis_client().delete(*[queue.name for queue in django_settings.CELERY_TASK_QUEUES])
    assert float(later) > float(first)
    assert metrics._sent_at(heartbeat) == pytest.approx(time.time(), abs=30)


def _newer(first: bytes) -> bytes | None:
    current = redis_client().get(redis_key("beat"))
    return current if current and float(current) > float(first) else None


def wait_for(probe, timeout_s: float, process: subprocess.Popen) -> bytes:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        assert process.poll() is None, process.communicate()[0].decode()[-3000:]
        found = probe()
        if found:
            return found
        time.sleep(0.2)
    process.send_signal(signal.SIGTERM)
    raise AssertionError(f"nothing within {timeout_s} s:\n{process.communicate()[0].decode()[-3000:]}")


# --- The external heartbeat ---------------------------------------------------------------------


class Checker:
    """An outside checker on loopback, answering ``status``; records each request's method."""

    def __init__(self, status: int = 200) -> None:
        self.status = status
        self.methods: list[str] = []
        self.lock = threading.Lock()

    def handle(self, handler: BaseHTTPRequestHandler) -> None:
        with self.lock:
            self.methods.append(handler.command)
        servers.send(handler, self.status, b"OK")


@pytest.fixture
def checker(settings) -> Iterator[Checker]:
    checker = Checker()
    with servers.serve(checker.handle) as url:
        settings.OPSBOARD_HEARTBEAT_URL = f"{url}/ping/5f1c2d"
        settings.OPSBOARD_HEARTBEAT_EVERY_S = 1
        yield checker


def test_a_healthy_pass_pings_at_most_once_per_interval(db, checker: Checker) -> None:
    everything_alive()
    health.evaluation_pass_done()
    assert checker.methods == ["GET"]
    time.sleep(1.2)  # the throttle is a Redis expiry: real time
    health.evaluation_pass_done()
    assert checker.methods == ["GET", "GET"]


def test_the_last_chunk_of_a_pass_pings(db, checker: Checker) -> None:
    health.heartbeat()
    health.mark_beat_tick()
    pass_ms = int(time.time() * 1000)
    health.evaluation_pass_started(pass_ms, 1)
    tasks.evaluate_rules([make_rule().pk], pass_ms)
    assert checker.methods == ["GET"]


def test_no_ping_while_opsboard_is_unhealthy(db, checker: Checker, caplog, intervals) -> None:
    with time_machine.travel(T0, tick=False) as clock:
        everything_alive()
        assert checker.methods == ["GET"]
        clock.move_to(T0 + timedelta(seconds=25))  # beat is late now
        time.sleep(1.2)
        with caplog.at_level(logging.WARNING, logger="opsboard.health"):
            health.evaluation_pass_done()
    assert checker.methods == ["GET"]
    assert "external heartbeat to 127.0.0.1 not sent: beat down" in caplog.text


def pass_with_logs(caplog) -> None:
    health.heartbeat()
    health.mark_beat_tick()
    with caplog.at_level(logging.WARNING, logger="opsboard.health"):
        health.evaluation_pass_done()
    assert health.check_evaluator().ok is True  # the pass went on
    assert "5f1c2d" not in caplog.text  # the URL's secret part is never logged


def test_a_ping_answered_with_an_error_is_logged(db, settings, caplog) -> None:
    checker = Checker(status=500)
    with servers.serve(checker.handle) as url:
        settings.OPSBOARD_HEARTBEAT_URL = f"{url}/ping/5f1c2d"
        pass_with_logs(caplog)
    assert checker.methods == ["GET"]
    assert "external heartbeat to 127.0.0.1 answered HTTP 500" in caplog.text


def test_an_unreachable_checker_is_logged(db, settings, caplog) -> None:
    settings.OPSBOARD_HEARTBEAT_URL = f"http://127.0.0.1:{servers.free_port()}/ping/5f1c2d"
    pass_with_logs(caplog)
    assert "external heartbeat to 127.0.0.1 failed: OutboundError: cannot connect" in caplog.text
