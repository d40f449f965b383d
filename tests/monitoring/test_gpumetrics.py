"""monitoring.gpumetrics with monitoring.nvml faked (never pynvml): dcgm-exporter's names and labels."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator

import pytest

from monitoring import gpumetrics, nvml
from monitoring.samples import Sample, make_labels

TS = 1_700_000_000_000
HOST = "gpu-node-7"
GPUS = [
    nvml.GpuInfo(0, "GPU-0aaa", "NVIDIA A100-SXM4-80GB", "00000000:07:00.0"),
    nvml.GpuInfo(1, "GPU-1bbb", "NVIDIA A100-SXM4-80GB", "00000000:0F:00.0"),
]
READINGS = {
    0: nvml.GpuReading(
        index=0,
        gpu_util_pct=87.0,
        mem_util_pct=41.0,
        mem_used_bytes=10 * 1024**3,
        mem_free_bytes=70 * 1024**3,
        mem_total_bytes=80 * 1024**3,
        temperature_c=64.0,
        power_w=312.456,
        sm_clock_mhz=1410.0,
        mem_clock_mhz=1593.0,
        ecc_sbe_volatile=3,
        ecc_dbe_volatile=0,
        energy_mj=123_456_789,
        pcie_replay=2,
    ),
    # GPU 1 reports no ECC, energy or PCIe replays: those series are left out, as dcgm-exporter does.
    1: nvml.GpuReading(index=1, gpu_util_pct=0.0, mem_util_pct=0.0, mem_used_bytes=0, mem_free_bytes=80 * 1024**3),
}


def labels(gpu: int, **extra: str) -> tuple[tuple[str, str], ...]:
    info = GPUS[gpu]
    return make_labels(
        {
            "gpu": str(gpu),
            "UUID": info.uuid,
            "pci_bus_id": info.pci_bus_id,
            "device": f"nvidia{gpu}",
            "modelName": info.name,
            "Hostname": HOST,
            **extra,
        }
    )


@pytest.fixture(autouse=True)
def _fresh_gpumetrics() -> Iterator[None]:
    gpumetrics.forget_state()
    yield
    gpumetrics.forget_state()


@pytest.fixture
def two_gpus(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(nvml, "init", lambda: None)
    monkeypatch.setattr(nvml, "devices", lambda: list(GPUS))
    monkeypatch.setattr(nvml, "reading", lambda index: READINGS[index])
    monkeypatch.setattr(nvml, "xid_events", lambda timeout_ms: [])


def by_series(samples: list[Sample]) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    series = {(s.name, s.labels): s.value for s in samples}
    assert len(series) == len(samples), "a series appears twice"
    assert {s.ts_ms for s in samples} == {TS}
    return series


@pytest.mark.usefixtures("two_gpus")
def test_dcgm_names_labels_and_values() -> None:
    series = by_series(gpumetrics.collect(TS, HOST, gpumetrics.XidCounter()))
    assert series == {
        ("opsboard_agent_gpu_available", ()): 1.0,
        ("DCGM_FI_DEV_SM_CLOCK", labels(0)): 1410.0,
        ("DCGM_FI_DEV_MEM_CLOCK", labels(0)): 1593.0,
        ("DCGM_FI_DEV_GPU_TEMP", labels(0)): 64.0,
        ("DCGM_FI_DEV_POWER_USAGE", labels(0)): pytest.approx(312.456),
        ("DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION", labels(0)): 123_456_789.0,
        ("DCGM_FI_DEV_PCIE_REPLAY_COUNTER", labels(0)): 2.0,
        ("DCGM_FI_DEV_GPU_UTIL", labels(0)): 87.0,
        ("DCGM_FI_DEV_MEM_COPY_UTIL", labels(0)): 41.0,
        ("DCGM_FI_DEV_FB_FREE", labels(0)): 70 * 1024.0,  # MiB
        ("DCGM_FI_DEV_FB_USED", labels(0)): 10 * 1024.0,
        ("DCGM_FI_DEV_ECC_SBE_VOL_TOTAL", labels(0)): 3.0,
        ("DCGM_FI_DEV_ECC_DBE_VOL_TOTAL", labels(0)): 0.0,
        ("DCGM_FI_DEV_XID_ERRORS", labels(0, err_code="0")): 0.0,
        ("DCGM_FI_DEV_GPU_UTIL", labels(1)): 0.0,
        ("DCGM_FI_DEV_MEM_COPY_UTIL", labels(1)): 0.0,
        ("DCGM_FI_DEV_FB_FREE", labels(1)): 80 * 1024.0,
        ("DCGM_FI_DEV_FB_USED", labels(1)): 0.0,
        ("DCGM_FI_DEV_XID_ERRORS", labels(1, err_code="0")): 0.0,
    }


def test_every_emitted_name_has_a_type() -> None:
    names = {name for name, _ in gpumetrics.READING_FIELDS} | {
        gpumetrics.XID_LAST,
        gpumetrics.XID_TOTAL,
        gpumetrics.GPU_AVAILABLE,
    }
    assert names == set(gpumetrics.METRICS)
    assert gpumetrics.METRICS["DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION"][0] == "counter"
    assert gpumetrics.METRICS["DCGM_FI_DEV_XID_ERRORS"][0] == "gauge"


class ScriptedXids:
    """nvml.xid_events answering from a script of batches, then waiting out its timeout."""

    def __init__(self, batches: list[list[tuple[int, int]]]) -> None:
        self.batches = list(batches)
        self.lock = threading.Lock()

    def __call__(self, timeout_ms: int) -> list[tuple[int, int]]:
        with self.lock:
            if self.batches:
                return self.batches.pop(0)
        time.sleep(timeout_ms / 1000)
        return []


@pytest.mark.usefixtures("two_gpus")
def test_xid_counter_counts_every_event_while_dcgm_gauge_shows_the_last(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(nvml, "xid_events", ScriptedXids([[(1, 79)], [], [(0, 13), (1, 79)]]))
    counter = gpumetrics.XidCounter(wait_ms=5)
    counter.start()
    try:
        deadline = time.monotonic() + 5
        while counter.counts() != {(1, 79): 2, (0, 13): 1} and time.monotonic() < deadline:
            time.sleep(0.01)
    finally:
        counter.stop()
    assert not counter.running()
    assert counter.counts() == {(1, 79): 2, (0, 13): 1}

    series = by_series(gpumetrics.collect(TS, HOST, counter))
    assert series[("opsboard_gpu_xid_errors_total", make_labels({"gpu": "1", "UUID": "GPU-1bbb", "xid": "79"}))] == 2
    assert series[("opsboard_gpu_xid_errors_total", make_labels({"gpu": "0", "UUID": "GPU-0aaa", "xid": "13"}))] == 1
    assert series[("DCGM_FI_DEV_XID_ERRORS", labels(1, err_code="79"))] == 79  # one series: the last code only
    assert series[("DCGM_FI_DEV_XID_ERRORS", labels(0, err_code="13"))] == 13
    assert sum(1 for name, _ in series if name == "DCGM_FI_DEV_XID_ERRORS") == 2


def test_xid_counter_keeps_the_latest_code_per_gpu() -> None:
    counter = gpumetrics.XidCounter()
    counter.record([(1, 79), (1, 48), (1, 79), (0, 31)])
    assert counter.last() == {1: 79, 0: 31}
    assert counter.counts() == {(1, 79): 2, (1, 48): 1, (0, 31): 1}


def test_xid_counter_survives_nvml_refusing_events(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    calls = threading.Event()

    def refuse(timeout_ms: int) -> list[tuple[int, int]]:
        calls.set()
        raise nvml.NvmlError("no GPU reports XID events")

    monkeypatch.setattr(nvml, "xid_events", refuse)
    counter = gpumetrics.XidCounter(wait_ms=5, retry_s=0.01)
    with caplog.at_level(logging.WARNING, logger="monitoring.gpumetrics"):
        counter.start()
        assert calls.wait(5)
        time.sleep(0.1)  # several retries
        assert counter.running()
        counter.stop()
    assert not counter.running()
    assert sum("no GPU reports XID events" in r.getMessage() for r in caplog.records) == 1


def test_without_a_driver_only_gpu_available_0_and_the_reason_logged_once(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    reason = "NVIDIA driver not found (NVMLError_LibraryNotFound)"
    monkeypatch.setattr(nvml, "init", lambda: reason)
    with caplog.at_level(logging.INFO, logger="monitoring.gpumetrics"):
        first = gpumetrics.collect(TS, HOST)
        second = gpumetrics.collect(TS + 5000, HOST)
    assert first == [Sample("opsboard_agent_gpu_available", (), TS, 0.0)]
    assert second == [Sample("opsboard_agent_gpu_available", (), TS + 5000, 0.0)]
    assert [r.getMessage() for r in caplog.records if reason in r.getMessage()] == [f"No GPU metrics: {reason}"]
    assert not gpumetrics.shared_xid_counter().running()


def test_real_nvml_on_this_machine_never_raises() -> None:
    samples = gpumetrics.collect(TS, HOST)
    available = [s for s in samples if s.name == "opsboard_agent_gpu_available"]
    assert len(available) == 1
    if available[0].value == 0:
        assert samples == available


@pytest.mark.usefixtures("two_gpus")
def test_a_gpu_that_cannot_be_read_is_left_out(monkeypatch: pytest.MonkeyPatch) -> None:
    def reading(index: int) -> nvml.GpuReading:
        if index == 0:
            raise nvml.NvmlError("GPU 0: NVMLError_GpuIsLost")
        return READINGS[index]

    monkeypatch.setattr(nvml, "reading", reading)
    samples = gpumetrics.collect(TS, HOST, gpumetrics.XidCounter())
    assert {dict(s.labels).get("gpu") for s in samples} == {None, "1"}


@pytest.mark.usefixtures("two_gpus")
def test_collect_never_raises(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken() -> list[nvml.GpuInfo]:
        raise RuntimeError("surprise")

    monkeypatch.setattr(nvml, "devices", broken)
    assert gpumetrics.collect(TS, HOST) == [Sample("opsboard_agent_gpu_available", (), TS, 0.0)]


@pytest.mark.usefixtures("two_gpus")
def test_collect_starts_the_shared_xid_counter_when_a_gpu_is_present() -> None:
    gpumetrics.collect(TS, HOST)
    assert gpumetrics.shared_xid_counter().running()
