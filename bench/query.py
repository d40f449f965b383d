"""Query: ``query_range`` over 30 days of one 15-second series against the bare SQL that
reads the same rollup rows.

Prints ``query_api_ms``, ``query_bare_sql_ms``, ``query_ratio = api / bare SQL`` (goal <= 2),
``query_points`` and ``query_peak_memory_kb`` (tracemalloc's peak during the query).

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/test .venv/bin/python bench/query.py [--quick]
"""

from __future__ import annotations

import argparse
import statistics
import time
import tracemalloc

import _django

_django.setup()

from django.db import connection  # noqa: E402

from monitoring import rollups, store  # noqa: E402
from monitoring.models import Series  # noqa: E402
from monitoring.query import query_range  # noqa: E402
from monitoring.samples import Sample  # noqa: E402

CHART_PIXELS = 1200
DAY_MS = 86_400_000


def fill(days: int, now_ms: int) -> int:
    """15-second samples of one gauge for ``days`` days, then their rollups."""
    start = now_ms - days * DAY_MS
    count = days * DAY_MS // 15_000
    batch: list[Sample] = []
    for i in range(count):
        batch.append(Sample("bench_gpu_util", (("gpu", "0"),), start + i * 15_000, float(i % 97)))
        if len(batch) == 10_000:
            store.write(batch)
            batch = []
    store.write(batch)
    rollups.roll_up(now_ms)
    return count


def bare_sql(series_id: int, start: int, end: int) -> int:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT bucket, min, max, sum, count, last FROM monitoring_rollup "
            "WHERE series_id = %s AND resolution = 60 AND bucket >= %s AND bucket < %s ORDER BY bucket",
            [series_id, start, end],
        )
        return len(cursor.fetchall())


def timed(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return statistics.median(times) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="3 days instead of 30")
    args = parser.parse_args()
    days = 3 if args.quick else 30
    with _django.scratch_database():
        now = int(time.time() * 1000)
        started = time.perf_counter()
        samples = fill(days, now)
        fill_s = time.perf_counter() - started
        series_id = Series.objects.get(name="bench_gpu_util").id
        start, end = now - days * DAY_MS, now
        step = (end - start) // CHART_PIXELS

        def api() -> object:
            return query_range("bench_gpu_util", start, end, step, fn="max")

        result = api()
        rows = bare_sql(series_id, start - step, end)
        api_ms = timed(api, 15)
        sql_ms = timed(lambda: bare_sql(series_id, start - step, end), 15)
        tracemalloc.start()
        api()
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    _django.figure("query_days", days)
    _django.figure("query_samples", samples)
    _django.figure("query_fill_and_roll_up_s", fill_s, 1)
    _django.figure("query_source", result.source)
    _django.figure("query_rollup_rows", rows)
    _django.figure("query_points", int(result.series[0].ts.size))
    _django.figure("query_api_ms", api_ms, 2)
    _django.figure("query_bare_sql_ms", sql_ms, 2)
    _django.figure("query_ratio", api_ms / sql_ms)
    _django.figure("query_peak_memory_kb", peak / 1024, 0)


if __name__ == "__main__":
    main()
