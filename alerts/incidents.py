"""Incidents: opened when alerts fire, grouped by rule and group-by labels, escalated
along a copy of their policy, acknowledged and resolved by people or by their alerts.

Every change runs in one transaction with its timeline entry, its audit event and the
notifications it causes (written to the outbox, delivered after commit).
"""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta
from typing import Any

from django.db import connection, transaction
from django.utils import timezone

from alerts import live, paging, silences, templating
from alerts.models import AlertRule, AlertState, ExternalAlert, Incident, IncidentEvent, Silence
from alerts.policies import policy_for, policy_snapshot
from alerts.timeline import timeline
from opsboard.accounts.models import User
from opsboard.audit.services import Actor, record


def dedup_key(prefix: str, group_labels: dict[str, str]) -> str:
    digest = hashlib.blake2b(repr(sorted(group_labels.items())).encode(), digest_size=12).hexdigest()
    return f"{prefix}:{digest}"


def _lock(key: str) -> None:
    """Serialise openers of one dedup key (two webhooks of one Alertmanager group at once)."""
    if connection.vendor == "postgresql":
        number = int.from_bytes(hashlib.blake2b(key.encode(), digest_size=8).digest(), "big", signed=True)
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [number])


# --- Opening, attaching, reopening ------------------------------------------------------


def on_alert_firing(rule: AlertRule, alert: AlertState, value: float | None) -> Incident:
    """Called in the evaluation's transaction when an alert starts firing."""
    group = {name: alert.labels.get(name, "") for name in rule.group_by or []}
    summary = templating.render((rule.annotations or {}).get("summary", ""), alert.labels, value) or rule.name
    incident, event = _open_or_attach(
        key=dedup_key(f"rule:{rule.uid}", group),
        title=_title(rule.name, group),
        summary=summary,
        severity=rule.severity,
        source="rule",
        rule=rule,
        group=group,
        policy=policy_for(rule),
        auto_resolve=rule.auto_resolve,
        reopen_window_s=rule.reopen_window_s,
    )
    AlertState.objects.filter(pk=alert.pk).update(incident=incident)
    _page(incident, event)
    return incident


def on_external_firing(alert: ExternalAlert, group: dict[str, str], group_key: str, severity: str) -> Incident:
    """An Alertmanager alert firing: one incident per Alertmanager group (its receiver and
    group key), titled by the group's labels, like Opsboard's own."""
    name = alert.labels.get("alertname", "alert")
    source = hashlib.blake2b(group_key.encode(), digest_size=8).hexdigest()
    incident, event = _open_or_attach(
        key=dedup_key(f"alertmanager:{source}", group),
        title=_title(name, group),
        summary=alert.annotations.get("summary") or alert.annotations.get("description") or name,
        severity=severity,
        source="alertmanager",
        rule=None,
        group=group,
        policy=policy_for(None),
        auto_resolve=True,
        reopen_window_s=300,
    )
    ExternalAlert.objects.filter(pk=alert.pk).update(incident=incident)
    _page(incident, event)
    return incident


def _page(incident: Incident, event: str | None) -> None:
    """Start paging once the alert is attached (so that a silenced alert holds the page)."""
    if event is not None:
        paging.start_escalation(incident, timezone.now(), event=event)


def _title(name: str, group: dict[str, str]) -> str:
    labels = ", ".join(f"{k}={v}" for k, v in group.items() if v)
    return f"{name} ({labels})" if labels else name


def _open_or_attach(*, key: str, rule: AlertRule | None, **fields: Any) -> tuple[Incident, str | None]:
    """The open incident of ``key``, a recently resolved one reopened, or a new one; with
    the paging event to start (None when joining an open incident)."""
    _lock(key)
    current = Incident.objects.select_for_update().filter(dedup_key=key, status__in=Incident.OPEN).first()
    if current is not None:
        return current, None
    now = timezone.now()
    recent = (
        Incident.objects.select_for_update()
        .filter(
            dedup_key=key, status=Incident.RESOLVED, resolved_at__gte=now - timedelta(seconds=fields["reopen_window_s"])
        )
        .order_by("-resolved_at")
        .first()
    )
    if recent is not None:
        return _reopen(recent), "reopened"
    return _open(key, rule, now, **fields), "triggered"


def _open(key: str, rule: AlertRule | None, now: datetime, *, policy: Any, group: dict, **fields: Any) -> Incident:
    incident = Incident.objects.create(
        dedup_key=key,
        rule=rule,
        group_labels=group,
        policy=policy_snapshot(policy),
        opened_at=now,
        title=fields["title"][:300],
        summary=fields["summary"],
        severity=fields["severity"],
        source=fields["source"],
        auto_resolve=fields["auto_resolve"],
        reopen_window_s=fields["reopen_window_s"],
    )
    timeline(incident, "fired", text=incident.summary, labels=group)
    live.announce()
    record("incident.open", by=Actor.system("alerts"), obj=incident)
    return incident


def _reopen(incident: Incident) -> Incident:
    incident.status = Incident.TRIGGERED
    incident.resolved_at = None
    incident.acknowledged_at = None
    incident.acknowledged_by = None
    incident.reopened += 1
    incident.save(
        update_fields=["status", "resolved_at", "acknowledged_at", "acknowledged_by", "reopened", "updated_at"]
    )
    timeline(incident, "reopened", text="fired again soon after it was resolved")
    live.announce()
    record("incident.reopen", by=Actor.system("alerts"), obj=incident)
    return incident


# --- Alerts resolving --------------------------------------------------------------------


def on_alert_resolved(alert: AlertState) -> None:
    """Called in the evaluation's transaction when an alert resolves."""
    if alert.incident_id:
        _maybe_auto_resolve(alert.incident_id, f"alert {alert.labels.get('alertname', '')} resolved")


def on_external_resolved(alert: ExternalAlert) -> None:
    if alert.incident_id:
        _maybe_auto_resolve(alert.incident_id, "Alertmanager resolved the alert")


def _maybe_auto_resolve(incident_id: int, reason: str) -> None:
    incident = Incident.objects.select_for_update().get(pk=incident_id)
    if not incident.is_open or not incident.auto_resolve or _still_firing(incident):
        return
    _resolve(incident, Actor.system("alerts"), text=f"auto-resolved: {reason}")


def _still_firing(incident: Incident) -> bool:
    own = AlertState.objects.filter(incident=incident, state__in=[AlertState.FIRING, AlertState.PENDING]).exists()
    return own or ExternalAlert.objects.filter(incident=incident, status=ExternalAlert.FIRING).exists()


# --- People's actions --------------------------------------------------------------------


def acknowledge(incident: Incident, *, by: Actor, comment: str = "", via: str = "web") -> Incident:
    """Stop escalating; with an acknowledgement timeout, it returns to triggered unless resolved."""
    with transaction.atomic():
        incident = Incident.objects.select_for_update().get(pk=incident.pk)
        if incident.status != Incident.TRIGGERED:
            return incident
        now = timezone.now()
        incident.status = Incident.ACKNOWLEDGED
        incident.acknowledged_at, incident.acknowledged_by = now, by.user
        incident.next_escalation_at = None
        incident.ack_deadline = _after(now, incident.policy.get("ack_timeout_s"))
        incident.next_reminder_at = _after(now, incident.policy.get("reminder_every_s"))
        incident.save(
            update_fields=[
                "status",
                "acknowledged_at",
                "acknowledged_by",
                "next_escalation_at",
                "ack_deadline",
                "next_reminder_at",
                "updated_at",
            ]
        )
        timeline(incident, "acknowledged", by, comment, via=via)
        live.announce()
        record("incident.acknowledge", by=by, obj=incident, changes={"via": via, "comment": comment})
        paging.tell_paged(incident, "acknowledged", now, channels_only=True)
    return incident


def resolve(incident: Incident, *, by: Actor, comment: str = "", via: str = "web") -> Incident:
    with transaction.atomic():
        incident = Incident.objects.select_for_update().get(pk=incident.pk)
        if incident.is_open:
            _resolve(incident, by, text=comment, via=via)
    return incident


def _resolve(incident: Incident, by: Actor, text: str = "", via: str = "system") -> None:
    now = timezone.now()
    incident.status = Incident.RESOLVED
    incident.resolved_at = now
    incident.next_escalation_at = incident.ack_deadline = incident.next_reminder_at = None
    incident.save(
        update_fields=["status", "resolved_at", "next_escalation_at", "ack_deadline", "next_reminder_at", "updated_at"]
    )
    timeline(incident, "resolved", by, text, via=via)
    live.announce()
    record("incident.resolve", by=by, obj=incident, changes={"via": via, "comment": text})
    paging.tell_paged(incident, "resolved", now)
    for silence in Silence.objects.filter(incident=incident, expire_with_incident=True, expired_at=None):
        silences.expire_silence(silence, by=Actor.system("alerts"), reason=f"{incident.code} resolved")


def reassign(incident: Incident, user: User | None, *, by: Actor) -> Incident:
    with transaction.atomic():
        incident = Incident.objects.select_for_update().get(pk=incident.pk)
        before = incident.assignee.username if incident.assignee else None
        incident.assignee = user
        incident.save(update_fields=["assignee", "updated_at"])
        after = user.username if user else None
        timeline(incident, "assigned", by, f"assigned to {after or 'nobody'}")
        live.announce()
        record(
            "incident.reassign",
            by=by,
            obj=incident,
            changes={"before": {"assignee": before}, "after": {"assignee": after}},
        )
    return incident


def add_note(incident: Incident, text: str, *, by: Actor) -> IncidentEvent:
    with transaction.atomic():
        event = timeline(incident, "note", by, text)
        record("incident.note", by=by, obj=incident, changes={"after": {"note": text[:500]}})
    return event


def _after(now: datetime, seconds: int | None) -> datetime | None:
    return now + timedelta(seconds=seconds) if seconds else None
