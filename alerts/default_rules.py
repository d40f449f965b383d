"""The default rule pack, installed once on first run and editable (or deletable) after."""

from __future__ import annotations

from typing import Any

from django.db import transaction

from alerts import rules
from opsboard.audit.models import AuditEvent
from opsboard.audit.services import Actor, record

INSTALLED_ACTION = "alertrule.default_pack"
_LLM = "opsboard_llm"


def _rule(name: str, expression: str, kind: str, condition: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {
        "name": name,
        "expression": expression,
        "condition_kind": kind,
        "condition": condition,
        "for_s": extra.pop("for_s", 0),
        "severity": extra.pop("severity", "warning"),
        "group_by": extra.pop("group_by", []),
        "annotations": extra.pop("annotations", {}),
        **extra,
    }


PACK: list[dict[str, Any]] = [
    _rule(
        "Target down",
        "up",
        "threshold",
        {"op": "==", "value": 0},
        for_s=60,
        severity="critical",
        group_by=["job", "instance"],
        annotations={"summary": "{{ labels.job }} at {{ labels.instance }} is down"},
    ),
    _rule(
        "Probe failing",
        "probe_success",
        "threshold",
        {"op": "==", "value": 0},
        for_s=60,
        severity="critical",
        group_by=["job"],
        annotations={"summary": "The {{ labels.probe }} probe of {{ labels.job }} fails"},
    ),
    _rule(
        "GPU temperature high",
        "avg_over_time(DCGM_FI_DEV_GPU_TEMP[2m])",
        "threshold",
        {"op": ">", "value": 85, "recovery": 80},
        for_s=300,
        group_by=["node", "gpu"],
        annotations={"summary": 'GPU {{ labels.gpu }} of {{ labels.node }} at {{ value | printf "%.0f" }} °C'},
    ),
    _rule(
        "GPU memory nearly full",
        "avg_over_time(DCGM_FI_DEV_FB_USED[2m]) / (avg_over_time(DCGM_FI_DEV_FB_USED[2m]) + "
        "avg_over_time(DCGM_FI_DEV_FB_FREE[2m]))",
        "threshold",
        {"op": ">", "value": 0.95},
        for_s=300,
        group_by=["node", "gpu"],
        annotations={"summary": 'GPU {{ labels.gpu }} of {{ labels.node }} memory {{ value | printf "%.2f" }} full'},
    ),
    _rule(
        "GPU XID error",
        "increase(opsboard_gpu_xid_errors_total[5m])",
        "threshold",
        {"op": ">", "value": 0},
        severity="critical",
        group_by=["node", "gpu", "xid"],
        annotations={"summary": "XID {{ labels.xid }} on GPU {{ labels.gpu }} of {{ labels.node }}"},
    ),
    _rule(
        "Model p95 latency high",
        f"histogram_quantile(0.95, sum by (model, le) (rate({_LLM}_e2e_request_latency_seconds_bucket[5m])))",
        "threshold",
        {"op": ">", "value": 2.0},
        for_s=300,
        group_by=["model"],
        annotations={"summary": 'p95 latency of {{ labels.model }} is {{ value | printf "%.2f" }} s'},
    ),
    _rule(
        "Model error ratio high",
        f"sum by (model) (rate({_LLM}_requests_failure_total[5m])) / (sum by (model) "
        f"(rate({_LLM}_requests_success_total[5m])) + sum by (model) (rate({_LLM}_requests_failure_total[5m])))",
        "threshold",
        {"op": ">", "value": 0.05},
        for_s=120,
        severity="critical",
        group_by=["model"],
        annotations={"summary": '{{ labels.model }} fails {{ value | printf "%.3f" }} of requests'},
    ),
    _rule(
        "Time to first token slow",
        f"histogram_quantile(0.95, sum by (model, le) (rate({_LLM}_time_to_first_token_seconds_bucket[5m])))",
        "threshold",
        {"op": ">", "value": 1.0},
        for_s=300,
        group_by=["model"],
        annotations={"summary": 'p95 time to first token of {{ labels.model }} is {{ value | printf "%.2f" }} s'},
    ),
    _rule(
        "Training loss not finite",
        "train_loss",
        "not_finite",
        {},
        severity="critical",
        group_by=["run_id"],
        annotations={"summary": "The loss of {{ labels.project }}/{{ labels.run }} is {{ value }}"},
    ),
    _rule(
        "Training run stalled",
        "opsboard_training_run_stalled",
        "threshold",
        {"op": "==", "value": 1},
        group_by=["run_id"],
        annotations={"summary": "{{ labels.project }}/{{ labels.run }} stopped reporting"},
    ),
    _rule(
        "GPU memory leak",
        "DCGM_FI_DEV_FB_USED",
        "trend",
        {"mode": "slope", "window_s": 1800, "rate": 0.5, "direction": "rising"},
        for_s=600,
        group_by=["node", "gpu"],
        annotations={
            "summary": 'GPU {{ labels.gpu }} of {{ labels.node }} memory grows {{ value | printf "%.2f" }} MiB/s'
        },
    ),
    _rule(
        "Host disk full within 24 h",
        "node_filesystem_avail_bytes",
        "trend",
        {"mode": "forecast", "window_s": 21600, "limit": 0, "horizon_s": 86400},
        for_s=1800,
        group_by=["node", "mountpoint"],
        annotations={"summary": "{{ labels.mountpoint }} on {{ labels.node }} fills within a day"},
    ),
    _rule(
        "Output entropy drift",
        "model_output_entropy_nats",
        "drift",
        {"method": "psi", "window_s": 3600, "reference": "previous_day", "threshold": 0.2},
        for_s=900,
        group_by=["model"],
        annotations={"summary": 'The output entropy of {{ labels.model }} drifted (PSI {{ value | printf "%.2f" }})'},
    ),
    _rule(
        "Burst of refused sign-ins or API tokens",
        'sum(increase(opsboard_security_events_total{kind=~"login_failed|lockout|token_refused"}[5m]))',
        "threshold",
        {"op": ">", "value": 20},
        annotations={
            "summary": '{{ value | printf "%.0f" }} failed sign-ins, lockouts and refused API tokens in 5 minutes'
        },
    ),
]


def install(by: Actor | None = None) -> int:
    """Create the pack unless it was installed before (even if its rules were deleted since)."""
    by = by or Actor.system("setup")
    with transaction.atomic():
        if AuditEvent.objects.filter(action=INSTALLED_ACTION).exists():
            return 0
        for values in PACK:
            rules.create_rule(values, by=by, comment="default rule pack")
        record(INSTALLED_ACTION, by=by, object_type="alertrule", object_repr=f"{len(PACK)} default rules")
    return len(PACK)
