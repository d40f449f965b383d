"""The alert state machine: inactive → pending → firing → resolved, with a ``for`` duration.

Framework-free. ``advance`` is one evaluation, as the live evaluator runs it; ``replay`` runs the
same machine over a whole grid at once, vectorised, for a backtest. They agree exactly (a
property test steps ``advance`` against ``replay``).

Semantics of one evaluation at ``now_ms`` with the condition's ``trigger`` and ``hold``:

* active = ``hold or trigger`` while pending or firing (hysteresis: ``hold`` keeps an alert that
  no longer triggers), else ``trigger``. A condition's ``hold`` already contains its ``trigger``
  (whatever would start an alert also keeps it); the ``or`` makes that so for any inputs, which
  keeps ``advance`` idempotent (see below) even if a caller passes trigger without hold.
* inactive or resolved, and active → pending (``active_since = now``); and in the same
  evaluation → firing when ``for_ms`` is 0.
* pending, active, and ``now - active_since >= for_ms`` → firing (``fired_at = now``).
* pending and not active → inactive; firing and not active → resolved (``fired_at`` kept).
* otherwise unchanged, no transition.

Idempotent: evaluating again with the same inputs at the same or an earlier ``now_ms`` changes
nothing, so a retried or duplicated evaluation is harmless.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

INACTIVE, PENDING, FIRING, RESOLVED = "inactive", "pending", "firing", "resolved"
STATES = (INACTIVE, PENDING, FIRING, RESOLVED)
_CODE = {state: code for code, state in enumerate(STATES)}


@dataclass(frozen=True)
class AlertStatus:
    """Where one alert (one rule, one label set) stands."""

    state: str = INACTIVE
    active_since_ms: int | None = None  # when the condition started to hold (pending since)
    fired_at_ms: int | None = None  # when it last became firing


def advance(status: AlertStatus, trigger: bool, hold: bool, now_ms: int, for_ms: int) -> tuple[AlertStatus, str | None]:
    """One evaluation: the new status and the transition that happened (the new state's name:
    "pending", "firing", "inactive" for a pending alert that stopped, "resolved"), or None."""
    if for_ms < 0:
        raise ValueError(f"for must not be negative, got {for_ms} ms")
    if status.state in (PENDING, FIRING):
        return _advance_active(status, bool(hold or trigger), now_ms, for_ms)
    if not trigger:
        return status, None
    if for_ms == 0:
        return AlertStatus(FIRING, now_ms, now_ms), FIRING
    return AlertStatus(PENDING, now_ms, None), PENDING


def _advance_active(status: AlertStatus, active: bool, now_ms: int, for_ms: int) -> tuple[AlertStatus, str | None]:
    if not active:
        if status.state == FIRING:
            return AlertStatus(RESOLVED, None, status.fired_at_ms), RESOLVED
        return AlertStatus(), INACTIVE
    since = status.active_since_ms if status.active_since_ms is not None else now_ms
    if status.state == PENDING and now_ms - since >= for_ms:
        return AlertStatus(FIRING, since, now_ms), FIRING
    return status, None


@dataclass
class Replay:
    """The machine run over a grid from inactive."""

    firing_intervals: list[tuple[int, int | None]]  # (became firing, resolved or None if still firing)
    fired: int  # how many times it became firing
    states: NDArray[np.str_]  # the state after the evaluation at each grid time


def replay(ts: ArrayLike, trigger: ArrayLike, hold: ArrayLike, for_ms: int) -> Replay:
    """``advance`` at every time of ``ts`` (strictly ascending) from inactive, vectorised.

    Let ``active = hold | trigger``. From inactive, the machine can only start at a trigger, and
    once started stays active exactly until the run of ``active`` it started in ends. So each
    maximal run of ``active`` that contains a trigger makes one episode: pending from the run's
    first trigger ``s``, firing from the first time ``>= ts[s] + for_ms`` inside the run (if any),
    and inactive or resolved from the index just after the run.
    """
    times = np.asarray(ts, dtype=np.int64)
    starts = np.asarray(trigger, dtype=bool)
    active = np.asarray(hold, dtype=bool) | starts
    if for_ms < 0:
        raise ValueError(f"for must not be negative, got {for_ms} ms")
    if not (times.shape == starts.shape == active.shape) or times.ndim != 1:
        raise ValueError("ts, trigger and hold must be 1-D and of one length")
    if np.any(np.diff(times) <= 0):
        raise ValueError("ts must be strictly ascending")
    start, fire, stop = _episodes(times, starts, active, for_ms)
    fired = fire < stop
    states = _states(times.size, start, fire[fired], stop, fired)
    intervals = [
        (int(times[f]), int(times[s]) if s < times.size else None)
        for f, s in zip(fire[fired], stop[fired], strict=True)
    ]
    return Replay(intervals, int(fired.sum()), states)


def _episodes(
    times: NDArray[np.int64], starts: NDArray[np.bool_], active: NDArray[np.bool_], for_ms: int
) -> tuple[NDArray[np.int64], NDArray[np.int64], NDArray[np.int64]]:
    """Per episode: the index where it became pending, where it would fire, and just after its run."""
    edges = np.diff(np.concatenate(([0], active.astype(np.int8), [0])))
    run_start, run_stop = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)
    trigger_idx = np.flatnonzero(starts)
    first = np.searchsorted(trigger_idx, run_start)
    has = first < trigger_idx.size
    has[has] = trigger_idx[first[has]] < run_stop[has]
    start = trigger_idx[first[has]]
    fire = np.searchsorted(times, times[start] + for_ms, side="left")
    return start.astype(np.int64), fire.astype(np.int64), run_stop[has].astype(np.int64)


def _states(
    size: int, start: NDArray[np.int64], fire: NDArray[np.int64], stop: NDArray[np.int64], fired: NDArray[np.bool_]
) -> NDArray[np.str_]:
    """State per grid time: mark each change, then carry every mark forward to the next."""
    marks = np.full(size, -1, dtype=np.int64)
    marks[start] = _CODE[PENDING]
    marks[fire] = _CODE[FIRING]
    ended = stop < size
    marks[stop[ended]] = np.where(fired[ended], _CODE[RESOLVED], _CODE[INACTIVE])
    latest = np.maximum.accumulate(np.where(marks >= 0, np.arange(size), -1)) if size else marks
    codes = np.where(latest >= 0, marks[np.maximum(latest, 0)], _CODE[INACTIVE])
    return np.asarray(STATES)[codes]
