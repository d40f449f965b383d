"""monitoring.hostmetrics with the real psutil on this machine: node_exporter's names, sane values."""

from __future__ import annotations

import logging
import os
import threading
import time

import psutil
import pytest

from monitoring import hostmetrics
from monitoring.samples import Sample

TS = 1_700_000_000_000
FS_LABELS = {"device", "mountpoint", "fstype"}


def named(samples: list[Sample], name: str) -> list[Sample]:
    return [s for s in samples if s.name == name]


def value(samples: list[Sample], name: str) -> float:
    (only,) = named(samples, name)
    return only.value


def test_node_exporter_names_are_present() -> None:
    samples = hostmetrics.collect(TS)
    names = {s.name for s in samples}
    expected = {
        "node_cpu_seconds_total",
        "node_memory_MemTotal_bytes",
        "node_memory_MemAvailable_bytes",
        "node_memory_MemFree_bytes",
        "node_memory_Cached_bytes",
        "node_memory_Buffers_bytes",
        "node_filesystem_size_bytes",
        "node_filesystem_avail_bytes",
        "node_filesystem_free_bytes",
        "node_network_receive_bytes_total",
        "node_network_transmit_bytes_total",
        "node_network_receive_packets_total",
        "node_network_transmit_errs_total",
        "node_network_receive_drop_total",
        "node_load1",
        "node_load5",
        "node_load15",
        "node_boot_time_seconds",
    }
    assert expected <= names
    assert names <= set(hostmetrics.METRICS), "every name needs a type for the exposition"
    assert {s.ts_ms for s in samples} == {TS}
    assert len({(s.name, s.labels) for s in samples}) == len(samples), "a series appears twice"


def test_memory_is_plausible() -> None:
    samples = hostmetrics.collect(TS)
    total = value(samples, "node_memory_MemTotal_bytes")
    available = value(samples, "node_memory_MemAvailable_bytes")
    assert total > available > 0
    assert total == pytest.approx(psutil.virtual_memory().total, rel=0.01)
    assert 0 < value(samples, "node_memory_MemFree_bytes") < total


def test_cpu_seconds_per_cpu_and_mode_never_decrease() -> None:
    first = {s.labels: s.value for s in named(hostmetrics.collect(TS), "node_cpu_seconds_total")}
    sum(range(200_000))  # spend a little CPU
    second = {s.labels: s.value for s in named(hostmetrics.collect(TS), "node_cpu_seconds_total")}
    assert first.keys() == second.keys()
    assert all(second[key] >= first[key] for key in first)
    cpus = {dict(key)["cpu"] for key in first}
    modes = {dict(key)["mode"] for key in first}
    assert cpus == {str(i) for i in range(len(psutil.cpu_times(percpu=True)))}
    assert modes == {"user", "nice", "system", "idle", "iowait", "irq", "softirq", "steal"}


def test_filesystems_are_labelled_and_pseudo_ones_left_out() -> None:
    samples = [s for s in hostmetrics.collect(TS) if s.name.startswith("node_filesystem_")]
    assert samples
    for s in samples:
        labels = dict(s.labels)
        assert set(labels) == FS_LABELS, s
        assert all(labels.values()), s
        assert not hostmetrics.FS_TYPES_EXCLUDED.match(labels["fstype"])
        assert not hostmetrics.MOUNT_POINTS_EXCLUDED.match(labels["mountpoint"])
    sizes = {dict(s.labels)["mountpoint"]: s.value for s in named(samples, "node_filesystem_size_bytes")}
    avails = {dict(s.labels)["mountpoint"]: s.value for s in named(samples, "node_filesystem_avail_bytes")}
    assert sizes.keys() == avails.keys()
    assert all(0 <= avails[m] <= sizes[m] for m in sizes)


@pytest.mark.parametrize(
    ("fstype", "mountpoint", "excluded"),
    [
        ("proc", "/proc", True),
        ("sysfs", "/sys", True),
        ("tmpfs", "/dev/shm", True),
        ("tmpfs", "/sys/fs/cgroup", True),
        ("overlay", "/", True),
        ("ext4", "/var/lib/docker/overlay2/abc/merged", True),
        ("ext4", "/", False),
        ("xfs", "/data", False),
        ("nfs4", "/mnt/datasets", False),
        ("tmpfs", "/run", False),  # node_exporter reports tmpfs outside /dev
    ],
)
def test_filesystem_excludes_are_node_exporters(fstype: str, mountpoint: str, excluded: bool) -> None:
    matched = hostmetrics.FS_TYPES_EXCLUDED.match(fstype) or hostmetrics.MOUNT_POINTS_EXCLUDED.match(mountpoint)
    assert bool(matched) is excluded


@pytest.mark.parametrize(
    ("device", "excluded"),
    [
        ("sda", False),
        ("sda1", True),
        ("nvme0n1", False),
        ("nvme0n1p2", True),
        ("loop3", True),
        ("zram0", True),
        ("vda", False),
        ("dm-0", False),
        ("md0", False),
    ],
)
def test_disk_excludes_are_node_exporters(device: str, excluded: bool) -> None:
    assert bool(hostmetrics.DISKS_EXCLUDED.match(device)) is excluded


def test_network_and_disk_follow_psutil_devices() -> None:
    samples = hostmetrics.collect(TS)
    nics = {dict(s.labels)["device"] for s in named(samples, "node_network_receive_bytes_total")}
    assert nics == set(psutil.net_io_counters(pernic=True))
    disks = {d for d in psutil.disk_io_counters(perdisk=True) or {} if not hostmetrics.DISKS_EXCLUDED.match(d)}
    assert {dict(s.labels)["device"] for s in named(samples, "node_disk_read_bytes_total")} == disks
    assert {dict(s.labels)["device"] for s in named(samples, "node_disk_written_bytes_total")} == disks


def test_load_and_boot_time_are_plausible() -> None:
    samples = hostmetrics.collect(TS)
    assert all(value(samples, name) >= 0 for name in ("node_load1", "node_load5", "node_load15"))
    assert 1e9 < value(samples, "node_boot_time_seconds") < time.time()


def test_a_failing_psutil_call_skips_only_its_group(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(*args: object, **kwargs: object) -> object:
        raise PermissionError("no /proc/net/dev here")

    monkeypatch.setattr(psutil, "net_io_counters", broken)
    with caplog.at_level(logging.WARNING, logger="monitoring.hostmetrics"):
        samples = hostmetrics.collect(TS)
    names = {s.name for s in samples}
    assert not any(name.startswith("node_network_") for name in names)
    assert {"node_cpu_seconds_total", "node_memory_MemTotal_bytes", "node_load1", "node_filesystem_size_bytes"} <= names
    assert any("network" in r.getMessage() and "no /proc/net/dev here" in r.getMessage() for r in caplog.records)


def test_a_hung_mount_is_reported_as_device_error_without_hanging(monkeypatch: pytest.MonkeyPatch) -> None:
    mountpoint = dict(named(hostmetrics.collect(TS), "node_filesystem_size_bytes")[0].labels)["mountpoint"]
    release = threading.Event()
    real_statvfs = os.statvfs

    def statvfs(path: str) -> os.statvfs_result:
        if path == mountpoint:
            release.wait(10)  # a dead NFS server
        return real_statvfs(path)

    monkeypatch.setattr(os, "statvfs", statvfs)
    monkeypatch.setattr(hostmetrics, "STATFS_TIMEOUT_S", 0.2)
    try:
        for _ in range(2):  # the second time it is skipped at once
            started = time.monotonic()
            samples = hostmetrics.collect(TS)
            assert time.monotonic() - started < 2
            errors = {dict(s.labels)["mountpoint"]: s.value for s in named(samples, "node_filesystem_device_error")}
            assert errors[mountpoint] == 1
            sized = {dict(s.labels)["mountpoint"] for s in named(samples, "node_filesystem_size_bytes")}
            assert mountpoint not in sized
    finally:
        release.set()
    deadline = time.monotonic() + 5  # once the call returns, the mount is read again
    while time.monotonic() < deadline:
        samples = named(hostmetrics.collect(TS), "node_filesystem_device_error")
        if {dict(s.labels)["mountpoint"]: s.value for s in samples}[mountpoint] == 0:
            break
        time.sleep(0.05)
    else:
        pytest.fail(f"{mountpoint} stayed marked as stuck")
