"""Scrape: 200 local targets x 500 series polled by ONE worker at a 15 s interval.

Prints ``samples_per_s``, ``cpu_s_per_10k_samples`` (the worker's CPU plus PostgreSQL's, per
10,000 samples stored), ``cycle_s`` (the slowest full cycle) and
``scrape_headroom = interval / cycle_s`` (goal >= 1.5). Where a ``prometheus`` binary is
installed, Prometheus then scrapes the same targets for the same time, and
``cpu_ratio = Opsboard CPU per sample / Prometheus CPU per sample`` is printed.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/test .venv/bin/python bench/scrape.py [--quick]
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import timedelta
from pathlib import Path

import _django

_django.setup()

import httpx  # noqa: E402
import psutil  # noqa: E402
from django.conf import settings  # noqa: E402
from django.db import connection  # noqa: E402
from django.db.models import Q  # noqa: E402

from monitoring import polling, tasks  # noqa: E402
from monitoring.models import GpuNode, Sample  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent


def start_targets(count: int, series: int, workdir: Path) -> tuple[subprocess.Popen, list[int]]:
    port_file = workdir / "ports.txt"
    process = subprocess.Popen(
        [
            sys.executable,
            str(ROOT / "bench" / "_targets.py"),
            "--count",
            str(count),
            "--series",
            str(series),
            "--port-file",
            str(port_file),
        ]
    )
    deadline = time.monotonic() + 60
    while not port_file.exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    return process, [int(line) for line in port_file.read_text().split()]


def database_url() -> str:
    db = connection.settings_dict
    auth = db["USER"] + (f":{db['PASSWORD']}" if db["PASSWORD"] else "")
    return f"postgres://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


def start_worker(queue: str) -> subprocess.Popen:
    env = {**os.environ, "DATABASE_URL": database_url(), "REDIS_URL": settings.REDIS_URL}
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "--app",
            "opsboard",
            "worker",
            "--queues",
            queue,
            "--pool",
            "threads",
            "--concurrency",
            "16",
            "--without-mingle",
            "--without-gossip",
            "--loglevel",
            "WARNING",
        ],
        cwd=ROOT,
        env=env,
    )


def postgres_cpu() -> float:
    total = 0.0
    for process in psutil.process_iter(["name"]):
        if process.info["name"] and process.info["name"].startswith("postgres"):
            try:
                times = process.cpu_times()
                total += times.user + times.system
            except psutil.Error:
                pass
    return total


def cpu_of(process: subprocess.Popen) -> float:
    times = psutil.Process(process.pid).cpu_times()
    return times.user + times.system


def run_opsboard(ports: list[int], interval: int, cycles: int) -> dict[str, float]:
    queue = f"bench-polls-{uuid.uuid4().hex[:6]}"
    for index, port in enumerate(ports):
        GpuNode.objects.create(
            name=f"bench-{index}",
            kind="node-exporter",
            url=f"http://127.0.0.1:{port}/metrics",
            interval_s=interval,
            timeout_s=interval,
            queue=queue,
        )
    worker = start_worker(queue)
    try:
        time.sleep(5)  # the worker starts
        polling.dispatch_due(tasks.send_poll)  # a warm-up cycle, not measured
        wait_cycle(interval, interval * 2)
        cpu0, pg0, samples0, t0 = cpu_of(worker), postgres_cpu(), Sample.objects.count(), time.monotonic()
        cycle_times = []
        for _ in range(cycles):
            while polling.dispatch_due(tasks.send_poll) == 0:
                time.sleep(0.05)
            cycle_times.append(wait_cycle(interval, interval * 3))
        elapsed = time.monotonic() - t0
        cpu, pg, samples = cpu_of(worker) - cpu0, postgres_cpu() - pg0, Sample.objects.count() - samples0
    finally:
        worker.terminate()
        worker.wait(timeout=60)
    return {"samples": samples, "elapsed": elapsed, "cpu": cpu + pg, "worker_cpu": cpu, "cycle": max(cycle_times)}


def wait_cycle(interval: int, limit_s: float) -> float:
    """Seconds until every target finished the slot just dispatched (all share one slot)."""
    started = time.monotonic()
    slot = max(GpuNode.objects.values_list("next_poll_at", flat=True)) - timedelta(seconds=interval)
    while time.monotonic() - started < limit_s:
        if not GpuNode.objects.filter(Q(last_poll_at__isnull=True) | Q(last_poll_at__lt=slot)).exists():
            return time.monotonic() - started
        time.sleep(0.05)
    return limit_s


def run_prometheus(ports: list[int], interval: int, duration: float, workdir: Path) -> dict[str, float] | None:
    binary = shutil.which("prometheus")
    if binary is None:
        return None
    targets = ", ".join(f"'127.0.0.1:{port}'" for port in ports)
    config = workdir / "prometheus.yml"
    config.write_text(
        f"global:\n  scrape_interval: {interval}s\nscrape_configs:\n  - job_name: bench\n    static_configs:\n"
        f"      - targets: [{targets}]\n"
    )
    port = 19090
    process = subprocess.Popen(
        [
            binary,
            f"--config.file={config}",
            f"--storage.tsdb.path={workdir / 'tsdb'}",
            f"--web.listen-address=127.0.0.1:{port}",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        _wait_ready(f"http://127.0.0.1:{port}/-/ready")
        time.sleep(interval)  # its first scrapes
        cpu0, appended0 = cpu_of(process), _appended(port)
        time.sleep(duration)
        cpu, appended = cpu_of(process) - cpu0, _appended(port) - appended0
    finally:
        process.terminate()
        process.wait(timeout=60)
    return {"cpu": cpu, "samples": appended}


def _wait_ready(url: str) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise SystemExit("prometheus did not become ready")


def _appended(port: int) -> float:
    text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
    for line in text.splitlines():
        if line.startswith("prometheus_tsdb_head_samples_appended_total"):
            return float(line.split()[-1])
    return 0.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="20 targets x 100 series at 3 s, 2 cycles")
    parser.add_argument("--cycles", type=int, default=3)
    args = parser.parse_args()
    count, series, interval, cycles = (20, 100, 3, 2) if args.quick else (200, 500, 15, args.cycles)
    with tempfile.TemporaryDirectory() as tmp, _django.scratch_database():
        workdir = Path(tmp)
        if connection.vendor != "postgresql":
            raise SystemExit("bench/scrape.py needs DATABASE_URL=postgres://…")
        targets, ports = start_targets(count, series, workdir)
        try:
            ours = run_opsboard(ports, interval, cycles)
            theirs = None if args.quick else run_prometheus(ports, interval, ours["elapsed"], workdir)
        finally:
            targets.terminate()
            targets.wait(timeout=30)
    _django.figure("scrape_targets", count)
    _django.figure("scrape_series_per_target", series)
    _django.figure("samples_per_s", ours["samples"] / ours["elapsed"], 0)
    _django.figure("cpu_s_per_10k_samples", ours["cpu"] / ours["samples"] * 10_000)
    _django.figure("worker_cpu_s_per_10k_samples", ours["worker_cpu"] / ours["samples"] * 10_000)
    _django.figure("cycle_s", ours["cycle"], 2)
    _django.figure("scrape_headroom", interval / ours["cycle"], 2)
    if theirs and theirs["samples"]:
        _django.figure("prometheus_cpu_s_per_10k_samples", theirs["cpu"] / theirs["samples"] * 10_000)
        ratio = (ours["cpu"] / ours["samples"]) / (theirs["cpu"] / theirs["samples"])
        _django.figure("cpu_ratio", ratio, 2)


if __name__ == "__main__":
    main()
