"""monitoring.nvml against a fake pynvml: the only tests that fake pynvml itself.

No machine in CI has a GPU, so each pynvml function nvml.py calls is replaced with one that
answers as a driver would for two GPUs: GPU 0 a consumer card without ECC, energy or PCIe
counters (NVMLError_NotSupported), GPU 1 a data-centre card that reports everything.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from types import SimpleNamespace

import pynvml
import pytest

from monitoring import nvml

GIB = 1024**3


class FakeDriver:
    """Two GPUs, handles "h0" and "h1", and an XID event queue."""

    def __init__(self) -> None:
        self.events: list[SimpleNamespace] = []
        self.registered: list[str] = []
        self.register_fails_on: set[str] = set()
        self.waits: list[int] = []

    def install(self, monkeypatch: pytest.MonkeyPatch) -> None:
        fakes = {
            "nvmlInit": lambda: None,
            "nvmlShutdown": lambda: None,
            "nvmlDeviceGetCount": lambda: 2,
            "nvmlDeviceGetHandleByIndex": self.handle,
            "nvmlDeviceGetUUID": lambda h: f"GPU-0000000{h[1]}-aaaa-bbbb-cccc-dddddddddddd",
            "nvmlDeviceGetName": lambda h: b"NVIDIA H100 80GB HBM3",  # some pynvml versions: bytes
            "nvmlDeviceGetPciInfo": lambda h: SimpleNamespace(busId=f"00000000:1{h[1]}:00.0"),
            "nvmlDeviceGetUtilizationRates": lambda h: SimpleNamespace(gpu=87, memory=41),
            "nvmlDeviceGetMemoryInfo": lambda h: SimpleNamespace(used=10 * GIB + 123, free=70 * GIB, total=80 * GIB),
            "nvmlDeviceGetTemperature": lambda h, sensor: 64,
            "nvmlDeviceGetPowerUsage": lambda h: 312_456,  # milliwatts
            "nvmlDeviceGetClockInfo": lambda h, clock: 1980 if clock == pynvml.NVML_CLOCK_SM else 2619,
            "nvmlDeviceGetTotalEccErrors": self.ecc,
            "nvmlDeviceGetTotalEnergyConsumption": self.only_gpu1(123_456_789),
            "nvmlDeviceGetPcieReplayCounter": self.only_gpu1(4),
            "nvmlEventSetCreate": lambda: "event-set",
            "nvmlEventSetFree": lambda s: None,
            "nvmlDeviceRegisterEvents": self.register,
            "nvmlEventSetWait_v2": self.wait,
            "nvmlDeviceGetIndex": lambda h: int(h[1]),
        }
        for name, fake in fakes.items():
            monkeypatch.setattr(pynvml, name, fake)

    @staticmethod
    def handle(index: int) -> str:
        if index not in (0, 1):
            raise pynvml.NVMLError_InvalidArgument()
        return f"h{index}"

    @staticmethod
    def ecc(handle: str, error_type: int, counter_type: int) -> int:
        assert counter_type == pynvml.NVML_VOLATILE_ECC
        if handle == "h0":
            raise pynvml.NVMLError_NotSupported()
        return 3 if error_type == pynvml.NVML_MEMORY_ERROR_TYPE_CORRECTED else 1

    @staticmethod
    def only_gpu1(value: int) -> Callable[[str], int]:
        def read(handle: str) -> int:
            if handle == "h0":
                raise pynvml.NVMLError_NotSupported()
            return value

        return read

    def register(self, handle: str, event_types: int, event_set: str) -> None:
        assert event_types == pynvml.nvmlEventTypeXidCriticalError
        if handle in self.register_fails_on:
            raise pynvml.NVMLError_NotSupported()
        self.registered.append(handle)

    def wait(self, event_set: str, timeout_ms: int) -> SimpleNamespace:
        self.waits.append(timeout_ms)
        if not self.events:
            raise pynvml.NVMLError_Timeout()
        return self.events.pop(0)

    def xid(self, handle: str, code: int) -> None:
        self.events.append(
            SimpleNamespace(device=handle, eventType=pynvml.nvmlEventTypeXidCriticalError, eventData=code)
        )


@pytest.fixture
def driver(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeDriver]:
    fake = FakeDriver()
    fake.install(monkeypatch)
    assert nvml.init() is None
    yield fake
    nvml.shutdown()  # while the fakes are still in place: forgets the event set and init


def test_devices_identify_each_gpu(driver: FakeDriver) -> None:
    assert nvml.devices() == [
        nvml.GpuInfo(0, "GPU-00000000-aaaa-bbbb-cccc-dddddddddddd", "NVIDIA H100 80GB HBM3", "00000000:10:00.0"),
        nvml.GpuInfo(1, "GPU-00000001-aaaa-bbbb-cccc-dddddddddddd", "NVIDIA H100 80GB HBM3", "00000000:11:00.0"),
    ]


def test_reading_converts_to_dcgm_units(driver: FakeDriver) -> None:
    reading = nvml.reading(1)
    assert reading.power_w == pytest.approx(312.456)  # NVML gives milliwatts
    assert (reading.mem_used_mib, reading.mem_free_mib, reading.mem_total_mib) == (10 * 1024, 70 * 1024, 80 * 1024)
    assert reading.mem_used_bytes == 10 * GIB + 123
    assert (reading.gpu_util_pct, reading.mem_util_pct) == (87.0, 41.0)
    assert reading.temperature_c == 64.0
    assert (reading.sm_clock_mhz, reading.mem_clock_mhz) == (1980.0, 2619.0)
    assert (reading.ecc_sbe_volatile, reading.ecc_dbe_volatile) == (3, 1)
    assert reading.energy_mj == 123_456_789
    assert reading.pcie_replay == 4


def test_unsupported_fields_are_none_and_the_rest_still_read(driver: FakeDriver) -> None:
    reading = nvml.reading(0)
    assert reading.ecc_sbe_volatile is None
    assert reading.ecc_dbe_volatile is None
    assert reading.energy_mj is None
    assert reading.pcie_replay is None
    assert reading.power_w == pytest.approx(312.456)
    assert reading.gpu_util_pct == 87.0


def test_any_nvml_error_on_one_field_is_none(driver: FakeDriver, monkeypatch: pytest.MonkeyPatch) -> None:
    def lost(handle: str) -> int:
        raise pynvml.NVMLError_GpuIsLost()

    monkeypatch.setattr(pynvml, "nvmlDeviceGetPowerUsage", lost)
    reading = nvml.reading(1)
    assert reading.power_w is None
    assert reading.temperature_c == 64.0


def test_reading_an_unknown_gpu_raises_nvml_error(driver: FakeDriver) -> None:
    with pytest.raises(nvml.NvmlError, match="GPU 7"):
        nvml.reading(7)


def test_xid_wait_timeout_is_no_events(driver: FakeDriver) -> None:
    assert nvml.xid_events(250) == []
    assert driver.waits == [250]
    assert driver.registered == ["h0", "h1"]


def test_xid_events_drain_the_queue_with_gpu_index_and_code(driver: FakeDriver) -> None:
    driver.xid("h1", 79)
    driver.xid("h1", 79)
    driver.xid("h0", 13)
    assert nvml.xid_events(1000) == [(1, 79), (1, 79), (0, 13)]
    assert driver.waits == [1000, 0, 0, 0]  # waits once, then only takes what is queued
    assert nvml.xid_events(5) == []
    assert driver.registered == ["h0", "h1"]  # the event set is made once per process


def test_xid_events_skip_a_gpu_that_cannot_register(driver: FakeDriver) -> None:
    driver.register_fails_on = {"h0"}
    driver.xid("h1", 48)
    assert nvml.xid_events(10) == [(1, 48)]
    assert driver.registered == ["h1"]


def test_xid_events_without_any_registered_gpu_raise(driver: FakeDriver) -> None:
    driver.register_fails_on = {"h0", "h1"}
    with pytest.raises(nvml.NvmlError, match="no GPU reports XID events"):
        nvml.xid_events(10)


@pytest.mark.parametrize(
    ("error", "reason"),
    [
        (pynvml.NVMLError_LibraryNotFound, "NVIDIA driver not found (NVMLError_LibraryNotFound)"),
        (pynvml.NVMLError_DriverNotLoaded, "NVIDIA driver not loaded (NVMLError_DriverNotLoaded)"),
        (pynvml.NVMLError_NoPermission, "no permission to use the NVIDIA driver (NVMLError_NoPermission)"),
        (pynvml.NVMLError_Unknown, "NVML failed to start (NVMLError_Unknown)"),
    ],
)
def test_init_says_why_nvml_does_not_start(
    monkeypatch: pytest.MonkeyPatch, error: type[pynvml.NVMLError], reason: str
) -> None:
    def fail() -> None:
        raise error()

    monkeypatch.setattr(pynvml, "nvmlInit", fail)
    assert nvml.init() == reason


def test_init_on_this_machine_never_raises() -> None:
    reason = nvml.init()
    if reason is None:
        nvml.shutdown()
        pytest.skip("this machine has a working NVIDIA driver")
    assert "NVMLError_" in reason


def test_xid_events_before_init_raise(monkeypatch: pytest.MonkeyPatch) -> None:
    FakeDriver().install(monkeypatch)
    with pytest.raises(nvml.NvmlError, match="not initialised"):
        nvml.xid_events(10)
