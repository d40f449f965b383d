"""Raw samples partitioned by day: writes land in their day's partition (created when
missing, by one writer of several), duplicates are still skipped, queries and rollups
across midnight answer as on one plain table, retention drops whole days, and the
migration moves rows into partitions and back."""

from __future__ import annotations

import threading
import time

import pytest
from django.db import connection, connections
from django.db.migrations.executor import MigrationExecutor

from monitoring import partitions, rollups, store
from monitoring.models import Rollup, Sample
from monitoring.query import query_range
from monitoring.samples import InvalidSample, sample

DAY = 86_400_000
NOW = int(time.time() * 1000)
# The last midnight (UTC) at least two hours ago: an hour either side of it lies in the past.
MIDNIGHT = (NOW - 2 * 3_600_000) - (NOW - 2 * 3_600_000) % DAY
FAR_DAY = 25_000  # 2038-06-13: no other test writes there
MIGRATION = ("monitoring", "0007_partition_samples")


@pytest.fixture
def postgresql() -> None:
    if connection.vendor != "postgresql":
        pytest.skip("samples are partitioned on PostgreSQL only; SQLite keeps one table")


def rows_by_partition() -> dict[str, int]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT tableoid::regclass::text, count(*) FROM monitoring_sample GROUP BY 1")
        return dict(cursor.fetchall())


def partition_names() -> set[str]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
            "WHERE i.inhparent = 'monitoring_sample'::regclass"
        )
        return {row[0] for row in cursor.fetchall()}


def around_midnight(name: str, step_ms: int = 15_000, *, hours: int = 1) -> list:
    """A gauge counting up by 1 (and a counter by 3) each step, from an hour before midnight to an hour after."""
    count = 2 * hours * 3_600_000 // step_ms
    start = MIDNIGHT - hours * 3_600_000
    return [sample(name, {"job": "api"}, start + i * step_ms, float(i)) for i in range(count)] + [
        sample(f"{name}_total", {"job": "api"}, start + i * step_ms, 3.0 * i) for i in range(count)
    ]


# --- Writes ------------------------------------------------------------------------------


def test_writes_land_in_their_days_partition(db, postgresql) -> None:
    store.write(around_midnight("g"))
    before, after = partitions.name_of(partitions.day_of(MIDNIGHT) - 1), partitions.name_of(partitions.day_of(MIDNIGHT))
    assert {before, after} <= partition_names()
    assert rows_by_partition() == {before: 2 * 240, after: 2 * 240}
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT min(ts), max(ts) FROM {after}")  # noqa: S608
        assert cursor.fetchone() == (MIDNIGHT, MIDNIGHT + 3_600_000 - 15_000)


def test_a_write_to_a_day_without_a_partition_creates_it(db, postgresql) -> None:
    name = partitions.name_of(FAR_DAY)
    assert name == "monitoring_sample_p20380613"
    assert name not in partition_names()
    result = store.write([sample("far", {}, FAR_DAY * DAY + 5, 1.0), sample("far", {}, FAR_DAY * DAY + DAY - 1, 2.0)])
    assert result.written == 2
    assert rows_by_partition() == {name: 2}
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT pg_get_expr(relpartbound, oid) FROM pg_class WHERE relname = '{name}'")  # noqa: S608
        assert cursor.fetchone()[0] == f"FOR VALUES FROM ('{FAR_DAY * DAY}') TO ('{(FAR_DAY + 1) * DAY}')"


def test_a_day_dropped_behind_this_process_is_created_again(db, postgresql, monkeypatch) -> None:
    # This process believes the day has a partition (retention dropped it in another worker).
    monkeypatch.setattr(partitions, "_known", {FAR_DAY + 1})
    assert partitions.name_of(FAR_DAY + 1) not in partition_names()
    assert store.write([sample("late", {}, (FAR_DAY + 1) * DAY, 1.0)]).written == 1
    assert rows_by_partition() == {partitions.name_of(FAR_DAY + 1): 1}


def test_duplicates_are_skipped_across_partitions(db) -> None:
    first = store.write([sample("d", {}, MIDNIGHT + offset, 1.0) for offset in (-2000, -1000, 0, 1000)])
    again = [sample("d", {}, MIDNIGHT + offset, 2.0) for offset in (-3000, -1000, 0, 2000, 2000)]
    second = store.write(again)
    assert (first.written, first.duplicates) == (4, 0)
    assert (second.written, second.duplicates) == (2, 3)  # -1000 and 0 stored already, 2000 twice in the batch
    stored = dict(Sample.objects.filter(series__name="d").values_list("ts", "value"))
    kept = {-3000: 2.0, -2000: 1.0, -1000: 1.0, 0: 1.0, 1000: 1.0, 2000: 2.0}  # the first value of each time stays
    assert stored == {MIDNIGHT + offset: value for offset, value in kept.items()}


def test_a_time_outside_the_years_1_to_9999_is_refused(db) -> None:
    with pytest.raises(InvalidSample, match="outside the years 1 to 9999"):
        store.write([sample("y", {}, store.MAX_TS_MS + 1, 1.0)])
    assert store.write([sample("y", {}, store.MAX_TS_MS, 1.0), sample("y", {}, store.MIN_TS_MS, 1.0)]).written == 2


@pytest.mark.django_db(transaction=True)
def test_writers_racing_for_a_new_day_create_its_partition_once(postgresql) -> None:
    day = FAR_DAY + 2
    barrier = threading.Barrier(4)
    results: list[int] = []
    errors: list[BaseException] = []

    def write(n: int) -> None:
        try:
            barrier.wait()
            results.append(store.write([sample("race", {"w": str(n)}, day * DAY + k, 1.0) for k in range(50)]).written)
        except BaseException as exc:  # reported below, in the test's thread
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=write, args=(n,)) for n in range(4)]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert not errors, errors
        assert results == [50] * 4
        assert rows_by_partition() == {partitions.name_of(day): 200}
    finally:
        partitions.drop_older_than((day + 1) * DAY)  # leave no far-future partition to later tests


# --- Reads across midnight: the same answers as one plain table (SQLite's) ---------------


def test_raw_queries_and_rates_across_midnight(db) -> None:
    store.write(around_midnight("g"))
    result = query_range('g{job="api"}', MIDNIGHT - 1_800_000, MIDNIGHT + 1_800_000, 15_000, fn="raw")
    ts, values = result.series[0].ts, result.series[0].values
    assert ts.tolist() == list(range(MIDNIGHT - 1_800_000, MIDNIGHT + 1_800_000 + 1, 15_000))
    assert values.tolist() == [float(i) for i in range(120, 361)]
    rates = query_range("rate(g_total[1m])", MIDNIGHT - 300_000, MIDNIGHT + 300_000, 15_000)
    assert rates.source == "raw"
    assert rates.series[0].values.tolist() == pytest.approx([0.2] * 41)


def test_rollups_across_midnight(db) -> None:
    store.write(around_midnight("g"))
    rollups.roll_up(MIDNIGHT + 3 * 3_600_000)
    minutes = Rollup.objects.filter(resolution=60, series__name="g").order_by("bucket")
    assert minutes.count() == 120
    edge = {r.bucket: (r.min, r.max, r.count, r.last) for r in minutes if abs(r.bucket - MIDNIGHT) <= 60_000}
    assert edge == {
        MIDNIGHT - 60_000: (236.0, 239.0, 4, 239.0),
        MIDNIGHT: (240.0, 243.0, 4, 243.0),
        MIDNIGHT + 60_000: (244.0, 247.0, 4, 247.0),
    }
    hours = Rollup.objects.filter(resolution=3600, series__name="g").order_by("bucket")
    assert [(h.bucket, h.min, h.max, h.sum, h.count) for h in hours] == [
        (MIDNIGHT - 3_600_000, 0.0, 239.0, sum(range(240)), 240),
        (MIDNIGHT, 240.0, 479.0, sum(range(240, 480)), 240),
    ]
    coarse = query_range("g", MIDNIGHT - 3_600_000, MIDNIGHT + 3_600_000, 600_000, fn="max")
    assert coarse.source == "1m"
    assert coarse.series[0].values.tolist() == [float(40 * k - 1) for k in range(1, 13)]


# --- Retention ---------------------------------------------------------------------------


def test_retention_drops_the_days_past_the_horizon_whole(db, postgresql, settings) -> None:
    settings.RETENTION_RAW_S = 2 * 86_400
    first = FAR_DAY + 10
    for day in range(first, first + 5):
        store.write([sample("kept", {}, day * DAY + h * 3_600_000, float(h)) for h in range(24)])
    now = (first + 4) * DAY + 12 * 3_600_000  # cutoff: day first+2, noon
    old = {name for name, _, end in partitions.partitions() if end <= now - 2 * DAY}
    assert {partitions.name_of(day) for day in (first, first + 1)} <= old
    result = rollups.apply_retention(now)
    assert result.sample_partitions == len(old)
    assert not old & partition_names()
    assert not Sample.objects.filter(ts__lt=(first + 2) * DAY).exists()
    # The day holding the horizon stays whole, its morning included (older than the horizon).
    assert Sample.objects.filter(ts__gte=(first + 2) * DAY).count() == 3 * 24


@pytest.mark.django_db(transaction=True)
def test_retention_waits_only_briefly_for_a_busy_table(postgresql, monkeypatch) -> None:
    monkeypatch.setattr(partitions, "DROP_LOCK_TIMEOUT", "100ms")
    day = FAR_DAY + 20
    store.write([sample("busy", {}, day * DAY, 1.0)])
    reading, release = threading.Event(), threading.Event()

    def read_slowly() -> None:
        try:
            with connections["default"].cursor() as cursor:
                cursor.execute("BEGIN")
                cursor.execute("SELECT count(*) FROM monitoring_sample")
                reading.set()
                release.wait(10)
                cursor.execute("COMMIT")
        finally:
            connections["default"].close()

    reader = threading.Thread(target=read_slowly)
    reader.start()
    try:
        assert reading.wait(10)
        assert partitions.drop_older_than((day + 1) * DAY) == 0  # gave up after 100 ms
        assert partitions.name_of(day) in partition_names()
    finally:
        release.set()
        reader.join()
    assert partitions.drop_older_than((day + 1) * DAY) >= 1
    assert partitions.name_of(day) not in partition_names()


def test_partitions_are_created_ahead(db, postgresql) -> None:
    now = (FAR_DAY + 30) * DAY + 5
    assert partitions.create_ahead(now, ahead_days=3) == 4
    assert partitions.create_ahead(now, ahead_days=3) == 0
    assert {partitions.name_of(FAR_DAY + 30 + k) for k in range(4)} <= partition_names()


# --- The migration -----------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_the_migration_moves_rows_into_day_partitions_and_back(postgresql) -> None:
    executor = MigrationExecutor(connection)
    (previous,) = executor.loader.graph.node_map[MIGRATION].parents
    latest = executor.loader.graph.leaf_nodes("monitoring")
    rows = [(MIDNIGHT + offset, float(offset), 7) for offset in (-DAY, -1, 0, 1, DAY)]
    try:
        executor.migrate([previous.key])
        assert not partition_names()
        with connection.cursor() as cursor:
            cursor.executemany("INSERT INTO monitoring_sample (ts, value, series_id) VALUES (%s, %s, %s)", rows)
        executor = MigrationExecutor(connection)
        executor.migrate(latest)
        day = partitions.day_of(MIDNIGHT)
        assert rows_by_partition() == {
            partitions.name_of(day - 1): 2,
            partitions.name_of(day): 2,
            partitions.name_of(day + 1): 1,
        }
        assert partition_names() == set(rows_by_partition())
        executor = MigrationExecutor(connection)
        executor.migrate([previous.key])
        assert not partition_names()
        assert sorted(Sample.objects.values_list("ts", "value", "series_id")) == rows
    finally:
        MigrationExecutor(connection).migrate(latest)
