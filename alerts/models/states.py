"""The state of each alert (a rule and one label set) and every change of it."""

from __future__ import annotations

from django.db import models

from alerts.models.rules import AlertRule


class AlertState(models.Model):
    INACTIVE, PENDING, FIRING, RESOLVED = "inactive", "pending", "firing", "resolved"
    STATES = [(INACTIVE, "inactive"), (PENDING, "pending"), (FIRING, "firing"), (RESOLVED, "resolved")]

    rule = models.ForeignKey(AlertRule, on_delete=models.CASCADE, related_name="states")
    labels = models.JSONField()
    labels_hash = models.CharField(max_length=32)
    state = models.CharField(max_length=10, choices=STATES, default=INACTIVE, db_index=True)
    active_since = models.DateTimeField(null=True, blank=True)
    fired_at = models.DateTimeField(null=True, blank=True)
    resolved_at = models.DateTimeField(null=True, blank=True)
    changed_at = models.DateTimeField()
    last_value = models.FloatField(null=True, blank=True)
    last_eval_at = models.DateTimeField(null=True, blank=True)
    silenced = models.BooleanField(default=False)
    inhibited = models.BooleanField(default=False)
    incident = models.ForeignKey(
        "alerts.Incident", null=True, blank=True, on_delete=models.SET_NULL, related_name="alerts"
    )

    class Meta:
        ordering = ["rule_id", "labels_hash"]
        constraints = [models.UniqueConstraint(fields=["rule", "labels_hash"], name="one_state_per_rule_and_labels")]

    def __str__(self) -> str:
        return f"{self.rule_id} {self.labels} {self.state}"


class AlertTransition(models.Model):
    """One change of an alert's state, with the value that caused it."""

    alert = models.ForeignKey(AlertState, on_delete=models.CASCADE, related_name="transitions")
    rule = models.ForeignKey(AlertRule, on_delete=models.CASCADE, related_name="+")
    from_state = models.CharField(max_length=10)
    to_state = models.CharField(max_length=10)
    at = models.DateTimeField(db_index=True)
    value = models.FloatField(null=True, blank=True)
    labels = models.JSONField()
    silenced = models.BooleanField(default=False)
    inhibited = models.BooleanField(default=False)

    class Meta:
        ordering = ["-at", "-id"]
        indexes = [models.Index(fields=["rule", "at"])]

    def __str__(self) -> str:
        return f"{self.from_state} → {self.to_state} at {self.at:%Y-%m-%d %H:%M:%S}"
