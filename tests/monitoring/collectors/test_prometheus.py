"""The prometheus collector against real servers on loopback."""

from __future__ import annotations

import time
from pathlib import Path

from monitoring.collectors.base import TargetSpec
from monitoring.collectors.prometheus import PrometheusConfig, PrometheusScrape
from tests import servers

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "exposition"
TS = 1_800_000_000_000


def spec(url: str, **overrides: object) -> TargetSpec:
    values = {
        "uid": "u",
        "name": "llama",
        "kind": "prometheus",
        "role": "model",
        "url": url,
        "timeout_s": 2.0,
        "config": PrometheusConfig(),
        "labels": {"team": "ml"},
    }
    return TargetSpec(**{**values, **overrides})


def by_name(scrape) -> dict[str, list]:
    out: dict[str, list] = {}
    for s in scrape.samples:
        out.setdefault(s.name, []).append(s)
    return out


def test_scrape_adds_target_labels_and_prometheus_meta_series() -> None:
    with servers.serve(servers.exposition('requests_total{code="200",job="app"} 7\n')) as url:
        scrape = PrometheusScrape().collect(spec(f"{url}/metrics"), TS)
    assert scrape.up and not scrape.error
    found = by_name(scrape)
    [requests] = found["requests_total"]
    port = url.rsplit(":", 1)[1]
    assert dict(requests.labels) == {
        "code": "200",
        "exported_job": "app",
        "job": "llama",
        "instance": f"127.0.0.1:{port}",
        "model": "llama",
        "team": "ml",
    }
    assert requests.ts_ms == TS
    assert found["up"][0].value == 1.0
    assert found["scrape_samples_scraped"][0].value == 1.0
    assert 0 < found["scrape_duration_seconds"][0].value < 2


def test_openmetrics_is_understood() -> None:
    text = "# TYPE jobs counter\njobs_total 3 1800000000.5\n# EOF\n"
    with servers.serve(servers.exposition(text, "application/openmetrics-text; version=1.0.0")) as url:
        scrape = PrometheusScrape().collect(spec(url), TS)
    [jobs] = by_name(scrape)["jobs_total"]
    assert (jobs.value, jobs.ts_ms) == (3.0, 1_800_000_000_500)


def test_vllm_metrics_gain_the_normalised_set() -> None:
    with servers.serve(servers.exposition((FIXTURES / "vllm.prom").read_text())) as url:
        scrape = PrometheusScrape().collect(spec(url), TS)
    names = set(by_name(scrape))
    assert "opsboard_llm_time_to_first_token_seconds_bucket" in names
    assert any(name.startswith("vllm:") for name in names)


def test_a_node_target_gets_no_llm_series() -> None:
    with servers.serve(servers.exposition((FIXTURES / "vllm.prom").read_text())) as url:
        scrape = PrometheusScrape().collect(spec(url, role="node"), TS)
    assert not any(name.startswith("opsboard_llm_") for name in by_name(scrape))
    assert dict(by_name(scrape)["up"][0].labels)["node"] == "llama"


def test_http_500_is_down_with_the_status_in_the_error() -> None:
    with servers.serve(servers.status(500)) as url:
        scrape = PrometheusScrape().collect(spec(url), TS)
    assert not scrape.up
    assert scrape.error == f"HTTP 500 from {url}"
    assert by_name(scrape)["up"][0].value == 0.0
    assert set(by_name(scrape)) == {"up", "scrape_duration_seconds", "scrape_samples_scraped"}


def test_garbage_is_down_naming_the_line() -> None:
    with servers.serve(servers.exposition("fine 1\nthis is not { exposition\n")) as url:
        scrape = PrometheusScrape().collect(spec(url), TS)
    assert not scrape.up
    assert scrape.error.startswith("line 2:")


def test_a_hanging_target_is_down_after_its_timeout() -> None:
    with servers.serve(servers.hanging(10)) as url:
        started = time.monotonic()
        scrape = PrometheusScrape().collect(spec(url, timeout_s=0.5), TS)
    assert time.monotonic() - started < 2
    assert scrape.error == "no answer within 0.5 s"


def test_a_trickling_target_is_cut_at_the_deadline() -> None:
    with servers.serve(servers.trickling(0.2)) as url:
        started = time.monotonic()
        scrape = PrometheusScrape().collect(spec(url, timeout_s=1.0), TS)
    assert time.monotonic() - started < 2.5
    assert not scrape.up and "longer than 1 s" in scrape.error


def test_a_50_megabyte_answer_is_refused() -> None:
    with servers.serve(servers.huge(50)) as url:
        scrape = PrometheusScrape().collect(spec(url, timeout_s=10), TS)
    assert not scrape.up
    assert "larger than" in scrape.error


def test_too_many_series_is_down_naming_the_limit() -> None:
    text = "".join(f'wide{{i="{i}"}} 1\n' for i in range(100_000))
    with servers.serve(servers.exposition(text)) as url:
        scrape = PrometheusScrape().collect(spec(url, series_limit=10_000, timeout_s=10), TS)
    assert not scrape.up
    assert scrape.error == "the target exposes 100000 series; its limit is 10000"
    assert len(scrape.samples) == 3


def test_connection_refused_is_down() -> None:
    scrape = PrometheusScrape().collect(spec(f"http://127.0.0.1:{servers.free_port()}/metrics"), TS)
    assert not scrape.up and scrape.error.startswith("cannot connect")
