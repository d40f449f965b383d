"""Who is on call: layered rotations with restrictions, and overrides (PagerDuty semantics).

Framework-free, plain dataclasses in and out; users are opaque strings (user uids). Every
datetime going in must be timezone-aware (a naive one is refused with ``ValueError``);
every datetime coming out is aware and in UTC.

Who is on call at an instant:

1. **Overrides win.** Of the overrides whose ``[starts_at, ends_at)`` contains the instant,
   the one that starts **latest** decides; between overrides that start at the same
   instant, the one **later in the list** decides (so a caller that lists overrides in
   the order they were created gets "the newest wins" for ties).
2. Otherwise the **last layer** (highest index) that covers the instant decides; a layer
   covers nothing before its ``start`` and, if it has restrictions, only inside their
   windows. Earlier layers show through only where later layers don't cover.
3. Otherwise nobody (``None``).

A layer's rotation:

* The **anchor** is, for ``unit == "days"``, the layer's start date (its local date in the
  layer's ``timezone``) at the wall-clock ``handoff`` time; for ``unit == "hours"`` it is the
  ``start`` instant itself (``handoff`` is validated but unused).
* ``"days"``: hand-offs happen at the local wall-clock ``handoff`` time every ``rotation``
  local calendar days from the anchor. Across a daylight-saving change the hand-off stays
  at the same local time, so its UTC instant moves by the change and a "1 day" turn lasts
  23 or 25 real hours (a weekly turn 167 or 169). A hand-off time that does not exist
  that day (the spring-forward gap) happens at the first instant after the gap (the
  instant of the change); one that happens twice (fall back) at its first occurrence
  (``fold=0``).
* ``"hours"``: hand-offs every ``rotation`` real (elapsed) hours from the anchor; daylight
  saving time plays no part.
* The participant on call is ``participants[turn % len(participants)]``, where ``turn``
  is the number of hand-offs since the anchor that have happened (0 from the anchor
  until the next hand-off), never less than 0: when ``start`` is earlier than the anchor
  (a start before the hand-off time of its day) participant 0 covers from ``start``, so
  their first turn is longer; when it is later, their first turn is shorter.

Restrictions limit a layer to local windows: a window starts on each of its ``weekdays`` at
the wall-clock ``start`` and ends at the wall-clock ``end`` the same day, or the next day
when ``end <= start`` (so ``end == start`` is a 24-hour window). Both bounds follow the
same gap/fold rules as hand-offs. The rotation keeps turning while a layer is restricted.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime, time, timedelta
from functools import lru_cache
from itertools import pairwise
from typing import Any
from zoneinfo import ZoneInfo

from alerts import localtime

DAYS = "days"
HOURS = "hours"
UNITS = (DAYS, HOURS)
OVERRIDE = "override"
DEFAULT_HORIZON = timedelta(days=366)
_CLOCK = re.compile(r"([01][0-9]|2[0-3]):([0-5][0-9])")
_LAYER_FIELDS = ("participants", "rotation", "unit", "handoff", "start", "timezone", "restrictions")
_LAYER_OPTIONAL = ("restrictions",)
_RESTRICTION_FIELDS = ("weekdays", "start", "end")
_FIRST_REACH = timedelta(days=8)


# --- Validation helpers -------------------------------------------------------------------


def _check_clock(name: str, value: Any) -> None:
    if not isinstance(value, str) or not _CLOCK.fullmatch(value):
        raise ValueError(f"{name}: {value!r} is not a time of day as HH:MM, such as 09:00")


def _check_fields(kind: str, data: Any, fields: Sequence[str], optional: Sequence[str] = ()) -> None:
    if not isinstance(data, Mapping):
        raise ValueError(f"{kind}: must be a mapping of {', '.join(fields)}")
    unknown = sorted(str(key) for key in data if key not in fields)
    if unknown:
        raise ValueError(f"{unknown[0]}: unknown field; a {kind} has {', '.join(fields)}")
    for name in fields:
        if name not in data and name not in optional:
            raise ValueError(f"{name}: required")


def _parse_datetime(name: str, value: Any) -> datetime:
    """An aware datetime from a datetime or an ISO 8601 string with an offset."""
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            raise ValueError(f"{name}: {value!r} is not an ISO 8601 date and time") from None
    return localtime.aware(name, value)


# --- Wall-clock times ---------------------------------------------------------------------


@lru_cache(maxsize=8192)
def wall_clock(timezone: str, day: date, clock: str) -> datetime:
    """The UTC instant of local wall-clock ``clock`` ("HH:MM") on ``day`` in ``timezone``.

    A time in a spring-forward gap gives the first instant after the gap (the instant of
    the change); a time that happens twice gives its first occurrence (``fold=0``).
    """
    hours, minutes = clock.split(":")
    return localtime.local_instant(localtime.zone(timezone), day, time(int(hours), int(minutes)))


# --- Data ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Restriction:
    """Local windows a layer is limited to, e.g. Monday to Friday 09:00-17:00.

    ``weekdays`` are 0 (Monday) to 6 (Sunday), the days a window *starts* on, kept sorted
    and without repeats; ``start`` and ``end`` are "HH:MM" local times; ``end <= start``
    means the window ends the next day (22:00-06:00 is a night). Invalid values raise
    ``ValueError`` whose message starts with the field's name.
    """

    weekdays: tuple[int, ...]
    start: str
    end: str

    def __post_init__(self) -> None:
        object.__setattr__(self, "weekdays", localtime.weekdays(self.weekdays))
        _check_clock("start", self.start)
        _check_clock("end", self.end)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Restriction:
        """From the stored form (``to_dict()``); unknown and missing fields are refused."""
        _check_fields("restriction", data, _RESTRICTION_FIELDS)
        weekdays = data["weekdays"]
        if not isinstance(weekdays, list | tuple):
            raise ValueError("weekdays: must be a list of days, 0 (Monday) to 6 (Sunday)")
        return cls(tuple(weekdays), data["start"], data["end"])

    def to_dict(self) -> dict[str, Any]:
        return {"weekdays": list(self.weekdays), "start": self.start, "end": self.end}

    @property
    def overnight(self) -> bool:
        """Whether a window ends on the day after it starts."""
        return self.end <= self.start

    def windows(self, timezone: str, first: date, last: date) -> Iterator[tuple[datetime, datetime]]:
        """The windows starting on local dates ``first`` to ``last`` (inclusive), as UTC
        ``(opens, closes)`` in order; windows that a gap makes empty are left out."""
        day = first
        while day <= last:
            if day.weekday() in self.weekdays:
                opens = wall_clock(timezone, day, self.start)
                closes = wall_clock(timezone, day + timedelta(days=int(self.overnight)), self.end)
                if opens < closes:
                    yield opens, closes
            day += timedelta(days=1)


@dataclass(frozen=True)
class Layer:
    """One rotation; see the module's docstring for the exact semantics.

    ``participants`` (non-empty, in order; repeats allowed) take turns of ``rotation``
    (>= 1) ``unit`` ("days" or "hours"). ``handoff`` is the "HH:MM" local hand-off time
    for "days". ``start`` (aware; kept in UTC) is when participant 0's first turn begins
    and when the layer starts covering. ``timezone`` is an IANA name. ``restrictions``
    (empty: all the time) limit when the layer covers. Invalid values raise
    ``ValueError`` whose message starts with the field's name (``restrictions[1].end``
    for a restriction's field).
    """

    participants: tuple[str, ...]
    rotation: int
    unit: str
    handoff: str
    start: datetime
    timezone: str
    restrictions: tuple[Restriction, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "participants", _check_participants(self.participants))
        _check_rotation(self.rotation)
        if self.unit not in UNITS:
            raise ValueError(f"unit: {self.unit!r} is not one of {', '.join(UNITS)}")
        _check_clock("handoff", self.handoff)
        object.__setattr__(self, "start", localtime.aware("start", self.start))
        localtime.zone(self.timezone)
        object.__setattr__(self, "restrictions", _check_restrictions(self.restrictions))

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Layer:
        """From the stored form (``to_dict()``): ``start`` an ISO 8601 string with an offset
        (or an aware datetime), ``restrictions`` a list of mappings (optional); unknown and
        missing fields are refused."""
        _check_fields("layer", data, _LAYER_FIELDS, _LAYER_OPTIONAL)
        participants = data["participants"]
        if not isinstance(participants, list | tuple):
            raise ValueError("participants: must be a list of users")
        return cls(
            participants=tuple(participants),
            rotation=data["rotation"],
            unit=data["unit"],
            handoff=data["handoff"],
            start=_parse_datetime("start", data["start"]),
            timezone=data["timezone"],
            restrictions=_parse_restrictions(data.get("restrictions", [])),
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "participants": list(self.participants),
            "rotation": self.rotation,
            "unit": self.unit,
            "handoff": self.handoff,
            "start": self.start.isoformat(),
            "timezone": self.timezone,
            "restrictions": [restriction.to_dict() for restriction in self.restrictions],
        }

    @property
    def zone(self) -> ZoneInfo:
        return localtime.zone(self.timezone)

    @property
    def anchor(self) -> datetime:
        """The instant turn 0 is counted from (UTC): see the module's docstring."""
        return self.handoff_at(0)

    def handoff_at(self, turn: int) -> datetime:
        """The UTC instant turn number ``turn`` begins by the rotation (0: the anchor)."""
        if self.unit == HOURS:
            return self.start + timedelta(hours=turn * self.rotation)
        anchor_day = self.start.astimezone(self.zone).date()
        return wall_clock(self.timezone, anchor_day + timedelta(days=turn * self.rotation), self.handoff)

    def turn(self, at: datetime) -> int | None:
        """The number of hand-offs since the anchor by ``at`` (at least 0), or None before ``start``."""
        at = localtime.aware("at", at)
        if at < self.start:
            return None
        if self.unit == HOURS:
            return (at - self.start) // timedelta(hours=self.rotation)
        days = (at.astimezone(self.zone).date() - self.start.astimezone(self.zone).date()).days
        turn = days // self.rotation
        while self.handoff_at(turn) > at:
            turn -= 1
        while self.handoff_at(turn + 1) <= at:
            turn += 1
        return max(turn, 0)

    def participant(self, turn: int) -> str:
        return self.participants[turn % len(self.participants)]

    def covers(self, at: datetime) -> bool:
        """Whether the layer covers ``at``: from ``start`` on, inside a restriction window if any."""
        at = localtime.aware("at", at)
        if at < self.start:
            return False
        if not self.restrictions:
            return True
        return any(opens <= at < closes for opens, closes in self._windows(at, at))

    def user_at(self, at: datetime) -> str | None:
        """Whose turn it is at ``at`` if the layer covers it, else None."""
        turn = self.turn(at)
        return None if turn is None or not self.covers(at) else self.participant(turn)

    def changes(self, start: datetime, end: datetime) -> set[datetime]:
        """Instants in (start, end) at which ``user_at`` may change: the layer's start, hand-offs
        to a different participant, and restriction window bounds."""
        start, end = localtime.aware("start", start), localtime.aware("end", end)
        points = {self.start}
        since = max(start, self.start)
        if since < end:
            points |= self._handoffs(since, end)
            for opens, closes in self._windows(since, end):
                points |= {opens, closes}
        return {point for point in points if start < point < end}

    def _handoffs(self, since: datetime, end: datetime) -> set[datetime]:
        found = set()
        turn = self.turn(since)
        assert turn is not None  # since >= self.start
        while (handoff := self.handoff_at(turn + 1)) < end:
            if self.participant(turn) != self.participant(turn + 1):
                found.add(handoff)
            turn += 1
        return found

    def _windows(self, start: datetime, end: datetime) -> Iterator[tuple[datetime, datetime]]:
        """Restriction windows that may overlap [start, end] (a superset, in no particular order)."""
        first = start.astimezone(self.zone).date() - timedelta(days=2)
        last = end.astimezone(self.zone).date() + timedelta(days=1)
        for restriction in self.restrictions:
            yield from restriction.windows(self.timezone, first, last)


def _check_participants(participants: Any) -> tuple[str, ...]:
    if not isinstance(participants, list | tuple) or not participants:
        raise ValueError("participants: choose at least one user")
    for user in participants:
        if not isinstance(user, str) or not user:
            raise ValueError(f"participants: {user!r} is not a user")
    return tuple(participants)


def _check_rotation(rotation: Any) -> None:
    if isinstance(rotation, bool) or not isinstance(rotation, int):
        raise ValueError(f"rotation: {rotation!r} is not a whole number")
    if rotation < 1:
        raise ValueError(f"rotation: must be at least 1, not {rotation}")


def _check_restrictions(restrictions: Any) -> tuple[Restriction, ...]:
    if not isinstance(restrictions, list | tuple):
        raise ValueError("restrictions: must be a list of restrictions")
    for index, restriction in enumerate(restrictions):
        if not isinstance(restriction, Restriction):
            raise ValueError(f"restrictions[{index}]: {restriction!r} is not a Restriction")
    return tuple(restrictions)


def _parse_restrictions(data: Any) -> tuple[Restriction, ...]:
    if not isinstance(data, list | tuple):
        raise ValueError("restrictions: must be a list of restrictions")
    parsed = []
    for index, item in enumerate(data):
        if not isinstance(item, Mapping):
            raise ValueError(f"restrictions[{index}]: must be a mapping of {', '.join(_RESTRICTION_FIELDS)}")
        try:
            parsed.append(Restriction.from_dict(item))
        except ValueError as error:
            raise ValueError(f"restrictions[{index}].{error}") from None
    return tuple(parsed)


def validate_layer(data: Mapping[str, Any]) -> Layer:
    """Check a layer in its stored form (as a form or API would post it) and return it.

    The same as ``Layer.from_dict``: ``ValueError`` with a message starting with the field's
    name ("rotation: must be at least 1, not 0"; "restrictions[0].end: ...").
    """
    return Layer.from_dict(data)


@dataclass(frozen=True)
class Override:
    """``user`` is on call for ``[starts_at, ends_at)`` instead of the layers (times kept in UTC)."""

    user: str
    starts_at: datetime
    ends_at: datetime

    def __post_init__(self) -> None:
        if not isinstance(self.user, str) or not self.user:
            raise ValueError(f"user: {self.user!r} is not a user")
        object.__setattr__(self, "starts_at", localtime.aware("starts_at", self.starts_at))
        object.__setattr__(self, "ends_at", localtime.aware("ends_at", self.ends_at))
        if self.ends_at <= self.starts_at:
            raise ValueError("ends_at: must be after starts_at")

    def covers(self, at: datetime) -> bool:
        return self.starts_at <= at < self.ends_at


@dataclass(frozen=True)
class Shift:
    """``user`` is on call for ``[starts_at, ends_at)`` (UTC) because of ``source``: "override",
    or "layer N" where N is the layer's position counted from 1 (``layers[0]`` is "layer 1")."""

    user: str
    starts_at: datetime
    ends_at: datetime
    source: str

    @property
    def duration(self) -> timedelta:
        return self.ends_at - self.starts_at


# --- The final schedule --------------------------------------------------------------------


def _decide(layers: Sequence[Layer], overrides: Sequence[Override], at: datetime) -> tuple[str, str] | None:
    """``(user, source)`` on call at ``at`` (UTC), or None."""
    active = [(override.starts_at, index) for index, override in enumerate(overrides) if override.covers(at)]
    if active:
        return overrides[max(active)[1]].user, OVERRIDE
    for index in range(len(layers) - 1, -1, -1):
        user = layers[index].user_at(at)
        if user is not None:
            return user, f"layer {index + 1}"
    return None


def on_call(layers: Sequence[Layer], overrides: Sequence[Override], at: datetime) -> str | None:
    """The user on call at ``at``: the covering override that starts latest (ties: later in
    the list); else the user of the last layer that covers ``at``; else None."""
    decided = _decide(layers, overrides, localtime.aware("at", at))
    return None if decided is None else decided[0]


def shifts(layers: Sequence[Layer], overrides: Sequence[Override], start: datetime, end: datetime) -> list[Shift]:
    """The final schedule within ``[start, end)``, as consecutive shifts in order (UTC).

    Every instant of ``[start, end)`` at which ``on_call`` gives a user is in exactly one
    shift of that user, and no other instant is in a shift (nobody on call: a gap). The
    first and last shifts are clipped to ``start`` and ``end``. Pieces of the same user
    that meet are merged into one shift, whose ``source`` is that of its first piece.
    Empty if ``end <= start``.
    """
    start, end = localtime.aware("start", start), localtime.aware("end", end)
    if end <= start:
        return []
    points = {start}
    for layer in layers:
        points |= layer.changes(start, end)
    for override in overrides:
        points |= {moment for moment in (override.starts_at, override.ends_at) if start < moment < end}
    found: list[Shift] = []
    for opens, closes in pairwise([*sorted(points), end]):
        decided = _decide(layers, overrides, opens)
        if decided is not None:
            _append(found, Shift(decided[0], opens, closes, decided[1]))
    return found


def _append(found: list[Shift], shift: Shift) -> None:
    last = found[-1] if found else None
    if last is not None and last.user == shift.user and last.ends_at == shift.starts_at:
        found[-1] = replace(last, ends_at=shift.ends_at)
    else:
        found.append(shift)


def now_and_next(
    layers: Sequence[Layer],
    overrides: Sequence[Override],
    at: datetime,
    *,
    horizon: timedelta = DEFAULT_HORIZON,
) -> tuple[Shift | None, Shift | None]:
    """The shift containing ``at`` (None if nobody is on call) and the one after it (the
    first shift starting after ``at``; None if there is none within ``horizon``).

    Shifts are whole (merged, not clipped to ``at``) as far as ``horizon`` either side of
    ``at``: a shift that runs on past ``at - horizon`` or ``at + horizon`` is clipped there.
    """
    at = localtime.aware("at", at)
    reach = min(_FIRST_REACH, horizon)
    while True:
        low, high = at - reach, at + reach
        found = shifts(layers, overrides, low, high)
        current = next((shift for shift in found if shift.starts_at <= at < shift.ends_at), None)
        following = next((shift for shift in found if shift.starts_at > at), None)
        whole = (current is None or low < current.starts_at) and following is not None and following.ends_at < high
        if whole or reach >= horizon:
            return current, following
        reach = min(reach * 4, horizon)
