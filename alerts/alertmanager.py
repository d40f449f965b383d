"""Alertmanager's webhook (payload version 4) as Opsboard alerts: each alert is kept by its
fingerprint, grouped into incidents by its group's labels, escalated and acknowledged like
Opsboard's own; a resolved alert resolves, and with it the incident once all have."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from django.db import transaction

from alerts import incidents
from alerts.models import ExternalAlert
from alerts.rulefiles import DEFAULT_SEVERITY, severity_from_label


class PayloadError(ValueError):
    """A payload that is not Alertmanager's webhook; the message names what is wrong."""


@dataclass(frozen=True)
class Received:
    firing: int
    resolved: int
    incidents: list[str]


def receive(payload: Any) -> Received:
    """Apply one webhook payload, all of it in one transaction."""
    body = _checked(payload)
    group = {str(k): str(v) for k, v in (body.get("groupLabels") or {}).items()}
    group_key = f"{body.get('receiver') or ''}\0{body.get('groupKey') or ''}"
    firing = resolved = 0
    opened: list[str] = []
    with transaction.atomic():
        for index, alert in enumerate(body["alerts"]):
            external = _upsert(_alert(alert, index))
            if external.status == ExternalAlert.FIRING:
                severity = severity_from_label(external.labels.get("severity", "")) or DEFAULT_SEVERITY
                incident = incidents.on_external_firing(
                    external, group or _fallback_group(external), group_key, severity
                )
                opened.append(str(incident.uid))
                firing += 1
            else:
                incidents.on_external_resolved(external)
                resolved += 1
    return Received(firing, resolved, sorted(set(opened)))


def _checked(payload: Any) -> dict[str, Any]:
    if not isinstance(payload, dict):
        raise PayloadError("the body must be a JSON object")
    if str(payload.get("version")) != "4":
        raise PayloadError(f"version {payload.get('version')!r}: only Alertmanager's webhook version 4 is understood")
    if not isinstance(payload.get("alerts"), list):
        raise PayloadError("alerts must be a list")
    return payload


def _alert(raw: Any, index: int) -> dict[str, Any]:
    where = f"alerts[{index}]"
    if not isinstance(raw, dict) or not isinstance(raw.get("labels"), dict):
        raise PayloadError(f"{where} must be an object with labels")
    status = raw.get("status")
    if status not in (ExternalAlert.FIRING, ExternalAlert.RESOLVED):
        raise PayloadError(f"{where}.status must be firing or resolved, not {status!r}")
    labels = {str(k): str(v) for k, v in raw["labels"].items()}
    return {
        "fingerprint": str(raw.get("fingerprint") or _fingerprint(labels)),
        "labels": labels,
        "annotations": {str(k): str(v) for k, v in (raw.get("annotations") or {}).items()},
        "status": status,
        "starts_at": _time(raw.get("startsAt"), f"{where}.startsAt") or datetime.now(UTC),
        "ends_at": _time(raw.get("endsAt"), f"{where}.endsAt") if status == ExternalAlert.RESOLVED else None,
        "generator_url": str(raw.get("generatorURL") or "")[:1000],
    }


def _time(raw: Any, where: str) -> datetime | None:
    if raw in (None, "", "0001-01-01T00:00:00Z"):
        return None
    try:
        return datetime.fromisoformat(str(raw).replace("Z", "+00:00"))
    except ValueError:
        raise PayloadError(f"{where}: {raw!r} is not an RFC 3339 time") from None


def _fingerprint(labels: dict[str, str]) -> str:
    return hashlib.sha256(repr(sorted(labels.items())).encode()).hexdigest()[:16]


def _fallback_group(alert: ExternalAlert) -> dict[str, str]:
    return {"alertname": alert.labels.get("alertname", "")}


def _upsert(values: dict[str, Any]) -> ExternalAlert:
    alert, _ = ExternalAlert.objects.select_for_update().get_or_create(
        fingerprint=values["fingerprint"], defaults=values
    )
    for name, value in values.items():
        setattr(alert, name, value)
    alert.save()
    return alert
