"""The agent as a real process: Prometheus text over HTTP, no GPU here, a clean SIGTERM, no Django."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from prometheus_client.metrics_core import Metric
from prometheus_client.parser import text_string_to_metric_families

from monitoring import agent, gpumetrics, hostmetrics
from monitoring.samples import sample

ROOT = Path(__file__).resolve().parents[2]
STARTUP_S = 15


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def get(url: str) -> tuple[int, str, str]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, response.headers["Content-Type"], response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.headers["Content-Type"], exc.read().decode()


class Agent:
    def __init__(self, *args: str) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process = subprocess.Popen(
            [sys.executable, "-m", "monitoring.agent", "--port", str(self.port), "--host", "127.0.0.1", *args],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )

    def wait_ready(self) -> None:
        deadline = time.monotonic() + STARTUP_S
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                pytest.fail(f"agent exited with {self.process.returncode}: {self.process.communicate()}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    return
            except OSError:
                time.sleep(0.05)
        pytest.fail("agent did not listen in time")

    def terminate(self, signum: int = signal.SIGTERM) -> tuple[int, str]:
        """Send ``signum``, then the exit code and stderr (the agent's log)."""
        self.process.send_signal(signum)
        _, stderr = self.process.communicate(timeout=10)
        return self.process.returncode, stderr


@pytest.fixture(scope="module")
def running() -> Iterator[Agent]:
    process = Agent()
    try:
        process.wait_ready()
        yield process
    finally:
        if process.process.poll() is None:
            process.process.kill()
            process.process.communicate()


@pytest.fixture(scope="module")
def families(running: Agent) -> dict[str, Metric]:
    status, content_type, body = get(f"{running.url}/metrics")
    assert status == 200
    assert content_type == "text/plain; version=0.0.4; charset=utf-8"
    return {family.name: family for family in text_string_to_metric_families(body)}


def labelsets(family: Metric) -> list[dict[str, str]]:
    return [s.labels for s in family.samples]


def test_cpu_seconds_per_cpu_and_mode_as_a_counter(families: dict[str, Metric]) -> None:
    cpu = families["node_cpu_seconds"]  # the parser drops a counter's _total from the family name
    assert cpu.type == "counter"
    assert {s.name for s in cpu.samples} == {"node_cpu_seconds_total"}
    by_cpu: dict[str, set[str]] = {}
    for labels in labelsets(cpu):
        assert set(labels) == {"cpu", "mode"}
        by_cpu.setdefault(labels["cpu"], set()).add(labels["mode"])
    assert by_cpu
    assert all(
        modes == {"user", "nice", "system", "idle", "iowait", "irq", "softirq", "steal"} for modes in by_cpu.values()
    )


def test_memory_filesystem_network_load(families: dict[str, Metric]) -> None:
    for name in ("MemTotal", "MemAvailable", "MemFree", "Cached", "Buffers"):
        family = families[f"node_memory_{name}_bytes"]
        assert family.type == "gauge"
        assert family.samples[0].value >= 0
    assert families["node_memory_MemTotal_bytes"].samples[0].value > 0
    for name in ("size_bytes", "avail_bytes", "free_bytes"):
        family = families[f"node_filesystem_{name}"]
        assert family.type == "gauge"
        assert family.samples
        assert all(set(labels) == {"device", "mountpoint", "fstype"} for labels in labelsets(family))
    for name in ("receive_bytes", "transmit_bytes", "receive_packets", "transmit_errs", "receive_drop"):
        family = families[f"node_network_{name}"]
        assert family.type == "counter"
        assert {s.name for s in family.samples} == {f"node_network_{name}_total"}
        assert all(set(labels) == {"device"} for labels in labelsets(family))
    for name in ("node_load1", "node_load5", "node_load15", "node_boot_time_seconds"):
        assert families[name].type == "gauge"
        assert len(families[name].samples) == 1


def test_no_gpu_here(families: dict[str, Metric]) -> None:
    available = families["opsboard_agent_gpu_available"]
    assert available.type == "gauge"
    assert [(s.labels, s.value) for s in available.samples] == [({}, 0.0)]
    assert not [name for name in families if name.startswith("DCGM_")]
    assert "opsboard_gpu_xid_errors" not in families


def test_only_node_and_agent_metrics(families: dict[str, Metric]) -> None:
    assert all(name.startswith(("node_", "opsboard_agent_")) for name in families), sorted(families)


def test_index_links_metrics_and_other_paths_are_404(running: Agent) -> None:
    status, content_type, body = get(f"{running.url}/")
    assert status == 200
    assert content_type.startswith("text/html")
    assert 'href="/metrics"' in body
    status, _, _ = get(f"{running.url}/nope")
    assert status == 404


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_stops_it_cleanly_and_the_missing_driver_was_logged_once(signum: int) -> None:
    process = Agent("--interval", "0")  # every scrape reads afresh
    try:
        process.wait_ready()
        for _ in range(3):  # the reason must not be logged again on each scrape
            assert get(f"{process.url}/metrics")[0] == 200
        started = time.monotonic()
        returncode, log = process.terminate(signum)
    finally:
        if process.process.poll() is None:
            process.process.kill()
            process.process.communicate()
    assert returncode == 0, log
    assert time.monotonic() - started < 5
    assert log.count("No GPU metrics") == 1, log
    assert "Traceback" not in log


def test_the_agent_never_imports_django() -> None:
    code = (
        "import sys, monitoring.agent, monitoring.hostmetrics, monitoring.gpumetrics, monitoring.nvml; "
        "print(sorted(m for m in sys.modules if m == 'django' or m.startswith(('django.', 'opsboard'))))"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"


def test_render_writes_dcgm_counters_without_a_total_suffix() -> None:
    """prometheus_client's generate_latest would say `# TYPE ..._total counter`; dcgm-exporter does not."""
    labels = {"gpu": "0", "UUID": "GPU-1", "modelName": 'odd "name"\\'}
    text = agent.render(
        [
            sample("DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION", labels, 0, 123456789),
            sample("opsboard_agent_gpu_available", None, 0, 1),
            sample("DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION", {**labels, "gpu": "1"}, 0, 5),
        ],
        agent.METRICS,
    )
    assert text.splitlines() == [
        "# HELP DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION Total energy consumption since boot (in mJ).",
        "# TYPE DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION counter",
        'DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION{UUID="GPU-1",gpu="0",modelName="odd \\"name\\"\\\\"} 1.23456789e+08',
        'DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION{UUID="GPU-1",gpu="1",modelName="odd \\"name\\"\\\\"} 5.0',
        "# HELP opsboard_agent_gpu_available 1 when NVML reads at least one GPU on this node, else 0.",
        "# TYPE opsboard_agent_gpu_available gauge",
        "opsboard_agent_gpu_available 1.0",
    ]
    (family, _) = text_string_to_metric_families(text)
    assert family.type == "counter"
    assert family.samples[0].labels["modelName"] == 'odd "name"\\'


def test_every_metric_name_is_typed_once() -> None:
    assert not set(hostmetrics.METRICS) & set(gpumetrics.METRICS)
    assert {kind for kind, _ in agent.METRICS.values()} == {"counter", "gauge"}
