"""Every benchmark runs end to end with --quick and prints its figures as `name = value`."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.db import connection

ROOT = Path(__file__).resolve().parent.parent

pytestmark = pytest.mark.slow


def run_bench(script: str) -> dict[str, str]:
    result = subprocess.run(
        [sys.executable, f"bench/{script}", "--quick"],
        cwd=ROOT,
        env=dict(os.environ),
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return dict(line.split(" = ", 1) for line in result.stdout.splitlines() if " = " in line)


@pytest.fixture
def postgresql(db) -> None:
    if connection.vendor != "postgresql":
        pytest.skip("the benchmarks compare against PostgreSQL's COPY and SQL")


def test_ingest_benchmark_prints_its_ratio(postgresql) -> None:
    figures = run_bench("ingest.py")
    assert float(figures["ingest_ratio"]) > 0
    assert int(figures["ingest_samples"]) == 100_000


def test_query_benchmark_prints_its_ratio(postgresql) -> None:
    figures = run_bench("query.py")
    assert float(figures["query_ratio"]) > 0
    assert figures["query_source"] == "1m"
    assert int(figures["query_points"]) > 1000


def test_scrape_benchmark_prints_its_headroom(postgresql) -> None:
    figures = run_bench("scrape.py")
    assert float(figures["scrape_headroom"]) > 1
    assert float(figures["samples_per_s"]) > 0


def test_paging_benchmark_pages_without_loss_or_duplicates(postgresql) -> None:
    figures = run_bench("paging.py")
    assert int(figures["pages"]) == 5
    assert float(figures["page_median_ms"]) > 0
    assert float(figures["resolve_page_median_ms"]) > 0
    assert int(figures["flaky_pages"]) == 5
    assert int(figures["pages_lost"]) == 0
    assert int(figures["pages_duplicated"]) == 0
    assert float(figures["retry_median_s"]) > 3  # three refusals: backoff 1 + 2 + 4 s, less jitter
    assert "page_latency_ratio" not in figures  # --quick leaves Alertmanager out


def test_alerts_benchmark_prints_its_figures(postgresql) -> None:
    figures = run_bench("alerts.py")
    assert int(figures["eval_rules"]) == 100
    assert float(figures["eval_pass_fraction"]) > 0
    assert float(figures["fire_median_ms"]) > 0
    assert "fire_latency_ratio" not in figures  # --quick leaves Prometheus out


def test_partitions_benchmark_prints_its_ratios(postgresql) -> None:
    figures = run_bench("partitions.py")
    assert int(figures["partition_samples"]) == 100_000
    assert float(figures["partition_ingest_ratio"]) > 0
    assert float(figures["retention_drop_ms"]) > 0
    assert float(figures["retention_delete_ms"]) > 0


def test_load_benchmark_loses_nothing_under_concurrent_clients(postgresql) -> None:
    figures = run_bench("load.py")
    assert int(figures["push_requests"]) > 0
    assert int(figures["push_errors"]) == 0
    assert int(figures["push_samples_lost"]) == 0
    assert float(figures["push_p95_ms"]) > 0
    assert float(figures["push_ratio"]) > 0
    assert int(figures["ws_clients"]) == 200
    assert int(figures["ws_writes"]) == 5
    assert int(figures["ws_missed"]) == 0
    assert 0 < float(figures["ws_fanout_median_ms"]) <= float(figures["ws_fanout_p95_ms"])
    assert int(figures["overview_users"]) == 20
    assert int(figures["overview_errors"]) == 0
    assert int(figures["healthz_errors"]) == 0
    assert float(figures["overview_rps"]) > 0
    assert float(figures["overview_rps_ratio"]) > 0
    assert int(figures["daphne_errors"]) == 0
