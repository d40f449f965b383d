"""Clocks that are wrong: samples stamped too far ahead (PUSH_MAX_FUTURE_S) or older than the raw
retention (RETENTION_RAW_DAYS) are refused whole with 422 and a message naming the limit, right
at the limits; and a training job whose clock runs ten minutes fast loses its samples, counted
and logged once with the limit's name, without its training ever blocking or failing.
tests/monitoring/test_push_api.py has the plain cases (an hour ahead, 1970)."""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.test import Client

from monitoring import sdk
from monitoring.models import Sample, Series
from opsboard.accounts import services
from opsboard.audit.services import Actor
from tests.faults.stack import Stack, wait_until
from tests.servers import free_port

NOW = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)
NOW_MS = int(NOW.timestamp() * 1000)


@pytest.fixture
def ingest(viewer) -> str:
    return services.create_token(user=viewer, name="clock", scopes=["ingest"], by=Actor.system("test"))[1]


def push(token: str, *stamps_ms: int):
    samples = [
        {"name": "clock_x", "labels": {"i": str(i)}, "value": 1, "ts": ts / 1000} for i, ts in enumerate(stamps_ms)
    ]
    return Client().post(
        "/api/v1/push", {"samples": samples}, content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {token}"
    )


@pytest.mark.django_db
def test_the_future_limit_is_exact_and_named(ingest, settings) -> None:
    settings.PUSH_MAX_FUTURE_S = 60
    with time_machine.travel(NOW, tick=False):
        assert push(ingest, NOW_MS + 60_000).status_code == 200
        refused = push(ingest, NOW_MS, NOW_MS + 61_000)
    assert refused.status_code == 422
    assert refused.json() == {
        "error": "sample 2 (clock_x) is 61 s in the future; the clock-skew limit is 60 s",
        "limit": "PUSH_MAX_FUTURE_S",
    }
    assert Sample.objects.count() == 1, "the refused body was stored in part"


@pytest.mark.django_db
def test_the_retention_limit_is_exact_and_named(ingest, settings) -> None:
    settings.RETENTION_RAW_S = 2 * 86_400
    oldest = NOW_MS - 2 * 86_400_000
    with time_machine.travel(NOW, tick=False):
        assert push(ingest, oldest).status_code == 200
        refused = push(ingest, NOW_MS, oldest - 1)
    assert refused.status_code == 422
    assert refused.json() == {
        "error": "sample 2 (clock_x) is 2.0 days old; raw samples are kept 2 days, so it would be deleted at once",
        "limit": "RETENTION_RAW_DAYS",
    }
    assert list(Sample.objects.values_list("ts", flat=True)) == [oldest]
    assert Series.objects.count() == 1


@pytest.mark.slow
def test_a_training_job_with_a_fast_clock_loses_its_samples_counted_and_named(
    stack: Stack, caplog: pytest.LogCaptureFixture
) -> None:
    port = free_port()
    stack.env["FAULTS_WEB_URL"] = f"http://127.0.0.1:{port}"
    stack.daphne(port)
    (viewer,) = stack.world(("viewer", {}))
    stack.wait_ready("web")
    caplog.set_level(logging.WARNING, logger="opsboard.sdk")
    with time_machine.travel(datetime.now(UTC) + timedelta(minutes=10), tick=True):  # this process's clock only
        run = sdk.init(stack.web_url, viewer["token"], "fast-clock", "faults", flush_interval_s=0.1, max_backoff_s=0.5)
        try:
            started = time.monotonic()
            for step in range(50):
                run.log({"loss": 1 / (step + 1)}, step=step)
            logging_took = time.monotonic() - started
            wait_until(lambda: run.dropped == 100, "every sample to be refused", 20)
        finally:
            run.finish()
    assert run.id is not None and run.status == "finished"
    assert (run.sent, run.pending, logging_took < 0.5) == (0, 0, True)
    refusals = [r.getMessage() for r in caplog.records if "refused" in r.getMessage()]
    assert len(refusals) == 1 and "in the future" in refusals[0] and "PUSH_MAX_FUTURE_S" in refusals[0], refusals
    assert stack.samples("train_loss", run_id=run.id) == []
