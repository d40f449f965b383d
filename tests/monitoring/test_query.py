"""query_range over stored data: counter resets, histogram quantiles, sources, limits."""

from __future__ import annotations

import math
import time

import numpy as np
import pytest

from monitoring import rollups, store
from monitoring.promql import BinaryOp, NumberLiteral, PromQLError
from monitoring.query import MAX_POINTS, QueryError, choose_source, query_grid, query_range
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
        ("x % 1", "arithmetic operator '%'"),
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


# --- Arithmetic ----------------------------------------------------------------------


def by_labels(result) -> dict[tuple, tuple[list[int], list[float]]]:
    """Each series' times and values, keyed by its sorted labels."""
    return {tuple(sorted(s.labels.items())): (s.ts.tolist(), s.values.tolist()) for s in result.series}


def write_gauge(name: str, labels: dict, points: list[tuple[int, float]]) -> None:
    """Samples at T0 + each offset (ms)."""
    store.write([sample(name, labels, T0 + offset, value) for offset, value in points])


def test_error_ratio_per_model_matches_hand_computation(db) -> None:
    # Counters growing linearly, every 15 s: model a has two pods failing 1 and 2 of 10 and 20
    # requests; model b one pod failing 3 of 4. A linear counter's rate over [1m] is exactly its
    # growth per second (the window's 45 s of samples extrapolate to the full 60 s).
    for labels, failed, total in (
        ({"model": "a", "pod": "1"}, 1, 10),
        ({"model": "a", "pod": "2"}, 2, 20),
        ({"model": "b", "pod": "1"}, 3, 4),
    ):
        write_counter([float(i * failed) for i in range(12)], name="failed_total", labels=labels)
        write_counter([float(i * total) for i in range(12)], name="requests_total", labels=labels)
    query = "sum by (model) (rate(failed_total[1m])) / sum by (model) (rate(requests_total[1m]))"
    result = by_labels(query_range(query, T0 + 60_000, T0 + 120_000, 30_000))
    times = [T0 + 60_000, T0 + 90_000, T0 + 120_000]
    assert result.keys() == {(("model", "a"),), (("model", "b"),)}
    assert result[(("model", "a"),)][0] == times
    assert result[(("model", "a"),)][1] == pytest.approx([3 / 30] * 3)
    assert result[(("model", "b"),)][1] == pytest.approx([3 / 4] * 3)
    alerting = query_range(f"{query} > 0.5", T0 + 60_000, T0 + 120_000, 30_000)
    assert [s.labels for s in alerting.series] == [{"model": "b"}]


def test_cpu_busy_is_one_minus_the_average_idle_rate(db) -> None:
    # Idle seconds per second: instance n1's two CPUs 0.25 and 0.75 (average 0.5), n2's one 0.9.
    for labels, idle_per_s in (
        ({"instance": "n1", "cpu": "0"}, 0.25),
        ({"instance": "n1", "cpu": "1"}, 0.75),
        ({"instance": "n2", "cpu": "0"}, 0.9),
    ):
        write_counter([i * 15 * idle_per_s for i in range(12)], name="idle_seconds_total", labels=labels)
    query = "1 - avg by (instance) (rate(idle_seconds_total[1m]))"
    result = by_labels(query_range(query, T0 + 60_000, T0 + 120_000, 30_000))
    assert result[(("instance", "n1"),)][1] == pytest.approx([0.5] * 3)
    assert result[(("instance", "n2"),)][1] == pytest.approx([0.1] * 3)


def test_vector_and_number_compute_every_point_and_drop_the_name(db) -> None:
    write_gauge("temp", {"gpu": "0"}, [(0, 60.0), (60_000, 70.0)])
    write_gauge("temp", {"gpu": "1"}, [(0, 40.0)])
    for query, expected in (
        ("temp * 2", {"0": [120.0, 120.0, 140.0], "1": [80.0, 80.0, 80.0]}),
        ("100 - temp", {"0": [40.0, 40.0, 30.0], "1": [60.0, 60.0, 60.0]}),
        ("-temp / (1 + 1)", {"0": [-30.0, -30.0, -35.0], "1": [-20.0, -20.0, -20.0]}),
    ):
        result = query_range(query, T0, T0 + 60_000, 30_000)
        assert {s.labels["gpu"]: s.values.tolist() for s in result.series} == expected, query
        assert all("__name__" not in s.labels for s in result.series)


def test_a_number_alone_is_one_series_without_labels(db) -> None:
    result = query_range("(1 + 2) * 2", T0, T0 + 60_000, 30_000)
    ts, values = one(result)
    assert result.series[0].labels == {}
    assert ts.tolist() == [T0, T0 + 30_000, T0 + 60_000]
    assert values.tolist() == [6.0, 6.0, 6.0]


def test_two_vectors_match_one_to_one_and_unmatched_series_are_dropped(db) -> None:
    write_gauge("used", {"job": "x"}, [(0, 3.0)])
    write_gauge("used", {"job": "y"}, [(0, 5.0)])
    write_gauge("limit", {"job": "x"}, [(0, 4.0)])
    write_gauge("limit", {"job": "z"}, [(0, 8.0)])
    result = query_range("used / limit", T0, T0, 15_000)
    assert [(s.labels, s.values.tolist()) for s in result.series] == [({"job": "x"}, [0.75])]


def test_series_with_other_labels_do_not_match_without_on(db) -> None:
    write_gauge("mem_used", {"gpu": "0", "host": "h1"}, [(0, 3.0)])
    write_gauge("mem_total", {"gpu": "0", "kind": "hbm"}, [(0, 12.0)])
    assert query_range("mem_used / mem_total", T0, T0, 15_000).series == []


def test_on_matches_across_different_label_sets_and_keeps_only_those_labels(db) -> None:
    write_gauge("mem_used", {"gpu": "0", "host": "h1"}, [(0, 3.0)])
    write_gauge("mem_used", {"gpu": "1", "host": "h1"}, [(0, 6.0)])
    write_gauge("mem_total", {"gpu": "0", "kind": "hbm"}, [(0, 12.0)])
    write_gauge("mem_total", {"gpu": "1", "kind": "hbm"}, [(0, 24.0)])
    result = by_labels(query_range("mem_used / on(gpu) mem_total", T0, T0, 15_000))
    assert result == {(("gpu", "0"),): ([T0], [0.25]), (("gpu", "1"),): ([T0], [0.25])}


def test_ignoring_matches_without_the_ignored_labels_and_drops_them(db) -> None:
    write_gauge("mem_used", {"gpu": "0", "host": "h1"}, [(0, 3.0)])
    write_gauge("mem_total", {"gpu": "0"}, [(0, 12.0)])
    result = query_range("mem_used / ignoring(host) mem_total", T0, T0, 15_000)
    assert [(s.labels, s.values.tolist()) for s in result.series] == [({"gpu": "0"}, [0.25])]


def test_many_to_many_matching_is_refused_naming_the_labels(db) -> None:
    write_gauge("errors", {"model": "a", "pod": "1"}, [(0, 1.0)])
    write_gauge("errors", {"model": "a", "pod": "2"}, [(0, 2.0)])
    write_gauge("requests", {"model": "a"}, [(0, 10.0)])
    with pytest.raises(QueryError, match="many-to-many matching not allowed") as caught:
        query_range("errors / on(model) requests", T0, T0, 15_000)
    message = str(caught.value)
    assert 'errors{model="a", pod="1"}' in message and 'errors{model="a", pod="2"}' in message
    assert '{model="a"}' in message and "left side" in message
    with pytest.raises(QueryError, match="many-to-many matching not allowed: on the right side"):
        query_range("requests / on(model) errors", T0, T0, 15_000)


def test_series_of_one_key_that_never_overlap_in_time_match_as_one(db) -> None:
    # A pod restarted under a new name: the old one's samples end before the new one's begin.
    write_gauge("errors", {"model": "a", "pod": "old"}, [(0, 1.0)])
    write_gauge("errors", {"model": "a", "pod": "new"}, [(600_000, 3.0)])
    write_gauge("requests", {"model": "a"}, [(0, 10.0), (600_000, 10.0)])
    result = by_labels(query_range("errors / on(model) requests", T0, T0 + 600_000, 50_000))
    old = [T0 + k * 50_000 for k in range(6)]  # within the old pod's 5-minute lookback
    assert result == {(("model", "a"),): ([*old, T0 + 600_000], [0.1] * 6 + [0.3])}


def test_division_by_zero_gives_infinities_and_nan(db) -> None:
    for k, numerator in (("1", 1.0), ("2", 0.0), ("3", -1.0)):
        write_gauge("num", {"k": k}, [(0, numerator)])
        write_gauge("den", {"k": k}, [(0, 0.0)])
    result = {s.labels["k"]: s.values.tolist() for s in query_range("num / den", T0, T0, 15_000).series}
    assert result["1"] == [math.inf]
    assert math.isnan(result["2"][0])
    assert result["3"] == [-math.inf]
    _, by_number = one(query_range('num{k="1"} / 0', T0, T0, 15_000))
    assert by_number.tolist() == [math.inf]


def test_a_point_exists_only_where_both_sides_have_one(db) -> None:
    # a has one sample (visible for the 5-minute lookback), b has two, ten minutes apart.
    write_gauge("a", {}, [(0, 2.0)])
    write_gauge("b", {}, [(0, 4.0), (600_000, 8.0)])
    lookback = [T0 + k * 50_000 for k in range(6)]  # T0 … T0 + 250 s
    ts, values = one(query_range("a * b", T0, T0 + 600_000, 50_000))
    assert ts.tolist() == lookback
    assert values.tolist() == [8.0] * 6
    ts, _ = one(query_range("b * 2", T0, T0 + 600_000, 50_000))
    assert ts.tolist() == [*lookback, T0 + 600_000]


def test_comparison_over_arithmetic_keeps_only_the_points_that_hold(db) -> None:
    write_gauge("a", {"k": "1"}, [(0, 1.0), (60_000, 3.0)])
    write_gauge("b", {"k": "1"}, [(0, 4.0)])
    write_gauge("a", {"k": "2"}, [(0, 1.0)])
    write_gauge("b", {"k": "2"}, [(0, 10.0)])
    result = query_range("a / b > 0.5", T0, T0 + 60_000, 30_000)
    assert [(s.labels, s.ts.tolist(), s.values.tolist()) for s in result.series] == [
        ({"k": "1"}, [T0 + 60_000], [0.75])
    ]


def test_arithmetic_inside_aggregations_and_histogram_quantile(db) -> None:
    for le, per_step in (("0.1", 10), ("0.5", 30), ("1", 45), ("+Inf", 50)):
        write_counter([float(i * per_step) for i in range(9)], name="lat_bucket", labels={"job": "api", "le": le})
    at = T0 + 120_000
    # Scaling every bucket by the same factor leaves the quantile where it was (0.4, as above).
    _, median = one(query_range("histogram_quantile(0.5, rate(lat_bucket[1m]) * 60)", at, at, 15_000))
    assert median[0] == pytest.approx(0.4)
    # The +Inf bucket grows 50 per 15 s: 200 per minute; halved inside the sum.
    _, half = one(query_range('sum(increase(lat_bucket{le="+Inf"}[1m]) / 2)', at, at, 15_000))
    assert half[0] == pytest.approx(100.0)


def test_a_hand_built_tree_of_numbers_evaluates_without_the_parser_folding_it(db) -> None:
    tree = BinaryOp("/", NumberLiteral(1.0), BinaryOp("-", NumberLiteral(2.0), NumberLiteral(2.0)))
    eval_ts, vectors = query_grid(tree, T0, T0 + 30_000, 15_000)
    assert [(v.labels, v.values.tolist(), v.present.tolist()) for v in vectors] == [({}, [math.inf] * 3, [True] * 3)]
    assert eval_ts.size == 3
