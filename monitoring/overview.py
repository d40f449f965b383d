"""The figures of the Overview: every model, every GPU node, the active training runs.

A bounded number of queries whatever the fleet's size: one query per figure for all
targets at once (grouped by the ``model`` or ``node`` label), never one per target.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

from monitoring.llm import normalised as n
from monitoring.models import GpuNode, ModelEndpoint, TrainingRun
from monitoring.query import query_range

SPARK_RANGE_MS = 3_600_000
SPARK_STEP_MS = 60_000


@dataclass
class ModelRow:
    target: ModelEndpoint
    request_rate: float | None = None
    error_ratio: float | None = None
    p95_latency_s: float | None = None
    spark: list[float] = field(default_factory=list)

    @property
    def sparkline(self) -> str:
        return sparkline_points(self.spark)


@dataclass
class GpuRow:
    gpu: str
    util: float | None = None
    memory_ratio: float | None = None
    temperature: float | None = None


@dataclass
class NodeRow:
    target: GpuNode
    gpus: list[GpuRow] = field(default_factory=list)


def _latest(query: str, now: int, by: tuple[str, ...]) -> dict[tuple[str, ...], float]:
    """The newest value of each series of ``query`` within the last five minutes, keyed by labels ``by``."""
    result = query_range(query, now, now, 1_000)
    return {tuple(s.labels.get(k, "") for k in by): float(s.values[-1]) for s in result.series if s.values.size}


def _per_model(query: str, now: int) -> dict[str, float]:
    return {key[0]: value for key, value in _latest(query, now, ("model",)).items()}


def model_rows(now_ms: int | None = None) -> list[ModelRow]:
    now = now_ms or int(time.time() * 1000)
    rows = {m.name: ModelRow(m) for m in ModelEndpoint.objects.all()}
    if not rows:
        return []
    ok = _per_model(f"sum by (model) (rate({n.SUCCESS}[5m]))", now)
    failed = _per_model(f"sum by (model) (rate({n.FAILURE}[5m]))", now)
    p95 = _per_model(f"histogram_quantile(0.95, sum by (model, le) (rate({n.E2E}_bucket[5m])))", now)
    probe = _per_model("max by (model) (last_over_time(probe_duration_seconds[5m]))", now)
    torch_p95 = _per_model('max by (model) (last_over_time(model_latency_seconds{quantile="0.95"}[5m]))', now)
    for name, row in rows.items():
        total = (ok.get(name) or 0.0) + (failed.get(name) or 0.0)
        row.request_rate = total if name in ok or name in failed else None
        row.error_ratio = (failed.get(name, 0.0) / total) if total > 0 else None
        row.p95_latency_s = p95.get(name, probe.get(name, torch_p95.get(name)))
    _sparklines(rows, now)
    return list(rows.values())


def _sparklines(rows: dict[str, ModelRow], now: int) -> None:
    """The last hour of each model's request rate, or of its probe latency when it has no traffic figures."""
    for query in (
        f"sum by (model) (rate({n.SUCCESS}[5m]))",
        "max by (model) (max_over_time(probe_duration_seconds[1m]))",
    ):
        result = query_range(query, now - SPARK_RANGE_MS, now, SPARK_STEP_MS)
        for series in result.series:
            row = rows.get(series.labels.get("model", ""))
            if row is not None and not row.spark:
                row.spark = [float(v) for v in series.values]


def node_rows(now_ms: int | None = None) -> list[NodeRow]:
    now = now_ms or int(time.time() * 1000)
    rows = {node.name: NodeRow(node) for node in GpuNode.objects.all()}
    if not rows:
        return []
    by = ("node", "gpu")
    util = _latest("max by (node, gpu) (last_over_time(DCGM_FI_DEV_GPU_UTIL[5m]))", now, by)
    used = _latest("max by (node, gpu) (last_over_time(DCGM_FI_DEV_FB_USED[5m]))", now, by)
    free = _latest("max by (node, gpu) (last_over_time(DCGM_FI_DEV_FB_FREE[5m]))", now, by)
    temp = _latest("max by (node, gpu) (last_over_time(DCGM_FI_DEV_GPU_TEMP[5m]))", now, by)
    for node, gpu in sorted(util.keys() | temp.keys(), key=lambda key: (key[0], _gpu_order(key[1]))):
        if node in rows:
            total = used.get((node, gpu), 0.0) + free.get((node, gpu), 0.0)
            ratio = used[(node, gpu)] / total if total > 0 and (node, gpu) in used else None
            rows[node].gpus.append(GpuRow(gpu, util.get((node, gpu)), ratio, temp.get((node, gpu))))
    return list(rows.values())


def _gpu_order(gpu: str) -> tuple[int, str]:
    return (int(gpu), "") if gpu.isdigit() else (1 << 30, gpu)


def active_runs() -> list[TrainingRun]:
    return list(TrainingRun.objects.filter(status__in=[TrainingRun.RUNNING, TrainingRun.STALLED])[:20])


def sparkline_points(values: list[float], width: float = 100.0, height: float = 24.0) -> str:
    """SVG polyline points for ``values`` scaled into the box; empty when nothing to draw."""
    finite = [v for v in values if math.isfinite(v)]
    if len(finite) < 2:
        return ""
    low, high = min(finite), max(finite)
    span = (high - low) or 1.0
    step = width / (len(values) - 1)
    points = [
        f"{i * step:.1f},{height - (v - low) / span * (height - 2) - 1:.1f}"
        for i, v in enumerate(values)
        if math.isfinite(v)
    ]
    return " ".join(points)
