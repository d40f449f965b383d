"""Raw samples partitioned by day on PostgreSQL; SQLite keeps one plain table.

``monitoring_sample`` is partitioned by range of ``ts`` into one table per UTC day
(``monitoring_sample_p20270115``). A day, not a week: raw samples are kept for
``RETENTION_RAW_DAYS`` (15 by default) and retention drops whole partitions, so a day
keeps at most one day more than asked (a week would keep up to seven), and 15 to 25
partitions cost the planner nothing.

Partitions are created ahead by a beat task (``create_ahead``) and, should a write reach
a day that has none (a backfill, a clock far off, beat down for a week), by the write
itself (``ensure``), so that no write fails for want of a partition. There is no DEFAULT
partition: rows landing there would block creating their day's partition later.

Creating takes ``CREATE TABLE`` then ``ATTACH PARTITION``, which locks the parent in SHARE
UPDATE EXCLUSIVE mode (readers and writers go on), never ``CREATE TABLE … PARTITION OF``,
which locks it in ACCESS EXCLUSIVE mode. Dropping a partition needs ACCESS EXCLUSIVE on
the parent for a moment: retention waits for it at most ``DROP_LOCK_TIMEOUT`` and
otherwise tries again on its next run.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from datetime import date, timedelta

from django.db import OperationalError, connection, transaction

logger = logging.getLogger(__name__)

PARENT = "monitoring_sample"
DAY_MS = 86_400_000
AHEAD_DAYS = 7
DROP_LOCK_TIMEOUT = "2s"
# Serialises the processes creating partitions; any constant distinct from the others works.
_LOCK_KEY = 0x0A0D19
_EPOCH = date(1970, 1, 1)
_BOUNDS = re.compile(r"^FOR VALUES FROM \('(-?\d+)'\) TO \('(-?\d+)'\)$")
_MISSING_PARTITION = "23514"  # check_violation: "no partition of relation … found for row"

# Days known to have a partition, in this process: only committed partitions enter, so a
# rolled-back creation leaves nothing behind. A day dropped meanwhile is found by the
# write that misses it (``missing``), which creates it again.
_known: set[int] = set()


def active() -> bool:
    return connection.vendor == "postgresql"


def day_of(ts_ms: int) -> int:
    """Days since 1970-01-01 (UTC) of a timestamp in ms; negative before."""
    return ts_ms // DAY_MS


def name_of(day: int) -> str:
    d = _EPOCH + timedelta(days=day)
    return f"{PARENT}_p{d.year:04d}{d.month:02d}{d.day:02d}"


def ensure(days: Iterable[int]) -> int:
    """Create the partitions of ``days`` that do not exist yet; returns how many were created.

    Call it before the transaction touches ``monitoring_sample`` or takes row locks: the
    creator holds an advisory lock until its transaction ends, and a writer waiting for it
    must not hold anything the creator may wait for.
    """
    if not active():
        return 0
    wanted = set(days) - _known
    if not wanted:
        return 0
    with transaction.atomic(), connection.cursor() as cursor:
        present = wanted & _existing_days(cursor)
        if present == wanted:
            _remember(present)
            return 0
        cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_LOCK_KEY])
        present = wanted & _existing_days(cursor)  # another process may have created some meanwhile
        for day in sorted(wanted - present):
            _create(cursor, day)
        _remember(wanted)
    return len(wanted - present)


def missing(exc: BaseException) -> bool:
    """Whether a failed write failed because a row's partition does not exist."""
    return getattr(exc.__cause__, "sqlstate", None) == _MISSING_PARTITION


def forget() -> None:
    _known.clear()


def create_ahead(now_ms: int, ahead_days: int = AHEAD_DAYS) -> int:
    """Partitions for today and the next ``ahead_days`` days; returns how many were created."""
    today = day_of(now_ms)
    return ensure(range(today, today + ahead_days + 1))


def drop_older_than(cutoff_ms: int) -> int:
    """Drop every day partition that ends at or before ``cutoff_ms``, oldest first, each in its
    own short transaction; returns how many were dropped. Stops at the first one whose lock
    is not granted within ``DROP_LOCK_TIMEOUT`` (the next run goes on)."""
    if not active():
        return 0
    with connection.cursor() as cursor:
        old = [(lo, name) for name, lo, hi in _partitions(cursor) if hi <= cutoff_ms]
    dropped = 0
    for _, name in sorted(old):
        try:
            with transaction.atomic(), connection.cursor() as cursor:
                cursor.execute(f"SET LOCAL lock_timeout = '{DROP_LOCK_TIMEOUT}'")
                cursor.execute(f'DROP TABLE IF EXISTS "{name}"')  # another worker may have dropped it
        except OperationalError as exc:  # the lock was not granted in time
            logger.warning("partition %s not dropped now: %s", name, exc)
            break
        dropped += 1
    forget()
    return dropped


def partitions() -> list[tuple[str, int, int]]:
    """(name, first ms, end ms) of every range partition of the samples, by time."""
    if not active():
        return []
    with connection.cursor() as cursor:
        return sorted(_partitions(cursor), key=lambda p: p[1])


def _partitions(cursor: object) -> list[tuple[str, int, int]]:
    cursor.execute(
        "SELECT c.relname, pg_get_expr(c.relpartbound, c.oid) FROM pg_inherits i "
        "JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = %s::regclass",
        [PARENT],
    )
    found = []
    for name, bound in cursor.fetchall():
        match = _BOUNDS.match(bound or "")
        if match:  # MINVALUE, MAXVALUE or DEFAULT partitions are none of ours
            found.append((name, int(match[1]), int(match[2])))
    return found


def _existing_days(cursor: object) -> set[int]:
    return {lo // DAY_MS for _, lo, hi in _partitions(cursor) if lo % DAY_MS == 0 and hi - lo == DAY_MS}


def _create(cursor: object, day: int) -> None:
    name = name_of(day)
    cursor.execute(f'CREATE TABLE "{name}" (LIKE {PARENT} INCLUDING DEFAULTS INCLUDING CONSTRAINTS)')
    lo, hi = int(day) * DAY_MS, (int(day) + 1) * DAY_MS
    cursor.execute(f'ALTER TABLE {PARENT} ATTACH PARTITION "{name}" FOR VALUES FROM ({lo}) TO ({hi})')
    logger.info("created partition %s", name)


def _remember(days: set[int]) -> None:
    transaction.on_commit(lambda: _known.update(days))
