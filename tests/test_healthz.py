"""/healthz names the database, Redis, the Celery heartbeat, beat and the evaluator, and says
503 when one is down (beat and the evaluator: tests/test_deadman.py)."""

from __future__ import annotations

import socket
import time

from django.test import Client, override_settings

from opsboard.health import evaluation_pass_done, heartbeat, mark_beat_tick
from opsboard.redis_client import redis_client, redis_key


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def all_alive() -> None:
    heartbeat()
    mark_beat_tick()
    evaluation_pass_done()


def test_healthy_when_database_redis_and_heartbeat_are_fine(db) -> None:
    all_alive()
    response = Client().get("/healthz")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert set(body["checks"]) == {"database", "redis", "celery", "beat", "evaluator"}
    assert body["down"] == []


def test_503_naming_redis_when_redis_is_unreachable(db) -> None:
    heartbeat()
    with override_settings(REDIS_URL=f"redis://127.0.0.1:{closed_port()}/0"):
        started = time.monotonic()
        response = Client().get("/healthz")
        assert time.monotonic() - started < 5
    assert response.status_code == 503
    assert response.json()["down"] == ["redis", "celery", "beat", "evaluator"]
    assert "ConnectionError" in response.json()["checks"]["redis"]["detail"]


def test_503_when_the_heartbeat_is_stale(db, settings) -> None:
    all_alive()
    redis_client().set(redis_key("heartbeat"), repr(time.time() - 10 * settings.HEARTBEAT_INTERVAL))
    response = Client().get("/healthz")
    assert response.status_code == 503
    assert response.json()["down"] == ["celery"]
    assert "last heartbeat" in response.json()["checks"]["celery"]["detail"]


def test_503_when_no_heartbeat_ever_arrived(db) -> None:
    redis_client().delete(redis_key("heartbeat"))
    response = Client().get("/healthz")
    assert response.status_code == 503
    assert "no heartbeat yet" in response.json()["checks"]["celery"]["detail"]


def test_overview_shows_a_red_banner_when_degraded(viewer_client) -> None:
    redis_client().delete(redis_key("heartbeat"))
    response = viewer_client.get("/")
    assert 'class="banner down"' in response.content.decode()
