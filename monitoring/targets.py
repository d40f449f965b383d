"""Changes to targets: validation shared by the form and the API, and the services that
create, change and delete targets, each audited in the same transaction."""

from __future__ import annotations

from typing import Any

from django.db import transaction

from monitoring.collectors import ConfigError
from monitoring.models import GpuNode, ModelEndpoint, Target
from monitoring.samples import LABEL_NAME
from opsboard.audit.masking import MASK
from opsboard.audit.services import Actor, diff, record, snapshot

TARGET_TYPES: dict[str, type[Target]] = {"models": ModelEndpoint, "nodes": GpuNode}
EDITABLE = [
    "name",
    "kind",
    "version",
    "url",
    "interval_s",
    "timeout_s",
    "labels",
    "headers",
    "config",
    "series_limit",
    "queue",
    "enabled",
]
RESERVED_LABELS = {"job", "instance", "model", "node", "__name__"}


def editable_fields(model: type[Target]) -> list[str]:
    names = {f.name for f in model._meta.get_fields()}
    return [name for name in EDITABLE if name in names]


def validate(model: type[Target], values: dict[str, Any]) -> dict[str, list[str]]:
    """Errors by field name for a target's settings (empty when all is well)."""
    errors: dict[str, list[str]] = {}

    def add(field: str, message: str) -> None:
        errors.setdefault(field, []).append(message)

    kind = values.get("kind")
    if kind not in model.COLLECTORS:
        add("kind", f"choose one of {', '.join(model.COLLECTORS)}")
        return errors
    url_problem = model.COLLECTORS[kind].check_url(values.get("url") or "")
    if url_problem:
        add("url", url_problem)
    if values.get("timeout_s") and values.get("interval_s") and values["timeout_s"] > values["interval_s"]:
        add("timeout_s", "must not be longer than the poll interval, or polls would overlap")
    _check_labels(values.get("labels") or {}, add)
    _check_headers(values.get("headers") or {}, add)
    try:
        model.COLLECTORS[kind].Config.from_dict(values.get("config") or {})
    except ConfigError as exc:
        add("config", str(exc))
    return errors


def _check_labels(labels: Any, add: Any) -> None:
    if not isinstance(labels, dict):
        add("labels", "must be a mapping of label names to values")
        return
    for name, value in labels.items():
        if not isinstance(name, str) or not LABEL_NAME.match(name) or name.startswith("__"):
            add("labels", f"{name!r} is not a valid label name")
        elif name in RESERVED_LABELS:
            add("labels", f"{name!r} is set by Opsboard from the target")
        elif not isinstance(value, str):
            add("labels", f"the value of {name!r} must be text")


def _check_headers(headers: Any, add: Any) -> None:
    if not isinstance(headers, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in headers.items()):
        add("headers", "must be a mapping of header names to text values")


def merge_headers(stored: dict[str, str], incoming: dict[str, str]) -> dict[str, str]:
    """Headers as submitted, where a masked value means "keep the stored one"."""
    return {name: stored.get(name, "") if value == MASK else value for name, value in incoming.items()}


def masked_headers(headers: dict[str, str]) -> dict[str, str]:
    return dict.fromkeys(headers, MASK)


def create_target(model: type[Target], values: dict[str, Any], *, by: Actor) -> Target:
    with transaction.atomic():
        target = model(**values)
        target.save(force_insert=True)
        record(f"{model._meta.model_name}.create", by=by, obj=target, changes=diff(None, _audited(target)))
    return target


def update_target(target: Target, values: dict[str, Any], *, by: Actor) -> Target:
    """Apply ``values`` (headers already merged); the next poll uses them."""
    model = type(target)
    with transaction.atomic():
        target = model.objects.select_for_update().get(pk=target.pk)
        before = _audited(target)
        for name, value in values.items():
            setattr(target, name, value)
        changed = [name for name in values if before.get(name) != _audited(target).get(name)]
        if changed:
            target.save(update_fields=[*changed, "updated_at"])
            record(f"{model._meta.model_name}.update", by=by, obj=target, changes=diff(before, _audited(target)))
    return target


def delete_target(target: Target, *, by: Actor) -> None:
    """Delete the target; its series stay, and age out with retention as Prometheus's do."""
    model = type(target)
    with transaction.atomic():
        target = model.objects.select_for_update().get(pk=target.pk)
        record(f"{model._meta.model_name}.delete", by=by, obj=target, changes=diff(_audited(target), None))
        target.delete()


def _audited(target: Target) -> dict[str, Any]:
    return snapshot(target, editable_fields(type(target)))
