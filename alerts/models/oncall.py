"""On-call schedules, escalation policies, notification channels and contact methods."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models

from opsboard.crypto import EncryptedJSONField

# Settings of a transport that are secrets: encrypted at rest, masked in the audit log, never
# shown back. A URL may carry its credentials (Slack's do); email addresses are not secret.
SECRET_CONFIG_KEYS = ("url", "secret", "webhook_url")


class Schedule(models.Model):
    uid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    name = models.CharField(max_length=100, unique=True)
    timezone = models.CharField(max_length=64, default="UTC")
    description = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class ScheduleLayer(models.Model):
    """One rotation; later layers cover earlier ones where their restrictions allow."""

    UNITS = [("days", "days"), ("hours", "hours")]

    schedule = models.ForeignKey(Schedule, on_delete=models.CASCADE, related_name="layers")
    position = models.PositiveIntegerField(default=0)
    participants = models.JSONField(default=list, help_text="User ids in order.")
    rotation = models.PositiveIntegerField(default=7)
    unit = models.CharField(max_length=5, choices=UNITS, default="days")
    handoff = models.CharField(max_length=5, default="09:00", help_text="Local time of the hand-off.")
    start = models.DateTimeField(help_text="When the first participant's first turn begins.")
    restrictions = models.JSONField(default=list, blank=True)

    class Meta:
        ordering = ["schedule_id", "position"]

    def __str__(self) -> str:
        return f"{self.schedule.name} layer {self.position}"


class ScheduleOverride(models.Model):
    uid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    schedule = models.ForeignKey(Schedule, on_delete=models.CASCADE, related_name="overrides")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    starts_at = models.DateTimeField()
    ends_at = models.DateTimeField()
    comment = models.CharField(max_length=200, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT, related_name="+")

    class Meta:
        ordering = ["starts_at"]

    def __str__(self) -> str:
        return f"{self.user} covers {self.schedule} from {self.starts_at:%Y-%m-%d %H:%M}"


class NotificationChannel(models.Model):
    """A shared destination: a team's Slack channel, a webhook, a mailing list."""

    uid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    name = models.CharField(max_length=100, unique=True)
    kind = models.CharField(max_length=20)
    config = EncryptedJSONField(
        default=dict,
        secret_keys=SECRET_CONFIG_KEYS,
        help_text="Settings of the kind; URLs and secrets are encrypted at rest and never shown back.",
    )
    enabled = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class ContactMethod(models.Model):
    """How one person is paged: an email address, a personal webhook or Slack URL."""

    uid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="contact_methods")
    kind = models.CharField(max_length=20)
    config = EncryptedJSONField(default=dict, secret_keys=SECRET_CONFIG_KEYS)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["user_id", "kind"]

    def __str__(self) -> str:
        return f"{self.user} by {self.kind}"


class EscalationPolicy(models.Model):
    uid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    name = models.CharField(max_length=100, unique=True)
    repeat = models.PositiveIntegerField(default=0, help_text="How many more times the steps run unacknowledged.")
    ack_timeout_s = models.PositiveIntegerField(
        null=True, blank=True, help_text="An acknowledged incident not resolved within this returns to triggered."
    )
    reminder_every_s = models.PositiveIntegerField(
        null=True, blank=True, help_text="Remind whoever acknowledged, this often, until it is resolved."
    )
    is_default = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(
                fields=["is_default"], condition=models.Q(is_default=True), name="one_default_policy"
            )
        ]

    def __str__(self) -> str:
        return self.name


class EscalationStep(models.Model):
    """Notify one target, then wait; exactly one of schedule, user and channel is set."""

    policy = models.ForeignKey(EscalationPolicy, on_delete=models.CASCADE, related_name="steps")
    position = models.PositiveIntegerField(default=0)
    wait_minutes = models.PositiveIntegerField(default=5, help_text="Before the next step, if unacknowledged.")
    schedule = models.ForeignKey(Schedule, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    channel = models.ForeignKey(NotificationChannel, null=True, blank=True, on_delete=models.PROTECT, related_name="+")

    class Meta:
        ordering = ["policy_id", "position"]

    def __str__(self) -> str:
        target = self.schedule or self.user or self.channel
        return f"step {self.position}: {target}, then {self.wait_minutes} min"
