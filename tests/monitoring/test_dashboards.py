"""The chart pages' server side: the Overview in a bounded number of queries, panels that say
"not exported", Explore's validation."""

from __future__ import annotations

import json
import time

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from monitoring import store
from monitoring.dashboards import model_panels, names_for_target, node_panels
from monitoring.models import GpuNode, ModelEndpoint
from monitoring.samples import sample
from tests.conftest import client_for

NOW = int(time.time() * 1000)


def fleet(models: int, nodes: int) -> None:
    now = int(time.time() * 1000)
    ModelEndpoint.objects.bulk_create(
        ModelEndpoint(name=f"m{i}", url=f"http://10.0.0.{i}:8000/metrics", last_up=i % 7 != 0) for i in range(models)
    )
    GpuNode.objects.bulk_create(GpuNode(name=f"n{i}", url=f"http://10.1.0.{i}:9835/metrics") for i in range(nodes))
    rows = []
    for i in range(models):
        for k in range(5):
            ts = now - (5 - k) * 60_000
            rows.append(sample("opsboard_llm_requests_success_total", {"model": f"m{i}"}, ts, 100.0 * k))
            rows.append(sample("opsboard_llm_requests_failure_total", {"model": f"m{i}"}, ts, 1.0 * k))
    for i in range(nodes):
        for gpu in range(8):
            labels = {"node": f"n{i}", "gpu": str(gpu)}
            rows += [
                sample("DCGM_FI_DEV_GPU_UTIL", labels, now, 50.0),
                sample("DCGM_FI_DEV_GPU_TEMP", labels, now, 70.0),
            ]
            rows += [sample("DCGM_FI_DEV_FB_USED", labels, now, 30.0), sample("DCGM_FI_DEV_FB_FREE", labels, now, 10.0)]
    store.write(rows)


def overview_queries(client) -> tuple[int, str]:
    with CaptureQueriesContext(connection) as queries:
        response = client.get(reverse("overview"))
    assert response.status_code == 200
    return len(queries), response.content.decode()


def test_the_overview_costs_the_same_queries_for_10_or_100_models(viewer) -> None:
    client = client_for(viewer)
    fleet(10, 2)
    small, _ = overview_queries(client)
    fleet_names = ModelEndpoint.objects.count()
    ModelEndpoint.objects.all().delete()
    GpuNode.objects.all().delete()
    fleet(100, 20)
    large, page = overview_queries(client)
    assert fleet_names == 10
    assert large == small, f"{small} queries for 10 models, {large} for 100"
    assert large <= 40
    assert page.count('<svg class="spark"') == 100
    assert "GPU 7" in page and "mem 75 %" in page and "70 °C" in page


def test_the_overview_shows_rates_and_error_ratios(viewer) -> None:
    fleet(1, 0)
    page = client_for(viewer).get(reverse("overview")).content.decode()
    # 100 answered and 1 failed per minute: 101/60 ≈ 1.68 requests/s, 1/101 ≈ 1 % errors.
    assert "1.68" in page and "1 %" in page


def test_the_refresh_fragment_is_the_live_part_only(viewer) -> None:
    response = client_for(viewer).get(reverse("overview"), {"fragment": "1"})
    page = response.content.decode()
    assert "<html" not in page and "GPU nodes" in page


def test_figures_a_server_does_not_export_say_so(db) -> None:
    target = ModelEndpoint.objects.create(name="tgi-1", url="http://h/metrics")
    store.write(
        [
            sample("opsboard_llm_e2e_request_latency_seconds_bucket", {"model": "tgi-1", "le": "+Inf"}, NOW, 1.0),
            sample("opsboard_llm_requests_success_total", {"model": "tgi-1"}, NOW, 1.0),
        ]
    )
    panels = {p.id: p for p in model_panels(target, names_for_target(target))}
    assert panels["latency"].missing == ""
    assert panels["ttft"].missing == "Not exported by this target."
    assert panels["kv_cache"].missing == "Not exported by this target."
    assert "histogram_quantile(0.95" in panels["latency"].traces[1].query


def test_servers_without_buckets_get_an_average_latency(db) -> None:
    target = ModelEndpoint.objects.create(name="triton", url="http://h/metrics")
    store.write([sample("opsboard_llm_e2e_request_latency_seconds_sum", {"model": "triton"}, NOW, 1.0)])
    latency = {p.id: p for p in model_panels(target, names_for_target(target))}["latency"]
    assert latency.traces[0].ratio and latency.missing == ""


def test_a_target_name_with_quotes_is_escaped_in_selectors(db) -> None:
    node = GpuNode.objects.create(name='odd "node"', url="http://h/metrics")
    panel = node_panels(node, {"DCGM_FI_DEV_GPU_UTIL"})[0]
    assert panel.traces[0].selector == 'DCGM_FI_DEV_GPU_UTIL{node="odd \\"node\\""}'


@pytest.mark.parametrize("section", ["models", "nodes"])
def test_chart_pages_carry_their_panels(section: str, viewer) -> None:
    model = ModelEndpoint if section == "models" else GpuNode
    target = model.objects.create(name="t1", url="http://h/metrics")
    page = client_for(viewer).get(reverse(f"monitoring:{section}_detail", args=[target.uid])).content.decode()
    data = json.loads(page.split('id="charts-data" type="application/json">')[1].split("</script>")[0])
    assert data["defaultRange"] == "1h"
    assert "/static/plotly/plotly.min.js" in page
    assert "<script>" not in page  # no inline script: the data is JSON, the code in static files


def test_explore_refuses_bad_queries_with_400(viewer) -> None:
    client = client_for(viewer)
    response = client.get(reverse("monitoring:explore"), {"query": "rate(x[5m]", "fn": ""})
    assert response.status_code == 400 and "position" in response.content.decode()
    response = client.get(reverse("monitoring:explore"), {"query": "rate(x[5m])", "fn": "avg"})
    assert response.status_code == 400 and "bare selector" in response.content.decode()
    ok = client.get(reverse("monitoring:explore"), {"query": 'up{job="a"}', "fn": "raw"})
    assert ok.status_code == 200 and "charts-data" in ok.content.decode()
