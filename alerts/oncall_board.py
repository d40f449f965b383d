"""The on-call board of a schedule: who is on call now and next, and a calendar of the next
days, each cut into the segments of whoever covers them, in the schedule's time zone."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from alerts import oncall
from alerts.models import Schedule
from alerts.oncall_forms import valid_uids
from alerts.paging import oncall_inputs
from opsboard.accounts.models import User

logger = logging.getLogger(__name__)

BOARD_DAYS = 14


@dataclass(frozen=True)
class Segment:
    """A part of one day: who (empty for nobody) and when, as local times."""

    label: str
    user: str
    source: str
    name: str = ""

    @property
    def override(self) -> bool:
        return self.source == oncall.OVERRIDE

    @property
    def gap(self) -> bool:
        return not self.user


@dataclass(frozen=True)
class Day:
    day: date
    today: bool
    segments: list[Segment]


@dataclass
class Board:
    """A schedule's now, next and calendar; ``error`` when its stored settings cannot be used."""

    schedule: Schedule
    tz: str = "UTC"
    error: str = ""
    now: oncall.Shift | None = None
    next: oncall.Shift | None = None
    days: list[Day] = field(default_factory=list)
    names: dict[str, str] = field(default_factory=dict)

    @property
    def now_name(self) -> str:
        return self.names.get(self.now.user, "") if self.now else ""

    @property
    def next_name(self) -> str:
        return self.names.get(self.next.user, "") if self.next else ""

    def users(self) -> set[str]:
        found = {segment.user for day in self.days for segment in day.segments if segment.user}
        return found | {shift.user for shift in (self.now, self.next) if shift}

    def named(self, names: dict[str, str]) -> Board:
        self.names = names
        self.days = [
            Day(d.day, d.today, [Segment(s.label, s.user, s.source, names.get(s.user, "")) for s in d.segments])
            for d in self.days
        ]
        return self


def schedule_zone(schedule: Schedule) -> ZoneInfo:
    """The schedule's time zone; UTC for a name that is not one (the board then says why)."""
    try:
        return ZoneInfo(schedule.timezone)
    except (ValueError, OSError, ZoneInfoNotFoundError):
        return ZoneInfo("UTC")


def board_of(schedule: Schedule, now: datetime, days: int = BOARD_DAYS) -> Board:
    try:
        zone = ZoneInfo(schedule.timezone)
        layers, overrides = oncall_inputs(schedule)
        first = now.astimezone(zone).date()
        bounds = [oncall.wall_clock(schedule.timezone, first + timedelta(days=n), "00:00") for n in range(days + 1)]
        found = oncall.shifts(layers, overrides, bounds[0], bounds[-1])
        current, following = oncall.now_and_next(layers, overrides, now)
    except (ValueError, OSError, ZoneInfoNotFoundError) as exc:  # a zone or layer the API let through
        logger.warning("schedule %s cannot be computed: %s", schedule.uid, exc)
        return Board(schedule, error=str(exc))
    calendar = [
        Day(first + timedelta(days=n), n == 0, _segments(zone, bounds[n], bounds[n + 1], found)) for n in range(days)
    ]
    return Board(schedule, tz=schedule.timezone, now=current, next=following, days=calendar)


def _segments(zone: ZoneInfo, opens: datetime, closes: datetime, found: list[oncall.Shift]) -> list[Segment]:
    """The shifts within one local day, clipped to it, with the gaps where nobody is on call."""
    segments, cursor = [], opens
    for shift in found:
        start, end = max(shift.starts_at, opens), min(shift.ends_at, closes)
        if start >= end:
            continue
        if start > cursor:
            segments.append(Segment(_span(zone, cursor, start, opens, closes), "", ""))
        segments.append(Segment(_span(zone, start, end, opens, closes), shift.user, shift.source))
        cursor = end
    if cursor < closes:
        segments.append(Segment(_span(zone, cursor, closes, opens, closes), "", ""))
    return segments


def _span(zone: ZoneInfo, start: datetime, end: datetime, opens: datetime, closes: datetime) -> str:
    if start == opens and end == closes:
        return "all day"
    first = start.astimezone(zone).strftime("%H:%M")
    last = "24:00" if end == closes else end.astimezone(zone).strftime("%H:%M")
    return f"{first}\u2013{last}"


def display_names(uids: Iterable[str]) -> dict[str, str]:
    """Username of each user uid; marked when deactivated, "unknown user" when gone."""
    uids = set(uids)
    users = User.objects.filter(uid__in=valid_uids(uids)).only("uid", "username", "is_active")
    names = {str(u.uid): u.username if u.is_active else f"{u.username} (deactivated)" for u in users}
    return {uid: names.get(uid, "unknown user") for uid in uids}


def boards_of(schedules: Iterable[Schedule], now: datetime) -> list[Board]:
    boards = [board_of(schedule, now) for schedule in schedules]
    names = display_names(uid for board in boards for uid in board.users())
    return [board.named(names) for board in boards]
