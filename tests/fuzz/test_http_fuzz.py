"""Bad input through HTTP is a 4xx naming the problem, never a 500, and leaves nothing half-written."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
import yaml
from django.test import Client
from hypothesis import example, given
from hypothesis import strategies as st

from alerts.models import AlertRule, ExternalAlert, Incident
from monitoring.models import Sample, Series
from opsboard.accounts.models import User
from tests.conftest import client_for
from tests.fuzz.helpers import assert_refused_with_message, rolled_back
from tests.fuzz.profiles import fuzz
from tests.fuzz.strategies import (
    TRICKY_TEXT,
    json_values,
    label_values,
    metric_names,
    near_valid_alertmanager,
    near_valid_exposition,
    near_valid_promql,
    near_valid_rule_files,
    valid_selectors,
    yaml_values,
)

pytestmark = pytest.mark.django_db


def bearer(token: str) -> dict[str, str]:
    return {"HTTP_AUTHORIZATION": f"Bearer {token}"}


def stored() -> tuple[int, int]:
    return Series.objects.count(), Sample.objects.count()


def post_push(token: str, body: bytes, content_type: str) -> Any:
    return Client().generic("POST", "/api/v1/push", body, content_type=content_type, **bearer(token))


def check_push(token: str, body: bytes, content_type: str) -> None:
    """Either every sample is stored and counted, or a 4xx names the problem and nothing is."""
    with rolled_back():
        before = stored()
        response = post_push(token, body, content_type)
        if response.status_code == 200:
            accepted = response.json()["accepted"]
            # Within one body a repeated (series, time) is stored once; each example starts empty.
            assert 1 <= stored()[1] - before[1] <= accepted
        else:
            assert_refused_with_message(response)
            assert stored() == before


# --- POST /api/v1/push ---------------------------------------------------------------------------

CONTENT_TYPES = ["text/plain; version=0.0.4", "application/openmetrics-text; version=1.0.0", "text/plain", ""]


@fuzz(share=0.5)
@given(near_valid_exposition(), st.sampled_from(CONTENT_TYPES))
@example("a 1 1e400\n", "text/plain")  # a timestamp too large to be milliseconds: was a 500
@example("a 1 NaN\n", "text/plain")  # a NaN timestamp: was a 500
@example("a 1 1e308\n# EOF\n", "application/openmetrics-text")
def test_push_exposition_text(admin_token: str, text: str, content_type: str) -> None:
    check_push(admin_token, text.encode(), content_type)


@st.composite
def near_now_exposition(draw: st.DrawFn) -> str:
    """Exposition text that passes the time checks, so that the labels and names reach the store."""
    now_ms = int(time.time() * 1000)
    lines = []
    for _ in range(draw(st.integers(1, 4))):
        labels = draw(st.dictionaries(st.sampled_from(["a", "job", "le", "b_c"]), label_values, max_size=3))
        inner = ",".join(
            f'{k}="{v.replace(chr(92), chr(92) * 2).replace(chr(34), chr(92) + chr(34))}"' for k, v in labels.items()
        )
        ts = draw(st.sampled_from(["", f" {now_ms}", f" {now_ms - 1000}"]))
        lines.append(f"{draw(metric_names)}{{{inner}}} {draw(st.sampled_from(['1', 'NaN', '-0', '+Inf']))}{ts}")
    return "\n".join(lines) + "\n"


@fuzz(share=0.5)
@given(near_now_exposition())
@example('a{job="x\x00y"} 1\n')  # NUL in a label value: PostgreSQL's jsonb refuses it
def test_push_exposition_reaching_the_store(admin_token: str, text: str) -> None:
    check_push(admin_token, text.encode(), "text/plain")


@st.composite
def near_valid_json_push(draw: st.DrawFn) -> Any:
    def maybe(strategy: st.SearchStrategy) -> Any:
        return draw(st.one_of(strategy, json_values) if draw(st.integers(0, 5)) == 0 else strategy)

    now = time.time()
    samples = []
    for _ in range(draw(st.integers(0, 3))):
        item = {
            "name": maybe(metric_names),
            "labels": maybe(st.dictionaries(st.sampled_from(["a", "job", "__x", "bad name", ""]), label_values)),
            "value": maybe(st.sampled_from([1, 0.5, "NaN", "+Inf", "-inf", "1e400", True, None, "x", 10**400])),
            "ts": maybe(st.sampled_from([now, now - 1, now + 10**6, 0, -1e300, 1e300, "now", None])),
        }
        samples.append({key: value for key, value in item.items() if draw(st.integers(0, 5))})
    return {"samples": maybe(st.just(samples))}


def dumps(document: Any) -> bytes:
    """JSON as a client may send it: surrogates escaped (``\\ud800``), big integers spelled out."""
    return json.dumps(document).encode()


@fuzz(share=0.5)
@given(st.one_of(near_valid_json_push(), json_values))
@example({"samples": [{"name": "a", "labels": {"job": "\ud800"}, "value": 1}]})  # a lone surrogate: was a 500
@example({"samples": [{"name": "a", "labels": {"job": "\x00"}, "value": 1}]})  # NUL: PostgreSQL refuses it
@example({"samples": [{"name": "a", "value": 1, "ts": 1e300}]})
def test_push_json(admin_token: str, document: Any) -> None:
    check_push(admin_token, dumps(document), "application/json")


@fuzz(share=0.25)
@given(st.binary(max_size=200), st.sampled_from([*CONTENT_TYPES, "application/json"]))
def test_push_arbitrary_bytes(admin_token: str, body: bytes, content_type: str) -> None:
    check_push(admin_token, body, content_type)


# --- GET /api/v1/query_range -------------------------------------------------------------------

TIMES = ["0", "1700000000", "1700000000.5", "-1", "NaN", "inf", "-inf", "1e400", "1e300", "-1e300", "x", ""]
TIMES += ["2026-11-29T10:00:00Z", "2026-11-29", "0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-14:00"]
STEPS = ["15", "15s", "1m30s", "0", "-1", "0.001", "1e-9", "NaN", "inf", "1e400", "1e300", "5y", "x", "", "1ms"]
FNS = ["", "raw", "rate", "increase", "avg_over_time", "histogram_quantile", "bogus"]


@fuzz(share=0.5)
@given(
    st.one_of(near_valid_promql, valid_selectors(), st.text(max_size=20)),
    st.sampled_from(TIMES),
    st.sampled_from(TIMES),
    st.sampled_from(STEPS),
    st.sampled_from(FNS),
    st.sampled_from(["", "0.5", "NaN", "2", "x", "inf"]),
)
@example("up", "inf", "1700000000", "15", "", "")  # an infinite start: was a 500
@example("up", "0", "1e300", "1e-9", "", "")  # a far end with a tiny step
def test_query_range(admin_token: str, query: str, start: str, end: str, step: str, fn: str, q: str) -> None:
    params = {"query": query, "start": start, "end": end, "step": step, "fn": fn, "q": q}
    with rolled_back():
        response = Client().get("/api/v1/query_range", params, **bearer(admin_token))
        if response.status_code == 200:
            assert response.json()["status"] == "success"
        else:
            assert_refused_with_message(response)
            assert response.json()["status"] == "error"


# --- The rule import page -------------------------------------------------------------------------


@pytest.fixture
def editor_client(editor: User) -> Client:
    return client_for(editor)


@fuzz(share=0.3)
@given(
    st.one_of(
        near_valid_rule_files().map(lambda data: yaml.safe_dump(data, allow_unicode=True)),
        yaml_values.map(yaml.safe_dump),
        st.text(max_size=60),
        st.lists(st.sampled_from(TRICKY_TEXT), max_size=10).map("".join),
    )
)
@example('groups: [{name: g, rules: [{alert: "A\\0", expr: "up > 1"}]}]')  # NUL in a name: PostgreSQL refuses it
@example("groups: [{name: g, rules: [{alert: " + "A" * 300 + ", expr: up > 1}]}]")  # a name over 200 characters
@example('groups: [{name: "\\ud800", rules: [{alert: A, expr: "up > 1"}]}]')  # a lone surrogate in an error message
@example('groups: [{name: g, rules: [{alert: "\\udfff", expr: "up > 1"}]}]')
def test_rule_import(editor_client: Client, text: str) -> None:
    with rolled_back():
        before = AlertRule.objects.count()
        response = editor_client.post("/alerts/rules/import/", {"text": text})
        assert response.status_code in (200, 400), response.status_code
        if response.status_code == 400:
            assert AlertRule.objects.count() == before
            assert response.context["refused"]


# --- POST /api/v1/alertmanager --------------------------------------------------------------------


@fuzz(share=0.5)
@given(st.one_of(near_valid_alertmanager(), json_values))
@example({"version": "4", "alerts": [], "groupLabels": []})  # groupLabels not an object: was a 500
@example({"version": "4", "alerts": [{"status": "firing", "labels": {}, "annotations": "x"}]})
@example({"version": "4", "alerts": [{"status": "firing", "labels": {}, "fingerprint": "f" * 65}]})
@example({"version": "4", "alerts": [{"status": "firing", "labels": {}, "startsAt": "2026-11-29"}]})  # naive time
@example({"version": "4", "alerts": [{"status": "firing", "labels": {"a": "\x00"}}]})
@example({"version": "4", "receiver": "\ud800", "alerts": [{"status": "firing", "labels": {}}]})
def test_alertmanager(admin_token: str, payload: Any) -> None:
    with rolled_back():
        before = ExternalAlert.objects.count(), Incident.objects.count()
        response = Client().post("/api/v1/alertmanager", dumps(payload), "application/json", **bearer(admin_token))
        if response.status_code == 200:
            assert set(response.json()) == {"firing", "resolved", "incidents"}
        else:
            assert_refused_with_message(response)
            assert (ExternalAlert.objects.count(), Incident.objects.count()) == before
