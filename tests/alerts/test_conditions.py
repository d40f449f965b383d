"""Alert condition kinds on synthetic series with known answers, through a fake Source."""

from __future__ import annotations

import math
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from alerts.conditions import CONDITIONS, ConfigError, Outcome, SeriesGrid, Source
from alerts.statemachine import replay

PROPERTY = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
T0 = 1_800_000_000_000
MINUTE = 60_000
DAY = 86_400_000
ROOT = Path(__file__).resolve().parents[2]


@dataclass
class Data:
    labels: dict[str, str]
    values: np.ndarray
    present: np.ndarray | None = None


@dataclass
class FakeSource:
    """Grids cut from arrays sampled every ``step`` from ``start``; honours start, end and step.

    A grid time that is not a sample time, or where the series is absent, is not present. Series
    with nothing present in the asked span are left out, as a query that matches nothing, unless
    ``keep_empty`` (the absent condition's contract).
    """

    start: int
    step: int
    data: list[Data]
    keep_empty: bool = False
    calls: list[tuple[str, int, int, int]] = field(default_factory=list)

    def grid(self, query: str, start_ms: int, end_ms: int, step_ms: int) -> tuple[np.ndarray, list[SeriesGrid]]:
        self.calls.append((query, start_ms, end_ms, step_ms))
        ts = np.arange(start_ms, end_ms + 1, step_ms, dtype=np.int64)
        offset = ts - self.start
        out = []
        for one in self.data:
            values = np.asarray(one.values, dtype=np.float64)
            present = np.ones(values.size, dtype=bool) if one.present is None else np.asarray(one.present)
            idx = offset // self.step
            found = (offset % self.step == 0) & (idx >= 0) & (idx < values.size)
            grid_present = np.zeros(ts.size, dtype=bool)
            grid_values = np.zeros(ts.size)
            grid_present[found] = present[idx[found]]
            grid_values[grid_present] = values[idx[grid_present]]
            if grid_present.any() or self.keep_empty:
                out.append(SeriesGrid(dict(one.labels), grid_values, grid_present))
        return ts, out


def source_of(*series: np.ndarray | Data, step: int = MINUTE, keep_empty: bool = False) -> FakeSource:
    data = [s if isinstance(s, Data) else Data({"series": str(k)}, s) for k, s in enumerate(series)]
    return FakeSource(T0, step, data, keep_empty)


def times(first: int, last: int, step: int = MINUTE) -> np.ndarray:
    """Grid times of the sample indices ``first..last`` (inclusive)."""
    return T0 + np.arange(first, last + 1, dtype=np.int64) * step


def evaluate(
    kind: str, config: Mapping[str, Any], source: Source, eval_ts: np.ndarray, step: int = MINUTE
) -> list[Outcome]:
    condition = CONDITIONS[kind]()
    return condition.evaluate(condition.Config.from_dict(config), "m", eval_ts, step, source)


def only(outcomes: list[Outcome]) -> Outcome:
    assert len(outcomes) == 1
    return outcomes[0]


# --- Registry and configuration ----------------------------------------------------------------


def test_registry_maps_each_kind_to_its_class() -> None:
    assert set(CONDITIONS) == {"threshold", "absent", "not_finite", "anomaly", "trend", "drift"}


def test_modules_do_not_import_django() -> None:
    code = (
        "import sys, alerts.conditions, alerts.statemachine, alerts.stats;"
        "sys.exit(any(m.split('.')[0] in ('django', 'opsboard', 'monitoring') for m in sys.modules))"
    )
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True)


BAD_CONFIGS = [
    ("threshold", {"op": "=>", "value": 1}, "op"),
    ("threshold", {"op": ">"}, "value"),
    ("threshold", {"op": ">", "value": "high"}, "value"),
    ("threshold", {"op": ">", "value": True}, "value"),
    ("threshold", {"op": ">", "value": "inf"}, "value"),
    ("threshold", {"op": ">", "value": 80, "recovery": 85}, "recovery"),
    ("threshold", {"op": ">=", "value": 80, "recovery": 80.5}, "recovery"),
    ("threshold", {"op": "<", "value": 80, "recovery": 75}, "recovery"),
    ("threshold", {"op": "==", "value": 1, "recovery": 1}, "recovery"),
    ("threshold", {"op": ">", "value": 1, "for": 60}, "for"),
    ("absent", {}, "seconds"),
    ("absent", {"seconds": 0}, "seconds"),
    ("absent", {"seconds": 1.5}, "seconds"),
    ("not_finite", {"threshold": 1}, "threshold"),
    ("anomaly", {"method": "mad"}, "method"),
    ("anomaly", {"baseline_s": 30}, "baseline_s"),
    ("anomaly", {"k": 0}, "k"),
    ("anomaly", {"k": -2}, "k"),
    ("anomaly", {"min_samples": 2}, "min_samples"),
    ("anomaly", {"alpha": 0}, "alpha"),
    ("anomaly", {"alpha": 1.5}, "alpha"),
    ("anomaly", {"direction": "up"}, "direction"),
    ("trend", {"window_s": 600}, "mode"),
    ("trend", {"mode": "guess", "window_s": 600}, "mode"),
    ("trend", {"mode": "slope", "window_s": 10, "rate": 1, "direction": "rising"}, "window_s"),
    ("trend", {"mode": "slope", "window_s": 600, "direction": "rising"}, "rate"),
    ("trend", {"mode": "slope", "window_s": 600, "rate": 1}, "direction"),
    ("trend", {"mode": "slope", "window_s": 600, "rate": -1, "direction": "rising"}, "rate"),
    ("trend", {"mode": "slope", "window_s": 600, "rate": 1, "direction": "up"}, "direction"),
    ("trend", {"mode": "slope", "window_s": 600, "rate": 1, "direction": "rising", "limit": 5}, "limit"),
    ("trend", {"mode": "forecast", "window_s": 600, "horizon_s": 3600}, "limit"),
    ("trend", {"mode": "forecast", "window_s": 600, "limit": 5}, "horizon_s"),
    ("trend", {"mode": "forecast", "window_s": 600, "limit": 5, "horizon_s": 10}, "horizon_s"),
    ("trend", {"mode": "forecast", "window_s": 600, "limit": 5, "horizon_s": 3600, "rate": 1}, "rate"),
    ("drift", {"window_s": 600, "threshold": 0.2}, "method"),
    ("drift", {"method": "chi2", "window_s": 600, "threshold": 0.2}, "method"),
    ("drift", {"method": "psi", "window_s": 10, "threshold": 0.2}, "window_s"),
    ("drift", {"method": "psi", "window_s": 600, "threshold": 0}, "threshold"),
    ("drift", {"method": "psi", "window_s": 600, "threshold": 0.2, "reference": "last_week"}, "reference"),
    ("drift", {"method": "ks", "window_s": 600, "threshold": 0.1, "reference": "fixed"}, "reference_start_ms"),
    (
        "drift",
        {"method": "ks", "window_s": 600, "threshold": 0.1, "reference": "fixed", "reference_start_ms": 5},
        "reference_end_ms",
    ),
    (
        "drift",
        {
            "method": "ks",
            "window_s": 600,
            "threshold": 0.1,
            "reference": "fixed",
            "reference_start_ms": 5,
            "reference_end_ms": 5,
        },
        "reference_end_ms",
    ),
    ("drift", {"method": "ks", "window_s": 600, "threshold": 0.1, "reference_start_ms": 5}, "reference_start_ms"),
    ("drift", {"method": "psi", "window_s": 600, "threshold": 0.2, "bins": 1}, "bins"),
    ("drift", {"method": "psi", "window_s": 600, "threshold": 0.2, "bins": 101}, "bins"),
    ("drift", {"method": "psi", "window_s": 600, "threshold": 0.2, "min_samples": 1}, "min_samples"),
]


@pytest.mark.parametrize(("kind", "data", "field_name"), BAD_CONFIGS)
def test_bad_settings_are_named(kind: str, data: dict[str, Any], field_name: str) -> None:
    with pytest.raises(ConfigError) as caught:
        CONDITIONS[kind].Config.from_dict(data)
    assert caught.value.field == field_name


def test_config_must_be_a_mapping() -> None:
    with pytest.raises(ConfigError) as caught:
        CONDITIONS["threshold"].Config.from_dict([(">", 1)])  # type: ignore[arg-type]
    assert caught.value.field == "config"


def test_good_configs_and_defaults() -> None:
    threshold = CONDITIONS["threshold"].Config.from_dict({"op": ">", "value": "80", "recovery": 75})
    assert (threshold.value, threshold.recovery) == (80.0, 75.0)
    anomaly = CONDITIONS["anomaly"].Config.from_dict({})
    assert (anomaly.method, anomaly.baseline_s, anomaly.k, anomaly.min_samples) == ("zscore", 3600, 3.0, 30)
    assert (anomaly.alpha, anomaly.direction) == (0.1, "both")
    assert CONDITIONS["absent"].Config.from_dict({"seconds": "300"}).seconds == 300
    assert CONDITIONS["not_finite"].Config.from_dict({}) == CONDITIONS["not_finite"].Config()
    drift = CONDITIONS["drift"].Config.from_dict({"method": "psi", "window_s": 600, "threshold": 0.2, "bins": None})
    assert (drift.reference, drift.bins, drift.min_samples) == ("previous_day", 10, 30)


def test_eval_times_must_lie_on_the_step_grid() -> None:
    source = source_of(np.arange(10.0))
    with pytest.raises(ValueError, match="apart"):
        evaluate("threshold", {"op": ">", "value": 1}, source, np.array([T0, T0 + 90_000]))
    assert evaluate("threshold", {"op": ">", "value": 1}, source, np.array([], dtype=np.int64)) == []
    assert source.calls == []


# --- threshold ---------------------------------------------------------------------------------


def test_threshold_compares_present_values() -> None:
    values = np.array([70, 85, 90, 95, 79, math.nan])
    present = np.array([True, True, True, False, True, True])
    source = source_of(Data({"gpu": "0"}, values, present))
    outcome = only(evaluate("threshold", {"op": ">", "value": 80}, source, times(0, 5)))
    assert outcome.labels == {"gpu": "0"}
    assert outcome.trigger.tolist() == [False, True, True, False, False, False]
    assert outcome.hold.tolist() == outcome.trigger.tolist()
    np.testing.assert_array_equal(outcome.value, [70, 85, 90, math.nan, 79, math.nan])
    assert source.calls == [("m", T0, T0 + 5 * MINUTE, MINUTE)]


@pytest.mark.parametrize(
    ("op", "expected"),
    [
        (">", [False, False, True, False]),
        (">=", [False, True, True, False]),
        ("<", [True, False, False, False]),
        ("<=", [True, True, False, False]),
        ("==", [False, True, False, False]),
        ("!=", [True, False, True, True]),  # NaN != 80, as IEEE and PromQL have it
    ],
)
def test_threshold_operators(op: str, expected: list[bool]) -> None:
    source = source_of(np.array([70, 80, 90, math.nan]))
    assert only(evaluate("threshold", {"op": op, "value": 80}, source, times(0, 3))).trigger.tolist() == expected


def test_threshold_hysteresis_hovering_value_fires_once() -> None:
    values = np.array([70, 81, 79, 81, 79, 81, 79, 81, 74])
    source = source_of(values)
    outcome = only(evaluate("threshold", {"op": ">", "value": 80, "recovery": 75}, source, times(0, 8)))
    assert outcome.trigger.tolist() == (values > 80).tolist()
    assert outcome.hold.tolist() == (values > 75).tolist()
    result = replay(times(0, 8), outcome.trigger, outcome.hold, 0)
    assert result.fired == 1 and result.firing_intervals == [(int(times(1, 1)[0]), int(times(8, 8)[0]))]


@PROPERTY
@given(
    data=st.data(),
    op=st.sampled_from([">", ">=", "<", "<="]),
    threshold=st.floats(-1e6, 1e6, allow_nan=False),
)
def test_threshold_never_triggers_on_a_series_that_never_crosses(
    data: st.DataObject, op: str, threshold: float
) -> None:
    strict = op in (">", "<")
    if op.startswith(">"):
        side = st.floats(max_value=threshold, exclude_max=not strict, allow_nan=False)
    else:
        side = st.floats(min_value=threshold, exclude_min=not strict, allow_nan=False)
    values = data.draw(st.lists(st.one_of(side, st.just(math.nan)), min_size=1, max_size=30))
    source = source_of(np.asarray(values))
    outcomes = evaluate("threshold", {"op": op, "value": threshold}, source, times(0, len(values) - 1))
    assert not any(outcome.trigger.any() or outcome.hold.any() for outcome in outcomes)


# --- absent and not_finite ---------------------------------------------------------------------


def test_absent_triggers_on_a_gap() -> None:
    present = np.array([True, True, False, False, False, True])
    source = source_of(Data({"job": "api"}, np.full(6, 3.0), present), keep_empty=True)
    condition = CONDITIONS["absent"]()
    config = condition.Config.from_dict({"seconds": 300})
    assert condition.query(config, 'up{job="api"}') == 'count_over_time(up{job="api"}[300s])'
    outcome = only(condition.evaluate(config, 'up{job="api"}', times(0, 5), MINUTE, source))
    assert outcome.trigger.tolist() == [False, False, True, True, True, False]
    assert np.isnan(outcome.value).all()
    assert source.calls == [('count_over_time(up{job="api"}[300s])', T0, T0 + 5 * MINUTE, MINUTE)]


def test_absent_on_the_callers_placeholder_and_on_nothing() -> None:
    placeholder = Data({"job": "api"}, np.zeros(4), np.zeros(4, dtype=bool))
    outcome = only(evaluate("absent", {"seconds": 60}, source_of(placeholder, keep_empty=True), times(0, 3)))
    assert outcome.labels == {"job": "api"} and outcome.trigger.all()
    nothing = only(evaluate("absent", {"seconds": 60}, source_of(), times(0, 3)))
    assert nothing.labels == {} and nothing.trigger.all() and nothing.hold.all()


def test_not_finite_flags_nan_and_infinities() -> None:
    values = np.array([1.0, math.nan, math.inf, -math.inf, math.nan])
    present = np.array([True, True, True, True, False])
    outcome = only(evaluate("not_finite", {}, source_of(Data({}, values, present)), times(0, 4)))
    assert outcome.trigger.tolist() == [False, True, True, True, False]
    np.testing.assert_array_equal(outcome.value, [1.0, math.nan, math.inf, -math.inf, math.nan])


# --- anomaly -----------------------------------------------------------------------------------


def noisy(size: int, seed: int = 7, mean: float = 100.0, sigma: float = 2.0) -> np.ndarray:
    return np.random.default_rng(seed).normal(mean, sigma, size)


@pytest.mark.parametrize("method", ["zscore", "ewma"])
def test_anomaly_flags_a_spike_and_nothing_else(method: str) -> None:
    values = noisy(60 + 1440)
    spike = 60 + 700
    values[spike] = 100.0 + 10 * 2.0
    source = source_of(values)
    config = {"method": method, "baseline_s": 3600, "k": 5, "min_samples": 30}
    outcome = only(evaluate("anomaly", config, source, times(60, 60 + 1439)))
    assert np.flatnonzero(outcome.trigger).tolist() == [spike - 60]
    assert outcome.value[spike - 60] > 5
    assert np.isfinite(outcome.value).all()
    assert source.calls == [("m", T0, T0 + (60 + 1439) * MINUTE, MINUTE)]


def test_anomaly_zscore_is_the_baseline_mean_and_std() -> None:
    values = noisy(200, seed=11)
    present = np.random.default_rng(12).random(200) > 0.2
    values[np.random.default_rng(13).random(200) > 0.95] = math.nan
    outcome = only(
        evaluate(
            "anomaly", {"baseline_s": 1200, "min_samples": 5}, source_of(Data({}, values, present)), times(20, 199)
        )
    )
    for k, index in enumerate(range(20, 200)):
        window, ok = values[index - 20 : index], present[index - 20 : index]
        baseline = window[ok & np.isfinite(window)]
        if not present[index] or not np.isfinite(values[index]) or baseline.size < 5:
            assert math.isnan(outcome.value[k])
            continue
        expected = (values[index] - baseline.mean()) / baseline.std()
        assert outcome.value[k] == pytest.approx(expected, rel=1e-9)
        assert outcome.trigger[k] == (abs(expected) > 3)


def test_anomaly_respects_min_samples() -> None:
    values = noisy(120, seed=5)
    values[100] = 200.0
    present = np.arange(120) % 4 == 0  # 15 samples in a 60-minute baseline
    source = source_of(Data({}, values, present))
    short = only(evaluate("anomaly", {"min_samples": 16}, source, times(60, 119)))
    assert not short.trigger.any() and np.isnan(short.value).all()
    enough = only(evaluate("anomaly", {"min_samples": 15}, source, times(60, 119)))
    assert np.flatnonzero(enough.trigger).tolist() == [40]


def test_anomaly_on_a_flat_baseline_flags_any_other_value() -> None:
    values = np.full(40, 0.1)
    values[35] = 0.1000001
    outcome = only(evaluate("anomaly", {"baseline_s": 600, "min_samples": 5}, source_of(values), times(10, 39)))
    assert np.flatnonzero(outcome.trigger).tolist() == [25]
    assert outcome.value[25] == math.inf and (outcome.value[:25] == 0).all()


@pytest.mark.parametrize(("direction", "expected"), [("both", [1, 2]), ("above", [1]), ("below", [2])])
def test_anomaly_direction(direction: str, expected: list[int]) -> None:
    values = noisy(64, seed=3)
    values[61], values[62] = 150.0, 50.0
    config = {"min_samples": 30, "k": 4, "direction": direction}
    outcome = only(evaluate("anomaly", config, source_of(values), times(60, 63)))
    assert np.flatnonzero(outcome.trigger).tolist() == expected


# --- trend -------------------------------------------------------------------------------------


def test_trend_slope_flags_a_memory_leak() -> None:
    seconds = np.arange(240) * 60.0
    leak_starts = 120
    values = 2e9 + np.where(seconds >= seconds[leak_starts], (seconds - seconds[leak_starts]) * 1e6, 0.0)
    values += np.random.default_rng(2).normal(0, 1e5, 240)
    config = {"mode": "slope", "window_s": 600, "rate": 5e5, "direction": "rising"}
    outcome = only(evaluate("trend", config, source_of(values), times(10, 239)))
    trigger = outcome.trigger
    assert not trigger[: leak_starts - 10].any()
    assert trigger[leak_starts - 10 + 6 :].all()
    assert outcome.value[-1] == pytest.approx(1e6, rel=0.01)
    falling = {**config, "direction": "falling"}
    assert not only(evaluate("trend", falling, source_of(values), times(10, 239))).trigger.any()


def test_trend_slope_falling() -> None:
    values = 1000.0 - 2.0 * np.arange(30) * 60
    config = {"mode": "slope", "window_s": 300, "rate": 1.0, "direction": "falling"}
    outcome = only(evaluate("trend", config, source_of(values), times(5, 29)))
    assert outcome.trigger.all() and outcome.value == pytest.approx(np.full(25, -2.0))


def test_trend_forecast_crosses_at_the_right_time() -> None:
    step = 300_000
    rate, start_bytes, limit, horizon = 1e6, 100e9, 500e9, 86_400
    seconds = np.arange(2000) * 300.0
    values = start_bytes + rate * seconds + np.random.default_rng(4).normal(0, 1e6, 2000)
    config = {"mode": "forecast", "window_s": 3600, "limit": limit, "horizon_s": horizon}
    outcome = only(evaluate("trend", config, source_of(values, step=step), times(12, 1999, step), step))
    crossing_s = (limit - rate * horizon - start_bytes) / rate  # forecast(t) = value(t) + rate · horizon
    expected_index = math.ceil(crossing_s / 300) - 12
    first = int(np.flatnonzero(outcome.trigger)[0])
    assert abs(first - expected_index) <= 1
    assert outcome.trigger[first + 2 :].all()
    assert outcome.value[expected_index] == pytest.approx(limit, rel=1e-3)


def test_trend_forecast_falling_towards_zero() -> None:
    free = 50.0 - 0.01 * np.arange(100) * 60  # reaches 0 after 5000 s
    config = {"mode": "forecast", "window_s": 600, "limit": 0, "horizon_s": 3600}
    outcome = only(evaluate("trend", config, source_of(free), times(10, 99)))
    # forecast(t) = free(t) - 36 ≤ 0 from t = 1400 s, index 24 (as eval index 14)
    assert np.flatnonzero(outcome.trigger)[0] == 24 - 10


def test_trend_flat_series_is_not_flagged() -> None:
    flat = np.full(100, 7.3e11)
    slope = {"mode": "slope", "window_s": 600, "rate": 0, "direction": "rising"}
    forecast = {"mode": "forecast", "window_s": 600, "limit": 7.3e11, "horizon_s": 86_400}
    for config in (slope, forecast):
        outcome = only(evaluate("trend", config, source_of(flat), times(10, 99)))
        assert not outcome.trigger.any()
    assert (only(evaluate("trend", slope, source_of(flat), times(10, 99))).value == 0).all()


def test_trend_needs_three_points() -> None:
    values = np.arange(10.0) * 100
    present = np.array([True, True, True, True, False, False, True, True, True, True])
    config = {"mode": "slope", "window_s": 120, "rate": 0, "direction": "rising"}
    outcome = only(evaluate("trend", config, source_of(Data({}, values, present)), times(2, 9)))
    # windows of 3 grid points ending at 2..9 hold 3, 3, 2, 1, 1, 2, 3, 3 present points
    assert outcome.trigger.tolist() == [True, True, False, False, False, False, True, True]
    assert np.isnan(outcome.value[2:6]).all() and not np.isnan(outcome.value[[0, 1, 6, 7]]).any()


# --- drift -------------------------------------------------------------------------------------

DAY_POINTS = 288  # at 5-minute steps
STEP5 = 300_000


def drift_config(method: str, **extra: Any) -> dict[str, Any]:
    return {"method": method, "window_s": 6 * 3600, "threshold": 0.2 if method == "psi" else 0.1, **extra}


@pytest.mark.parametrize("method", ["psi", "ks"])
def test_drift_identical_days_do_not_trigger(method: str) -> None:
    day = np.random.default_rng(8).normal(0, 1, DAY_POINTS)
    source = source_of(np.tile(day, 3), step=STEP5)
    outcome = only(
        evaluate("drift", drift_config(method), source, times(DAY_POINTS * 2, DAY_POINTS * 3 - 1, STEP5), STEP5)
    )
    assert not outcome.trigger.any()
    assert (outcome.value == 0).all()
    assert len(source.calls) == 2
    assert source.calls[1][1:] == (source.calls[0][1] - DAY, source.calls[0][2] - DAY, STEP5)


@pytest.mark.parametrize("method", ["psi", "ks"])
def test_drift_same_distribution_large_samples_do_not_trigger(method: str) -> None:
    values = np.random.default_rng(9).normal(0, 1, 3 * 1440)
    config = {**drift_config(method), "window_s": 86_400}
    outcome = only(evaluate("drift", config, source_of(values), times(3 * 1440 - 1, 3 * 1440 - 1)))
    assert not outcome.trigger.any() and 0 < outcome.value[0] < config["threshold"] / 2


@pytest.mark.parametrize("method", ["psi", "ks"])
def test_drift_shifted_normal_triggers(method: str) -> None:
    rng = np.random.default_rng(10)
    values = np.concatenate((rng.normal(0, 1, DAY_POINTS), rng.normal(2, 1, DAY_POINTS)))
    source = source_of(Data({"model": "m"}, values), step=STEP5)
    eval_ts = times(DAY_POINTS + 72, 2 * DAY_POINTS - 1, STEP5)
    outcome = only(evaluate("drift", drift_config(method), source, eval_ts, STEP5))
    assert outcome.labels == {"model": "m"} and outcome.trigger.all()
    assert outcome.value.min() > (1.0 if method == "psi" else 0.4)


def test_drift_fixed_reference() -> None:
    rng = np.random.default_rng(11)
    values = np.concatenate((rng.normal(0, 1, DAY_POINTS), rng.normal(0, 1, 72), rng.normal(3, 1, 72)))
    source = source_of(values, step=STEP5)
    config = drift_config("ks", reference="fixed", reference_start_ms=T0, reference_end_ms=T0 + DAY - STEP5)
    eval_ts = times(DAY_POINTS + 71, DAY_POINTS + 143, STEP5)
    outcome = evaluate("drift", config, source, eval_ts, STEP5)[0]
    assert not outcome.trigger[0] and outcome.trigger[-1]
    assert source.calls[1] == ("m", T0, T0 + DAY - STEP5, STEP5)


def test_drift_needs_a_matching_reference_and_enough_samples() -> None:
    rng = np.random.default_rng(12)
    old = Data({"gpu": "0"}, rng.normal(0, 1, 2 * DAY_POINTS))
    new_present = np.arange(2 * DAY_POINTS) >= DAY_POINTS
    new = Data({"gpu": "1"}, rng.normal(5, 1, 2 * DAY_POINTS), new_present)
    sparse_present = np.arange(2 * DAY_POINTS) % 3 == 0  # 25 samples per 6-hour window
    sparse = Data(
        {"gpu": "2"}, np.concatenate((rng.normal(0, 1, DAY_POINTS), rng.normal(5, 1, DAY_POINTS))), sparse_present
    )
    eval_ts = times(2 * DAY_POINTS - 10, 2 * DAY_POINTS - 1, STEP5)
    outcomes = evaluate("drift", drift_config("ks"), source_of(old, new, sparse, step=STEP5), eval_ts, STEP5)
    by_gpu = {outcome.labels["gpu"]: outcome for outcome in outcomes}
    assert not by_gpu["1"].trigger.any() and np.isnan(by_gpu["1"].value).all()
    assert not by_gpu["2"].trigger.any() and np.isnan(by_gpu["2"].value).all()
    relaxed = evaluate("drift", drift_config("ks", min_samples=20), source_of(sparse, step=STEP5), eval_ts, STEP5)
    assert only(relaxed).trigger.all()


# --- live evaluation agrees with the backtest ---------------------------------------------------

SAME_CODE_CASES = [
    ("threshold", {"op": ">", "value": 1.0, "recovery": 0.0}),
    ("absent", {"seconds": 600}),
    ("not_finite", {}),
    ("anomaly", {"baseline_s": 7200, "min_samples": 10, "k": 1.5}),
    ("anomaly", {"method": "ewma", "baseline_s": 7200, "min_samples": 10, "k": 1.5, "alpha": 0.3}),
    ("trend", {"mode": "slope", "window_s": 3600, "rate": 0.0, "direction": "rising"}),
    ("trend", {"mode": "forecast", "window_s": 3600, "limit": 2.0, "horizon_s": 7200}),
    ("drift", {"method": "psi", "window_s": 7200, "threshold": 1.0, "min_samples": 10}),
    ("drift", {"method": "ks", "window_s": 7200, "threshold": 0.3, "min_samples": 10}),
]


@pytest.mark.parametrize(("kind", "config"), SAME_CODE_CASES)
def test_live_evaluation_agrees_with_the_backtest(kind: str, config: dict[str, Any]) -> None:
    rng = np.random.default_rng(21)
    size = 3 * DAY_POINTS
    values = rng.normal(0, 1, size)
    values[2 * DAY_POINTS + 150 : 2 * DAY_POINTS + 200] += 3  # a level shift, for drift
    values[rng.random(size) > 0.98] = math.nan
    present = rng.random(size) > 0.1
    present[2 * DAY_POINTS + 100 : 2 * DAY_POINTS + 110] = False
    source = source_of(Data({"x": "1"}, values, present), step=STEP5, keep_empty=kind == "absent")
    eval_ts = times(2 * DAY_POINTS, size - 1, STEP5)
    backtest = only(evaluate(kind, config, source, eval_ts, STEP5))
    assert len(source.calls) <= 2
    assert backtest.trigger.any() and not backtest.trigger.all()
    for k in range(eval_ts.size):
        live = evaluate(kind, config, source, eval_ts[k : k + 1], STEP5)
        outcome = live[0] if live else None
        if outcome is None:  # nothing present in a live span: the backtest has nothing there either
            assert not backtest.trigger[k]
            continue
        assert outcome.trigger[0] == backtest.trigger[k] and outcome.hold[0] == backtest.hold[k]
        np.testing.assert_allclose(outcome.value, backtest.value[k : k + 1], rtol=1e-9, atol=1e-12)
    # evaluation times sparser than the data's step (a backtest every 5 steps on the live step's data)
    sparse = only(evaluate(kind, config, source, eval_ts[::5], STEP5))
    assert sparse.trigger.tolist() == backtest.trigger[::5].tolist()
    np.testing.assert_allclose(sparse.value, backtest.value[::5], rtol=1e-9, atol=1e-12)


@dataclass
class SnappingSource:
    """A source that answers with a larger grid, its start snapped back (as rollups snap it)."""

    inner: FakeSource
    snap: int

    def grid(self, query: str, start_ms: int, end_ms: int, step_ms: int) -> tuple[np.ndarray, list[SeriesGrid]]:
        return self.inner.grid(query, start_ms - start_ms % self.snap, end_ms, step_ms)


def test_a_larger_grid_is_cut_and_a_coarser_one_refused() -> None:
    values = np.random.default_rng(30).normal(0, 1, 400)
    config = {"mode": "slope", "window_s": 1800, "rate": 0.0, "direction": "rising"}
    eval_ts = times(100, 399)
    exact = only(evaluate("trend", config, source_of(values), eval_ts))
    snapped = only(evaluate("trend", config, SnappingSource(source_of(values), 7 * MINUTE), eval_ts))
    np.testing.assert_array_equal(snapped.value, exact.value)

    class Coarser(FakeSource):
        def grid(self, query: str, start_ms: int, end_ms: int, step_ms: int) -> tuple[np.ndarray, list[SeriesGrid]]:
            return super().grid(query, start_ms, end_ms, 2 * step_ms)

    with pytest.raises(ValueError, match="lacks times"):
        evaluate("trend", config, Coarser(T0, MINUTE, [Data({}, values)]), eval_ts)
