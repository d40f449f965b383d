"""The time-series store's tables. Written only by ``monitoring.store`` and ``monitoring.rollups``.

Timestamps are integer milliseconds since the Unix epoch, as in Prometheus. A NULL value
reads as NaN: SQLite cannot hold NaN and stores NULL in its place.
"""

from __future__ import annotations

from datetime import UTC, datetime

from django.db import models


class Series(models.Model):
    """One metric name with one set of labels."""

    name = models.CharField(max_length=200, db_index=True)
    labels = models.JSONField(default=dict)
    hash = models.CharField(max_length=32, unique=True, help_text="BLAKE2b of the name and sorted labels.")
    target_uid = models.UUIDField(null=True, blank=True, db_index=True, help_text="The target it came from, if any.")
    created_at = models.DateTimeField(auto_now_add=True)
    # Moved forward by the rollup task each minute, not by every write.
    last_ts = models.BigIntegerField(null=True, help_text="Time of the newest rolled-up sample, ms.")
    last_value = models.FloatField(null=True)

    class Meta:
        verbose_name_plural = "series"

    def __str__(self) -> str:
        inner = ", ".join(f'{k}="{v}"' for k, v in sorted(self.labels.items()))
        return f"{self.name}{{{inner}}}"

    @property
    def last_seen(self) -> datetime | None:
        return None if self.last_ts is None else datetime.fromtimestamp(self.last_ts / 1000, tz=UTC)


class Sample(models.Model):
    """One raw sample. No foreign-key constraint: it would cost every insert a lookup, and
    series rows outlive their samples (they are removed only after the longest retention)."""

    pk = models.CompositePrimaryKey("series_id", "ts")
    series = models.ForeignKey(
        Series, on_delete=models.DO_NOTHING, db_constraint=False, db_index=False, related_name="+"
    )
    ts = models.BigIntegerField()
    value = models.FloatField(null=True)

    def __str__(self) -> str:
        return f"{self.series_id}@{self.ts}={self.value}"


class Rollup(models.Model):
    """Aggregates of one series over one bucket of 60 s or 3600 s; NaN samples are left out."""

    MINUTE = 60
    HOUR = 3600

    pk = models.CompositePrimaryKey("series_id", "resolution", "bucket")
    series = models.ForeignKey(
        Series, on_delete=models.DO_NOTHING, db_constraint=False, db_index=False, related_name="+"
    )
    resolution = models.PositiveIntegerField(choices=[(MINUTE, "1 minute"), (HOUR, "1 hour")])
    bucket = models.BigIntegerField(help_text="Start of the bucket, ms.")
    min = models.FloatField(null=True)
    max = models.FloatField(null=True)
    sum = models.FloatField(null=True)
    count = models.IntegerField()
    last = models.FloatField(null=True)

    def __str__(self) -> str:
        return f"{self.series_id}@{self.bucket}/{self.resolution}s"


class RollupDirty(models.Model):
    """A minute that received samples and whose rollups must be (re)computed.

    Written in the same transaction as the samples, so no minute is ever forgotten.
    """

    bucket = models.BigIntegerField(primary_key=True)

    def __str__(self) -> str:
        return str(self.bucket)
