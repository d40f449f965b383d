"""Incidents, their timelines, alerts from Alertmanager, and the notification outbox."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models

from alerts.models.oncall import SECRET_CONFIG_KEYS, NotificationChannel
from alerts.models.rules import AlertRule
from opsboard.crypto import EncryptedJSONField


class Incident(models.Model):
    TRIGGERED, ACKNOWLEDGED, RESOLVED = "triggered", "acknowledged", "resolved"
    STATUSES = [(TRIGGERED, "triggered"), (ACKNOWLEDGED, "acknowledged"), (RESOLVED, "resolved")]
    OPEN = (TRIGGERED, ACKNOWLEDGED)

    uid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    dedup_key = models.CharField(max_length=200, db_index=True)
    title = models.CharField(max_length=300)
    summary = models.TextField(blank=True)
    severity = models.CharField(max_length=10, choices=AlertRule.SEVERITIES, db_index=True)
    status = models.CharField(max_length=12, choices=STATUSES, default=TRIGGERED, db_index=True)
    source = models.CharField(max_length=20, default="rule")
    rule = models.ForeignKey(AlertRule, null=True, blank=True, on_delete=models.SET_NULL, related_name="incidents")
    group_labels = models.JSONField(default=dict)
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    policy = models.JSONField(default=dict, help_text="The escalation policy, copied when the incident opened.")
    opened_at = models.DateTimeField()
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    acknowledged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    resolved_at = models.DateTimeField(null=True, blank=True)
    escalation_step = models.IntegerField(default=0)
    escalation_round = models.IntegerField(default=0)
    next_escalation_at = models.DateTimeField(null=True, blank=True, db_index=True)
    ack_deadline = models.DateTimeField(null=True, blank=True, db_index=True)
    next_reminder_at = models.DateTimeField(null=True, blank=True, db_index=True)
    reopened = models.PositiveIntegerField(default=0)
    auto_resolve = models.BooleanField(default=True)
    reopen_window_s = models.PositiveIntegerField(default=300)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-opened_at"]
        indexes = [models.Index(fields=["dedup_key", "status"])]

    def __str__(self) -> str:
        return f"{self.code} {self.title}"

    @property
    def code(self) -> str:
        return f"INC-{self.pk}"

    @property
    def is_open(self) -> bool:
        return self.status in self.OPEN


class IncidentEvent(models.Model):
    """One line of an incident's timeline."""

    incident = models.ForeignKey(Incident, on_delete=models.CASCADE, related_name="events")
    at = models.DateTimeField()
    kind = models.CharField(max_length=30)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    actor_name = models.CharField(max_length=150)
    text = models.TextField(blank=True)
    data = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["at", "id"]

    def __str__(self) -> str:
        return f"{self.at:%H:%M:%S} {self.kind}"


class ExternalAlert(models.Model):
    """An alert received from Alertmanager, grouped into incidents like Opsboard's own."""

    FIRING, RESOLVED = "firing", "resolved"

    fingerprint = models.CharField(max_length=64, unique=True)
    source = models.CharField(max_length=20, default="alertmanager")
    labels = models.JSONField()
    annotations = models.JSONField(default=dict)
    status = models.CharField(max_length=10, default=FIRING)
    starts_at = models.DateTimeField()
    ends_at = models.DateTimeField(null=True, blank=True)
    generator_url = models.URLField(max_length=1000, blank=True)
    incident = models.ForeignKey(
        Incident, null=True, blank=True, on_delete=models.SET_NULL, related_name="external_alerts"
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-starts_at"]

    def __str__(self) -> str:
        return f"{self.labels.get('alertname', '?')} {self.status}"


class Notification(models.Model):
    """The outbox: one message to one recipient by one transport, written in the same
    transaction as the change that causes it and delivered by a task, retried until it
    lands. ``key`` makes each (incident, event, round, step, recipient, channel) unique."""

    PENDING, SENDING, DELIVERED, FAILED, CANCELLED = "pending", "sending", "delivered", "failed", "cancelled"
    STATUSES = [
        (PENDING, "pending"),
        (SENDING, "sending"),
        (DELIVERED, "delivered"),
        (FAILED, "failed"),
        (CANCELLED, "cancelled"),
    ]

    uid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    key = models.CharField(max_length=300, unique=True)
    incident = models.ForeignKey(Incident, on_delete=models.CASCADE, related_name="notifications")
    event = models.CharField(max_length=20)
    kind = models.CharField(max_length=20, help_text="The transport.")
    recipient_name = models.CharField(max_length=150)
    recipient_user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    channel = models.ForeignKey(NotificationChannel, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    config = EncryptedJSONField(
        secret_keys=SECRET_CONFIG_KEYS, help_text="The transport's settings at the time of the page."
    )
    queue = models.CharField(max_length=30)
    status = models.CharField(max_length=10, choices=STATUSES, default=PENDING, db_index=True)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(db_index=True)
    lease_until = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    created_at = models.DateTimeField()
    delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.event} to {self.recipient_name} by {self.kind}: {self.status}"


class NotificationAttempt(models.Model):
    notification = models.ForeignKey(Notification, on_delete=models.CASCADE, related_name="attempt_log")
    at = models.DateTimeField()
    ok = models.BooleanField()
    status = models.IntegerField(null=True, blank=True)
    error = models.TextField(blank=True)
    duration_s = models.FloatField()

    class Meta:
        ordering = ["at", "id"]

    def __str__(self) -> str:
        return f"{'ok' if self.ok else 'failed'} at {self.at:%H:%M:%S}"


class UsedLink(models.Model):
    """A one-click link that has been used: each works once."""

    digest = models.CharField(max_length=64, unique=True)
    used_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return self.digest[:12]


class ReceivedNotification(models.Model):
    """What Opsboard's own webhook receiver got: lets a new installation see a page arrive
    without configuring mail or Slack (the demo's channel points at it)."""

    channel = models.ForeignKey(NotificationChannel, null=True, on_delete=models.SET_NULL, related_name="+")
    received_at = models.DateTimeField(auto_now_add=True)
    event = models.CharField(max_length=20, blank=True)
    delivery_id = models.CharField(max_length=64, blank=True)
    signature_ok = models.BooleanField()
    payload = models.JSONField()

    class Meta:
        ordering = ["-received_at"]

    def __str__(self) -> str:
        return f"{self.event} at {self.received_at:%H:%M:%S}"
