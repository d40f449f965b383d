"""Rollups (1-minute and 1-hour aggregates) and retention of the time-series store.

The write path marks every minute that received samples (``RollupDirty``). ``roll_up()``
claims marked minutes whose end has passed, recomputes their 1-minute rollups from the
raw samples and the 1-hour rollups of their hours from the 1-minute ones, and moves each
series' last value forward, in one transaction. Claiming is a DELETE … RETURNING, so two
workers never claim one minute;
recomputing from the source makes a re-run harmless; and a sample arriving late marks
its minute again, so it is recomputed on the next run.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from django.conf import settings
from django.db import connection, transaction

from monitoring import partitions
from monitoring.fetch import in_list

MINUTE_MS = 60_000
HOUR_MS = 3_600_000
# A minute is rolled up this long after it ends, so that samples still in flight land first.
GRACE_MS = 10_000
MAX_MINUTES_PER_TRANSACTION = 60

_NOT_NAN = {"postgresql": "value <> 'NaN'::float8", "sqlite": "value IS NOT NULL"}

_UPSERT = """
    ON CONFLICT (series_id, resolution, bucket) DO UPDATE SET
        min = excluded.min, max = excluded.max, sum = excluded.sum, count = excluded.count, last = excluded.last
"""


def _minutes_sql(claimed: list[int]) -> tuple[str, list[object]]:
    """One statement for the 1-minute rollups of every claimed minute; (sql, params)."""
    not_nan = _NOT_NAN[connection.vendor]
    bucket_in, params = in_list("ts - ts % 60000", claimed)
    sql = f"""
        WITH agg AS (
            SELECT series_id, ts - ts % 60000 AS b,
                   MIN(value) FILTER (WHERE {not_nan}) AS mn, MAX(value) FILTER (WHERE {not_nan}) AS mx,
                   SUM(value) FILTER (WHERE {not_nan}) AS sm, COUNT(*) FILTER (WHERE {not_nan}) AS ct,
                   MAX(ts) AS lt
            FROM monitoring_sample WHERE ts >= %s AND ts < %s AND {bucket_in} GROUP BY series_id, b
        )
        INSERT INTO monitoring_rollup (series_id, resolution, bucket, min, max, sum, count, last)
        SELECT agg.series_id, 60, agg.b, agg.mn, agg.mx, agg.sm, agg.ct, s.value
        FROM agg JOIN monitoring_sample s ON s.series_id = agg.series_id AND s.ts = agg.lt AND s.ts >= %s AND s.ts < %s
        WHERE true {_UPSERT}
    """  # noqa: S608
    # The join repeats the time range so that the planner reads only the partitions it covers.
    lo, hi = claimed[0], claimed[-1] + MINUTE_MS
    return sql.replace("%", "%%").replace("%%s", "%s"), [lo, hi, *params, lo, hi]


_HOUR_SQL = f"""
    WITH agg AS (
        SELECT series_id, MIN(min) AS mn, MAX(max) AS mx, SUM(count) AS ct, MAX(bucket) AS lb,
               -- a minute whose sum was NaN (+Inf plus -Inf) reads as NULL on SQLite: keep it NaN
               CASE WHEN MAX(CASE WHEN sum IS NULL AND count > 0 THEN 1 ELSE 0 END) = 1 THEN NULL
                    ELSE SUM(sum) END AS sm
        FROM monitoring_rollup WHERE resolution = 60 AND bucket >= %s AND bucket < %s GROUP BY series_id
    )
    INSERT INTO monitoring_rollup (series_id, resolution, bucket, min, max, sum, count, last)
    SELECT agg.series_id, 3600, %s, agg.mn, agg.mx, agg.sm, agg.ct, r.last
    FROM agg JOIN monitoring_rollup r ON r.series_id = agg.series_id AND r.resolution = 60 AND r.bucket = agg.lb
    WHERE true {_UPSERT}
"""  # noqa: S608


_LAST_VALUE_SQL = """
    WITH latest AS (
        SELECT series_id, MAX(ts) AS lt FROM monitoring_sample WHERE ts >= %s AND ts < %s GROUP BY series_id
    )
    UPDATE monitoring_series SET last_ts = x.lt, last_value = x.value
    FROM (
        SELECT latest.series_id, latest.lt, s.value
        FROM latest JOIN monitoring_sample s
            ON s.series_id = latest.series_id AND s.ts = latest.lt AND s.ts >= %s AND s.ts < %s
    ) AS x
    WHERE monitoring_series.id = x.series_id AND (monitoring_series.last_ts IS NULL OR monitoring_series.last_ts < x.lt)
"""

# Any constant works: it only has to be the same for every process that rolls up.
_ROLL_UP_LOCK_KEY = 0x0A0D18


def now_ms() -> int:
    return int(time.time() * 1000)


def roll_up(now: int | None = None) -> int:
    """Recompute the rollups of every marked minute that has ended; returns how many minutes."""
    now = now_ms() if now is None else now
    total = 0
    while True:
        done = _roll_up_batch(now - GRACE_MS)
        total += done
        if done < MAX_MINUTES_PER_TRANSACTION:
            return total


def _roll_up_batch(horizon: int) -> int:
    with transaction.atomic(), connection.cursor() as cursor:
        if not _take_roll_up_lock(cursor):
            return 0  # another worker is rolling up right now; it will take these minutes
        cursor.execute(
            "DELETE FROM monitoring_rollupdirty WHERE bucket IN ("
            "SELECT bucket FROM monitoring_rollupdirty WHERE bucket + %s <= %s ORDER BY bucket LIMIT %s"
            ") RETURNING bucket",
            [MINUTE_MS, horizon, MAX_MINUTES_PER_TRANSACTION],
        )
        minutes = sorted(row[0] for row in cursor.fetchall())
        if not minutes:
            return 0
        cursor.execute(*_minutes_sql(minutes))
        cursor.execute(_LAST_VALUE_SQL, [minutes[0], minutes[-1] + MINUTE_MS] * 2)
        for hour in sorted({minute - minute % HOUR_MS for minute in minutes}):
            cursor.execute(_HOUR_SQL, [hour, hour + HOUR_MS, hour])
    return len(minutes)


def _take_roll_up_lock(cursor: object) -> bool:
    """One roller at a time on PostgreSQL (SQLite has one writer anyway)."""
    if connection.vendor != "postgresql":
        return True
    cursor.execute("SELECT pg_try_advisory_xact_lock(%s)", [_ROLL_UP_LOCK_KEY])
    return cursor.fetchone()[0]


# --- Retention -----------------------------------------------------------------------


@dataclass(frozen=True)
class RetentionResult:
    samples: int  # raw rows deleted (SQLite); PostgreSQL drops whole partitions instead
    minute_rollups: int
    hour_rollups: int
    series: int
    sample_partitions: int = 0


_BATCH_DELETE = {
    "postgresql": "DELETE FROM {table} WHERE ctid = ANY(ARRAY(SELECT ctid FROM {table} WHERE {where} LIMIT %s))",
    "sqlite": "DELETE FROM {table} WHERE rowid IN (SELECT rowid FROM {table} WHERE {where} LIMIT %s)",
}


def apply_retention(now: int | None = None, *, time_budget_s: float = 50.0) -> RetentionResult:
    """Delete what is older than each horizon, in bounded batches, each its own transaction,
    so that no lock is held for long. Stops after ``time_budget_s``; the next run goes on.

    Raw samples go a whole UTC day at a time, once the day has ended before the horizon:
    PostgreSQL drops the day's partition, SQLite deletes its rows. They are thus kept for
    ``RETENTION_RAW_S`` and up to one day more (queries never read past the horizon)."""
    now = now_ms() if now is None else now
    deadline = time.monotonic() + time_budget_s
    longest = max(settings.RETENTION_RAW_S, settings.RETENTION_1M_S, settings.RETENTION_1H_S) * 1000
    sample_partitions, samples = _expire_raw_days(now - settings.RETENTION_RAW_S * 1000, deadline)
    return RetentionResult(
        sample_partitions=sample_partitions,
        samples=samples,
        minute_rollups=_delete_batches(
            "monitoring_rollup", "resolution = 60 AND bucket < %s", now - settings.RETENTION_1M_S * 1000, deadline
        ),
        hour_rollups=_delete_batches(
            "monitoring_rollup", "resolution = 3600 AND bucket < %s", now - settings.RETENTION_1H_S * 1000, deadline
        ),
        series=_delete_batches("monitoring_series", "last_ts < %s", now - longest, deadline),
    )


def _expire_raw_days(cutoff: int, deadline: float) -> tuple[int, int]:
    """(partitions dropped, rows deleted): the raw samples of every UTC day ended by ``cutoff``."""
    if partitions.active():
        return partitions.drop_older_than(cutoff), 0
    return 0, _delete_batches("monitoring_sample", "ts < %s", cutoff - cutoff % partitions.DAY_MS, deadline)


def _delete_batches(table: str, where: str, cutoff: int, deadline: float) -> int:
    sql = _BATCH_DELETE[connection.vendor].format(table=table, where=where)
    batch = settings.RETENTION_BATCH_ROWS
    deleted = 0
    while time.monotonic() < deadline:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(sql, [cutoff, batch])
            count = cursor.rowcount
        deleted += count
        if count < batch:
            break
    return deleted
