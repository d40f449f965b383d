"""The write path: ``write(samples)`` is the only way samples enter the database.

One call is one transaction: series ids are resolved in bulk (an in-process cache, then
one upsert for the unknown ones), samples go in with COPY on PostgreSQL (into day
partitions, a missing one created first: ``monitoring.partitions``) or a bulk insert
on SQLite, duplicates of (series, timestamp) are ignored, and the minutes touched are
marked for the rollup task (which also moves each series' last value forward: updating
series rows here would cost every write a row lock per series and triple its time). After commit, the
callables named in ``settings.OPSBOARD_SERIES_SUBSCRIBERS`` receive one ``Touched``
announcement; the store imports none of them.
"""

from __future__ import annotations

import json
import logging
import math
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from functools import cache
from uuid import UUID

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.utils import timezone
from django.utils.module_loading import import_string

from monitoring import partitions
from monitoring.models import Series
from monitoring.samples import InvalidSample, Labels, Sample, check_series, series_hash

logger = logging.getLogger(__name__)

MINUTE_MS = 60_000
# Times a sample may have: the years 1 to 9999, which name the day partitions on PostgreSQL.
MIN_TS_MS = -62_135_596_800_000
MAX_TS_MS = 253_402_300_799_999
SeriesKey = tuple[str, Labels]


class CardinalityLimitExceeded(Exception):
    """A write would create more new series than the caller allows; nothing was written."""

    def __init__(self, new_series: int, allowed: int) -> None:
        super().__init__(f"{new_series} new series, but only {allowed} may be created now")
        self.new_series = new_series
        self.allowed = allowed


@dataclass(frozen=True)
class WriteResult:
    received: int
    written: int
    duplicates: int
    series_created: int


@dataclass
class Touched:
    """What one write received, for subscribers: the samples and their series ids.

    Repeated or already stored samples are included; subscribers that draw or evaluate
    points must tolerate a point they have seen (the live charts insert by timestamp).
    """

    series_ids: list[int]
    samples: list[Sample]
    target_uid: UUID | None = None

    def keys(self) -> dict[int, SeriesKey]:
        """Series id → (name, labels) of every series touched."""
        return {sid: (s.name, s.labels) for sid, s in zip(self.series_ids, self.samples, strict=True)}

    def points(self) -> dict[int, list[tuple[int, float]]]:
        """The points of each series touched, in time order."""
        grouped: dict[int, list[tuple[int, float]]] = {}
        for series_id, s in zip(self.series_ids, self.samples, strict=True):
            grouped.setdefault(series_id, []).append((s.ts_ms, s.value))
        for points in grouped.values():
            points.sort()
        return grouped


class _SeriesCache:
    """(name, labels) → series id for this process. Emptied hourly, so an entry never
    outlives the series it names (series are removed only after the longest retention)."""

    MAX_AGE_S = 3600
    MAX_ENTRIES = 500_000

    def __init__(self) -> None:
        self.ids: dict[SeriesKey, int] = {}
        self.born = time.monotonic()

    def fresh(self) -> dict[SeriesKey, int]:
        if time.monotonic() - self.born > self.MAX_AGE_S or len(self.ids) > self.MAX_ENTRIES:
            self.ids = {}
            self.born = time.monotonic()
        return self.ids


_cache = _SeriesCache()


def write(
    samples: Iterable[Sample], *, target_uid: UUID | None = None, max_new_series: int | None = None
) -> WriteResult:
    """Store ``samples`` in one transaction; returns once committed (or raises, storing nothing).

    Raises InvalidSample for a bad name, label or value, and CardinalityLimitExceeded when
    more than ``max_new_series`` series would be created.
    """
    batch = _checked_values(list(samples))
    if not batch:
        return WriteResult(0, 0, 0, 0)
    minutes = _minutes([s.ts_ms for s in batch])
    try:
        return _write(batch, minutes, target_uid, max_new_series)
    except _PartitionGone:
        # A day this process knew was dropped since (retention): the first attempt is rolled
        # back, so the partition is created again before anything is locked, as always.
        partitions.forget()
        return _write(batch, minutes, target_uid, max_new_series)


class _PartitionGone(Exception):
    pass


def _write(batch: list[Sample], minutes: list[int], target_uid: UUID | None, max_new_series: int | None) -> WriteResult:
    with transaction.atomic():
        # First: a partition created here is locked until commit, so nothing else may be held yet.
        partitions.ensure({partitions.day_of(minute) for minute in minutes})
        ids, created = _resolve_series(batch, target_uid, max_new_series)
        written = _INSERT[connection.vendor](ids, batch)
        _mark_dirty(minutes)
        subscribers = _subscribers()
        if subscribers:
            touched = Touched(ids, batch, target_uid)
            transaction.on_commit(lambda: _announce(subscribers, touched))
    return WriteResult(len(batch), written, len(batch) - written, created)


def _checked_values(batch: list[Sample]) -> list[Sample]:
    """The batch with every value a float; InvalidSample for anything that is not a number."""
    if all(type(s.value) is float for s in batch):
        return batch
    return [s if type(s.value) is float else _with_float_value(s) for s in batch]


def _with_float_value(s: Sample) -> Sample:
    if isinstance(s.value, int) and not isinstance(s.value, bool):
        return Sample(s.name, s.labels, s.ts_ms, float(s.value))
    raise InvalidSample(f"{s.name}: value {s.value!r} is not a number")


def _minutes(stamps: list[int]) -> list[int]:
    """The minutes the stamps fall in; every minute of the span when it is short (cheaper).
    InvalidSample for a time outside the years 1 to 9999."""
    first, last = min(stamps), max(stamps)
    if first < MIN_TS_MS or last > MAX_TS_MS:
        raise InvalidSample(f"timestamp {first if first < MIN_TS_MS else last} ms is outside the years 1 to 9999")
    first -= first % MINUTE_MS
    if last - first <= 60 * MINUTE_MS:
        return list(range(first, last + 1, MINUTE_MS))
    return sorted({ts - ts % MINUTE_MS for ts in stamps})


# --- Series ids ----------------------------------------------------------------------


def _resolve_series(
    batch: Sequence[Sample], target_uid: UUID | None, max_new_series: int | None
) -> tuple[list[int], int]:
    """The series id of every sample, creating missing series; (ids, how many were created).

    Ids found or created here enter the cache only once the transaction commits: a rolled
    back transaction must not leave ids of series that do not exist.
    """
    known = _cache.fresh()
    ids = [known.get((s.name, s.labels)) for s in batch]
    if None not in ids:
        return ids, 0
    missing = {(s.name, s.labels) for s, series_id in zip(batch, ids, strict=True) if series_id is None}
    found, created = _lookup_or_create(missing, target_uid, max_new_series)
    transaction.on_commit(lambda: known.update(found))
    return [known.get(key) or found[key] for key in ((s.name, s.labels) for s in batch)], created


def forget_cached_series() -> None:
    """Empty this process's series cache (after the tables were emptied, as tests do)."""
    _cache.ids = {}


def _lookup_or_create(
    keys: set[SeriesKey], target_uid: UUID | None, max_new_series: int | None
) -> tuple[dict[SeriesKey, int], int]:
    for name, labels in keys:
        check_series(name, labels)
    by_hash = {series_hash(name, labels): (name, labels) for name, labels in keys}
    found = _select_by_hash(list(by_hash))
    new_hashes = [h for h in by_hash if h not in found]
    if max_new_series is not None and len(new_hashes) > max_new_series:
        raise CardinalityLimitExceeded(len(new_hashes), max_new_series)
    if new_hashes:
        found.update(_insert_series([(h, *by_hash[h]) for h in new_hashes], target_uid))
        missed = [h for h in new_hashes if h not in found]  # created by a concurrent writer
        found.update(_select_by_hash(missed) if missed else {})
    return {by_hash[h]: series_id for h, series_id in found.items()}, len(new_hashes)


def _select_by_hash(hashes: list[str]) -> dict[str, int]:
    found: dict[str, int] = {}
    with connection.cursor() as cursor:
        for chunk in _chunks(hashes, 900):
            marks = ",".join(["%s"] * len(chunk))
            cursor.execute(f"SELECT hash, id FROM monitoring_series WHERE hash IN ({marks})", chunk)  # noqa: S608
            found.update(cursor.fetchall())
    return found


def _insert_series(new: list[tuple[str, str, Labels]], target_uid: UUID | None) -> dict[str, int]:
    found: dict[str, int] = {}
    target = Series._meta.get_field("target_uid").get_db_prep_value(target_uid, connection)
    created_at = Series._meta.get_field("created_at").get_db_prep_value(timezone.now(), connection)
    with connection.cursor() as cursor:
        for chunk in _chunks(new, 300):
            values = ",".join(["(%s, %s, %s, %s, %s)"] * len(chunk))
            params: list[object] = []
            for series_hash_, name, labels in chunk:
                params += [name, json.dumps(dict(labels)), series_hash_, target, created_at]
            cursor.execute(
                "INSERT INTO monitoring_series (name, labels, hash, target_uid, created_at) "  # noqa: S608
                f"VALUES {values} ON CONFLICT (hash) DO NOTHING RETURNING hash, id",
                params,
            )
            found.update(cursor.fetchall())
    return found


# --- Samples -------------------------------------------------------------------------


def _insert_postgresql(ids: list[int], batch: list[Sample]) -> int:
    """COPY straight into the table; on a duplicate, again through a scratch table that skips
    every repeated (series, timestamp), within the batch or already stored."""
    try:
        with transaction.atomic(), connection.cursor() as cursor:
            _copy(cursor, "monitoring_sample", ids, batch)
        return len(batch)
    except IntegrityError as exc:
        if partitions.missing(exc):
            raise _PartitionGone from exc
        return _insert_postgresql_skipping_duplicates(ids, batch)


def _insert_postgresql_skipping_duplicates(ids: list[int], batch: list[Sample]) -> int:
    with connection.cursor() as cursor:
        cursor.execute(
            "CREATE TEMP TABLE IF NOT EXISTS monitoring_sample_incoming "
            "(series_id bigint, ts bigint, value double precision) ON COMMIT DELETE ROWS"
        )
        cursor.execute("TRUNCATE monitoring_sample_incoming")
        _copy(cursor, "monitoring_sample_incoming", ids, batch)
        cursor.execute(
            "INSERT INTO monitoring_sample (series_id, ts, value) "
            "SELECT series_id, ts, value FROM monitoring_sample_incoming ON CONFLICT DO NOTHING"
        )
        return cursor.rowcount


def _copy(cursor: object, table: str, ids: list[int], batch: list[Sample]) -> None:
    raw = cursor.cursor  # psycopg's own cursor under Django's wrapper
    with (
        connection.wrap_database_errors,
        raw.copy(f"COPY {table} (series_id, ts, value) FROM STDIN (FORMAT BINARY)") as copy,
    ):
        copy.set_types(["int8", "int8", "float8"])
        for series_id, s in zip(ids, batch, strict=True):
            copy.write_row((series_id, s.ts_ms, s.value))


def _insert_sqlite(ids: list[int], batch: list[Sample]) -> int:
    """A bulk INSERT OR IGNORE; NaN goes in as NULL, which SQLite would make of it anyway."""
    with connection.cursor() as cursor:
        before = connection.connection.total_changes
        cursor.executemany(
            "INSERT OR IGNORE INTO monitoring_sample (series_id, ts, value) VALUES (%s, %s, %s)",
            [(sid, s.ts_ms, None if math.isnan(s.value) else s.value) for sid, s in zip(ids, batch, strict=True)],
        )
        return connection.connection.total_changes - before


_INSERT: dict[str, Callable[[list[int], list[Sample]], int]] = {
    "postgresql": _insert_postgresql,
    "sqlite": _insert_sqlite,
}


# --- Dirty minutes -------------------------------------------------------------------


def _mark_dirty(buckets: list[int]) -> None:
    with connection.cursor() as cursor:
        marks = ",".join(["(%s)"] * len(buckets))
        cursor.execute(
            f"INSERT INTO monitoring_rollupdirty (bucket) VALUES {marks} ON CONFLICT DO NOTHING",  # noqa: S608
            buckets,
        )


# --- Announcements -------------------------------------------------------------------


@cache
def _subscriber(path: str) -> Callable[[Touched], None]:
    return import_string(path)


def _subscribers() -> list[Callable[[Touched], None]]:
    return [_subscriber(path) for path in settings.OPSBOARD_SERIES_SUBSCRIBERS]


def _announce(subscribers: list[Callable[[Touched], None]], touched: Touched) -> None:
    for subscriber in subscribers:
        try:
            subscriber(touched)
        except Exception:  # a subscriber's failure must not fail the write that already committed
            logger.exception("series subscriber %s failed", getattr(subscriber, "__qualname__", subscriber))


def _chunks(items: list, size: int) -> Iterable[list]:
    for start in range(0, len(items), size):
        yield items[start : start + size]
