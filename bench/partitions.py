"""Partitions: ``store.write`` into the day-partitioned samples table against the same
writes into one plain table, and retention by dropping a day's partition against
deleting the same rows in batches, as retention did before partitions.

Both tables live in one scratch database with the same columns, primary key and BRIN
index; the plain one takes the name ``monitoring_sample`` while its runs are timed, so
both go through the whole write path. Runs alternate (plain, partitioned, partitioned,
plain, …) to cancel drift. Prints ``partition_ingest_ratio`` = partitioned samples/s ÷
plain samples/s (goal >= 0.9), ``retention_drop_ms``, ``retention_delete_ms`` and
``retention_vacuum_ms`` (the VACUUM that deleted rows cost afterwards; a dropped
partition leaves nothing to vacuum).

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/test .venv/bin/python bench/partitions.py [--quick]
"""

from __future__ import annotations

import argparse
import random
import time
from collections.abc import Iterator
from contextlib import contextmanager

import _django

_django.setup()

from django.db import connection  # noqa: E402

from monitoring import partitions, rollups, store  # noqa: E402
from monitoring.samples import Sample, make_labels  # noqa: E402

DAY_MS = partitions.DAY_MS
# One o'clock, three days ago (UTC): the whole workload (at most a few hours) lies in one day.
START_MS = int(time.time() * 1000) // DAY_MS * DAY_MS - 3 * DAY_MS + 3_600_000
PLAIN = "bench_sample_plain"
PARTITIONED = "bench_sample_partitioned"


def build_batches(samples: int, series: int, batch: int) -> list[list[Sample]]:
    """Every series once per 15 s round, in batches, as bench/ingest.py writes them."""
    labels = [make_labels({"instance": f"node-{j % 100}", "shard": str(j)}) for j in range(series)]
    rng = random.Random(7)
    rows = [
        Sample("bench_requests_total", labels[n % series], START_MS + (n // series) * 15_000, rng.random())
        for n in range(samples)
    ]
    return [rows[start : start + batch] for start in range(0, samples, batch)]


def sql(*statements: str) -> None:
    with connection.cursor() as cursor:
        for statement in statements:
            cursor.execute(statement)


def create_plain_table() -> None:
    """The table as it was before migration 0007: same columns, primary key and BRIN index."""
    sql(
        f"CREATE TABLE {PLAIN} (ts bigint NOT NULL, value double precision NULL, series_id bigint NOT NULL, "
        "PRIMARY KEY (series_id, ts))",
        f"CREATE INDEX {PLAIN}_ts_brin ON {PLAIN} USING brin (ts)",
    )


@contextmanager
def plain_as_monitoring_sample() -> Iterator[None]:
    """The plain table under the store's table name for a while."""
    sql(
        f"ALTER TABLE monitoring_sample RENAME TO {PARTITIONED}",
        f"ALTER TABLE {PLAIN} RENAME TO monitoring_sample",
    )
    try:
        yield
    finally:
        sql(
            f"ALTER TABLE monitoring_sample RENAME TO {PLAIN}",
            f"ALTER TABLE {PARTITIONED} RENAME TO monitoring_sample",
        )


def empty_tables() -> None:
    sql(f"TRUNCATE monitoring_sample, {PLAIN}, monitoring_rollupdirty")


def write_all(batches: list[list[Sample]]) -> float:
    started = time.perf_counter()
    for batch in batches:
        store.write(batch)
    return time.perf_counter() - started


def time_ingest(batches: list[list[Sample]], runs: int) -> tuple[float, float]:
    """Seconds (plain, partitioned) summed over ``runs`` runs of each, in the order P Q Q P …"""
    totals = {"plain": 0.0, "partitioned": 0.0}
    for index in range(2 * runs):
        kind = "plain" if index % 4 in (0, 3) else "partitioned"
        empty_tables()
        if kind == "plain":
            with plain_as_monitoring_sample():
                totals[kind] += write_all(batches)
        else:
            totals[kind] += write_all(batches)
    return totals["plain"], totals["partitioned"]


def time_retention(batches: list[list[Sample]]) -> tuple[float, float, float]:
    """Milliseconds (drop, delete, vacuum) to remove one day of samples from each table."""
    empty_tables()
    write_all(batches)
    with plain_as_monitoring_sample():
        write_all(batches)
    day_end = START_MS // DAY_MS * DAY_MS + DAY_MS
    started = time.perf_counter()
    dropped = partitions.drop_older_than(day_end)
    drop_ms = (time.perf_counter() - started) * 1000
    started = time.perf_counter()
    deleted = rollups._delete_batches(PLAIN, "ts < %s", day_end, deadline=time.monotonic() + 3600)
    delete_ms = (time.perf_counter() - started) * 1000
    started = time.perf_counter()
    sql(f"VACUUM {PLAIN}")
    vacuum_ms = (time.perf_counter() - started) * 1000
    assert dropped == 1 and deleted == sum(len(batch) for batch in batches), (dropped, deleted)
    return drop_ms, delete_ms, vacuum_ms


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="100,000 samples over 1,000 series, 2 runs of each")
    parser.add_argument("--batch", type=int, default=5000)
    args = parser.parse_args()
    samples, series, runs = (100_000, 1_000, 2) if args.quick else (1_000_000, 10_000, 4)
    batches = build_batches(samples, series, args.batch)
    with _django.scratch_database():
        if connection.vendor != "postgresql":
            raise SystemExit("bench/partitions.py compares PostgreSQL tables and needs DATABASE_URL=postgres://…")
        create_plain_table()
        write_all(batches)  # series created, the day's partition too: both sides start warm
        plain_s, partitioned_s = time_ingest(batches, runs)
        drop_ms, delete_ms, vacuum_ms = time_retention(batches)
    _django.figure("partition_samples", samples)
    _django.figure("partition_runs", runs)
    _django.figure("plain_samples_per_s", samples * runs / plain_s, 0)
    _django.figure("partitioned_samples_per_s", samples * runs / partitioned_s, 0)
    _django.figure("partition_ingest_ratio", plain_s / partitioned_s)
    _django.figure("retention_drop_ms", drop_ms, 1)
    _django.figure("retention_delete_ms", delete_ms, 1)
    _django.figure("retention_vacuum_ms", vacuum_ms, 1)


if __name__ == "__main__":
    main()
