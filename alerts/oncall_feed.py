"""Each person's iCalendar feed of their shifts across every schedule, at a secret address
(calendar apps cannot sign in) that a password change revokes."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, time, timedelta

from django.conf import settings
from django.core import signing
from django.urls import reverse
from django.utils.crypto import constant_time_compare, salted_hmac
from icalendar import Calendar

from alerts import ical, oncall
from alerts.models import Schedule
from alerts.oncall_forms import valid_uids
from alerts.paging import oncall_inputs
from opsboard.accounts.models import User

logger = logging.getLogger(__name__)

FEED_PAST, FEED_AHEAD = timedelta(days=7), timedelta(days=90)
ICAL_SALT = "opsboard.ical"


def _password_tag(user: User) -> str:
    """Changes when the password does, so that a new password revokes old feed addresses."""
    return salted_hmac(ICAL_SALT, user.password).hexdigest()[:16]


def ical_token(user: User) -> str:
    return signing.dumps({"u": str(user.uid), "p": _password_tag(user)}, salt=ICAL_SALT)


def ical_url(user: User) -> str:
    return settings.OPSBOARD_BASE_URL.rstrip("/") + reverse("oncall:ical", args=[ical_token(user)])


def ical_user(token: str) -> User | None:
    """The active user of a feed token whose password has not changed since; else None."""
    try:
        payload = signing.loads(token, salt=ICAL_SALT)
    except signing.BadSignature:
        return None
    if not isinstance(payload, dict) or not valid_uids([payload.get("u")]):
        return None
    user = User.objects.filter(uid=payload["u"], is_active=True).first()
    if user is None or not constant_time_compare(str(payload.get("p")), _password_tag(user)):
        return None
    return user


def feed_window(now: datetime) -> tuple[datetime, datetime]:
    """From midnight (UTC) FEED_PAST ago to FEED_AHEAD on. The first shift is clipped to the
    start, and an event's UID follows its start: a start that moved on every refresh would
    make calendars replace that event each time."""
    first = datetime.combine((now - FEED_PAST).astimezone(UTC).date(), time(0), tzinfo=UTC)
    return first, now + FEED_AHEAD


def feed_for(user: User, now: datetime) -> bytes:
    """The user's shifts in every schedule from FEED_PAST ago to FEED_AHEAD on, one calendar."""
    uid, parts = str(user.uid), []
    start, end = feed_window(now)
    for schedule in Schedule.objects.all():
        try:
            layers, overrides = oncall_inputs(schedule)
            found = oncall.shifts(layers, overrides, start, end)
        except (ValueError, OSError) as exc:
            logger.warning("schedule %s left out of %s's feed: %s", schedule.uid, user.username, exc)
            continue
        if any(shift.user == uid for shift in found):
            parts.append(ical.calendar_for(uid, user.username, found, schedule_name=schedule.name))
    return merge_calendars(parts, name=f"On call ({user.username})", uid=f"{uid}-oncall@{ical.UID_DOMAIN}")


def merge_calendars(parts: list[bytes], *, name: str, uid: str) -> bytes:
    """One calendar with the events of ``parts`` (each from ``ical.calendar_for``), by start."""
    events = [event for part in parts for event in Calendar.from_ical(part).walk("VEVENT")]
    calendar = Calendar.new(prodid=ical.DEFAULT_PRODID, name=name, uid=uid)
    for event in sorted(events, key=lambda event: event.start):
        calendar.add_component(event)
    return calendar.to_ical()
