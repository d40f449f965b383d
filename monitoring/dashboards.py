"""The charts of the Model, Node and Run pages, written once against the normalised and
conventional metric names so that one page serves every server family and exporter.

A panel lists the metric names it needs; a panel whose names the target never produced is
shown as "not exported" instead of an empty chart. Panels become JSON for the page's
chart script (``static/js/charts.js``):

- a trace with ``selector`` (and ``fn`` raw) draws stored points and is extended live by
  the WebSocket's points;
- a trace with ``query`` draws an expression; on live updates of its ``watch`` selectors
  the page re-queries the newest steps;
- a trace with ``ratio`` divides two expressions point by point (the query language has
  no arithmetic), e.g. an average latency from ``_sum`` and ``_count``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from django.db.models import Q, QuerySet

from monitoring.llm import normalised as n
from monitoring.models import ModelEndpoint, Series, Target, TrainingRun
from monitoring.promql import Matcher, Selector

RATE = "5m"


def sel(metric: str, **labels: str) -> str:
    """A selector with exact-match labels, values escaped (target names come from users)."""
    return str(Selector(metric, tuple(Matcher(k, "=", v) for k, v in labels.items())))


def inner(selector: str) -> str:
    """The ``{…}`` part of a selector, to splice into expressions."""
    return selector[selector.index("{") :] if "{" in selector else ""


@dataclass
class Trace:
    name: str
    query: str = ""
    selector: str = ""
    fn: str = ""
    ratio: list[str] | None = None
    legend: str = ""
    watch: list[str] = field(default_factory=list)


@dataclass
class Panel:
    id: str
    title: str
    unit: str
    traces: list[Trace]
    needs: list[str]
    missing: str = ""

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def raw(name: str, metric: str, labels: dict[str, str], legend: str = "") -> Trace:
    selector = sel(metric, **labels)
    return Trace(name, selector=selector, fn="raw", legend=legend, watch=[selector])


def expr(name: str, query: str, watch: str, legend: str = "") -> Trace:
    return Trace(name, query=query, legend=legend, watch=[watch])


def quantiles(histogram: str, labels: dict[str, str], qs: tuple[float, ...] = (0.5, 0.95, 0.99)) -> list[Trace]:
    bucket = sel(f"{histogram}_bucket", **labels)
    return [
        expr(f"p{round(q * 100)}", f"histogram_quantile({q}, sum by (le) (rate({bucket}[{RATE}])))", bucket) for q in qs
    ]


def average(histogram: str, labels: dict[str, str]) -> Trace:
    total, count = sel(f"{histogram}_sum", **labels), sel(f"{histogram}_count", **labels)
    return Trace("average", ratio=[f"sum(rate({total}[{RATE}]))", f"sum(rate({count}[{RATE}]))"], watch=[count])


def latency_panel(panel_id: str, title: str, histogram: str, labels: dict[str, str], present: set[str]) -> Panel:
    """Quantiles where the server has buckets, else the average from _sum and _count."""
    if f"{histogram}_bucket" in present:
        return Panel(panel_id, title, "s", quantiles(histogram, labels), [f"{histogram}_bucket"])
    return Panel(panel_id, title, "s", [average(histogram, labels)], [f"{histogram}_sum"])


def rate_trace(name: str, metric: str, labels: dict[str, str]) -> Trace:
    selector = sel(metric, **labels)
    return expr(name, f"sum(rate({selector}[{RATE}]))", selector)


def model_panels(target: ModelEndpoint, present: set[str]) -> list[Panel]:
    labels = {"model": target.name}
    panels = [
        Panel("up", "Up", "", [raw("up", "up", labels), raw("probe", "probe_success", labels)], ["up", "probe_success"])
    ]
    if target.kind in ("openai", "http"):
        panels += _probe_panels(labels)
    elif target.kind == "torchscript":
        panels += _torch_panels(labels)
    else:
        panels += _serving_panels(labels, present)
    return _mark_missing(panels, present)


def _serving_panels(labels: dict[str, str], present: set[str]) -> list[Panel]:
    return [
        Panel(
            "requests",
            "Requests per second",
            "req/s",
            [rate_trace("answered", n.SUCCESS, labels), rate_trace("failed", n.FAILURE, labels)],
            [n.SUCCESS, n.FAILURE],
        ),
        latency_panel("latency", "End-to-end latency", n.E2E, labels, present),
        latency_panel("ttft", "Time to first token", n.TTFT, labels, present),
        latency_panel("tpot", "Time per output token", n.TPOT, labels, present),
        latency_panel("queue_time", "Queue time", n.QUEUE_TIME, labels, present),
        Panel(
            "queue",
            "Requests waiting and running",
            "",
            [raw("waiting", n.WAITING, labels), raw("running", n.RUNNING, labels)],
            [n.WAITING, n.RUNNING],
        ),
        Panel("kv_cache", "KV-cache usage", "ratio", [raw("used", n.KV_CACHE, labels)], [n.KV_CACHE]),
        Panel(
            "tokens",
            "Tokens per second",
            "tok/s",
            [rate_trace("prompt", n.PROMPT_TOKENS, labels), rate_trace("generated", n.GENERATION_TOKENS, labels)],
            [n.PROMPT_TOKENS, n.GENERATION_TOKENS],
        ),
    ]


def _probe_panels(labels: dict[str, str]) -> list[Panel]:
    return [
        Panel(
            "probe_latency",
            "Probe latency",
            "s",
            [
                raw("total", "probe_duration_seconds", labels),
                raw("first token", "probe_time_to_first_token_seconds", labels),
            ],
            ["probe_duration_seconds"],
        ),
        Panel(
            "probe_speed",
            "Output tokens per second",
            "tok/s",
            [raw("tokens/s", "probe_output_tokens_per_second", labels)],
            ["probe_output_tokens_per_second"],
        ),
        Panel(
            "probe_status",
            "HTTP status",
            "",
            [raw("status", "probe_http_status_code", labels)],
            ["probe_http_status_code"],
        ),
        Panel(
            "probe_value",
            "Value at the JSON path",
            "",
            [raw("value", "probe_json_value", labels)],
            ["probe_json_value"],
        ),
    ]


def _torch_panels(labels: dict[str, str]) -> list[Panel]:
    return [
        Panel(
            "model_latency",
            "Latency per batch",
            "s",
            [
                raw("p50", "model_latency_seconds", {**labels, "quantile": "0.5"}),
                raw("p95", "model_latency_seconds", {**labels, "quantile": "0.95"}),
            ],
            ["model_latency_seconds"],
        ),
        Panel(
            "throughput",
            "Throughput",
            "samples/s",
            [raw("samples/s", "model_throughput_samples_per_second", labels)],
            ["model_throughput_samples_per_second"],
        ),
        Panel(
            "entropy",
            "Output entropy",
            "nats",
            [raw("entropy", "model_output_entropy_nats", labels)],
            ["model_output_entropy_nats"],
        ),
        Panel(
            "memory",
            "Peak memory",
            "bytes",
            [raw("peak", "model_peak_memory_bytes", labels)],
            ["model_peak_memory_bytes"],
        ),
    ]


def node_panels(target: Target, present: set[str]) -> list[Panel]:
    labels = {"node": target.name}
    gpu = "GPU {gpu}"
    gauges = [
        ("gpu_util", "GPU utilisation", "%", "DCGM_FI_DEV_GPU_UTIL"),
        ("gpu_mem", "GPU memory used", "MiB", "DCGM_FI_DEV_FB_USED"),
        ("gpu_temp", "GPU temperature", "°C", "DCGM_FI_DEV_GPU_TEMP"),
        ("gpu_power", "GPU power", "W", "DCGM_FI_DEV_POWER_USAGE"),
        ("gpu_clock", "SM clock", "MHz", "DCGM_FI_DEV_SM_CLOCK"),
    ]
    panels = [
        Panel(pid, title, unit, [raw("gpu", metric, labels, gpu)], [metric]) for pid, title, unit, metric in gauges
    ]
    panels += [
        Panel(
            "ecc",
            "ECC errors (volatile)",
            "",
            [
                raw("single-bit", "DCGM_FI_DEV_ECC_SBE_VOL_TOTAL", labels, "single-bit GPU {gpu}"),
                raw("double-bit", "DCGM_FI_DEV_ECC_DBE_VOL_TOTAL", labels, "double-bit GPU {gpu}"),
            ],
            ["DCGM_FI_DEV_ECC_SBE_VOL_TOTAL", "DCGM_FI_DEV_ECC_DBE_VOL_TOTAL"],
        ),
        Panel(
            "xid",
            "XID errors",
            "events",
            [
                expr(
                    "xid",
                    f"sum by (gpu, xid) (increase({sel('opsboard_gpu_xid_errors_total', **labels)}[{RATE}]))",
                    sel("opsboard_gpu_xid_errors_total", **labels),
                    "GPU {gpu} XID {xid}",
                ),
                raw("last code", "DCGM_FI_DEV_XID_ERRORS", labels, "last XID GPU {gpu}"),
            ],
            ["opsboard_gpu_xid_errors_total", "DCGM_FI_DEV_XID_ERRORS"],
        ),
        *_host_panels(labels),
    ]
    return _mark_missing(panels, present)


def _host_panels(labels: dict[str, str]) -> list[Panel]:
    cpu = sel("node_cpu_seconds_total", **labels)
    busy = cpu[:-1] + ', mode!="idle"}'
    return [
        Panel(
            "cpu",
            "CPU busy by mode",
            "cores",
            [expr("cpu", f"sum by (mode) (rate({busy}[{RATE}]))", cpu, "{mode}")],
            ["node_cpu_seconds_total"],
        ),
        Panel(
            "memory",
            "Memory",
            "bytes",
            [
                raw("total", "node_memory_MemTotal_bytes", labels),
                raw("available", "node_memory_MemAvailable_bytes", labels),
            ],
            ["node_memory_MemAvailable_bytes"],
        ),
        Panel(
            "disk",
            "Filesystem space available",
            "bytes",
            [raw("available", "node_filesystem_avail_bytes", labels, "{mountpoint}")],
            ["node_filesystem_avail_bytes"],
        ),
        Panel(
            "network",
            "Network",
            "bytes/s",
            [
                expr(
                    "received",
                    f"sum by (device) (rate({sel('node_network_receive_bytes_total', **labels)}[{RATE}]))",
                    sel("node_network_receive_bytes_total", **labels),
                    "in {device}",
                ),
                expr(
                    "sent",
                    f"sum by (device) (rate({sel('node_network_transmit_bytes_total', **labels)}[{RATE}]))",
                    sel("node_network_transmit_bytes_total", **labels),
                    "out {device}",
                ),
            ],
            ["node_network_receive_bytes_total"],
        ),
        Panel(
            "load",
            "Load",
            "",
            [raw("1m", "node_load1", labels), raw("5m", "node_load5", labels), raw("15m", "node_load15", labels)],
            ["node_load1"],
        ),
    ]


RUN_METRICS = [
    ("train_loss", "Loss"),
    ("train_accuracy", "Accuracy"),
    ("train_lr", "Learning rate"),
    ("train_grad_norm", "Gradient norm"),
    ("train_step_time_s", "Step time"),
    ("train_samples_per_s", "Samples per second"),
    ("train_gpu_max_memory_allocated_bytes", "GPU memory"),
]


def run_panels(run: TrainingRun, present: set[str]) -> list[Panel]:
    """The standard training figures first, then whatever else the run logged."""
    labels = {"run_id": str(run.uid)}
    known = dict(RUN_METRICS)
    others = sorted(
        name for name in present if name.startswith("train_") and name not in known and name != "train_step"
    )
    metrics = [*RUN_METRICS, *((name, name.removeprefix("train_").replace("_", " ")) for name in others)]
    panels = [Panel(name, title, "", [raw(run.name, name, labels)], [name]) for name, title in metrics]
    return _mark_missing(panels, present)


def _mark_missing(panels: list[Panel], present: set[str]) -> list[Panel]:
    for panel in panels:
        if not present.intersection(panel.needs):
            panel.missing = "Not exported by this target."
    return panels


def series_of_target(target: Target) -> QuerySet[Series]:
    """The series the target produced: polled by it, or pushed with its model/node label."""
    own_label = Q(**{f"labels__{target.ROLE}__exact": target.name})
    return Series.objects.filter(Q(target_uid=target.uid) | own_label)


def names_for_target(target: Target) -> set[str]:
    return set(series_of_target(target).values_list("name", flat=True).distinct())


def names_for_run(run: TrainingRun) -> set[str]:
    return set(Series.objects.filter(labels__run_id=str(run.uid)).values_list("name", flat=True).distinct())
