"""POST /api/v1/push: exposition text or JSON; all or nothing; every limit answers its status."""

from __future__ import annotations

import gzip
import json
import math
import time
from pathlib import Path

import pytest
from django.test import Client

from monitoring.models import Sample, Series
from opsboard.accounts import services
from opsboard.audit.services import Actor

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "exposition"


@pytest.fixture
def ingest(viewer) -> str:
    return services.create_token(user=viewer, name="sdk", scopes=["ingest"], by=Actor.system("test"))[1]


def push(token: str | None, body: bytes | str, content_type: str = "text/plain; version=0.0.4", **headers: str):
    extra = {"HTTP_AUTHORIZATION": f"Bearer {token}"} if token else {}
    data = body.encode() if isinstance(body, str) else body
    return Client().generic("POST", "/api/v1/push", data, content_type=content_type, **extra, **headers)


def nothing_stored() -> bool:
    return not Series.objects.exists() and not Sample.objects.exists()


def test_exposition_text_is_stored_whole(ingest) -> None:
    response = push(ingest, (FIXTURES / "training_push.prom").read_text())
    assert response.status_code == 200
    assert response.json() == {"accepted": 8}
    assert Series.objects.filter(name="train_step_seconds_bucket").count() == 3
    nan = Sample.objects.get(series__name="train_grad_norm").value
    assert nan is None or math.isnan(nan)


def test_exposition_timestamps_are_milliseconds(ingest) -> None:
    ts_ms = int(time.time() * 1000) - 60_000
    assert push(ingest, f"gauge_a 1 {ts_ms}\n").status_code == 200
    assert Sample.objects.get().ts == ts_ms


def test_json_samples_with_special_values(ingest) -> None:
    now = time.time()
    body = {
        "samples": [
            {"name": "loss", "labels": {"run": "r1"}, "value": "NaN", "ts": now},
            {"name": "loss", "labels": {"run": "r1"}, "value": "+Inf", "ts": now + 1},
            {"name": "acc", "value": 0.5},
        ]
    }
    response = push(ingest, json.dumps(body), "application/json")
    assert response.status_code == 200, response.content
    assert response.json() == {"accepted": 3}
    values = list(Sample.objects.filter(series__name="loss").order_by("ts").values_list("value", flat=True))
    assert (values[0] is None or math.isnan(values[0])) and values[1] == math.inf


def test_malformed_exposition_names_the_line_and_stores_nothing(ingest) -> None:
    response = push(ingest, "good 1\nalso_good 2\nbroken{job= 3\n")
    assert response.status_code == 400
    assert "line 3" in response.json()["error"]
    assert nothing_stored()


@pytest.mark.parametrize(
    ("sample", "message"),
    [
        ({"name": "x", "value": "abc"}, "samples[1].value: value 'abc' is not a number"),
        ({"name": "x", "value": True}, "samples[1].value"),
        ({"name": "bad name", "value": 1}, "samples[1]: metric name 'bad name'"),
        ({"name": "x", "labels": {"a": 1}, "value": 1}, "samples[1].labels"),
        ({"name": "x", "value": 1, "ts": "yesterday"}, "samples[1].ts"),
    ],
)
def test_a_bad_json_sample_is_named_and_nothing_is_stored(sample: dict, message: str, ingest) -> None:
    body = {"samples": [{"name": "ok", "value": 1}, sample]}
    response = push(ingest, json.dumps(body), "application/json")
    assert response.status_code == 400
    assert message in response.json()["error"]
    assert nothing_stored()


def test_malformed_json_is_400(ingest) -> None:
    response = push(ingest, '{"samples": [', "application/json")
    assert response.status_code == 400
    assert "malformed JSON at line 1" in response.json()["error"]


def test_body_over_the_size_limit_is_413_naming_the_limit(ingest, settings) -> None:
    settings.PUSH_MAX_BODY_BYTES = 1024
    response = push(ingest, "x 1\n" * 400)
    assert response.status_code == 413
    assert response.json()["limit"] == "PUSH_MAX_BODY_BYTES"
    assert nothing_stored()


def test_a_gzip_bomb_is_stopped_at_the_size_limit(ingest, settings) -> None:
    settings.PUSH_MAX_BODY_BYTES = 4096
    body = gzip.compress(b"x 1\n" * 100_000)
    assert len(body) < 4096
    response = push(ingest, body, HTTP_CONTENT_ENCODING="gzip")
    assert response.status_code == 413
    assert nothing_stored()


def test_gzip_bodies_are_accepted(ingest) -> None:
    response = push(ingest, gzip.compress(b"x 1\ny 2\n"), HTTP_CONTENT_ENCODING="gzip")
    assert response.json() == {"accepted": 2}


def test_too_many_samples_is_413_naming_the_limit(ingest, settings) -> None:
    settings.PUSH_MAX_SAMPLES = 3
    response = push(ingest, "a 1\nb 1\nc 1\nd 1\n")
    assert response.status_code == 413
    assert response.json()["limit"] == "PUSH_MAX_SAMPLES"
    assert nothing_stored()


def test_new_series_beyond_the_per_minute_guard_are_422(ingest, settings) -> None:
    settings.PUSH_MAX_NEW_SERIES_PER_MINUTE = 3
    assert push(ingest, 'm{i="1"} 1\nm{i="2"} 1\n').status_code == 200
    response = push(ingest, 'm{i="3"} 1\nm{i="4"} 1\n')
    assert response.status_code == 422
    assert response.json()["limit"] == "PUSH_MAX_NEW_SERIES_PER_MINUTE"
    assert Series.objects.count() == 2
    assert push(ingest, 'm{i="1"} 2\nm{i="3"} 1\n').status_code == 200  # known series cost nothing


def test_samples_from_the_future_are_422(ingest) -> None:
    ahead = int((time.time() + 3600) * 1000)
    response = push(ingest, f"x 1 {ahead}\n")
    assert response.status_code == 422
    assert "in the future" in response.json()["error"] and response.json()["limit"] == "PUSH_MAX_FUTURE_S"


def test_samples_older_than_retention_are_422(ingest) -> None:
    response = push(ingest, "x 1 1000\n")
    assert response.status_code == 422
    assert response.json()["limit"] == "RETENTION_RAW_DAYS"


def test_unknown_content_encoding_is_415(ingest) -> None:
    assert push(ingest, b"x 1\n", HTTP_CONTENT_ENCODING="br").status_code == 415


def test_push_without_a_token_is_401(db) -> None:
    assert push(None, "x 1\n").status_code == 401


def test_a_read_token_cannot_ingest(viewer) -> None:
    _, secret = services.create_token(user=viewer, name="r", scopes=["read", "write"], by=Actor.system("test"))
    assert push(secret, "x 1\n").status_code == 403
    assert nothing_stored()


def test_a_browser_session_cannot_push(admin_client) -> None:
    response = admin_client.generic("POST", "/api/v1/push", b"x 1\n", content_type="text/plain")
    assert response.status_code == 401
    assert nothing_stored()


def test_a_token_of_a_user_without_role_cannot_push(outsider) -> None:
    _, secret = services.create_token(user=outsider, name="o", scopes=["ingest"], by=Actor.system("test"))
    assert push(secret, "x 1\n").status_code == 403


@pytest.mark.django_db(transaction=True)
def test_the_answer_comes_after_commit(viewer) -> None:
    import threading

    from django.db import connection

    _, secret = services.create_token(user=viewer, name="sdk", scopes=["ingest"], by=Actor.system("test"))
    assert push(secret, "committed 1\n").status_code == 200
    seen: list[int] = []

    def look() -> None:  # another connection sees the rows as soon as the answer came
        seen.append(Sample.objects.filter(series__name="committed").count())
        connection.close()

    thread = threading.Thread(target=look)
    thread.start()
    thread.join()
    assert seen == [1]
