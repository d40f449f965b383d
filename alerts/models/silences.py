"""Silences: matched alerts still change state and show as silenced; they are not notified."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models


class Silence(models.Model):
    uid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    matchers = models.TextField(help_text='Label matchers, e.g. model="llama", severity=~"warn.*"')
    starts_at = models.DateTimeField()
    ends_at = models.DateTimeField(null=True, blank=True, help_text="Open-ended only for recurring windows.")
    recurrence = models.JSONField(null=True, blank=True, help_text="A weekly maintenance window.")
    comment = models.TextField()
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    expired_at = models.DateTimeField(null=True, blank=True, help_text="Ended early by hand.")
    incident = models.ForeignKey(
        "alerts.Incident",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="silences",
        help_text="Created from this incident; ends when it resolves if expire_with_incident.",
    )
    expire_with_incident = models.BooleanField(default=False)

    class Meta:
        ordering = ["-starts_at"]

    def __str__(self) -> str:
        return f"silence {self.matchers}"
