"""Training runs, reported by the SDK. Their figures are ordinary series labelled with the run."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models


class TrainingRun(models.Model):
    RUNNING, FINISHED, FAILED, STALLED = "running", "finished", "failed", "stalled"
    STATUSES = [(RUNNING, "running"), (FINISHED, "finished"), (FAILED, "failed"), (STALLED, "stalled")]

    uid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    name = models.CharField(max_length=200)
    project = models.CharField(max_length=200, db_index=True)
    config = models.JSONField(default=dict, blank=True)
    status = models.CharField(max_length=10, choices=STATUSES, default=RUNNING, db_index=True)
    started_at = models.DateTimeField(auto_now_add=True)
    ended_at = models.DateTimeField(null=True, blank=True)
    last_step = models.BigIntegerField(null=True, blank=True)
    last_seen_at = models.DateTimeField(null=True, blank=True, help_text="When its newest sample arrived.")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT, related_name="+")

    class Meta:
        ordering = ["-started_at"]

    def __str__(self) -> str:
        return f"{self.project}/{self.name}"

    @property
    def active(self) -> bool:
        return self.status in (self.RUNNING, self.STALLED)
