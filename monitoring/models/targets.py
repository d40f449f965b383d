"""Targets: model endpoints and GPU nodes, each polled by the collector of its kind.

Changes go through ``monitoring.targets`` (services, audited); the poll columns are
written only by ``monitoring.polling``.
"""

from __future__ import annotations

import uuid
from typing import Any, ClassVar

from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models

from monitoring.collectors import MODEL_COLLECTORS, NODE_COLLECTORS, Collector, ConfigError, TargetSpec
from opsboard import crypto
from opsboard.crypto import EncryptedJSONField


class Target(models.Model):
    """Fields every kind of target has; the kind-specific settings live in ``config``."""

    COLLECTORS: ClassVar[dict[str, type[Collector]]] = {}
    ROLE: ClassVar[str] = ""

    uid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    name = models.CharField(max_length=100, unique=True, help_text="Also the value of the job label.")
    url = models.CharField(max_length=2000, blank=True, verbose_name="URL")
    interval_s = models.PositiveIntegerField(
        default=15, validators=[MinValueValidator(1), MaxValueValidator(3600)], verbose_name="poll interval (s)"
    )
    timeout_s = models.FloatField(
        default=10.0, validators=[MinValueValidator(0.1), MaxValueValidator(600)], verbose_name="timeout (s)"
    )
    labels = models.JSONField(default=dict, blank=True, help_text="Extra labels added to every series.")
    headers = EncryptedJSONField(
        default=dict, blank=True, help_text="Request headers; their values are secrets, encrypted at rest."
    )
    config = models.JSONField(default=dict, blank=True, help_text="Settings of the kind.")
    series_limit = models.PositiveIntegerField(default=10_000, validators=[MinValueValidator(1)])
    queue = models.CharField(max_length=50, default="polls", help_text="The Celery queue its polls go to.")
    enabled = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    # Scheduling and the outcome of the last poll (written by monitoring.polling).
    next_poll_at = models.DateTimeField(null=True, blank=True, db_index=True)
    polling_slot = models.BigIntegerField(null=True, blank=True)
    polling_since = models.DateTimeField(null=True, blank=True)
    last_slot_done = models.BigIntegerField(null=True, blank=True)
    last_poll_at = models.DateTimeField(null=True, blank=True)
    last_duration_s = models.FloatField(null=True, blank=True)
    last_sample_count = models.IntegerField(null=True, blank=True)
    last_up = models.BooleanField(null=True, blank=True)
    last_error = models.TextField(blank=True)

    class Meta:
        abstract = True
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    @property
    def collector(self) -> Collector:
        return self.COLLECTORS[self.kind]()

    def spec(self) -> TargetSpec:
        """The plain values the collector needs, detached from the database."""
        collector = self.COLLECTORS[self.kind]
        unreadable = crypto.unreadable_keys(self.headers)
        if unreadable:
            raise ConfigError("headers", f"{', '.join(unreadable)} {crypto.UNREADABLE} (OPSBOARD_ENCRYPTION_KEYS)")
        return TargetSpec(
            uid=str(self.uid),
            name=self.name,
            kind=self.kind,
            role=self.ROLE,
            url=self.url,
            timeout_s=self.timeout_s,
            labels=dict(self.labels),
            headers=dict(self.headers),
            config=collector.Config.from_dict(self.config),
            series_limit=self.series_limit,
            version=getattr(self, "version", ""),
        )

    @property
    def state(self) -> str:
        """up, down, paused or pending, for display."""
        if not self.enabled:
            return "paused"
        if self.last_up is None:
            return "pending"
        return "up" if self.last_up else "down"

    def summary(self) -> dict[str, Any]:
        return {"name": self.name, "kind": self.kind, "url": self.url, "enabled": self.enabled}


class ModelEndpoint(Target):
    """A model server: scraped for its metrics, or probed with requests."""

    COLLECTORS = MODEL_COLLECTORS
    ROLE = "model"

    kind = models.CharField(max_length=20, choices=[(kind, kind) for kind in MODEL_COLLECTORS], default="prometheus")
    version = models.CharField(max_length=100, blank=True, help_text="Added as the version label when set.")

    class Meta(Target.Meta):
        verbose_name = "model endpoint"


class GpuNode(Target):
    """A GPU machine: our agent, dcgm-exporter or node_exporter scraped, or the worker itself."""

    COLLECTORS = NODE_COLLECTORS
    ROLE = "node"

    kind = models.CharField(max_length=20, choices=[(kind, kind) for kind in NODE_COLLECTORS], default="agent")

    class Meta(Target.Meta):
        verbose_name = "GPU node"
