"""Rollups equal aggregates of the raw rows; re-runs and concurrent runs change nothing;
retention removes only what is past its horizon."""

from __future__ import annotations

import math
import threading

import pytest
from django.db import connection
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from monitoring import rollups, store
from monitoring.models import Rollup, RollupDirty, Sample, Series
from monitoring.samples import sample

T0 = 1_800_000_000_000 - 1_800_000_000_000 % 3_600_000  # an hour boundary
FAR_FUTURE = T0 + 10 * 86_400_000

values = st.one_of(
    st.floats(min_value=-1e6, max_value=1e6, allow_nan=False),
    st.sampled_from([math.nan, math.inf, -math.inf]),
)
raw_samples = st.lists(
    st.tuples(st.integers(0, 2), st.integers(0, 3 * 3_600_000 - 1), values),
    min_size=1,
    max_size=80,
    unique_by=lambda row: (row[0], row[1]),
)


def expected(rows: list[tuple[int, float]]) -> tuple:
    """(min, max, sum, count, last) as the rollup defines them: NaN left out, last is the newest."""
    numbers = [v for _, v in rows if not math.isnan(v)]
    last = max(rows)[1]
    if not numbers:
        return (None, None, None, 0, last)
    return (min(numbers), max(numbers), sum(numbers), len(numbers), last)


def same(a: float | None, b: float | None) -> bool:
    if a is None or b is None:
        return (a is None and b is None) or (a is not None and math.isnan(a)) or (b is not None and math.isnan(b))
    if math.isnan(a) or math.isnan(b):
        return math.isnan(a) and math.isnan(b)
    return a == b or math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-6)


def stored_rollups(resolution: int) -> dict[tuple[str, int], tuple]:
    names = dict(Series.objects.values_list("id", "name"))
    rows = Rollup.objects.filter(resolution=resolution).values_list(
        "series_id", "bucket", "min", "max", "sum", "count", "last"
    )
    return {(names[sid], bucket): tuple(rest) for sid, bucket, *rest in rows}


def group(rows: list[tuple[int, int, float]], size_ms: int) -> dict[tuple[str, int], list[tuple[int, float]]]:
    groups: dict[tuple[str, int], list[tuple[int, float]]] = {}
    for series, offset, value in rows:
        ts = T0 + offset
        groups.setdefault((f"s{series}", ts - ts % size_ms), []).append((ts, value))
    return groups


def assert_matches(stored: dict, groups: dict) -> None:
    assert set(stored) == set(groups)
    for key, rows in groups.items():
        mn, mx, sm, ct, last = stored[key]
        want = expected(rows)
        assert ct == want[3], key
        for got, exp in zip((mn, mx, sm, last), (want[0], want[1], want[2], want[4]), strict=True):
            assert same(got, exp), (key, got, exp)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=raw_samples)
def test_rollups_equal_aggregates_of_the_raw_rows(rows: list[tuple[int, int, float]], db) -> None:
    for model in (Sample, Rollup, RollupDirty, Series):
        model.objects.all().delete()
    store.write([sample(f"s{series}", {}, T0 + offset, value) for series, offset, value in rows])
    rollups.roll_up(FAR_FUTURE)
    assert_matches(stored_rollups(60), group(rows, 60_000))
    assert_matches(stored_rollups(3600), group(rows, 3_600_000))
    assert not RollupDirty.objects.exists()


def test_a_rerun_changes_nothing_and_a_late_sample_is_rolled_in(db) -> None:
    store.write([sample("x", {}, T0 + 1_000, 1.0), sample("x", {}, T0 + 2_000, 5.0)])
    assert rollups.roll_up(FAR_FUTURE) == 1
    first = stored_rollups(60)
    assert rollups.roll_up(FAR_FUTURE) == 0
    assert stored_rollups(60) == first == {("x", T0): (1.0, 5.0, 6.0, 2, 5.0)}
    store.write([sample("x", {}, T0 + 3_000, 9.0)])
    assert rollups.roll_up(FAR_FUTURE) == 1
    assert stored_rollups(60) == {("x", T0): (1.0, 9.0, 15.0, 3, 9.0)}
    assert stored_rollups(3600) == {("x", T0): (1.0, 9.0, 15.0, 3, 9.0)}


def test_a_minute_is_left_open_until_its_grace_has_passed(db) -> None:
    store.write([sample("x", {}, T0 + 1_000, 1.0)])
    assert rollups.roll_up(T0 + 60_000 + rollups.GRACE_MS - 1) == 0
    assert rollups.roll_up(T0 + 60_000 + rollups.GRACE_MS) == 1


def test_rolling_up_moves_each_series_last_value_forward_only(db) -> None:
    store.write([sample("g", {}, T0 + 120_000, 7.0)])
    rollups.roll_up(FAR_FUTURE)
    store.write([sample("g", {}, T0 + 1_000, 1.0)])  # late, and older
    rollups.roll_up(FAR_FUTURE)
    series = Series.objects.get(name="g")
    assert (series.last_ts, series.last_value) == (T0 + 120_000, 7.0)


@pytest.mark.django_db(transaction=True)
def test_two_workers_rolling_up_at_once_roll_each_minute_once() -> None:
    if connection.vendor != "postgresql":
        pytest.skip("concurrent workers need PostgreSQL")
    store.write(
        [sample("c", {"i": str(i)}, T0 + minute * 60_000 + i, float(i)) for minute in range(30) for i in range(5)]
    )
    barrier = threading.Barrier(2)
    done: list[int] = []

    def work() -> None:
        barrier.wait()
        try:
            done.append(rollups.roll_up(FAR_FUTURE))
        finally:
            connection.close()

    threads = [threading.Thread(target=work) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    rollups.roll_up(FAR_FUTURE)  # whatever the loser left
    assert sum(done) <= 30
    assert Rollup.objects.filter(resolution=60).count() == 150
    assert not RollupDirty.objects.exists()


def test_retention_removes_only_what_is_past_each_horizon(db, settings) -> None:
    settings.RETENTION_RAW_S, settings.RETENTION_1M_S, settings.RETENTION_1H_S = 3600, 7200, 4 * 3600
    settings.RETENTION_BATCH_ROWS = 100  # several batches
    now = T0 + 5 * 3_600_000
    day = T0 - T0 % 86_400_000  # raw samples go a whole UTC day at a time, once it ended before the horizon
    store.write([sample("r", {}, day - k * 60_000, 1.0) for k in range(1, 41)])  # the day before's last 40 minutes
    store.write([sample("r", {}, T0 + offset * 60_000, 1.0) for offset in range(0, 300)])
    store.write([sample("silent", {}, T0, 1.0)])
    rollups.roll_up(now)
    rollups.apply_retention(now)
    assert not Sample.objects.filter(ts__lt=day).exists()
    assert Sample.objects.count() == 300 + 1  # the horizon's day is kept whole
    assert Rollup.objects.filter(resolution=60).order_by("bucket").first().bucket == now - 7_200_000
    assert Rollup.objects.filter(resolution=3600).order_by("bucket").first().bucket == now - 4 * 3_600_000
    assert list(Series.objects.values_list("name", flat=True)) == ["r"]
