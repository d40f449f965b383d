"""Alert rules and their version history. Changed only through ``alerts.rules``."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models

CONDITION_KINDS = ["threshold", "absent", "not_finite", "anomaly", "trend", "drift"]


class AlertRule(models.Model):
    CRITICAL, WARNING, INFO = "critical", "warning", "info"
    SEVERITIES = [(CRITICAL, "critical"), (WARNING, "warning"), (INFO, "info")]

    uid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    name = models.CharField(max_length=200, unique=True)
    description = models.TextField(blank=True)
    expression = models.TextField(help_text="A selector or an expression of the PromQL subset.")
    condition_kind = models.CharField(max_length=20, choices=[(k, k) for k in CONDITION_KINDS], default="threshold")
    condition = models.JSONField(default=dict, blank=True, help_text="Settings of the condition kind.")
    for_s = models.PositiveIntegerField(default=0, verbose_name="for (s)", help_text="How long it must hold first.")
    group_by = models.JSONField(default=list, blank=True, help_text="Labels that group alerts into one incident.")
    severity = models.CharField(max_length=10, choices=SEVERITIES, default=WARNING)
    labels = models.JSONField(default=dict, blank=True)
    annotations = models.JSONField(default=dict, blank=True)
    runbook_url = models.URLField(max_length=500, blank=True)
    inhibited_by = models.TextField(
        blank=True, help_text='Matchers of alerts that, while firing, suppress this one: {alertname="node down"}.'
    )
    inhibit_equal = models.JSONField(default=list, blank=True, help_text="Labels that must be equal for that.")
    enabled = models.BooleanField(default=True)
    policy = models.ForeignKey(
        "alerts.EscalationPolicy",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text="Who is paged; the default policy when empty.",
    )
    auto_resolve = models.BooleanField(default=True, help_text="Resolve the incident when all its alerts resolve.")
    reopen_window_s = models.PositiveIntegerField(
        default=300, help_text="An incident resolved less than this ago reopens when the alert fires again."
    )
    version = models.PositiveIntegerField(default=1)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    # The last evaluation (written by alerts.evaluation).
    last_eval_ms = models.BigIntegerField(null=True, blank=True, help_text="The time the last evaluation looked at.")
    last_eval_at = models.DateTimeField(null=True, blank=True)
    last_eval_duration_s = models.FloatField(null=True, blank=True)
    last_eval_error = models.TextField(blank=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class AlertRuleVersion(models.Model):
    """A rule's settings as they were after each change, for diffs and one-click reverts."""

    rule = models.ForeignKey(AlertRule, on_delete=models.CASCADE, related_name="versions")
    number = models.PositiveIntegerField()
    snapshot = models.JSONField()
    author = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT, related_name="+")
    author_name = models.CharField(max_length=150)
    comment = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-number"]
        constraints = [models.UniqueConstraint(fields=["rule", "number"], name="one_version_number_per_rule")]

    def __str__(self) -> str:
        return f"{self.rule.name} v{self.number}"
