"""GPU readings as samples named and labelled as NVIDIA's dcgm-exporter names them. Framework-free.

A node runs either Opsboard's agent or dcgm-exporter; pages and alert rules must not care which,
so names, units, types and labels follow dcgm-exporter's ``etc/default-counters.csv`` and its GPU
exposition template (``internal/pkg/rendermetrics/render_metrics.go``): labels ``gpu``, ``UUID``,
``pci_bus_id``, ``device`` (``nvidia<N>``), ``modelName`` and ``Hostname``; ``DCGM_FI_DEV_XID_ERRORS``
also carries ``err_code`` (dcgm-exporter's ``err_msg`` text is not reproduced).

Two series are Opsboard's own: ``opsboard_agent_gpu_available`` (1 when NVML reads at least one
GPU) and ``opsboard_gpu_xid_errors_total{gpu, UUID, xid}``, a real counter of every XID event.
dcgm-exporter's XID gauge holds only the last code, so two XID 79s between scrapes look like one.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterable

from monitoring import nvml
from monitoring.samples import Sample, sample

log = logging.getLogger(__name__)

GPU_AVAILABLE = "opsboard_agent_gpu_available"
XID_TOTAL = "opsboard_gpu_xid_errors_total"
XID_LAST = "DCGM_FI_DEV_XID_ERRORS"
RETRY_INIT_S = 300.0  # a driver installed after start is picked up without a restart

# name -> (Prometheus type, help); types and units as in dcgm-exporter's default counters.
METRICS: dict[str, tuple[str, str]] = {
    "DCGM_FI_DEV_SM_CLOCK": ("gauge", "SM clock frequency (in MHz)."),
    "DCGM_FI_DEV_MEM_CLOCK": ("gauge", "Memory clock frequency (in MHz)."),
    "DCGM_FI_DEV_GPU_TEMP": ("gauge", "GPU temperature (in C)."),
    "DCGM_FI_DEV_POWER_USAGE": ("gauge", "Power draw (in W)."),
    "DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION": ("counter", "Total energy consumption since boot (in mJ)."),
    "DCGM_FI_DEV_PCIE_REPLAY_COUNTER": ("counter", "Total number of PCIe retries."),
    "DCGM_FI_DEV_GPU_UTIL": ("gauge", "GPU utilization (in %)."),
    "DCGM_FI_DEV_MEM_COPY_UTIL": ("gauge", "Memory utilization (in %)."),
    XID_LAST: ("gauge", "Value of the last XID error encountered."),
    "DCGM_FI_DEV_FB_FREE": ("gauge", "Framebuffer memory free (in MiB)."),
    "DCGM_FI_DEV_FB_USED": ("gauge", "Framebuffer memory used (in MiB)."),
    "DCGM_FI_DEV_ECC_SBE_VOL_TOTAL": ("counter", "Total number of single-bit volatile ECC errors."),
    "DCGM_FI_DEV_ECC_DBE_VOL_TOTAL": ("counter", "Total number of double-bit volatile ECC errors."),
    XID_TOTAL: ("counter", "XID critical errors seen by the agent since it started, per GPU and XID code."),
    GPU_AVAILABLE: ("gauge", "1 when NVML reads at least one GPU on this node, else 0."),
}

# dcgm-exporter field -> GpuReading attribute, in dcgm-exporter's order.
READING_FIELDS: tuple[tuple[str, str], ...] = (
    ("DCGM_FI_DEV_SM_CLOCK", "sm_clock_mhz"),
    ("DCGM_FI_DEV_MEM_CLOCK", "mem_clock_mhz"),
    ("DCGM_FI_DEV_GPU_TEMP", "temperature_c"),
    ("DCGM_FI_DEV_POWER_USAGE", "power_w"),
    ("DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION", "energy_mj"),
    ("DCGM_FI_DEV_PCIE_REPLAY_COUNTER", "pcie_replay"),
    ("DCGM_FI_DEV_GPU_UTIL", "gpu_util_pct"),
    ("DCGM_FI_DEV_MEM_COPY_UTIL", "mem_util_pct"),
    ("DCGM_FI_DEV_FB_FREE", "mem_free_mib"),
    ("DCGM_FI_DEV_FB_USED", "mem_used_mib"),
    ("DCGM_FI_DEV_ECC_SBE_VOL_TOTAL", "ecc_sbe_volatile"),
    ("DCGM_FI_DEV_ECC_DBE_VOL_TOTAL", "ecc_dbe_volatile"),
)


class XidCounter:
    """Counts every XID event per (GPU index, XID code), waiting on NVML in a daemon thread.

    The thread blocks in NVML's event wait for ``wait_ms`` at a time, so stop() returns within
    about that long. When NVML cannot deliver events it logs why once and retries every ``retry_s``.
    """

    def __init__(self, wait_ms: int = 1000, retry_s: float = 30.0) -> None:
        self._wait_ms = wait_ms
        self._retry_s = retry_s
        self._lock = threading.Lock()
        self._counts: dict[tuple[int, int], int] = {}
        self._last: dict[int, int] = {}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._logged: set[str] = set()

    def start(self) -> None:
        """Start waiting for events; a second call while running does nothing."""
        with self._lock:
            if self._thread is not None and self._thread.is_alive():
                return
            self._stop.clear()
            self._thread = threading.Thread(target=self._run, name="xid-events", daemon=True)
            self._thread.start()

    def stop(self, timeout_s: float = 5.0) -> None:
        """Stop the thread (before nvml.shutdown(), which frees the set it waits on)."""
        self._stop.set()
        thread = self._thread
        if thread is not None:
            thread.join(timeout_s)

    def running(self) -> bool:
        thread = self._thread
        return thread is not None and thread.is_alive()

    def poll(self) -> None:
        """Wait once for events and count them; the thread calls this in a loop."""
        self.record(nvml.xid_events(self._wait_ms))

    def record(self, events: Iterable[tuple[int, int]]) -> None:
        with self._lock:
            for gpu, xid in events:
                self._counts[(gpu, xid)] = self._counts.get((gpu, xid), 0) + 1
                self._last[gpu] = xid

    def counts(self) -> dict[tuple[int, int], int]:
        """Events so far per (GPU index, XID code)."""
        with self._lock:
            return dict(self._counts)

    def last(self) -> dict[int, int]:
        """The latest XID code per GPU index (what dcgm-exporter's gauge shows)."""
        with self._lock:
            return dict(self._last)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.poll()
            except nvml.NvmlError as exc:
                self._log_once(f"XID events unavailable, retrying every {self._retry_s:g}s: {exc}")
                self._stop.wait(self._retry_s)
            except Exception:  # the thread must outlive a surprise; the next wait may work
                log.exception("XID event wait failed")
                self._stop.wait(self._retry_s)

    def _log_once(self, message: str) -> None:
        if message not in self._logged:
            self._logged.add(message)
            log.warning("%s", message)


class _State:
    """Per process: NVML's init result, reasons already logged, the shared XID counter."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.reason: str | None = "NVML not tried yet"
        self.next_try = 0.0
        self.logged: set[str] = set()
        self.xids: XidCounter | None = None


_state = _State()


def available() -> bool:
    """Whether NVML is up; tries nvmlInit at most every RETRY_INIT_S and logs each reason once."""
    with _state.lock:
        now = time.monotonic()
        if _state.reason is not None and now >= _state.next_try:
            _state.reason = nvml.init()
            _state.next_try = now + RETRY_INIT_S
        reason = _state.reason
    if reason is None:
        return True
    _log_once(f"No GPU metrics: {reason}", logging.INFO)  # expected on a node without GPUs
    return False


def shared_xid_counter() -> XidCounter:
    """The process's XidCounter (not started); collect() starts it when a GPU is present."""
    with _state.lock:
        if _state.xids is None:
            _state.xids = XidCounter()
        return _state.xids


def forget_state() -> None:
    """Stop the shared XID counter and forget the init result and logged reasons (for tests)."""
    global _state
    if _state.xids is not None:
        _state.xids.stop()
    _state = _State()


def collect(ts_ms: int, hostname: str, xids: XidCounter | None = None) -> list[Sample]:
    """Every GPU series at ``ts_ms``; never raises. Without NVML: only gpu_available 0.

    ``xids`` defaults to the process's shared counter, started here on first use.
    """
    try:
        return _collect(ts_ms, hostname, xids)
    except Exception:  # a surprise here must not cost the host metrics collected beside it
        log.exception("GPU metrics failed")
        return [sample(GPU_AVAILABLE, None, ts_ms, 0)]


def _collect(ts_ms: int, hostname: str, xids: XidCounter | None) -> list[Sample]:
    unavailable = [sample(GPU_AVAILABLE, None, ts_ms, 0)]
    if not available():
        return unavailable
    try:
        gpus = nvml.devices()
    except nvml.NvmlError as exc:
        _log_once(f"No GPU metrics: {exc}")
        return unavailable
    if not gpus:
        _log_once("No GPU metrics: NVML works but finds no GPU")
        return unavailable
    if xids is None:
        xids = shared_xid_counter()
        xids.start()
    samples = [sample(GPU_AVAILABLE, None, ts_ms, 1)]
    last = xids.last()
    for gpu in gpus:
        samples.extend(_gpu_samples(gpu, ts_ms, hostname, last.get(gpu.index, 0)))
    samples.extend(_xid_totals(xids.counts(), {gpu.index: gpu.uuid for gpu in gpus}, ts_ms))
    return samples


def gpu_labels(gpu: nvml.GpuInfo, hostname: str) -> dict[str, str]:
    """dcgm-exporter's labels for a whole GPU (its default: no MIG, hostname on)."""
    return {
        "gpu": str(gpu.index),
        "UUID": gpu.uuid,
        "pci_bus_id": gpu.pci_bus_id,
        "device": f"nvidia{gpu.index}",
        "modelName": gpu.name,
        "Hostname": hostname,
    }


def _gpu_samples(gpu: nvml.GpuInfo, ts_ms: int, hostname: str, last_xid: int) -> list[Sample]:
    try:
        reading = nvml.reading(gpu.index)
    except nvml.NvmlError as exc:
        _log_once(f"GPU {gpu.index} ({gpu.uuid}) left out: {exc}")
        return []
    labels = gpu_labels(gpu, hostname)
    samples = []
    for name, field in READING_FIELDS:
        value = getattr(reading, field)
        if value is not None:
            samples.append(sample(name, labels, ts_ms, value))
    samples.append(sample(XID_LAST, {**labels, "err_code": str(last_xid)}, ts_ms, last_xid))
    return samples


def _xid_totals(counts: dict[tuple[int, int], int], uuids: dict[int, str], ts_ms: int) -> list[Sample]:
    return [
        sample(XID_TOTAL, {"gpu": str(gpu), "UUID": uuids.get(gpu, ""), "xid": str(xid)}, ts_ms, count)
        for (gpu, xid), count in sorted(counts.items())
    ]


def _log_once(message: str, level: int = logging.WARNING) -> None:
    """Each reason once per process: a node without a GPU is not news every 5 seconds."""
    with _state.lock:
        if message in _state.logged:
            return
        _state.logged.add(message)
    log.log(level, "%s", message)
