"""Host readings as samples named and labelled as Prometheus's node_exporter names them. Framework-free.

A node runs either Opsboard's agent or node_exporter; pages and alert rules must not care which.
Names, labels and filters follow node_exporter's Linux collectors: ``cpu_linux.go`` (per-CPU
seconds, guarded against counters that step back), ``meminfo.go`` (``/proc/meminfo`` fields as
``node_memory_<Field>_bytes``), ``filesystem_linux.go`` (its default mount point and fs type
excludes, one series per device/mountpoint/fstype, a stuck mount marked ``device_error``),
``netdev_linux.go``, ``loadavg.go``, ``stat_linux.go`` (boot time) and ``diskstats_linux.go``
(its default device exclude: partitions, loop, ram). Each group is read on its own: one that
fails is left out and logged, and the others still go out.
"""

from __future__ import annotations

import logging
import os
import re
import threading
import time
from collections.abc import Callable
from pathlib import Path

import psutil

from monitoring.samples import Sample, sample

log = logging.getLogger(__name__)

# node_exporter's defaults (collector/filesystem_linux.go, collector/diskstats_linux.go).
MOUNT_POINTS_EXCLUDED = re.compile(
    r"^/(dev|proc|run/credentials/.+|sys|var/lib/docker/.+|var/lib/containers/storage/.+)($|/)"
)
FS_TYPES_EXCLUDED = re.compile(
    r"^(autofs|binfmt_misc|bpf|cgroup2?|configfs|debugfs|devpts|devtmpfs|fusectl|hugetlbfs|iso9660|mqueue|nsfs"
    r"|overlay|proc|procfs|pstore|rpc_pipefs|securityfs|selinuxfs|squashfs|erofs|sysfs|tracefs)$"
)
DISKS_EXCLUDED = re.compile(r"^(z?ram|loop|fd|(h|s|v|xv)d[a-z]|nvme\d+n\d+p)\d+$")
CPU_MODES = ("user", "nice", "system", "idle", "iowait", "irq", "softirq", "steal")
MEMINFO_FIELDS = ("MemTotal", "MemFree", "MemAvailable", "Buffers", "Cached", "SwapTotal", "SwapFree")
MEMINFO = Path("/proc/meminfo")
STATFS_TIMEOUT_S = 2.0  # a hung NFS mount must not hang the scrape

CPU_SECONDS = "node_cpu_seconds_total"
CPU_GUEST_SECONDS = "node_cpu_guest_seconds_total"

# name -> (Prometheus type, help), as node_exporter describes them.
METRICS: dict[str, tuple[str, str]] = {
    CPU_SECONDS: ("counter", "Seconds the CPUs spent in each mode."),
    CPU_GUEST_SECONDS: ("counter", "Seconds the CPUs spent in guests (VMs) for each mode."),
    **{f"node_memory_{field}_bytes": ("gauge", f"Memory information field {field}_bytes.") for field in MEMINFO_FIELDS},
    "node_filesystem_size_bytes": ("gauge", "Filesystem size in bytes."),
    "node_filesystem_free_bytes": ("gauge", "Filesystem free space in bytes."),
    "node_filesystem_avail_bytes": ("gauge", "Filesystem space available to non-root users in bytes."),
    "node_filesystem_files": ("gauge", "Filesystem total file nodes."),
    "node_filesystem_files_free": ("gauge", "Filesystem total free file nodes."),
    "node_filesystem_readonly": ("gauge", "Filesystem read-only status."),
    "node_filesystem_device_error": ("gauge", "Whether an error occurred while getting statistics for the device."),
    **{
        f"node_network_{direction}_{what}_total": ("counter", f"Network device statistic {direction}_{what}.")
        for direction in ("receive", "transmit")
        for what in ("bytes", "packets", "errs", "drop")
    },
    "node_load1": ("gauge", "1m load average."),
    "node_load5": ("gauge", "5m load average."),
    "node_load15": ("gauge", "15m load average."),
    "node_boot_time_seconds": ("gauge", "Node boot time, in unixtime."),
    "node_disk_read_bytes_total": ("counter", "The total number of bytes read successfully."),
    "node_disk_written_bytes_total": ("counter", "The total number of bytes written successfully."),
    "node_disk_reads_completed_total": ("counter", "The total number of reads completed successfully."),
    "node_disk_writes_completed_total": ("counter", "The total number of writes completed successfully."),
    "node_disk_io_time_seconds_total": ("counter", "Total seconds spent doing I/Os."),
}

NET_FIELDS = (
    ("receive_bytes", "bytes_recv"),
    ("receive_packets", "packets_recv"),
    ("receive_errs", "errin"),
    ("receive_drop", "dropin"),
    ("transmit_bytes", "bytes_sent"),
    ("transmit_packets", "packets_sent"),
    ("transmit_errs", "errout"),
    ("transmit_drop", "dropout"),
)
DISK_FIELDS = (
    ("read_bytes", "read_bytes", 1.0),
    ("written_bytes", "write_bytes", 1.0),
    ("reads_completed", "read_count", 1.0),
    ("writes_completed", "write_count", 1.0),
    ("io_time_seconds", "busy_time", 0.001),  # Linux only; milliseconds in psutil
)


class _State:
    """Highest CPU seconds seen per (cpu, mode), and mounts whose statfs has not returned."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.cpu_seconds: dict[tuple[str, str], float] = {}
        self.stuck: set[str] = set()
        self.logged: set[str] = set()


_state = _State()


def collect(ts_ms: int) -> list[Sample]:
    """Every host series at ``ts_ms``; never raises (a group that fails is left out and logged)."""
    samples: list[Sample] = []
    for name, group in GROUPS:
        try:
            samples.extend(group(ts_ms))
        except Exception as exc:  # any psutil or /proc surprise costs only its own group
            _log_once(f"host metrics: {name} left out: {type(exc).__name__}: {exc}")
    return samples


def _cpu(ts_ms: int) -> list[Sample]:
    """Per-CPU seconds by mode. Some kernels step iowait/idle back; a counter must not, so the
    highest value seen is kept (as node_exporter does). ``cpu`` is psutil's order, which is the
    CPU id unless CPUs are offline."""
    per_cpu = psutil.cpu_times(percpu=True)
    samples = []
    with _state.lock:
        if len({cpu for cpu, _ in _state.cpu_seconds}) != len(per_cpu):
            _state.cpu_seconds.clear()  # CPUs came or went: start again rather than mix them up
        for index, times in enumerate(per_cpu):
            cpu = str(index)
            for mode in CPU_MODES:
                if hasattr(times, mode):
                    samples.append(sample(CPU_SECONDS, {"cpu": cpu, "mode": mode}, ts_ms, _rising(cpu, mode, times)))
            for mode, field in (("user", "guest"), ("nice", "guest_nice")):
                if hasattr(times, field):
                    value = getattr(times, field)
                    samples.append(sample(CPU_GUEST_SECONDS, {"cpu": cpu, "mode": mode}, ts_ms, value))
    return samples


def _rising(cpu: str, mode: str, times: object) -> float:
    value = float(getattr(times, mode))
    key = (cpu, mode)
    value = max(value, _state.cpu_seconds.get(key, value))
    _state.cpu_seconds[key] = value
    return value


def _memory(ts_ms: int) -> list[Sample]:
    """From /proc/meminfo as node_exporter reads it; psutil elsewhere (its Linux ``cached``
    adds SReclaimable, which node_memory_Cached_bytes does not)."""
    fields = _meminfo() if MEMINFO.exists() else _psutil_memory()
    return [
        sample(f"node_memory_{field}_bytes", None, ts_ms, fields[field]) for field in MEMINFO_FIELDS if field in fields
    ]


def _meminfo() -> dict[str, float]:
    fields: dict[str, float] = {}
    for line in MEMINFO.read_text().splitlines():
        key, _, rest = line.partition(":")
        parts = rest.split()
        if parts:
            fields[key] = float(parts[0]) * (1024 if parts[1:] == ["kB"] else 1)
    return fields


def _psutil_memory() -> dict[str, float]:
    memory, swap = psutil.virtual_memory(), psutil.swap_memory()
    fields = {"MemTotal": memory.total, "MemFree": memory.free, "MemAvailable": memory.available}
    fields |= {"SwapTotal": swap.total, "SwapFree": swap.free}
    for field, attr in (("Buffers", "buffers"), ("Cached", "cached")):
        if hasattr(memory, attr):
            fields[field] = getattr(memory, attr)
    return fields


def _filesystems(ts_ms: int) -> list[Sample]:
    mounts = _mounts()
    stats = _statfs_all([mountpoint for _, mountpoint, _ in mounts])
    samples = []
    for device, mountpoint, fstype in mounts:
        labels = {"device": device, "mountpoint": mountpoint, "fstype": fstype}
        st = stats.get(mountpoint)
        samples.append(sample("node_filesystem_device_error", labels, ts_ms, 0 if st else 1))
        if st is not None:
            samples.extend(_filesystem_samples(labels, st, ts_ms))
    return samples


def _mounts() -> list[tuple[str, str, str]]:
    """(device, mountpoint, fstype) of every mount node_exporter would report, each once."""
    seen: dict[tuple[str, str, str], None] = {}
    for part in psutil.disk_partitions(all=True):
        if MOUNT_POINTS_EXCLUDED.match(part.mountpoint) or FS_TYPES_EXCLUDED.match(part.fstype):
            continue
        seen[(part.device or "none", part.mountpoint, part.fstype)] = None  # psutil turns "none" into ""
    return list(seen)


def _filesystem_samples(labels: dict[str, str], st: os.statvfs_result, ts_ms: int) -> list[Sample]:
    values = {
        "size_bytes": st.f_blocks * st.f_frsize,
        "free_bytes": st.f_bfree * st.f_frsize,
        "avail_bytes": st.f_bavail * st.f_frsize,
        "files": st.f_files,
        "files_free": st.f_ffree,
        "readonly": 1 if st.f_flag & os.ST_RDONLY else 0,
    }
    return [sample(f"node_filesystem_{name}", labels, ts_ms, value) for name, value in values.items()]


def _statfs_all(mountpoints: list[str]) -> dict[str, os.statvfs_result]:
    """statvfs of each mount point, in parallel, waiting at most STATFS_TIMEOUT_S in all.

    A mount that does not answer (a dead NFS server) is marked stuck and skipped, reported as
    device_error 1, until its call returns; its daemon thread never blocks the process's exit.
    """
    calls: dict[str, tuple[threading.Thread, dict[str, object]]] = {}
    with _state.lock:
        for mountpoint in dict.fromkeys(mountpoints):
            if mountpoint not in _state.stuck:
                box: dict[str, object] = {}
                thread = threading.Thread(target=_statfs_into, args=(mountpoint, box), daemon=True)
                calls[mountpoint] = (thread, box)
    for thread, _ in calls.values():
        thread.start()
    deadline = time.monotonic() + STATFS_TIMEOUT_S
    results: dict[str, os.statvfs_result] = {}
    for mountpoint, (thread, box) in calls.items():
        thread.join(max(0.0, deadline - time.monotonic()))
        if thread.is_alive():
            _mark_stuck(mountpoint, box)
        result = box.get("result")
        if isinstance(result, os.statvfs_result):
            results[mountpoint] = result
    return results


def _statfs_into(mountpoint: str, box: dict[str, object]) -> None:
    try:
        box["result"] = os.statvfs(mountpoint)
    except OSError as exc:
        log.debug("statvfs(%s) failed: %s", mountpoint, exc)
    finally:
        with _state.lock:
            box["done"] = True
            _state.stuck.discard(mountpoint)


def _mark_stuck(mountpoint: str, box: dict[str, object]) -> None:
    with _state.lock:
        if box.get("done"):  # it returned (and cleared itself) since the join
            return
        _state.stuck.add(mountpoint)
    _log_once(f"host metrics: statvfs({mountpoint}) did not return within {STATFS_TIMEOUT_S:g}s; skipping it")


def _network(ts_ms: int) -> list[Sample]:
    samples = []
    for device, counters in psutil.net_io_counters(pernic=True).items():
        for name, attr in NET_FIELDS:
            samples.append(sample(f"node_network_{name}_total", {"device": device}, ts_ms, getattr(counters, attr)))
    return samples


def _load(ts_ms: int) -> list[Sample]:
    load1, load5, load15 = psutil.getloadavg()
    return [
        sample("node_load1", None, ts_ms, load1),
        sample("node_load5", None, ts_ms, load5),
        sample("node_load15", None, ts_ms, load15),
    ]


def _boot_time(ts_ms: int) -> list[Sample]:
    return [sample("node_boot_time_seconds", None, ts_ms, psutil.boot_time())]


def _disks(ts_ms: int) -> list[Sample]:
    samples = []
    for device, counters in (psutil.disk_io_counters(perdisk=True) or {}).items():
        if DISKS_EXCLUDED.match(device):
            continue
        for name, attr, scale in DISK_FIELDS:
            if hasattr(counters, attr):
                value = getattr(counters, attr) * scale
                samples.append(sample(f"node_disk_{name}_total", {"device": device}, ts_ms, value))
    return samples


GROUPS: tuple[tuple[str, Callable[[int], list[Sample]]], ...] = (
    ("cpu", _cpu),
    ("memory", _memory),
    ("filesystem", _filesystems),
    ("network", _network),
    ("load", _load),
    ("boot time", _boot_time),
    ("disk", _disks),
)


def _log_once(message: str) -> None:
    """Each problem once per process: the same failure every scrape is not news."""
    with _state.lock:
        if message in _state.logged:
            return
        _state.logged.add(message)
    log.warning("%s", message)
