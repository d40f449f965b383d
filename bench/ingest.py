"""Ingest: samples through ``store.write`` against the same rows by a bare psycopg COPY.

Prints ``ingest_store_samples_per_s``, ``ingest_copy_samples_per_s`` and
``ingest_ratio = store / bare COPY`` (goal >= 0.5 on PostgreSQL).

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/test .venv/bin/python bench/ingest.py [--quick]
"""

from __future__ import annotations

import argparse
import random
import time

import _django

_django.setup()

from django.db import connection, transaction  # noqa: E402

from monitoring import store  # noqa: E402
from monitoring.samples import Sample, make_labels, series_hash  # noqa: E402

START_MS = int(time.time() * 1000) - 3 * 86_400_000


def build_batches(samples: int, series: int, batch: int) -> list[list[Sample]]:
    labels = [make_labels({"instance": f"node-{j % 100}", "shard": str(j)}) for j in range(series)]
    rng = random.Random(7)
    out: list[list[Sample]] = []
    current: list[Sample] = []
    for n in range(samples):
        series_index, round_ = n % series, n // series
        current.append(Sample("bench_requests_total", labels[series_index], START_MS + round_ * 15_000, rng.random()))
        if len(current) == batch:
            out.append(current)
            current = []
    return out + ([current] if current else [])


def time_store(batches: list[list[Sample]]) -> float:
    started = time.perf_counter()
    for batch in batches:
        store.write(batch)
    return time.perf_counter() - started


def time_bare_copy(batches: list[list[Sample]]) -> float:
    """The same rows by COPY into an identical table, series ids already known."""
    with connection.cursor() as cursor:
        cursor.execute("CREATE TABLE bench_copy (LIKE monitoring_sample INCLUDING ALL)")
        cursor.execute("SELECT hash, id FROM monitoring_series")
        by_hash = dict(cursor.fetchall())
    ids = {key: by_hash[series_hash(*key)] for key in {(s.name, s.labels) for batch in batches for s in batch}}
    row_batches = [[(ids[(s.name, s.labels)], s.ts_ms, s.value) for s in batch] for batch in batches]
    started = time.perf_counter()
    for rows in row_batches:
        statement = "COPY bench_copy (series_id, ts, value) FROM STDIN (FORMAT BINARY)"
        with transaction.atomic(), connection.cursor() as cursor, cursor.cursor.copy(statement) as copy:
            copy.set_types(["int8", "int8", "float8"])
            for row in rows:
                copy.write_row(row)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="100,000 samples over 1,000 series")
    parser.add_argument("--batch", type=int, default=5000)
    args = parser.parse_args()
    samples, series = (100_000, 1_000) if args.quick else (1_000_000, 10_000)
    batches = build_batches(samples, series, args.batch)
    with _django.scratch_database():
        if connection.vendor != "postgresql":
            raise SystemExit("bench/ingest.py compares against COPY and needs DATABASE_URL=postgres://…")
        store_s = time_store(batches)
        copy_s = time_bare_copy(batches)
    _django.figure("ingest_samples", samples)
    _django.figure("ingest_store_samples_per_s", samples / store_s, 0)
    _django.figure("ingest_copy_samples_per_s", samples / copy_s, 0)
    _django.figure("ingest_ratio", copy_s / store_s)


if __name__ == "__main__":
    main()
