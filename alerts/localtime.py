"""Wall-clock time in a time zone, for on-call rotations and maintenance windows: checked
zone names and weekdays, aware instants, and the UTC instant of a local time on a day,
across daylight-saving gaps and repeated hours. No Django import."""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError


def zone(name: Any) -> ZoneInfo:
    """The IANA zone ``name``; ``ValueError`` starting with ``timezone:`` otherwise."""
    if not isinstance(name, str) or not name.strip():
        raise ValueError(f"timezone: {name!r} is not a time zone name such as Europe/Berlin")
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):  # OSError: a folder such as "America"
        raise ValueError(f"timezone: unknown time zone {name!r}; use an IANA name such as Europe/Berlin") from None


def aware(name: str, moment: Any) -> datetime:
    """``moment`` in UTC; ``ValueError`` naming ``name`` unless it is an aware datetime."""
    if not isinstance(moment, datetime):
        raise ValueError(f"{name}: {moment!r} is not a date and time")
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"{name}: must be timezone-aware, not naive: {moment.isoformat()}")
    return moment.astimezone(UTC)


def weekdays(value: Any) -> tuple[int, ...]:
    """Sorted unique weekday numbers, 0 (Monday) to 6 (Sunday); ``ValueError`` otherwise."""
    if not isinstance(value, list | tuple) or not value:
        raise ValueError("weekdays: choose at least one day, 0 (Monday) to 6 (Sunday)")
    for day in value:
        if isinstance(day, bool) or not isinstance(day, int) or not 0 <= day <= 6:
            raise ValueError(f"weekdays: {day!r} is not a day; use 0 (Monday) to 6 (Sunday)")
    return tuple(sorted(set(value)))


def local_instant(where: ZoneInfo, day: date, clock: time) -> datetime:
    """The UTC instant of wall-clock ``clock`` on ``day`` in ``where``. A time in a
    spring-forward gap gives the instant of the change; a time that happens twice, its
    first occurrence (``fold=0``)."""
    local = datetime.combine(day, clock, tzinfo=where)
    instant = local.astimezone(UTC)
    if instant.astimezone(where).replace(tzinfo=None) == local.replace(tzinfo=None):
        return instant
    return end_of_gap(local)


def end_of_gap(local: datetime) -> datetime:
    """The instant of the change that makes wall-clock ``local`` not exist (bisection, to the second)."""
    where = local.tzinfo
    before, after = local.replace(fold=0).utcoffset(), local.replace(fold=1).utcoffset()
    assert where is not None and before is not None and after is not None  # a ZoneInfo always has one
    naive = local.replace(tzinfo=None, fold=0)
    low = int((naive - after).replace(tzinfo=UTC).timestamp())  # still before the change
    high = int((naive - before).replace(tzinfo=UTC).timestamp())  # already after it
    while high - low > 1:
        middle = (low + high) // 2
        if datetime.fromtimestamp(middle, UTC).astimezone(where).utcoffset() == before:
            low = middle
        else:
            high = middle
    return datetime.fromtimestamp(high, UTC)
