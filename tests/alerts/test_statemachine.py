"""The alert state machine: one evaluation at a time, and replayed over a grid."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from alerts.statemachine import FIRING, INACTIVE, PENDING, RESOLVED, AlertStatus, Replay, advance, replay

PROPERTY = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
STEP = 60_000
T0 = 1_800_000_000_000


def step_through(ts: list[int], trigger: list[bool], hold: list[bool], for_ms: int) -> Replay:
    """The brute-force reference: ``advance`` once per grid time."""
    status, states, intervals, fired = AlertStatus(), [], [], 0
    for now, t, h in zip(ts, trigger, hold, strict=True):
        status, transition = advance(status, t, h, now, for_ms)
        if transition == FIRING:
            fired += 1
            intervals.append((now, None))
        elif transition == RESOLVED:
            intervals[-1] = (intervals[-1][0], now)
        states.append(status.state)
    return Replay(intervals, fired, np.asarray(states))


def grid(size: int) -> list[int]:
    return [T0 + k * STEP for k in range(size)]


def test_pending_then_firing_after_the_duration() -> None:
    status, transition = advance(AlertStatus(), True, True, T0, 3 * STEP)
    assert (status, transition) == (AlertStatus(PENDING, T0, None), PENDING)
    for k in (1, 2):
        status, transition = advance(status, True, True, T0 + k * STEP, 3 * STEP)
        assert (status.state, transition) == (PENDING, None)
    status, transition = advance(status, True, True, T0 + 3 * STEP, 3 * STEP)
    assert (status, transition) == (AlertStatus(FIRING, T0, T0 + 3 * STEP), FIRING)
    status, transition = advance(status, False, False, T0 + 4 * STEP, 3 * STEP)
    assert (status, transition) == (AlertStatus(RESOLVED, None, T0 + 3 * STEP), RESOLVED)
    status, transition = advance(status, False, False, T0 + 5 * STEP, 3 * STEP)
    assert (status.state, transition) == (RESOLVED, None)


def test_a_dip_resets_the_pending_duration() -> None:
    trigger = [True, True, False, True, True, True, True]
    result = replay(grid(7), trigger, trigger, 3 * STEP)
    assert result.states.tolist() == [PENDING, PENDING, INACTIVE, PENDING, PENDING, PENDING, FIRING]
    assert result.fired == 1 and result.firing_intervals == [(T0 + 6 * STEP, None)]


def test_pending_that_stops_goes_back_to_inactive() -> None:
    status, _ = advance(AlertStatus(), True, True, T0, STEP)
    assert advance(status, False, False, T0 + 1, STEP) == (AlertStatus(), INACTIVE)


def test_for_zero_fires_in_the_same_evaluation() -> None:
    assert advance(AlertStatus(), True, True, T0, 0) == (AlertStatus(FIRING, T0, T0), FIRING)
    result = replay(grid(4), [False, True, False, True], [False, True, False, True], 0)
    assert result.states.tolist() == [INACTIVE, FIRING, RESOLVED, FIRING]
    assert result.firing_intervals == [(T0 + STEP, T0 + 2 * STEP), (T0 + 3 * STEP, None)]


def test_resolved_alert_can_fire_again() -> None:
    status = AlertStatus(RESOLVED, None, T0)
    assert advance(status, True, True, T0 + STEP, STEP) == (AlertStatus(PENDING, T0 + STEP, None), PENDING)


def test_hysteresis_hovering_value_fires_once_and_never_flaps() -> None:
    values = np.array([70, 81, 79, 81, 79, 81, 79, 81, 79, 70], dtype=float)
    trigger, hold = values > 80, values > 75
    result = replay(grid(values.size), trigger, hold, STEP)
    assert result.fired == 1
    assert result.states.tolist() == [INACTIVE, PENDING] + [FIRING] * 7 + [RESOLVED]
    assert result.firing_intervals == [(T0 + 2 * STEP, T0 + 9 * STEP)]
    without_hysteresis = replay(grid(values.size), trigger, trigger, 0)
    assert without_hysteresis.fired == 4


def test_hold_keeps_only_an_active_alert() -> None:
    # hold alone never starts an alert
    result = replay(grid(5), [False] * 5, [True] * 5, 0)
    assert result.fired == 0 and result.states.tolist() == [INACTIVE] * 5


def test_negative_for_and_unsorted_times_are_refused() -> None:
    with pytest.raises(ValueError, match="negative"):
        advance(AlertStatus(), True, True, T0, -1)
    with pytest.raises(ValueError, match="ascending"):
        replay([2, 1], [True, True], [True, True], 0)


def test_replay_of_nothing() -> None:
    result = replay([], [], [], 0)
    assert result.fired == 0 and result.firing_intervals == [] and result.states.size == 0


@st.composite
def runs(draw: st.DrawFn) -> tuple[list[int], list[bool], list[bool], int]:
    size = draw(st.integers(0, 60))
    gaps = draw(st.lists(st.integers(1, 4), min_size=size, max_size=size))
    ts = (T0 + np.cumsum(gaps) * 30_000).tolist()
    trigger = draw(st.lists(st.booleans(), min_size=size, max_size=size))
    hold = draw(st.lists(st.booleans(), min_size=size, max_size=size))
    for_ms = draw(st.sampled_from([0, 30_000, 60_000, 90_000, 150_000, 10**9]))
    return ts, trigger, hold, for_ms


@PROPERTY
@given(case=runs())
def test_replay_is_advance_step_by_step(case: tuple[list[int], list[bool], list[bool], int]) -> None:
    ts, trigger, hold, for_ms = case
    expected = step_through(ts, trigger, hold, for_ms)
    result = replay(np.asarray(ts, dtype=np.int64), np.asarray(trigger), np.asarray(hold), for_ms)
    assert result.fired == expected.fired
    assert result.firing_intervals == expected.firing_intervals
    assert result.states.tolist() == expected.states.tolist()


STATUSES = st.one_of(
    st.just(AlertStatus()),
    st.builds(lambda t: AlertStatus(PENDING, t, None), st.integers(T0 - 10 * STEP, T0)),
    st.builds(lambda t, f: AlertStatus(FIRING, t, t + f), st.integers(T0 - 10 * STEP, T0), st.integers(0, STEP)),
    st.builds(lambda f: AlertStatus(RESOLVED, None, f), st.integers(T0 - 10 * STEP, T0)),
)


@PROPERTY
@given(
    status=STATUSES,
    trigger=st.booleans(),
    hold=st.booleans(),
    for_ms=st.sampled_from([0, STEP, 5 * STEP]),
    earlier=st.integers(0, 3 * STEP),
)
def test_advance_is_idempotent(status: AlertStatus, trigger: bool, hold: bool, for_ms: int, earlier: int) -> None:
    once, _ = advance(status, trigger, hold, T0, for_ms)
    assert advance(once, trigger, hold, T0, for_ms) == (once, None)
    assert advance(once, trigger, hold, T0 - earlier, for_ms) == (once, None)
