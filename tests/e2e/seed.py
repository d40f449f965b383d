"""An hour of plausible samples for a model server, a GPU node and two training runs.

Call these through ``in_thread`` (they use the ORM). Counters only go up, histograms are
cumulative per ``le``, and each figure moves a little so that charts have a shape.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator

from monitoring import rollups, store
from monitoring.llm import normalised as n
from monitoring.models import GpuNode, ModelEndpoint, TrainingRun
from monitoring.samples import Sample, sample

STEP_MS = 15_000
HOUR_MS = 3_600_000
LATENCY_BOUNDS = (0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
TTFT_BOUNDS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0)


def stamps(now_ms: int, span_ms: int = HOUR_MS) -> list[int]:
    first = now_ms - span_ms
    return list(range(first - first % STEP_MS, now_ms + 1, STEP_MS))


def write_all(samples: Iterable[Sample], batch: int = 10_000) -> int:
    written, chunk = 0, []
    for one in samples:
        chunk.append(one)
        if len(chunk) == batch:
            written += store.write(chunk).written
            chunk = []
    if chunk:
        written += store.write(chunk).written
    return written


def model_endpoint(name: str) -> ModelEndpoint:
    """A Prometheus-kind endpoint that is never polled (its samples come from the tests)."""
    return ModelEndpoint.objects.create(name=name, kind="prometheus", url="http://127.0.0.1:9/metrics", enabled=False)


def serving_model(name: str, now_ms: int) -> ModelEndpoint:
    endpoint = model_endpoint(name)
    write_all(_serving_samples({"model": name}, stamps(now_ms)))
    rollups.roll_up(now_ms)
    return endpoint


def _serving_samples(labels: dict[str, str], times: list[int]) -> Iterator[Sample]:
    totals: dict[str, float] = {}

    def bump(key: str, by: float) -> float:
        totals[key] = totals.get(key, 0.0) + by
        return totals[key]

    for i, ts in enumerate(times):
        wave = math.sin(i / 20)
        requests = 15 * (6 + 2 * wave)  # per 15 s
        yield sample("up", labels, ts, 1.0)
        yield sample(n.SUCCESS, labels, ts, bump("ok", requests))
        yield sample(n.FAILURE, labels, ts, bump("failed", 0.2 + 0.15 * (i % 7 == 0) * 10))
        yield sample(n.PROMPT_TOKENS, labels, ts, bump("prompt", requests * 410))
        yield sample(n.GENERATION_TOKENS, labels, ts, bump("generated", requests * 180))
        yield sample(n.WAITING, labels, ts, float(max(0, round(3 + 3 * wave))))
        yield sample(n.RUNNING, labels, ts, float(round(12 + 4 * wave)))
        yield sample(n.KV_CACHE, labels, ts, 0.55 + 0.25 * wave)
        yield from _histogram(n.E2E, labels, ts, requests, LATENCY_BOUNDS, 1.2 + 0.4 * wave, bump)
        yield from _histogram(n.TTFT, labels, ts, requests, TTFT_BOUNDS, 0.08 + 0.03 * wave, bump)
        yield from _histogram(n.QUEUE_TIME, labels, ts, requests, TTFT_BOUNDS, 0.03 + 0.02 * wave, bump)
        # Time per output token with _sum and _count only: the page draws their ratio.
        yield sample(f"{n.TPOT}_sum", labels, ts, bump("tpot_sum", requests * 180 * (0.021 + 0.004 * wave)))
        yield sample(f"{n.TPOT}_count", labels, ts, bump("tpot_count", requests * 180))


def _histogram(name, labels, ts, count, bounds, median, bump) -> Iterator[Sample]:
    """Cumulative buckets of ``count`` observations spread log-normally around ``median``."""
    for bound in bounds:
        share = 0.5 * (1 + math.erf(math.log(bound / median) / (0.6 * math.sqrt(2))))
        yield sample(f"{name}_bucket", {**labels, "le": repr(bound)}, ts, bump(f"{name}{bound}", count * share))
    yield sample(f"{name}_bucket", {**labels, "le": "+Inf"}, ts, bump(f"{name}inf", count))
    yield sample(f"{name}_sum", labels, ts, bump(f"{name}sum", count * median * 1.1))
    yield sample(f"{name}_count", labels, ts, bump(f"{name}count", count))


def gpu_node(name: str, now_ms: int, gpus: int = 4) -> GpuNode:
    node = GpuNode.objects.create(name=name, kind="node-exporter", url="http://127.0.0.1:9/metrics", enabled=False)
    write_all(_node_samples(name, stamps(now_ms), gpus))
    rollups.roll_up(now_ms)
    return node


def _node_samples(name: str, times: list[int], gpus: int) -> Iterator[Sample]:
    node = {"node": name}
    totals: dict[str, float] = {}
    for i, ts in enumerate(times):
        for g in range(gpus):
            yield from _gpu_samples({**node, "gpu": str(g)}, ts, math.sin(i / 15 + g), i)
        yield from _host_samples(node, ts, i, totals)


def _gpu_samples(labels: dict[str, str], ts: int, wave: float, i: int) -> Iterator[Sample]:
    util = 70 + 25 * wave
    used = 52_000 + 9_000 * wave
    yield sample("DCGM_FI_DEV_GPU_UTIL", labels, ts, round(util))
    yield sample("DCGM_FI_DEV_FB_USED", labels, ts, round(used))
    yield sample("DCGM_FI_DEV_FB_FREE", labels, ts, round(81_559 - used))
    yield sample("DCGM_FI_DEV_GPU_TEMP", labels, ts, round(62 + 10 * wave))
    yield sample("DCGM_FI_DEV_POWER_USAGE", labels, ts, 380 + 160 * wave)
    yield sample("DCGM_FI_DEV_SM_CLOCK", labels, ts, 1_980 - 120 * (wave > 0.8))
    yield sample("DCGM_FI_DEV_ECC_SBE_VOL_TOTAL", labels, ts, float(i // 120))
    yield sample("DCGM_FI_DEV_ECC_DBE_VOL_TOTAL", labels, ts, 0.0)
    yield sample("DCGM_FI_DEV_XID_ERRORS", labels, ts, 0.0)
    yield sample("opsboard_gpu_xid_errors_total", {**labels, "xid": "79"}, ts, float(i >= 150 and labels["gpu"] == "2"))


def _host_samples(node: dict[str, str], ts: int, i: int, totals: dict[str, float]) -> Iterator[Sample]:
    """Counters add each interval's share, so that they only go up."""
    wave = math.sin(i / 25)

    def add(key: str, by: float) -> float:
        totals[key] = totals.get(key, 0.0) + by
        return totals[key]

    shares = {"user": 0.45 + 0.2 * wave, "system": 0.08, "iowait": 0.02, "idle": 0.45 - 0.2 * wave}
    for cpu in range(4):
        for mode, share in shares.items():
            value = add(f"cpu{cpu}{mode}", 15 * share)
            yield sample("node_cpu_seconds_total", {**node, "cpu": str(cpu), "mode": mode}, ts, value)
    yield sample("node_memory_MemTotal_bytes", node, ts, 512 * 2**30)
    yield sample("node_memory_MemAvailable_bytes", node, ts, (300 + 60 * wave) * 2**30)
    for mount, free in (("/", 40 * 2**30), ("/data", 2.1 * 2**40)):
        yield sample("node_filesystem_avail_bytes", {**node, "mountpoint": mount}, ts, free - i * 2**24)
    received = add("rx", 15 * (80 + 30 * wave) * 2**20)
    yield sample("node_network_receive_bytes_total", {**node, "device": "eth0"}, ts, received)
    yield sample("node_network_transmit_bytes_total", {**node, "device": "eth0"}, ts, add("tx", 15 * 25 * 2**20))
    for name, level in (("node_load1", 6 + 2 * wave), ("node_load5", 6 + wave), ("node_load15", 6.0)):
        yield sample(name, node, ts, level)


def training_runs(project: str, now_ms: int) -> tuple[TrainingRun, TrainingRun]:
    """A run and a sibling of the same project, each with an hour of train_* figures."""
    run = TrainingRun.objects.create(name="resnet-lr3e-4", project=project)
    sibling = TrainingRun.objects.create(name="resnet-lr1e-3", project=project)
    write_all(_run_samples(str(run.uid), stamps(now_ms), lr=3e-4))
    write_all(_run_samples(str(sibling.uid), stamps(now_ms - 10 * 60_000, 50 * 60_000), lr=1e-3))
    rollups.roll_up(now_ms)
    return run, sibling


def _run_samples(run_id: str, times: list[int], lr: float) -> Iterator[Sample]:
    labels = {"run_id": run_id}
    speed = 1.0 if lr < 5e-4 else 1.6
    for i, ts in enumerate(times):
        step = i * 10
        progress = step / 2400
        yield sample("train_step", labels, ts, step)
        yield sample("train_loss", labels, ts, 2.3 * math.exp(-3 * speed * progress) + 0.15 + 0.03 * math.sin(i))
        yield sample("train_accuracy", labels, ts, 0.95 - 0.85 * math.exp(-3 * speed * progress))
        yield sample("train_lr", labels, ts, lr * 0.5 * (1 + math.cos(math.pi * min(progress, 1))))
        yield sample("train_grad_norm", labels, ts, 1.5 * math.exp(-2 * progress) + 0.3 + 0.1 * math.sin(i / 3))
        yield sample("train_step_time_s", labels, ts, 0.21 + 0.02 * math.sin(i / 5))
        yield sample("train_samples_per_s", labels, ts, 256 / (0.21 + 0.02 * math.sin(i / 5)))
        yield sample("train_gpu_max_memory_allocated_bytes", labels, ts, 31.5 * 2**30 + (i % 40) * 2**24)
