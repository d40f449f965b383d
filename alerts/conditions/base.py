"""What every alert condition shares: configuration checking, the data contracts, grid alignment.

Framework-free. A condition kind is one small class with one method, ``evaluate``, that turns the
rule's expression, evaluated on a time grid by a caller-supplied ``Source``, into an ``Outcome``
per label set: boolean masks over the evaluation times. The same call serves a live evaluation
(``eval_ts = [now]``) and a backtest over days of history (``eval_ts`` a regular grid), so a
condition fetches everything it needs in one or two ``Source.grid`` calls and computes the masks
for all evaluation times at once.

Grid alignment: ``step_ms`` is the resolution of the data a condition looks at, and evaluation
times must lie on one grid of it (``eval_ts[0] + k · step_ms``; they may be several steps apart,
so a backtest can evaluate every 5 minutes on the live evaluation's finer data and get the live
statistics). Windows are measured on that grid: a window of ``W`` ms covers the ``W // step_ms``
grid points before ``t`` (and ``t`` itself where the window is closed ``[t - W, t]``), which is
every grid point in ``[t - W, t]``. A condition fetches its grid from ``eval_ts[0] - (W //
step_ms) · step_ms``, the first grid point inside the first window, so every evaluation time is
one of the fetched grid times.

``ConfigError`` and ``config_from_dict`` mirror ``monitoring.collectors.base`` (same shape: the
offending field in ``ConfigError.field``, unknown keys refused); they are not imported from there
because importing ``monitoring.collectors`` loads the ``opsboard`` package and with it Django.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Collection, Mapping
from dataclasses import MISSING, dataclass, fields
from typing import Any, ClassVar, Protocol, Self

import numpy as np

from alerts.stats import BoolArray, FloatArray, IntArray

LabelKey = tuple[tuple[str, str], ...]


# --- Configuration ----------------------------------------------------------------------------


class ConfigError(ValueError):
    """A kind's configuration that cannot work; ``field`` names the offending key."""

    def __init__(self, field_name: str, message: str) -> None:
        super().__init__(f"{field_name}: {message}")
        self.field = field_name
        self.message = message


def config_from_dict(cls: type, data: Mapping[str, Any]) -> Any:
    """Build a kind's config dataclass from a dict, checking each field's type.

    Unknown keys are refused; a key whose value is None counts as not given; a field without a
    default must be given. Floats must be finite. The dataclass's ``__post_init__`` then checks
    ranges and combinations.
    """
    if not isinstance(data, Mapping):
        raise ConfigError("config", f"{data!r} is not a mapping of settings")
    known = {f.name: f for f in fields(cls)}
    unknown = sorted(set(data) - set(known))
    if unknown:
        raise ConfigError(unknown[0], f"unknown setting; this kind takes {', '.join(known) or 'none'}")
    values = {}
    for name, spec in known.items():
        if name in data and data[name] is not None:
            values[name] = _coerce(name, data[name], str(spec.type))
        elif spec.default is MISSING and spec.default_factory is MISSING:
            raise ConfigError(name, "required")
    return cls(**values)


def _coerce(name: str, value: Any, expected: str) -> Any:
    if expected.startswith("int") and not isinstance(value, bool):
        if isinstance(value, int) or (isinstance(value, str) and value.strip().lstrip("-").isdigit()):
            return int(value)
        raise ConfigError(name, f"{value!r} is not a whole number")
    if expected.startswith("float") and not isinstance(value, bool):
        try:
            number = float(value)
        except (TypeError, ValueError):
            raise ConfigError(name, f"{value!r} is not a number") from None
        if not math.isfinite(number):
            raise ConfigError(name, f"{value!r} is not a finite number")
        return number
    if expected.startswith("str"):
        if isinstance(value, str):
            return value
        raise ConfigError(name, f"{value!r} is not text")
    if expected.startswith(("int", "float")):
        raise ConfigError(name, f"{value!r} is not a number")
    return value


class KindConfig:
    """Base of the kinds' frozen config dataclasses: ``from_dict`` checks types, ``__post_init__``
    (in each subclass) checks ranges and raises ``ConfigError``."""

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Self:
        return config_from_dict(cls, data)


def one_of(name: str, value: str, options: Collection[str]) -> None:
    if value not in options:
        raise ConfigError(name, f"{value!r} is not one of {', '.join(options)}")


def at_least(name: str, value: float, minimum: float) -> None:
    if value < minimum:
        raise ConfigError(name, f"must be at least {minimum:g}, got {value:g}")


def at_most(name: str, value: float, maximum: float) -> None:
    if value > maximum:
        raise ConfigError(name, f"must be at most {maximum:g}, got {value:g}")


def positive(name: str, value: float) -> None:
    if not value > 0:
        raise ConfigError(name, f"must be greater than 0, got {value:g}")


def required_for(config: object, names: Collection[str], context: str) -> None:
    """Each of ``names`` must be set (not None) on ``config``; ``context`` says why."""
    for name in names:
        if getattr(config, name) is None:
            raise ConfigError(name, f"required with {context}")


def refused_for(config: object, names: Collection[str], context: str) -> None:
    """None of ``names`` may be set on ``config``: they do not apply in ``context``."""
    for name in names:
        if getattr(config, name) is not None:
            raise ConfigError(name, f"does not apply with {context}")


# --- Data contracts ---------------------------------------------------------------------------


@dataclass
class SeriesGrid:
    """One series of a rule's expression evaluated on a time grid."""

    labels: dict[str, str]
    values: np.ndarray  # float64, one per grid time (NaN and ±Inf are legitimate values)
    present: np.ndarray  # bool, whether the series has a value at that grid time


class Source(Protocol):
    """Supplied by the caller; evaluates the rule's query on a grid.

    ``grid`` returns the grid times (int64 ms: ``start, start + step, …`` up to and including
    ``end``) and one ``SeriesGrid`` per series, arrays aligned with the grid times. A query that
    matches nothing returns no series (but see the absent condition's stricter contract).
    """

    def grid(self, query: str, start_ms: int, end_ms: int, step_ms: int) -> tuple[np.ndarray, list[SeriesGrid]]: ...


@dataclass
class Outcome:
    """Per label set, arrays aligned with the evaluation times given to ``evaluate``."""

    labels: dict[str, str]
    trigger: np.ndarray  # bool: the condition holds → an inactive alert becomes active
    hold: np.ndarray  # bool: an alert already active stays active (hysteresis); usually == trigger
    value: np.ndarray  # float64: the value to show or record at each evaluation time (NaN where none)


class Condition(ABC):
    """Base of the condition kinds; subclasses set ``kind`` and ``Config`` and implement ``evaluate``."""

    kind: ClassVar[str]
    Config: ClassVar[type]

    def query(self, config: Any, expression: str) -> str:
        """The query to evaluate for ``expression``: the expression itself unless a kind wraps it."""
        return expression

    @abstractmethod
    def evaluate(
        self, config: Any, expression: str, eval_ts: np.ndarray, step_ms: int, source: Source
    ) -> list[Outcome]:
        """Outcomes of the rule at each of ``eval_ts`` (ascending, on a grid of ``step_ms``)."""


def labels_key(labels: Mapping[str, str]) -> LabelKey:
    """A hashable identity of a label set, for matching series across grids."""
    return tuple(sorted(labels.items()))


# --- Fetching aligned grids -------------------------------------------------------------------


@dataclass
class Fetched:
    """A grid fetched for a condition, with the grid index of each evaluation time."""

    ts: IntArray
    series: list[SeriesGrid]
    eval_idx: IntArray


def check_eval_ts(eval_ts: np.ndarray, step_ms: int) -> IntArray:
    """``eval_ts`` as int64, checked: 1-D, strictly ascending, all on one grid of ``step_ms``."""
    if step_ms <= 0:
        raise ValueError(f"step must be positive, got {step_ms} ms")
    ts = np.asarray(eval_ts, dtype=np.int64)
    if ts.ndim != 1:
        raise ValueError(f"evaluation times must be 1-D, got shape {ts.shape}")
    if ts.size and (np.any(np.diff(ts) <= 0) or np.any((ts - ts[0]) % step_ms != 0)):
        raise ValueError(f"evaluation times must be ascending and {step_ms} ms apart (or a multiple of it)")
    return ts


def window_points(window_ms: int, step_ms: int) -> int:
    """How many grid points before ``t`` a window of ``window_ms`` covers: those in ``[t - window, t)``."""
    return window_ms // step_ms


def fetch(
    source: Source, query: str, eval_ts: IntArray, step_ms: int, *, lead_points: int = 0, shift_ms: int = 0
) -> Fetched:
    """One ``source.grid`` call covering ``eval_ts - shift_ms`` and ``lead_points`` grid points before.

    The grid runs from ``eval_ts[0] - shift_ms - lead_points · step_ms`` to ``eval_ts[-1] -
    shift_ms``; ``eval_idx[i]`` is the index of ``eval_ts[i] - shift_ms`` in it. A source that
    returns another grid, or arrays of another length, is a programming error (ValueError).
    """
    start = int(eval_ts[0]) - shift_ms - lead_points * step_ms
    grid_ts, series = fetch_span(source, query, start, int(eval_ts[-1]) - shift_ms, step_ms)
    return Fetched(grid_ts, series, (eval_ts - shift_ms - start) // step_ms)


def fetch_span(
    source: Source, query: str, start_ms: int, end_ms: int, step_ms: int
) -> tuple[IntArray, list[SeriesGrid]]:
    """One ``source.grid`` call, its answer checked and aligned with the grid asked for.

    A source may answer with a larger grid at the same step (one that snaps its start to a
    rollup's resolution, say): the asked-for times are then cut out of it. A grid that lacks any
    asked-for time (a coarser step) would silently change every window, so it is refused
    (ValueError), as are series arrays of another length than the grid.
    """
    grid_ts, series = source.grid(query, start_ms, end_ms, step_ms)
    grid_ts = np.asarray(grid_ts, dtype=np.int64)
    for one in series:
        if np.shape(one.values) != grid_ts.shape or np.shape(one.present) != grid_ts.shape:
            raise ValueError(f"series {one.labels} does not match the grid's {grid_ts.size} times")
    expected = np.arange(start_ms, end_ms + 1, step_ms, dtype=np.int64)
    if np.array_equal(grid_ts, expected):
        return grid_ts, series
    pos = np.minimum(np.searchsorted(grid_ts, expected), max(grid_ts.size - 1, 0))
    if grid_ts.size == 0 or np.any(grid_ts[pos] != expected):
        raise ValueError(f"the source's grid lacks times of {start_ms}..{end_ms} every {step_ms} ms")
    return expected, [_cut(one, pos) for one in series]


def _cut(series: SeriesGrid, pos: IntArray) -> SeriesGrid:
    return SeriesGrid(series.labels, np.asarray(series.values)[pos], np.asarray(series.present)[pos])


def values_at(series: SeriesGrid, idx: IntArray) -> tuple[FloatArray, BoolArray]:
    """The series' values (float64) and presence (bool) at grid indices ``idx``."""
    values = np.asarray(series.values, dtype=np.float64)[idx]
    present = np.asarray(series.present, dtype=bool)[idx]
    return values, present


def no_outcome(labels: Mapping[str, str], size: int) -> Outcome:
    """An outcome that never triggers and has no value."""
    never = np.zeros(size, dtype=bool)
    return Outcome(dict(labels), never, never.copy(), np.full(size, np.nan))
