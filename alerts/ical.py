"""An on-call schedule as an iCalendar (RFC 5545) feed, one per user, built with ``icalendar``.

Framework-free. Each of the user's shifts becomes one VEVENT:

* ``UID`` is derived from the user, the schedule's name and the shift's start only, so the
  same shift keeps its UID from one generation of the feed to the next (a calendar that
  refreshes the feed updates the event when its end moves, rather than adding another);
* ``DTSTART``/``DTEND`` are in UTC (``...Z``); ``DTSTAMP`` is when the feed was made;
* ``SUMMARY`` is "On call: <schedule>"; ``TRANSP`` is TRANSPARENT (being on call does not
  make anyone busy).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from datetime import UTC, datetime

from icalendar import Calendar, Event

from alerts.oncall import Shift

DEFAULT_PRODID = "-//Opsboard//On-call//EN"
UID_DOMAIN = "opsboard"


def _utc(name: str, moment: datetime) -> datetime:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"{name}: must be timezone-aware, not naive: {moment.isoformat()}")
    return moment.astimezone(UTC)


def _digest(*parts: str) -> str:
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:32]


def event_uid(user: str, schedule_name: str, starts_at: datetime) -> str:
    """The UID of ``user``'s shift in ``schedule_name`` starting at ``starts_at`` (any zone)."""
    start = _utc("starts_at", starts_at).strftime("%Y%m%dT%H%M%SZ")
    return f"{_digest(user, schedule_name, start)}@{UID_DOMAIN}"


def _event(user: str, user_name: str, shift: Shift, schedule_name: str, stamp: datetime) -> Event:
    return Event.new(
        uid=event_uid(user, schedule_name, shift.starts_at),
        start=_utc("starts_at", shift.starts_at),
        end=_utc("ends_at", shift.ends_at),
        stamp=stamp,
        summary=f"On call: {schedule_name}",
        description=f"{user_name} is on call for {schedule_name} ({shift.source}).",
        transparency="TRANSPARENT",
    )


def calendar_for(
    user: str,
    user_name: str,
    shifts: Iterable[Shift],
    *,
    schedule_name: str,
    prodid: str = DEFAULT_PRODID,
    stamp: datetime | None = None,
) -> bytes:
    """The iCalendar document (bytes, CRLF lines) of ``user``'s shifts among ``shifts``.

    One VEVENT per shift whose ``user`` is ``user``, in order of start; other users'
    shifts are left out. ``user_name`` is for people (the calendar's name and the event
    description). ``stamp`` is the DTSTAMP of every event (default: now, to the second).
    """
    stamp = datetime.now(UTC).replace(microsecond=0) if stamp is None else _utc("stamp", stamp)
    calendar = Calendar.new(
        prodid=prodid,
        name=f"On call: {schedule_name} ({user_name})",
        uid=f"{_digest(user, schedule_name)}@{UID_DOMAIN}",
    )
    own = sorted((shift for shift in shifts if shift.user == user), key=lambda shift: shift.starts_at)
    for shift in own:
        calendar.add_component(_event(user, user_name, shift, schedule_name, stamp))
    return calendar.to_ical()


def parse_events(data: bytes) -> list[tuple[datetime, datetime, str]]:
    """The VEVENTs of an iCalendar document as ``(start, end, uid)``, in UTC, in order.

    ``ValueError`` for an event without a time of day and zone (an all-day or floating one).
    """
    events = []
    for event in Calendar.from_ical(data).walk("VEVENT"):
        start, end = event.start, event.end
        if not isinstance(start, datetime) or not isinstance(end, datetime):
            raise ValueError(f"event {event.uid}: not a timed event")
        events.append((_utc("DTSTART", start), _utc("DTEND", end), str(event.uid)))
    return sorted(events)
