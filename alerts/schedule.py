"""When a silence is active: one-off silences and recurring (weekly) maintenance windows.

Framework-free. Every datetime going in must be timezone-aware (a naive one is refused
with ``ValueError``); every datetime coming out is aware and in UTC.

A recurring window starts at a local wall-clock time (``start``, in ``timezone``) on each
of its ``weekdays`` and lasts ``duration_s`` real, elapsed seconds. Daylight saving time:

* Across a change of offset the wall-clock start stays put, so the window's UTC start
  moves by the change (an hour in Europe and North America).
* A start that does not exist that day (the spring-forward gap: 02:30 in Europe/Berlin
  on the last Sunday of March) moves to the first instant after the gap, 03:00 local
  time, which is the instant of the change.
* A start that happens twice (fall back: 02:30 on the last Sunday of October) is taken
  at its first occurrence, the one still in summer time (``fold=0``).
* The duration is elapsed time, so a two-hour window that spans a change still lasts two
  hours, and ends at a wall-clock time an hour earlier or later than on other days.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from alerts import localtime

MAX_DURATION_S = 7 * 86_400
WEEKDAY_NAMES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
_FIELDS = ("weekdays", "start", "duration_s", "timezone")
_CLOCK = re.compile(r"([01][0-9]|2[0-3]):([0-5][0-9])")
# How far ahead next_change() looks for windows: past a week, plus the longest window.
_LOOKAHEAD = timedelta(days=7) + timedelta(seconds=MAX_DURATION_S) + timedelta(days=1)


@dataclass(frozen=True)
class Recurrence:
    """A weekly window, e.g. every Sunday 02:00 for two hours in Europe/Berlin.

    ``weekdays`` are 0 (Monday) to 6 (Sunday), kept sorted and without repeats; ``start``
    is "HH:MM" local time; ``duration_s`` is from 1 second to 7 days; ``timezone`` an IANA
    name. Invalid values raise ``ValueError`` whose message starts with the field's name.
    """

    weekdays: tuple[int, ...]
    start: str
    duration_s: int
    timezone: str

    def __post_init__(self) -> None:
        object.__setattr__(self, "weekdays", localtime.weekdays(self.weekdays))
        _check_start(self.start)
        _check_duration(self.duration_s)
        localtime.zone(self.timezone)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Recurrence:
        """From the stored form (``to_dict()``); unknown and missing fields are refused."""
        if not isinstance(data, Mapping):
            raise ValueError("recurrence: must be a mapping of weekdays, start, duration_s and timezone")
        unknown = sorted(str(key) for key in data if key not in _FIELDS)
        if unknown:
            raise ValueError(f"{unknown[0]}: unknown field; a recurrence has {', '.join(_FIELDS)}")
        for name in _FIELDS:
            if name not in data:
                raise ValueError(f"{name}: required")
        weekdays = data["weekdays"]
        if not isinstance(weekdays, list | tuple):
            raise ValueError("weekdays: must be a list of days, 0 (Monday) to 6 (Sunday)")
        return cls(tuple(weekdays), data["start"], data["duration_s"], data["timezone"])

    def to_dict(self) -> dict[str, Any]:
        return {
            "weekdays": list(self.weekdays),
            "start": self.start,
            "duration_s": self.duration_s,
            "timezone": self.timezone,
        }

    @property
    def zone(self) -> ZoneInfo:
        return localtime.zone(self.timezone)

    @property
    def clock(self) -> time:
        hours, minutes = self.start.split(":")
        return time(int(hours), int(minutes))


def _check_start(start: Any) -> None:
    if not isinstance(start, str) or not _CLOCK.fullmatch(start):
        raise ValueError(f"start: {start!r} is not a time of day as HH:MM, such as 02:00")


def _check_duration(duration_s: Any) -> None:
    if isinstance(duration_s, bool) or not isinstance(duration_s, int):
        raise ValueError(f"duration_s: {duration_s!r} is not a whole number of seconds")
    if not 0 < duration_s <= MAX_DURATION_S:
        raise ValueError(f"duration_s: must be between 1 and {MAX_DURATION_S} seconds (7 days)")


# --- Windows ----------------------------------------------------------------------------


def window_start(recurrence: Recurrence, day: date) -> datetime:
    """The UTC instant the window of local date ``day`` starts (whatever its weekday)."""
    return localtime.local_instant(recurrence.zone, day, recurrence.clock)


def _local_days(recurrence: Recurrence, start: datetime, end: datetime) -> list[date]:
    """Local dates whose window may overlap [start, end): back far enough for the longest window."""
    zone = recurrence.zone
    first = start.astimezone(zone).date() - timedelta(days=recurrence.duration_s // 86_400 + 2)
    last = end.astimezone(zone).date() + timedelta(days=1)
    days = []
    day = first
    while day <= last:
        if day.weekday() in recurrence.weekdays:
            days.append(day)
        day += timedelta(days=1)
    return days


def windows(recurrence: Recurrence, start: datetime, end: datetime) -> list[tuple[datetime, datetime]]:
    """The recurring windows that overlap [start, end), as (start, end) in UTC, in order.

    Windows are not clipped to [start, end) and not merged where they overlap each other
    (possible when ``duration_s`` is longer than the gap between two weekdays).
    """
    start, end = localtime.aware("start", start), localtime.aware("end", end)
    length = timedelta(seconds=recurrence.duration_s)
    found = []
    for day in _local_days(recurrence, start, end):
        opens = window_start(recurrence, day)
        if opens < end and opens + length > start:
            found.append((opens, opens + length))
    return sorted(set(found))


def in_window(recurrence: Recurrence, at: datetime) -> bool:
    """Whether ``at`` falls inside one of the recurring windows (ignoring any silence bounds)."""
    at = localtime.aware("at", at)
    return any(opens <= at < closes for opens, closes in windows(recurrence, at, at + timedelta(microseconds=1)))


def active(starts_at: datetime, ends_at: datetime | None, recurrence: Recurrence | None, at: datetime) -> bool:
    """Whether a silence is in force at ``at``.

    One-off (no recurrence): ``starts_at <= at < ends_at``, and ``ends_at`` is required.
    Recurring: within ``[starts_at, ends_at)`` (for ever when ``ends_at`` is None) and inside
    one of the recurrence's windows.
    """
    starts_at, at = localtime.aware("starts_at", starts_at), localtime.aware("at", at)
    if ends_at is not None:
        ends_at = localtime.aware("ends_at", ends_at)
    elif recurrence is None:
        raise ValueError("ends_at: a one-off silence needs an end")
    if at < starts_at or (ends_at is not None and at >= ends_at):
        return False
    return recurrence is None or in_window(recurrence, at)


def next_change(
    starts_at: datetime, ends_at: datetime | None, recurrence: Recurrence | None, at: datetime
) -> datetime | None:
    """The first instant after ``at`` at which ``active()`` changes, or None if it never does
    (for the scheduler, and for "active until …" in the list of silences)."""
    now = active(starts_at, ends_at, recurrence, at)
    at, starts_at = localtime.aware("at", at), localtime.aware("starts_at", starts_at)
    ends_at = None if ends_at is None else localtime.aware("ends_at", ends_at)
    candidates = {starts_at} | ({ends_at} if ends_at is not None else set())
    if recurrence is not None:
        frm = max(at, starts_at)
        for opens, closes in windows(recurrence, frm, frm + _LOOKAHEAD):
            candidates |= {opens, closes}
    for moment in sorted(c for c in candidates if c > at):
        if active(starts_at, ends_at, recurrence, moment) != now:
            return moment
    return None
