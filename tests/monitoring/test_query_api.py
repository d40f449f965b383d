"""The Prometheus-shaped read API: shapes, errors, methods, scopes."""

from __future__ import annotations

import re
import time

import pytest
from django.test import Client

from monitoring import store
from monitoring.samples import sample
from opsboard.accounts import services
from opsboard.audit.services import Actor

NOW_S = int(time.time())
T0_S = NOW_S - NOW_S % 60 - 3600


@pytest.fixture
def data(db) -> None:
    rows = []
    for i in range(20):
        ts = (T0_S + 15 * i) * 1000
        rows.append(sample("http_requests_total", {"job": "vllm", "instance": "a:8000"}, ts, 10.0 * i))
        rows.append(sample("http_requests_total", {"job": "tgi", "instance": "b:8080"}, ts, 5.0 * i))
        rows.append(sample("gpu_temp", {"gpu": "0"}, ts, float("nan") if i == 19 else 60.0))
    store.write(rows)


def test_query_range_answers_a_matrix(viewer_client, data) -> None:
    response = viewer_client.get(
        "/api/v1/query_range",
        {"query": 'rate(http_requests_total{job="vllm"}[1m])', "start": T0_S + 60, "end": T0_S + 120, "step": "30s"},
    )
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "success" and body["data"]["resultType"] == "matrix"
    [series] = body["data"]["result"]
    assert series["metric"] == {"job": "vllm", "instance": "a:8000"}
    assert series["values"] == [
        [T0_S + 60, "0.6666666666666666"],
        [T0_S + 90, "0.6666666666666666"],
        [T0_S + 120, "0.6666666666666666"],
    ]


def test_values_are_strings_with_nan_spelled_out(viewer_client, data) -> None:
    end = T0_S + 19 * 15
    response = viewer_client.get("/api/v1/query_range", {"query": "gpu_temp", "start": end, "end": end, "step": 15})
    [series] = response.json()["data"]["result"]
    assert series["metric"] == {"__name__": "gpu_temp", "gpu": "0"}
    assert series["values"] == [[end, "NaN"]]


def test_rfc3339_times_and_form_post_as_grafana_sends(viewer_client, data) -> None:
    start = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(T0_S))
    response = viewer_client.post(
        "/api/v1/query_range", {"query": "http_requests_total", "start": start, "end": T0_S + 60, "step": "15"}
    )
    assert response.status_code == 200
    assert len(response.json()["data"]["result"]) == 2


def test_fn_and_q_on_a_bare_selector(viewer_client, data) -> None:
    response = viewer_client.get(
        "/api/v1/query_range",
        {"query": 'http_requests_total{job="tgi"}', "fn": "increase", "start": T0_S + 60, "end": T0_S + 60, "step": 30},
    )
    [series] = response.json()["data"]["result"]
    assert series["values"] == [[T0_S + 60, "20.0"]]


def test_instant_query_answers_a_vector(viewer_client, data) -> None:
    at = T0_S + 15 * 10
    response = viewer_client.get("/api/v1/query", {"query": 'http_requests_total{job="vllm"}', "time": at})
    body = response.json()
    assert body["data"]["resultType"] == "vector"
    assert body["data"]["result"][0]["value"] == [at, "100.0"]


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"query": "rate(x[5m]", "start": 0, "end": 1, "step": 1}, "position"),
        ({"query": "x", "start": "yesterday", "end": 1, "step": 1}, "invalid parameter 'start'"),
        ({"query": "x", "start": 0, "end": 1, "step": "0s"}, "zero or negative"),
        ({"query": "x", "start": 0, "end": 1}, "missing parameter 'step'"),
        ({"start": 0, "end": 1, "step": 1}, "missing parameter 'query'"),
        ({"query": "x", "start": 0, "end": 1, "step": 1, "fn": "p99"}, "unknown fn"),
    ],
)
def test_bad_parameters_are_400_in_prometheus_shape(params: dict, message: str, viewer_client) -> None:
    response = viewer_client.get("/api/v1/query_range", params)
    assert response.status_code == 400
    body = response.json()
    assert body["status"] == "error" and body["errorType"] == "bad_data"
    assert message in body["error"]


def test_series_labels_and_label_values(viewer_client, data) -> None:
    series = viewer_client.get("/api/v1/series", {"match[]": 'http_requests_total{job=~"v.*"}'}).json()
    assert series == {
        "status": "success",
        "data": [{"__name__": "http_requests_total", "job": "vllm", "instance": "a:8000"}],
    }
    labels = viewer_client.get("/api/v1/labels").json()["data"]
    assert labels == ["__name__", "gpu", "instance", "job"]
    assert viewer_client.get("/api/v1/label/job/values").json()["data"] == ["tgi", "vllm"]
    assert viewer_client.get("/api/v1/label/__name__/values").json()["data"] == ["gpu_temp", "http_requests_total"]
    assert viewer_client.get("/api/v1/series").status_code == 400


def test_a_read_token_reads_and_an_ingest_token_does_not(viewer, data) -> None:
    _, read = services.create_token(user=viewer, name="g", scopes=["read"], by=Actor.system("test"))
    _, ingest = services.create_token(user=viewer, name="i", scopes=["ingest"], by=Actor.system("test"))
    params = {"query": "gpu_temp", "start": T0_S, "end": T0_S + 60, "step": 15}
    assert Client().get("/api/v1/query_range", params, HTTP_AUTHORIZATION=f"Bearer {read}").status_code == 200
    assert Client().post("/api/v1/query_range", params, HTTP_AUTHORIZATION=f"Bearer {read}").status_code == 200
    assert Client().get("/api/v1/query_range", params, HTTP_AUTHORIZATION=f"Bearer {ingest}").status_code == 403


def test_the_schema_describes_every_endpoint(db) -> None:
    schema = Client().get("/api/v1/schema/", HTTP_ACCEPT="application/json").json()
    for path in ("/api/v1/query_range", "/api/v1/query", "/api/v1/series", "/api/v1/labels", "/api/v1/push"):
        assert path in schema["paths"], path
    assert "bearerAuth" in schema["components"]["securitySchemes"]


def test_the_api_docs_page_loads_nothing_from_another_site(db) -> None:
    page = Client().get("/api/v1/docs/").content.decode()
    sources = re.findall(r'(?:src|href)="([^"]+)"', page)
    assert "/static/drf_spectacular_sidecar/redoc/bundles/redoc.standalone.js" in sources
    assert [s for s in sources if s.startswith(("http:", "https:", "//"))] == []
