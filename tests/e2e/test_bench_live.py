"""bench/live.py runs end to end with --quick and prints its figures."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from django.db import connection

from tests.e2e.conftest import CHROMIUM_PATHS, ROOT, chromium_path

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


def test_live_benchmark_prints_its_figures() -> None:
    if connection.vendor != "postgresql":
        pytest.skip("bench/live.py shares a scratch PostgreSQL database with a daphne subprocess")
    if chromium_path() is None:
        pytest.skip(f"Chromium is not installed at {' or '.join(CHROMIUM_PATHS)}")
    result = subprocess.run(
        [sys.executable, "bench/live.py", "--quick"],
        cwd=ROOT,
        env=dict(os.environ),
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    figures = dict(line.split(" = ", 1) for line in result.stdout.splitlines() if " = " in line)
    assert int(figures["live_pushes"]) == 5
    assert int(figures["chart_days"]) == 3
    assert float(figures["live_p95_ms"]) >= float(figures["live_median_ms"])
    assert float(figures["chart_3d_ms"]) > 0 and float(figures["chart_1h_ms"]) > 0
    assert float(figures["chart_ratio"]) > 0
