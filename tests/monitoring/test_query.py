"""query_range over stored data: counter resets, histogram quantiles, sources, limits."""

from __future__ import annotations

import math
import time

import numpy as np
import pytest

from monitoring import rollups, store
from monitoring.promql import PromQLError
from monitoring.query import MAX_POINTS, QueryError, choose_source, query_range
from monitoring.samples import sample

NOW = int(time.time() * 1000)
T0 = NOW - NOW % 3_600_000 - 2 * 3_600_000  # two hours ago, on the hour


def write_counter(values: list[float], *, name: str = "req_total", labels: dict | None = None, every_ms: int = 15_000):
    store.write([sample(name, labels or {"job": "api"}, T0 + i * every_ms, v) for i, v in enumerate(values)])


def one(result) -> tuple[np.ndarray, np.ndarray]:
    assert len(result.series) == 1, result.series
    return result.series[0].ts, result.series[0].values


def test_increase_across_a_counter_reset_matches_hand_computation(db) -> None:
    # Samples every 15 s: 100, 110, 120, then the process restarts: 5, 15.
    write_counter([100, 110, 120, 5, 15])
    # At t = T0+60s the window (T0, T0+60s] holds 110, 120, 5, 15 (the one at T0 is excluded).
    # Raw increase: (15 - 110) + 120 (the value before the reset) = 25, over 45 s sampled.
    # Extrapolation: to the start 15 s (< 1.1 * 15 s average) → extend by 15 s; the zero
    # point 45 * 110 / 25 = 198 s is further away, so it does not clamp; to the end 0 s.
    # 25 * (45 + 15 + 0) / 45 = 33.333…
    ts, values = one(query_range('increase(req_total{job="api"}[1m])', T0 + 60_000, T0 + 60_000, 15_000))
    assert ts.tolist() == [T0 + 60_000]
    assert values[0] == pytest.approx(25 * 60 / 45)
    _, rates = one(query_range("rate(req_total[1m])", T0 + 60_000, T0 + 60_000, 15_000))
    assert rates[0] == pytest.approx(25 * 60 / 45 / 60)


def test_rate_with_fn_on_a_bare_selector(db) -> None:
    write_counter([float(i * 30) for i in range(20)])  # +30 every 15 s = 2/s
    _, values = one(query_range("req_total", T0 + 120_000, T0 + 240_000, 30_000, fn="rate"))
    assert values.tolist() == pytest.approx([2.0] * 5)


def test_histogram_quantile_matches_hand_computation(db) -> None:
    # Bucket counters grow per 15 s by: le=0.1: 10, le=0.5: 30, le=1: 45, +Inf: 50.
    for le, per_step in (("0.1", 10), ("0.5", 30), ("1", 45), ("+Inf", 50)):
        write_counter([float(i * per_step) for i in range(9)], name="lat_bucket", labels={"job": "api", "le": le})
    # Rates are proportional to those steps, so the 0.5 quantile has rank 25 of 50: in the
    # (0.1, 0.5] bucket, 15 of its 20 observations in: 0.1 + 0.4 * 15 / 20 = 0.4.
    # The 0.95 quantile has rank 47.5: in (1, +Inf], so the answer is the last finite bound, 1.
    _, median = one(query_range("histogram_quantile(0.5, rate(lat_bucket[1m]))", T0 + 120_000, T0 + 120_000, 15_000))
    _, p95 = one(query_range("lat", T0 + 120_000, T0 + 120_000, 15_000, fn="histogram_quantile", q=0.95))
    assert median[0] == pytest.approx(0.4)
    assert p95[0] == pytest.approx(1.0)


def test_over_time_functions_and_aggregation(db) -> None:
    write_counter([1, 5, 3, 7], name="temp", labels={"gpu": "0"})
    write_counter([2, 2, 2, 2], name="temp", labels={"gpu": "1"})
    at = T0 + 45_000
    _, avg = one(query_range('avg_over_time(temp{gpu="0"}[1m])', at, at, 15_000))
    _, mx = one(query_range('max_over_time(temp{gpu="0"}[1m])', at, at, 15_000))
    assert (avg[0], mx[0]) == (4.0, 7.0)
    _, total = one(query_range("sum(last_over_time(temp[1m]))", at, at, 15_000))
    assert total[0] == 9.0
    by_gpu = query_range("max by (gpu) (temp) > 3", at, at, 15_000)
    assert [(s.labels, s.values.tolist()) for s in by_gpu.series] == [({"gpu": "0"}, [7.0])]


def test_a_plain_selector_looks_back_five_minutes_and_keeps_nan(db) -> None:
    store.write([sample("loss", {}, T0, math.nan)])
    ts, values = one(query_range("loss", T0, T0 + 400_000, 50_000))
    assert ts.tolist() == [T0 + k * 50_000 for k in range(6)]
    assert all(math.isnan(v) for v in values)


def test_absent_is_one_where_nothing_matches(db) -> None:
    write_counter([1, 1], name="heartbeat", labels={"job": "trainer"})
    ts, values = one(query_range('absent(heartbeat{job="trainer"})', T0, T0 + 450_000, 30_000))
    assert ts.tolist() == [T0 + 330_000, T0 + 360_000, T0 + 390_000, T0 + 420_000, T0 + 450_000]
    assert values.tolist() == [1.0] * 5
    assert one(query_range('absent(heartbeat{job="trainer"})', T0, T0 + 450_000, 30_000))[0].size
    assert query_range("absent(heartbeat)", T0, T0 + 450_000, 30_000).series[0].labels == {}


def test_raw_returns_stored_samples_thinned_keeping_a_spike(db) -> None:
    values = [1.0] * 2000
    values[1234] = 99.0
    write_counter(values, name="g", every_ms=1000)
    result = query_range("g", T0, T0 + 2_000_000, 10_000, fn="raw", max_points=100)
    ts, got = one(result)
    assert len(ts) <= 100
    assert 99.0 in got.tolist()


def test_the_step_rises_to_keep_the_point_limit(db) -> None:
    write_counter([1.0, 2.0])
    result = query_range("req_total", T0, T0 + 86_400_000, 1_000)
    assert (86_400_000 // result.step_ms) + 1 <= MAX_POINTS
    assert result.infos and "step raised" in result.infos[0]


def test_source_follows_the_step_and_retention(settings) -> None:
    now = NOW
    assert choose_source(15_000, now - 3_600_000, now).name == "raw"
    assert choose_source(120_000, now - 3_600_000, now).name == "1m"
    assert choose_source(7_200_000, now - 3_600_000, now).name == "1h"
    assert choose_source(15_000, now - 20 * 86_400_000, now).name == "1m"
    assert choose_source(15_000, now - 200 * 86_400_000, now).name == "1h"


def test_coarse_steps_read_rollups(db) -> None:
    write_counter([float(i) for i in range(480)], name="g")  # two hours of 15 s samples
    rollups.roll_up(NOW + 3_600_000)
    result = query_range("g", T0, T0 + 7_200_000, 600_000, fn="max")
    assert result.source == "1m"
    _, values = one(result)
    # Each 10-minute step's max is the last sample before its end: index 40k - 1.
    assert values.tolist() == [float(40 * k - 1) for k in range(1, 13)]


def test_the_newest_minutes_come_from_raw_before_they_are_rolled_up(db) -> None:
    start = NOW - NOW % 60_000 - 600_000
    store.write([sample("fresh", {}, start + i * 15_000, float(i)) for i in range(40)])
    rollups.roll_up(NOW - 150_000)  # the roller is a little behind: the last minutes are not rolled up
    result = query_range("fresh", start + 60_000, start + 600_000, 60_000, fn="count")
    assert result.source == "1m"
    _, counts = one(result)
    assert counts.sum() == 40


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ('rate(x{job="a"[5m])', "position"),
        ("irate(x[5m])", "unsupported function 'irate'"),
        ("x + 1", r"arithmetic operator '\+'"),
    ],
)
def test_bad_expressions_name_the_construct_and_position(query: str, message: str, db) -> None:
    with pytest.raises(PromQLError, match=message):
        query_range(query, T0, T0 + 60_000, 15_000)


def test_bad_parameters_are_refused(db) -> None:
    with pytest.raises(QueryError, match="end is before start"):
        query_range("x", T0, T0 - 1, 15_000)
    with pytest.raises(QueryError, match="unknown fn 'median'"):
        query_range("x", T0, T0 + 1, 15_000, fn="median")
    with pytest.raises(QueryError, match="q between 0 and 1"):
        query_range("x", T0, T0 + 1, 15_000, fn="histogram_quantile", q=2)


def test_too_many_series_are_refused(db, settings) -> None:
    settings.QUERY_MAX_SERIES = 3
    store.write([sample("wide", {"i": str(i)}, T0, 1.0) for i in range(5)])
    with pytest.raises(QueryError, match="matches more than 3 series"):
        query_range("wide", T0, T0 + 60_000, 15_000)
