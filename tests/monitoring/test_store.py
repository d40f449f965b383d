"""``store.write``: one transaction, series resolved in bulk, duplicates ignored, NaN kept."""

from __future__ import annotations

import math
import threading

import pytest
from django.db import connection, transaction

from monitoring import store
from monitoring.models import RollupDirty, Sample, Series
from monitoring.samples import InvalidSample, sample
from monitoring.samples import Sample as RawSample

T0 = 1_800_000_000_000  # ms, a fixed instant well inside every retention used here

received: list[store.Touched] = []


def remember(touched: store.Touched) -> None:
    received.append(touched)


def stored(name: str) -> list[tuple[int, float]]:
    series = Series.objects.get(name=name)
    rows = Sample.objects.filter(series_id=series.id).order_by("ts").values_list("ts", "value")
    return [(ts, math.nan if value is None else value) for ts, value in rows]


def test_write_creates_series_and_samples(db) -> None:
    result = store.write([sample("up", {"job": "a"}, T0, 1), sample("up", {"job": "b"}, T0, 0)])
    assert result == store.WriteResult(received=2, written=2, duplicates=0, series_created=2)
    assert sorted(Series.objects.values_list("labels", flat=True), key=str) == [{"job": "a"}, {"job": "b"}]


def test_duplicates_are_ignored_within_and_across_writes(db) -> None:
    first = store.write([sample("x", {}, T0, 1), sample("x", {}, T0, 2), sample("x", {}, T0 + 1000, 3)])
    again = store.write([sample("x", {}, T0, 9), sample("x", {}, T0 + 2000, 4)])
    assert (first.written, first.duplicates) == (2, 1)
    assert (again.written, again.duplicates) == (1, 1)
    assert stored("x") == [(T0, 1.0), (T0 + 1000, 3.0), (T0 + 2000, 4.0)]


def test_nan_and_infinities_are_stored_as_such(db) -> None:
    store.write(
        [sample("loss", {}, T0, math.nan), sample("loss", {}, T0 + 1, math.inf), sample("loss", {}, T0 + 2, -math.inf)]
    )
    values = [value for _, value in stored("loss")]
    assert math.isnan(values[0]) and values[1:] == [math.inf, -math.inf]


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        (sample("bad-name", {}, T0, 1), "not a valid Prometheus metric name"),
        (sample("ok", {"__reserved": "x"}, T0, 1), "label name '__reserved' is not valid"),
        (sample("ok", {"k": "v" * 2000}, T0, 1), "at most 1024 characters"),
    ],
)
def test_an_invalid_sample_stores_nothing(bad, message: str, db) -> None:
    with pytest.raises(InvalidSample, match=message):
        store.write([sample("good", {}, T0, 1), bad])
    assert not Series.objects.exists() and not Sample.objects.exists()


def test_a_non_number_is_refused(db) -> None:
    with pytest.raises(InvalidSample, match="is not a number"):
        store.write([RawSample("ok", (), T0, "7")])
    assert not Sample.objects.exists()


def test_cardinality_limit_refuses_before_writing(db) -> None:
    store.write([sample("c", {"i": "0"}, T0, 1)])
    batch = [sample("c", {"i": str(i)}, T0 + 1000, 1) for i in range(5)]
    with pytest.raises(store.CardinalityLimitExceeded) as refused:
        store.write(batch, max_new_series=3)
    assert refused.value.new_series == 4
    assert Series.objects.count() == 1 and Sample.objects.count() == 1
    assert store.write(batch, max_new_series=4).series_created == 4


def test_minutes_touched_are_marked_for_rollup(db) -> None:
    store.write([sample("m", {}, T0 + 1, 1), sample("m", {}, T0 + 61_000, 1)])
    minutes = sorted(RollupDirty.objects.values_list("bucket", flat=True))
    assert minutes == [T0 + 1 - (T0 + 1) % 60_000, T0 + 61_000 - (T0 + 61_000) % 60_000]


def test_subscribers_hear_once_per_write_after_commit(db, settings, django_capture_on_commit_callbacks) -> None:
    settings.OPSBOARD_SERIES_SUBSCRIBERS = [f"{__name__}.remember"]
    received.clear()
    with django_capture_on_commit_callbacks(execute=True):
        store.write(
            [sample("a", {"k": "1"}, T0, 1), sample("a", {"k": "2"}, T0, 2), sample("a", {"k": "1"}, T0 + 1, 3)]
        )
        assert received == []
    assert len(received) == 1
    keys = received[0].keys()
    by_labels = {keys[sid][1]: pts for sid, pts in received[0].points().items()}
    assert by_labels == {(("k", "1"),): [(T0, 1.0), (T0 + 1, 3.0)], (("k", "2"),): [(T0, 2.0)]}


@pytest.mark.django_db(transaction=True)
def test_a_rolled_back_write_leaves_no_cached_series() -> None:
    with pytest.raises(RuntimeError), transaction.atomic():
        store.write([sample("ghost", {}, T0, 1)])
        raise RuntimeError("the caller's transaction fails")
    assert not Series.objects.exists()
    store.write([sample("ghost", {}, T0, 1)])
    assert stored("ghost") == [(T0, 1.0)]


@pytest.mark.django_db(transaction=True)
def test_concurrent_writers_create_each_series_once() -> None:
    if connection.vendor != "postgresql":
        pytest.skip("the in-memory SQLite test database locks whole tables between threads")
    barrier = threading.Barrier(4)
    errors: list[BaseException] = []

    def push(n: int) -> None:
        barrier.wait()
        try:
            store.write([sample("race", {"i": str(i)}, T0 + n, n) for i in range(50)])
        except BaseException as exc:  # collected and asserted below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=push, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert Series.objects.filter(name="race").count() == 50
    assert Sample.objects.count() == 200
