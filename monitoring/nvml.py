"""The one module that calls NVML (nvidia-ml-py's ``pynvml``). Framework-free.

Everything else reads GPUs through these functions and plain dataclasses, so tests fake this
module instead of pynvml, and the rest of Opsboard never sees a ctypes structure. One field a
GPU does not support (ECC on a consumer card, energy on an old one) is None in its reading;
it never costs the other fields.

NVML is thread-safe and ctypes releases the GIL while it waits, so the XID event wait can
block in one thread while readings are taken in others.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import pynvml

log = logging.getLogger(__name__)

MIB = 1024 * 1024
MAX_EVENTS_PER_WAIT = 1000  # a bound on draining the queue, so one wait always returns
T = TypeVar("T")


class NvmlError(RuntimeError):
    """NVML failed for a whole call (not one field); the message says why."""


@dataclass(frozen=True, slots=True)
class GpuInfo:
    """What identifies a GPU in metric labels."""

    index: int
    uuid: str
    name: str
    pci_bus_id: str


@dataclass(frozen=True, slots=True)
class GpuReading:
    """One reading of one GPU; None wherever this GPU or driver does not report the field."""

    index: int
    gpu_util_pct: float | None = None
    mem_util_pct: float | None = None
    mem_used_bytes: int | None = None
    mem_free_bytes: int | None = None
    mem_total_bytes: int | None = None
    temperature_c: float | None = None
    power_w: float | None = None
    sm_clock_mhz: float | None = None
    mem_clock_mhz: float | None = None
    ecc_sbe_volatile: int | None = None
    ecc_dbe_volatile: int | None = None
    energy_mj: int | None = None
    pcie_replay: int | None = None

    @property
    def mem_used_mib(self) -> int | None:
        """Whole MiB, as DCGM reports framebuffer use."""
        return _mib(self.mem_used_bytes)

    @property
    def mem_free_mib(self) -> int | None:
        return _mib(self.mem_free_bytes)

    @property
    def mem_total_mib(self) -> int | None:
        return _mib(self.mem_total_bytes)


class _State:
    """Whether nvmlInit succeeded, and the XID event set (created on first wait)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.initialised = False
        self.event_set: Any = None


_state = _State()


def init() -> str | None:
    """Start NVML once per process: None when it works, else why not (for a log line)."""
    with _state.lock:
        if _state.initialised:
            return None
        try:
            pynvml.nvmlInit()
        except pynvml.NVMLError as exc:
            return _reason(exc)
        _state.initialised = True
        return None


def shutdown() -> None:
    """Free the event set and stop NVML. Stop any thread waiting in xid_events() first."""
    with _state.lock:
        if _state.event_set is not None:
            _quietly(lambda: pynvml.nvmlEventSetFree(_state.event_set))
            _state.event_set = None
        if _state.initialised:
            _quietly(pynvml.nvmlShutdown)
            _state.initialised = False


def devices() -> list[GpuInfo]:
    """Every GPU NVML can identify; one it cannot (fallen off the bus) is left out and logged."""
    try:
        count = pynvml.nvmlDeviceGetCount()
    except pynvml.NVMLError as exc:
        raise NvmlError(f"cannot count GPUs: {_name(exc)}") from exc
    found: list[GpuInfo] = []
    for index in range(count):
        try:
            found.append(_info(index))
        except pynvml.NVMLError as exc:
            log.warning("GPU %d left out: NVML cannot identify it (%s)", index, _name(exc))
    return found


def reading(index: int) -> GpuReading:
    """The current values of GPU ``index``, converted to the units dcgm-exporter uses."""
    handle = _handle(index)
    util = _field(lambda: pynvml.nvmlDeviceGetUtilizationRates(handle))
    memory = _field(lambda: pynvml.nvmlDeviceGetMemoryInfo(handle))
    power_mw = _field(lambda: pynvml.nvmlDeviceGetPowerUsage(handle))
    return GpuReading(
        index=index,
        gpu_util_pct=None if util is None else float(util.gpu),
        mem_util_pct=None if util is None else float(util.memory),
        mem_used_bytes=None if memory is None else int(memory.used),
        mem_free_bytes=None if memory is None else int(memory.free),
        mem_total_bytes=None if memory is None else int(memory.total),
        temperature_c=_field(lambda: float(pynvml.nvmlDeviceGetTemperature(handle, pynvml.NVML_TEMPERATURE_GPU))),
        power_w=None if power_mw is None else power_mw / 1000.0,
        sm_clock_mhz=_field(lambda: float(pynvml.nvmlDeviceGetClockInfo(handle, pynvml.NVML_CLOCK_SM))),
        mem_clock_mhz=_field(lambda: float(pynvml.nvmlDeviceGetClockInfo(handle, pynvml.NVML_CLOCK_MEM))),
        ecc_sbe_volatile=_field(lambda: _ecc(handle, pynvml.NVML_MEMORY_ERROR_TYPE_CORRECTED)),
        ecc_dbe_volatile=_field(lambda: _ecc(handle, pynvml.NVML_MEMORY_ERROR_TYPE_UNCORRECTED)),
        energy_mj=_field(lambda: int(pynvml.nvmlDeviceGetTotalEnergyConsumption(handle))),
        pcie_replay=_field(lambda: int(pynvml.nvmlDeviceGetPcieReplayCounter(handle))),
    )


def xid_events(timeout_ms: int) -> list[tuple[int, int]]:
    """(GPU index, XID code) of every XID critical error queued, waiting up to ``timeout_ms``.

    NVML queues events between waits, so a caller that waits in a loop misses none. [] when
    nothing happened before the timeout. Raises NvmlError when no GPU reports XID events.
    """
    event_set = _xid_event_set()
    events: list[tuple[int, int]] = []
    wait_ms = timeout_ms
    for _ in range(MAX_EVENTS_PER_WAIT):
        try:
            data = pynvml.nvmlEventSetWait_v2(event_set, wait_ms)
        except pynvml.NVMLError_Timeout:
            break
        except pynvml.NVMLError as exc:
            if events:
                break
            raise NvmlError(f"waiting for XID events failed: {_name(exc)}") from exc
        if data.eventType & pynvml.nvmlEventTypeXidCriticalError:
            events.append((_event_gpu(data.device), int(data.eventData)))
        wait_ms = 0  # drain what is already queued, without waiting again
    return events


def _xid_event_set() -> Any:
    """The process's event set, registered for XIDs on every GPU that supports them."""
    with _state.lock:
        if _state.event_set is not None:
            return _state.event_set
        if not _state.initialised:
            raise NvmlError("NVML is not initialised")
        try:
            event_set = pynvml.nvmlEventSetCreate()
            count = pynvml.nvmlDeviceGetCount()
        except pynvml.NVMLError as exc:
            raise NvmlError(f"cannot create an NVML event set: {_name(exc)}") from exc
        if not sum(_register_xids(index, event_set) for index in range(count)):
            _quietly(lambda: pynvml.nvmlEventSetFree(event_set))
            raise NvmlError("no GPU reports XID events")
        _state.event_set = event_set
        return event_set


def _register_xids(index: int, event_set: Any) -> bool:
    try:
        pynvml.nvmlDeviceRegisterEvents(_handle(index), pynvml.nvmlEventTypeXidCriticalError, event_set)
    except (pynvml.NVMLError, NvmlError) as exc:
        log.info("GPU %d does not report XID events (%s)", index, exc)
        return False
    return True


def _event_gpu(device: Any) -> int:
    """The index of the GPU an event came from; -1 when NVML cannot say."""
    try:
        return int(pynvml.nvmlDeviceGetIndex(device))
    except pynvml.NVMLError:
        return -1


def _info(index: int) -> GpuInfo:
    handle = pynvml.nvmlDeviceGetHandleByIndex(index)
    bus_id = _field(lambda: _text(pynvml.nvmlDeviceGetPciInfo(handle).busId))
    return GpuInfo(
        index=index,
        uuid=_text(pynvml.nvmlDeviceGetUUID(handle)),
        name=_text(pynvml.nvmlDeviceGetName(handle)),
        pci_bus_id=bus_id or "",
    )


def _handle(index: int) -> Any:
    try:
        return pynvml.nvmlDeviceGetHandleByIndex(index)
    except pynvml.NVMLError as exc:
        raise NvmlError(f"GPU {index}: {_name(exc)}") from exc


def _ecc(handle: Any, error_type: int) -> int:
    return int(pynvml.nvmlDeviceGetTotalEccErrors(handle, error_type, pynvml.NVML_VOLATILE_ECC))


def _field(read: Callable[[], T]) -> T | None:
    """One NVML call's value, or None when NVML will not give it (NotSupported, GPU lost, ...)."""
    try:
        return read()
    except pynvml.NVMLError as exc:
        log.debug("NVML field unavailable: %s", _name(exc))
        return None


def _quietly(call: Callable[[], object]) -> None:
    try:
        call()
    except pynvml.NVMLError as exc:
        log.debug("NVML cleanup failed: %s", _name(exc))


def _reason(exc: pynvml.NVMLError) -> str:
    """Why NVML did not start, in words an operator acts on, naming the NVML error."""
    if isinstance(exc, pynvml.NVMLError_LibraryNotFound):
        what = "NVIDIA driver not found"
    elif isinstance(exc, pynvml.NVMLError_DriverNotLoaded):
        what = "NVIDIA driver not loaded"
    elif isinstance(exc, pynvml.NVMLError_NoPermission):
        what = "no permission to use the NVIDIA driver"
    else:
        what = "NVML failed to start"
    return f"{what} ({type(exc).__name__})"


def _name(exc: pynvml.NVMLError) -> str:
    return type(exc).__name__


def _text(value: str | bytes) -> str:
    """pynvml returns str or bytes depending on its version and the field."""
    return value.decode(errors="replace") if isinstance(value, bytes) else str(value)


def _mib(value: int | None) -> int | None:
    return None if value is None else value // MIB
