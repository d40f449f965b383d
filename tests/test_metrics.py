"""GET /metrics: real work (pushes, polls, evaluations, deliveries, sockets, queued tasks)
moves the scraped figures by exactly what was done, and the answer is valid exposition."""

from __future__ import annotations

import json
import socket
import time
import uuid
from collections.abc import Iterator
from datetime import timedelta

import pytest
import time_machine
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.test import Client, override_settings
from django.utils import timezone
from prometheus_client.parser import text_string_to_metric_families

from alerts import delivery, evaluation
from alerts.models import Notification
from monitoring import polling, store
from monitoring.models import ModelEndpoint
from monitoring.samples import sample
from opsboard import metrics
from opsboard.accounts import security_events, services
from opsboard.accounts.models import User
from opsboard.asgi import application
from opsboard.audit.services import Actor
from opsboard.celery import app as celery_app
from opsboard.redis_client import redis_client
from tests import servers
from tests.alerts.incident_kit import fire, make_policy, make_rule, receiving, webhook_channel
from tests.conftest import client_for, make_user
from tests.monitoring.test_live import session_cookie

Figures = dict[tuple[str, tuple[tuple[str, str], ...]], float]


@pytest.fixture(autouse=True)
def _counting_on() -> Iterator[None]:
    """A pause left by another test that made Redis unreachable would hide increments here."""
    metrics._Pause.until = 0.0
    yield
    metrics._Pause.until = 0.0


def parse(text: str) -> Figures:
    """Every sample of the exposition, by name and sorted labels; the parser refuses invalid text."""
    families = list(text_string_to_metric_families(text))
    return {(s.name, tuple(sorted(s.labels.items()))): s.value for family in families for s in family.samples}


def scrape(client: Client) -> Figures:
    response = client.get("/metrics")
    assert response.status_code == 200, response.content
    assert response["Content-Type"].startswith("text/plain")
    return parse(response.content.decode())


def token_for(user: User, *scopes: str) -> str:
    return services.create_token(user=user, name="prometheus", scopes=list(scopes), by=Actor.system("test"))[1]


def bearer(secret: str) -> Client:
    return Client(HTTP_AUTHORIZATION=f"Bearer {secret}")


def value(figures: Figures, name: str, **labels: str) -> float:
    return figures.get((name, tuple(sorted(labels.items()))), 0.0)


def moved(before: Figures, after: Figures, name: str, **labels: str) -> float:
    return value(after, name, **labels) - value(before, name, **labels)


@pytest.fixture
def scraper(viewer: User) -> Client:
    return bearer(token_for(viewer, "read"))


# --- Access -----------------------------------------------------------------------------------


def test_a_read_token_or_an_admin_session_may_scrape(viewer: User, admin: User) -> None:
    assert bearer(token_for(viewer, "read")).get("/metrics").status_code == 200
    assert client_for(admin).get("/metrics").status_code == 200


def test_others_may_not(viewer: User, outsider: User) -> None:
    assert Client().get("/metrics").status_code == 401
    assert client_for(viewer).get("/metrics").status_code == 403  # a session needs Admin
    assert bearer(token_for(viewer, "ingest")).get("/metrics").status_code == 403
    assert bearer(token_for(outsider, "read")).get("/metrics").status_code == 403


@override_settings(OPSBOARD_METRICS_PUBLIC=True)
def test_opsboard_metrics_public_opens_it_to_anyone(db: None) -> None:
    assert Client().get("/metrics").status_code == 200


# --- The exposition -----------------------------------------------------------------------------


def test_valid_exposition_with_process_basics_and_every_family(scraper: Client) -> None:
    response = scraper.get("/metrics", HTTP_ACCEPT="text/plain")
    names = {family.name for family in text_string_to_metric_families(response.content.decode())}
    assert {
        "process_resident_memory_bytes",
        "process_cpu_seconds",
        "python_info",
        "python_gc_objects_collected",
    } <= names
    assert {
        "opsboard_samples_ingested",
        "opsboard_polls",
        "opsboard_rules_evaluated",
        "opsboard_evaluation_duration_seconds",
        "opsboard_notification_attempts",
        "opsboard_celery_queue_length",
        "opsboard_celery_queue_oldest_task_age_seconds",
        "opsboard_websocket_clients",
        "opsboard_metrics_redis_up",
        "opsboard_last_alive_timestamp_seconds",
    } <= names


def test_openmetrics_when_the_scraper_asks_for_it(scraper: Client) -> None:
    response = scraper.get("/metrics", HTTP_ACCEPT="application/openmetrics-text; version=1.0.0")
    assert response["Content-Type"].startswith("application/openmetrics-text")
    assert response.content.decode().endswith("# EOF\n")


# --- Counting real work ------------------------------------------------------------------------


def test_pushed_samples_count_as_push(scraper: Client, viewer: User) -> None:
    before = scrape(scraper)
    body = "train_loss 0.5\ntrain_step 12\ntrain_lr 0.001\n"
    pushed = bearer(token_for(viewer, "ingest")).generic("POST", "/api/v1/push", body, content_type="text/plain")
    assert pushed.status_code == 200
    after = scrape(scraper)
    assert moved(before, after, "opsboard_samples_ingested_total", source="push") == 3
    assert moved(before, after, "opsboard_samples_ingested_total", source="poll") == 0


def test_opsboards_own_writes_are_not_counted_as_ingested(scraper: Client) -> None:
    """Security events and run states are written by Opsboard itself, not received."""
    before = scrape(scraper)
    security_events.count(security_events.LOGIN_FAILED)
    assert security_events.export() > 0
    after = scrape(scraper)
    assert moved(before, after, "opsboard_samples_ingested_total", source="push") == 0
    assert moved(before, after, "opsboard_samples_ingested_total", source="poll") == 0


def make_target(url: str, name: str, timeout_s: float = 2.0, **fields: object) -> ModelEndpoint:
    values = {"kind": "prometheus", "interval_s": 15, **fields}
    return ModelEndpoint.objects.create(name=name, url=url, timeout_s=timeout_s, **values)


def test_polls_count_by_kind_and_result_and_their_samples_as_poll(scraper: Client) -> None:
    before = scrape(scraper)
    with servers.serve(servers.exposition("jobs_total 3\nqueue_depth 7\n")) as url:
        assert polling.poll("model", str(make_target(url, "good").uid), 1_800_000_000_000).startswith("up: 5")
    with servers.serve(servers.status(500)) as url:
        assert polling.poll("model", str(make_target(url, "failing").uid), 1_800_000_000_000).startswith("down")
    with servers.serve(servers.hanging(5)) as url:
        assert polling.poll("model", str(make_target(url, "hanging", 0.3).uid), 1_800_000_000_000).startswith("down")
    after = scrape(scraper)
    assert moved(before, after, "opsboard_polls_total", kind="prometheus", result="ok") == 1
    assert moved(before, after, "opsboard_polls_total", kind="prometheus", result="error") == 1
    assert moved(before, after, "opsboard_polls_total", kind="prometheus", result="timeout") == 1
    # 5 from the good target; up, scrape_duration_seconds and scrape_samples_scraped from each other.
    assert moved(before, after, "opsboard_samples_ingested_total", source="poll") == 5 + 3 + 3


def test_an_evaluation_of_three_rules_is_one_observation(scraper: Client) -> None:
    rules = [make_rule(f"rule-{n}") for n in range(3)]
    store.write([sample("gpu_temp", {"node": "gpu-1", "gpu": "0"}, int(time.time() * 1000), 50.0)])
    before = scrape(scraper)
    evaluation.evaluate_many([rule.pk for rule in rules])
    after = scrape(scraper)
    assert moved(before, after, "opsboard_rules_evaluated_total") == 3
    assert moved(before, after, "opsboard_evaluation_duration_seconds_count") == 1
    assert moved(before, after, "opsboard_evaluation_duration_seconds_bucket", le="+Inf") == 1
    assert 0 < moved(before, after, "opsboard_evaluation_duration_seconds_sum") < 30


def test_webhook_attempts_count_by_result(scraper: Client) -> None:
    before = scrape(scraper)
    with time_machine.travel(timezone.now(), tick=False) as clock, receiving(fail_first=1) as receiver:
        make_policy(webhook_channel("team", receiver.url))
        incident = fire(make_rule())
        for _ in range(2):
            for notification_id, _queue in delivery.due_ids():
                delivery.deliver(notification_id)
            clock.shift(timedelta(seconds=2))
    assert Notification.objects.get(incident=incident).status == Notification.DELIVERED
    after = scrape(scraper)
    assert moved(before, after, "opsboard_notification_attempts_total", transport="webhook", result="retrying") == 1
    assert moved(before, after, "opsboard_notification_attempts_total", transport="webhook", result="delivered") == 1
    assert moved(before, after, "opsboard_notification_attempts_total", transport="webhook", result="failed") == 0


def test_queue_length_and_the_age_of_the_oldest_waiting_task(scraper: Client) -> None:
    queue = f"polls-test-{uuid.uuid4().hex[:8]}"
    make_target("http://127.0.0.1:9/metrics", "sharded", queue=queue)
    try:
        with time_machine.travel(timezone.now(), tick=False) as clock:
            celery_app.send_task("monitoring.poll_target", ("model", "x", 1), queue=queue)
            clock.shift(timedelta(seconds=10))
            celery_app.send_task("monitoring.poll_target", ("model", "y", 2), queue=queue)
            clock.shift(timedelta(seconds=30))
            figures = scrape(scraper)
        oldest = json.loads(redis_client().lindex(queue, -1))
        assert oldest["headers"][metrics.SENT_AT_HEADER]
    finally:
        redis_client().delete(queue)
    assert value(figures, "opsboard_celery_queue_length", queue=queue) == 2
    assert value(figures, "opsboard_celery_queue_oldest_task_age_seconds", queue=queue) == pytest.approx(40, abs=0.01)
    assert ("opsboard_celery_queue_length", (("queue", "pages-critical"),)) in figures  # configured, even if empty


@pytest.mark.django_db(transaction=True)
async def test_websocket_clients_count_while_connected() -> None:
    admin = await database_sync_to_async(make_user)("ada", "admin")
    cookie = await database_sync_to_async(session_cookie)(admin)
    headers = [(b"origin", b"http://localhost"), (b"cookie", cookie)]
    live, incidents = (
        WebsocketCommunicator(application, path, headers=headers) for path in ("/ws/live", "/ws/incidents")
    )
    admin_scrape = database_sync_to_async(lambda: scrape(client_for(admin)))
    before = await admin_scrape()
    assert (await live.connect())[0] and (await incidents.connect())[0]
    await incidents.receive_json_from()
    during = await admin_scrape()
    await live.disconnect()
    after_live = await admin_scrape()
    await incidents.disconnect()
    after = await admin_scrape()
    assert moved(before, during, "opsboard_websocket_clients", socket="live") == 1
    assert moved(before, during, "opsboard_websocket_clients", socket="incidents") == 1
    assert moved(before, after_live, "opsboard_websocket_clients", socket="live") == 0
    assert moved(before, after_live, "opsboard_websocket_clients", socket="incidents") == 1
    assert moved(before, after, "opsboard_websocket_clients", socket="incidents") == 0


def test_a_client_whose_server_died_stops_counting_after_missed_pings(scraper: Client) -> None:
    key = metrics._key("sockets", "live")
    redis_client().zadd(key, {"died-long-ago": time.time() - metrics.SOCKET_STALE_S - 1, "pinged": time.time() - 40})
    assert value(scrape(scraper), "opsboard_websocket_clients", socket="live") == 1
    assert redis_client().zscore(key, "died-long-ago") is None  # pruned


# --- Redis down ------------------------------------------------------------------------------------


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_with_redis_down_writes_go_on_and_the_scrape_says_so(scraper: Client) -> None:
    with override_settings(REDIS_URL=f"redis://127.0.0.1:{closed_port()}/0"):
        started = time.monotonic()
        for n in range(5):
            store.write([sample("up", {"job": "a"}, 1_800_000_000_000 + n, 1.0)])
            metrics.count_samples("push", 1)
        assert time.monotonic() - started < 3  # one connection timeout, then counting pauses
        assert metrics._Pause.until > time.monotonic()
        figures = scrape(scraper)
    assert value(figures, "opsboard_metrics_redis_up") == 0
    assert "process_resident_memory_bytes" in {name for name, _ in figures}
