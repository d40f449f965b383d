"""The on-call iCalendar feed: one event per shift of the user, stable UIDs, UTC times."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from icalendar import Calendar

from alerts.ical import calendar_for, event_uid, parse_events
from alerts.oncall import Layer, Override, Shift, shifts

BERLIN = ZoneInfo("Europe/Berlin")
STAMP = datetime(2026, 3, 1, 12, tzinfo=UTC)
START, END = datetime(2026, 3, 2, tzinfo=UTC), datetime(2026, 4, 14, tzinfo=UTC)


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def weekly() -> Layer:
    return Layer(("alice", "bob", "carol"), 7, "days", "09:00", datetime(2026, 3, 2, 9, tzinfo=BERLIN), "Europe/Berlin")


def schedule(overrides: list[Override] | None = None) -> list[Shift]:
    return shifts([weekly()], overrides or [], START, END)


def alices_feed(found: list[Shift], stamp: datetime = STAMP) -> bytes:
    return calendar_for("alice", "Alice Example", found, schedule_name="Primary", stamp=stamp)


def test_the_feed_parses_back_to_exactly_the_users_shifts() -> None:
    found = schedule()
    own = [s for s in found if s.user == "alice"]
    assert len(own) == 3  # the week across the spring change among them
    assert parse_events(alices_feed(found)) == [
        (s.starts_at, s.ends_at, event_uid("alice", "Primary", s.starts_at)) for s in own
    ]


def test_the_feed_is_a_calendar_icalendar_reads() -> None:
    calendar = Calendar.from_ical(alices_feed(schedule()))
    assert str(calendar["VERSION"]) == "2.0"
    assert str(calendar["PRODID"]) == "-//Opsboard//On-call//EN"
    events = calendar.walk("VEVENT")
    assert [str(event["SUMMARY"]) for event in events] == ["On call: Primary"] * 3
    assert {event.decoded("DTSTAMP") for event in events} == {STAMP}
    assert all("Alice Example" in str(event["DESCRIPTION"]) for event in events)
    assert {str(event["TRANSP"]) for event in events} == {"TRANSPARENT"}


def test_times_are_utc() -> None:
    text = alices_feed(schedule()).decode()
    assert "DTSTART:20260323T080000Z" in text  # 09:00 CET
    assert "DTEND:20260330T070000Z" in text  # 09:00 CEST
    assert "TZID" not in text and "VTIMEZONE" not in text
    for start, end, _ in parse_events(text.encode()):
        assert start.utcoffset() == end.utcoffset() == timedelta(0)


def test_shift_times_in_another_zone_come_out_in_utc() -> None:
    shift = Shift("alice", datetime(2026, 3, 2, 9, tzinfo=BERLIN), datetime(2026, 3, 3, 9, tzinfo=BERLIN), "override")
    assert parse_events(alices_feed([shift])) == [
        (utc(2026, 3, 2, 8), utc(2026, 3, 3, 8), event_uid("alice", "Primary", shift.starts_at))
    ]


def test_uids_are_stable_between_generations() -> None:
    first = parse_events(alices_feed(schedule()))
    again = parse_events(calendar_for("alice", "Alice", schedule(), schedule_name="Primary"))  # another stamp
    assert [uid for *_, uid in first] == [uid for *_, uid in again]
    assert len({uid for *_, uid in first}) == len(first)


def test_a_shift_whose_end_moves_keeps_its_uid() -> None:
    before = parse_events(alices_feed(schedule()))
    cover = Override("dave", utc(2026, 3, 27, 12), utc(2026, 3, 30, 7))  # the end of alice's second week
    after = parse_events(alices_feed(schedule([cover])))
    assert [uid for *_, uid in after] == [uid for *_, uid in before]
    assert after[1][1] == utc(2026, 3, 27, 12) != before[1][1]


def test_uids_differ_by_user_schedule_and_start() -> None:
    at = utc(2026, 3, 2, 8)
    uids = {
        event_uid("alice", "Primary", at),
        event_uid("bob", "Primary", at),
        event_uid("alice", "Secondary", at),
        event_uid("alice", "Primary", at + timedelta(seconds=1)),
    }
    assert len(uids) == 4
    assert event_uid("alice", "Primary", at) == event_uid("alice", "Primary", at.astimezone(BERLIN))
    assert all(uid.endswith("@opsboard") for uid in uids)


def test_other_users_and_no_shifts() -> None:
    found = schedule()
    assert len(parse_events(calendar_for("bob", "Bob", found, schedule_name="Primary"))) == 2
    assert parse_events(calendar_for("zoe", "Zoe", found, schedule_name="Primary")) == []
    empty = Calendar.from_ical(calendar_for("zoe", "Zoe", [], schedule_name="Primary", prodid="-//Test//X//EN"))
    assert str(empty["PRODID"]) == "-//Test//X//EN"


def test_naive_times_are_refused() -> None:
    shift = Shift("alice", datetime(2026, 3, 2, 9), datetime(2026, 3, 3, 9), "layer 1")
    with pytest.raises(ValueError, match=r"^starts_at: must be timezone-aware"):
        alices_feed([shift])
    with pytest.raises(ValueError, match=r"^stamp: must be timezone-aware"):
        alices_feed(schedule(), stamp=datetime(2026, 3, 1))


users = st.sampled_from(["alice", "bob"])
lengths = st.timedeltas(timedelta(minutes=1), timedelta(days=9)).map(
    lambda d: timedelta(seconds=int(d.total_seconds()))
)


@st.composite
def shift_lists(draw: st.DrawFn) -> list[Shift]:
    moment, found = utc(2026, 3, 1), []
    for user, length, gap in draw(st.lists(st.tuples(users, lengths, st.booleans()), max_size=12)):
        moment += timedelta(hours=1) if gap else timedelta(0)
        found.append(Shift(user, moment, moment + length, "layer 1"))
        moment += length
    return found


@settings(max_examples=60, deadline=None)
@given(shift_lists())
def test_round_trip(found: list[Shift]) -> None:
    events = parse_events(alices_feed(found))
    own = [s for s in found if s.user == "alice"]
    assert [(start, end) for start, end, _ in events] == [(s.starts_at, s.ends_at) for s in own]
