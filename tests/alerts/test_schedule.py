"""When silences are active: one-off windows and weekly maintenance windows across DST."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from alerts.schedule import Recurrence, active, next_change, window_start, windows

BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")
SUNDAY = 6
EVER = datetime(2020, 1, 1, tzinfo=UTC)


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def sunday_maintenance(start: str = "02:00", duration_s: int = 7200) -> Recurrence:
    return Recurrence((SUNDAY,), start, duration_s, "Europe/Berlin")


# --- Recurrence ------------------------------------------------------------------------------


def test_from_dict_and_to_dict_round_trip() -> None:
    data = {"weekdays": [6], "start": "02:00", "duration_s": 7200, "timezone": "Europe/Berlin"}
    recurrence = Recurrence.from_dict(data)
    assert recurrence == sunday_maintenance()
    assert recurrence.to_dict() == data
    assert Recurrence.from_dict(recurrence.to_dict()) == recurrence


def test_weekdays_are_kept_sorted_and_without_repeats() -> None:
    assert Recurrence((4, 0, 4), "22:00", 3600, "UTC").weekdays == (0, 4)


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"weekdays": []}, "weekdays"),
        ({"weekdays": [7]}, "weekdays"),
        ({"weekdays": [-1]}, "weekdays"),
        ({"weekdays": [True]}, "weekdays"),
        ({"weekdays": "6"}, "weekdays"),
        ({"weekdays": ["6"]}, "weekdays"),
        ({"start": "2:00"}, "start"),
        ({"start": "24:00"}, "start"),
        ({"start": "02:60"}, "start"),
        ({"start": "02:00:00"}, "start"),
        ({"start": 200}, "start"),
        ({"duration_s": 0}, "duration_s"),
        ({"duration_s": -60}, "duration_s"),
        ({"duration_s": 7 * 86_400 + 1}, "duration_s"),
        ({"duration_s": 3600.5}, "duration_s"),
        ({"duration_s": "3600"}, "duration_s"),
        ({"duration_s": True}, "duration_s"),
        ({"timezone": "Mars/Olympus_Mons"}, "timezone"),
        ({"timezone": ""}, "timezone"),
        ({"timezone": "../../etc/passwd"}, "timezone"),
        ({"timezone": None}, "timezone"),
        ({"colour": "red"}, "colour"),
    ],
)
def test_from_dict_names_the_field_it_refuses(change: dict[str, Any], field: str) -> None:
    data = {"weekdays": [6], "start": "02:00", "duration_s": 7200, "timezone": "Europe/Berlin", **change}
    with pytest.raises(ValueError, match=rf"^{field}: "):
        Recurrence.from_dict(data)


@pytest.mark.parametrize("missing", ["weekdays", "start", "duration_s", "timezone"])
def test_from_dict_requires_every_field(missing: str) -> None:
    data = {"weekdays": [6], "start": "02:00", "duration_s": 7200, "timezone": "Europe/Berlin"}
    del data[missing]
    with pytest.raises(ValueError, match=rf"^{missing}: required"):
        Recurrence.from_dict(data)


def test_from_dict_refuses_what_is_not_a_mapping() -> None:
    with pytest.raises(ValueError, match=r"^recurrence: "):
        Recurrence.from_dict(["weekdays"])  # type: ignore[arg-type]


def test_a_week_long_window_is_the_longest() -> None:
    assert Recurrence((0,), "00:00", 7 * 86_400, "UTC").duration_s == 604_800


# --- One-off silences ------------------------------------------------------------------------


def test_one_off_is_active_from_its_start_until_just_before_its_end() -> None:
    starts, ends = utc(2026, 5, 1, 10), utc(2026, 5, 1, 12)
    assert not active(starts, ends, None, utc(2026, 5, 1, 9, 59, 59))
    assert active(starts, ends, None, starts)
    assert active(starts, ends, None, utc(2026, 5, 1, 11, 59, 59))
    assert not active(starts, ends, None, ends)
    assert not active(starts, ends, None, utc(2026, 6, 1))


def test_one_off_compares_instants_whatever_their_offset() -> None:
    starts, ends = utc(2026, 5, 1, 10), utc(2026, 5, 1, 12)
    plus_two = timezone(timedelta(hours=2))
    assert active(starts, ends, None, datetime(2026, 5, 1, 12, 30, tzinfo=plus_two))  # 10:30 UTC
    assert not active(starts, ends, None, datetime(2026, 5, 1, 14, 0, tzinfo=plus_two))  # 12:00 UTC


def test_one_off_needs_an_end() -> None:
    with pytest.raises(ValueError, match=r"^ends_at: "):
        active(utc(2026, 5, 1), None, None, utc(2026, 5, 2))


def test_a_silence_that_ends_before_it_starts_is_never_active() -> None:
    assert not active(utc(2026, 5, 2), utc(2026, 5, 1), None, utc(2026, 5, 1, 12))


@pytest.mark.parametrize("which", ["starts_at", "ends_at", "at"])
def test_naive_datetimes_are_refused(which: str) -> None:
    moments = {"starts_at": utc(2026, 5, 1), "ends_at": utc(2026, 5, 2), "at": utc(2026, 5, 1, 12)}
    moments[which] = moments[which].replace(tzinfo=None)
    with pytest.raises(ValueError, match=rf"^{which}: must be timezone-aware"):
        active(moments["starts_at"], moments["ends_at"], None, moments["at"])
    with pytest.raises(ValueError, match=rf"^{which}: must be timezone-aware"):
        active(moments["starts_at"], moments["ends_at"], sunday_maintenance(), moments["at"])


def test_windows_refuses_naive_bounds() -> None:
    with pytest.raises(ValueError, match=r"^start: must be timezone-aware"):
        windows(sunday_maintenance(), datetime(2026, 3, 1), utc(2026, 4, 1))
    with pytest.raises(ValueError, match=r"^end: must be timezone-aware"):
        windows(sunday_maintenance(), utc(2026, 3, 1), datetime(2026, 4, 1))


# --- Recurring windows across daylight saving time --------------------------------------------


def test_every_sunday_in_berlin_across_the_spring_change_of_2026() -> None:
    # Summer time starts on Sunday 29 March 2026 at 02:00 CET (01:00 UTC), which becomes 03:00 CEST.
    found = windows(sunday_maintenance(), utc(2026, 3, 20), utc(2026, 4, 6))
    assert found == [
        (utc(2026, 3, 22, 1), utc(2026, 3, 22, 3)),  # 02:00-04:00 CET (+01:00)
        # 02:00 does not exist that day: the window starts at the change, 03:00 CEST, and lasts
        # two real hours, to 05:00 CEST.
        (utc(2026, 3, 29, 1), utc(2026, 3, 29, 3)),
        (utc(2026, 4, 5, 0), utc(2026, 4, 5, 2)),  # 02:00-04:00 CEST (+02:00)
    ]


def test_every_sunday_in_berlin_across_the_autumn_change_of_2026() -> None:
    # Summer time ends on Sunday 25 October 2026 at 03:00 CEST (01:00 UTC), which becomes 02:00 CET.
    found = windows(sunday_maintenance(), utc(2026, 10, 17), utc(2026, 11, 2))
    assert found == [
        (utc(2026, 10, 18, 0), utc(2026, 10, 18, 2)),  # 02:00-04:00 CEST
        # 02:00 happens twice: the first, in summer time, starts it; two real hours later it is
        # 03:00 CET.
        (utc(2026, 10, 25, 0), utc(2026, 10, 25, 2)),
        (utc(2026, 11, 1, 1), utc(2026, 11, 1, 3)),  # 02:00-04:00 CET
    ]


def test_active_follows_the_windows_across_both_changes() -> None:
    recurrence = sunday_maintenance()
    assert not active(EVER, None, recurrence, utc(2026, 3, 29, 0, 59, 59))
    assert active(EVER, None, recurrence, utc(2026, 3, 29, 1))
    assert active(EVER, None, recurrence, utc(2026, 3, 29, 2, 59, 59))
    assert not active(EVER, None, recurrence, utc(2026, 3, 29, 3))
    assert active(EVER, None, recurrence, utc(2026, 10, 25, 0))
    assert active(EVER, None, recurrence, utc(2026, 10, 25, 1, 30))  # the second 02:30, in CET
    assert not active(EVER, None, recurrence, utc(2026, 10, 25, 2))
    assert not active(EVER, None, recurrence, utc(2026, 10, 26, 1))  # a Monday


def test_a_start_in_the_spring_gap_moves_to_the_end_of_the_gap() -> None:
    recurrence = sunday_maintenance("02:30", 3600)
    assert window_start(recurrence, date(2026, 3, 29)) == utc(2026, 3, 29, 1)  # 03:00 CEST
    assert window_start(recurrence, date(2026, 3, 29)).astimezone(BERLIN).time() == time(3, 0)
    assert window_start(recurrence, date(2026, 3, 22)) == utc(2026, 3, 22, 1, 30)  # 02:30 CET
    assert window_start(recurrence, date(2026, 4, 5)) == utc(2026, 4, 5, 0, 30)  # 02:30 CEST


def test_an_ambiguous_start_takes_its_first_occurrence() -> None:
    recurrence = sunday_maintenance("02:30", 3600)
    start = window_start(recurrence, date(2026, 10, 25))
    assert start == utc(2026, 10, 25, 0, 30)
    assert start.astimezone(BERLIN).utcoffset() == timedelta(hours=2)  # still summer time


def test_a_window_crossing_midnight() -> None:
    # Saturday 23:00 for three hours, Berlin winter time: 22:00 Saturday to 01:00 Sunday UTC.
    recurrence = Recurrence((5,), "23:00", 3 * 3600, "Europe/Berlin")
    assert windows(recurrence, utc(2026, 1, 5), utc(2026, 1, 12)) == [(utc(2026, 1, 10, 22), utc(2026, 1, 11, 1))]
    assert active(EVER, None, recurrence, datetime(2026, 1, 11, 0, 30, tzinfo=BERLIN))  # Sunday 00:30
    assert active(EVER, None, recurrence, datetime(2026, 1, 11, 1, 59, tzinfo=BERLIN))
    assert not active(EVER, None, recurrence, datetime(2026, 1, 11, 2, 0, tzinfo=BERLIN))
    assert not active(EVER, None, recurrence, datetime(2026, 1, 10, 22, 59, tzinfo=BERLIN))


def test_a_window_found_from_a_start_inside_it() -> None:
    # A search starting on Sunday still finds the window opened on Saturday evening.
    recurrence = Recurrence((5,), "23:00", 3 * 3600, "Europe/Berlin")
    assert windows(recurrence, utc(2026, 1, 11), utc(2026, 1, 11, 0, 30)) == [
        (utc(2026, 1, 10, 22), utc(2026, 1, 11, 1))
    ]


def test_weekday_evenings_in_new_york_across_both_changes_of_2026() -> None:
    # Monday to Friday 22:00 for four hours. Summer time starts Sunday 8 March, ends Sunday 1 November.
    recurrence = Recurrence((0, 1, 2, 3, 4), "22:00", 4 * 3600, "America/New_York")
    spring = windows(recurrence, utc(2026, 3, 6, 12), utc(2026, 3, 10, 12))
    assert spring == [
        (utc(2026, 3, 7, 3), utc(2026, 3, 7, 7)),  # Friday 22:00 EST (-05:00)
        (utc(2026, 3, 10, 2), utc(2026, 3, 10, 6)),  # Monday 22:00 EDT (-04:00)
    ]
    autumn = windows(recurrence, utc(2026, 10, 30, 12), utc(2026, 11, 3, 12))
    assert autumn == [
        (utc(2026, 10, 31, 2), utc(2026, 10, 31, 6)),  # Friday 22:00 EDT
        (utc(2026, 11, 3, 3), utc(2026, 11, 3, 7)),  # Monday 22:00 EST
    ]
    assert active(EVER, None, recurrence, datetime(2026, 3, 10, 1, 0, tzinfo=NEW_YORK))  # Tuesday 01:00
    assert not active(EVER, None, recurrence, datetime(2026, 3, 8, 1, 0, tzinfo=NEW_YORK))  # Sunday


def test_the_new_york_spring_gap() -> None:
    recurrence = Recurrence((SUNDAY,), "02:30", 1800, "America/New_York")
    assert window_start(recurrence, date(2026, 3, 8)) == utc(2026, 3, 8, 7)  # 03:00 EDT
    # On 1 November 01:00-02:00 happens twice; 02:30 once, in EST.
    assert windows(recurrence, utc(2026, 11, 1), utc(2026, 11, 2)) == [(utc(2026, 11, 1, 7, 30), utc(2026, 11, 1, 8))]
    twice = Recurrence((SUNDAY,), "01:30", 1800, "America/New_York")
    assert window_start(twice, date(2026, 11, 1)) == utc(2026, 11, 1, 5, 30)  # the first 01:30, EDT


def test_recurring_silences_keep_their_own_bounds() -> None:
    recurrence = sunday_maintenance()
    starts, ends = utc(2026, 3, 22, 2), utc(2026, 4, 5, 1)
    assert not active(starts, ends, recurrence, utc(2026, 3, 22, 1, 30))  # in a window, before the start
    assert active(starts, ends, recurrence, utc(2026, 3, 22, 2, 30))
    assert active(starts, ends, recurrence, utc(2026, 3, 29, 2))
    assert active(starts, ends, recurrence, utc(2026, 4, 5, 0, 30))
    assert not active(starts, ends, recurrence, utc(2026, 4, 5, 1, 30))  # in a window, after the end
    assert not active(starts, ends, recurrence, utc(2026, 3, 25, 2))  # between windows


def test_windows_are_utc_and_not_clipped() -> None:
    found = windows(sunday_maintenance(), utc(2026, 3, 22, 2), utc(2026, 3, 22, 2, 1))
    assert found == [(utc(2026, 3, 22, 1), utc(2026, 3, 22, 3))]
    assert all(start.tzinfo is UTC and end.tzinfo is UTC for start, end in found)
    assert windows(sunday_maintenance(), utc(2026, 3, 23), utc(2026, 3, 28)) == []


def test_long_windows_may_overlap_and_are_listed_separately() -> None:
    recurrence = Recurrence((0, 1), "00:00", 2 * 86_400, "UTC")
    assert windows(recurrence, utc(2026, 6, 2, 12), utc(2026, 6, 2, 13)) == [
        (utc(2026, 6, 1), utc(2026, 6, 3)),
        (utc(2026, 6, 2), utc(2026, 6, 4)),
    ]


def test_next_change() -> None:
    recurrence = sunday_maintenance()
    assert next_change(EVER, None, recurrence, utc(2026, 3, 25)) == utc(2026, 3, 29, 1)
    assert next_change(EVER, None, recurrence, utc(2026, 3, 29, 1, 30)) == utc(2026, 3, 29, 3)
    assert next_change(EVER, utc(2026, 3, 29, 2), recurrence, utc(2026, 3, 29, 1, 30)) == utc(2026, 3, 29, 2)
    assert next_change(EVER, utc(2026, 3, 26), recurrence, utc(2026, 3, 25)) is None
    assert next_change(utc(2026, 5, 1), utc(2026, 5, 2), None, utc(2026, 4, 1)) == utc(2026, 5, 1)
    assert next_change(utc(2026, 5, 1), utc(2026, 5, 2), None, utc(2026, 5, 1, 12)) == utc(2026, 5, 2)
    assert next_change(utc(2026, 5, 1), utc(2026, 5, 2), None, utc(2026, 5, 3)) is None
    always = Recurrence(tuple(range(7)), "00:00", 86_400, "UTC")
    assert next_change(EVER, None, always, utc(2026, 5, 3)) is None


# --- Properties ------------------------------------------------------------------------------

ZONES = [
    "Europe/Berlin",
    "America/New_York",
    "UTC",
    "Australia/Lord_Howe",  # a half-hour change of offset
    "Asia/Kolkata",
    "America/Sao_Paulo",
    "Pacific/Chatham",
    "America/St_Johns",
]
recurrences = st.builds(
    Recurrence,
    weekdays=st.lists(st.integers(0, 6), min_size=1, max_size=7).map(tuple),
    start=st.builds(lambda h, m: f"{h:02d}:{m:02d}", st.integers(0, 23), st.sampled_from([0, 15, 30, 45, 59])),
    duration_s=st.one_of(st.integers(1, 6 * 3600), st.integers(1, 7 * 86_400)),
    timezone=st.sampled_from(ZONES),
)
instants = st.datetimes(
    min_value=datetime(2025, 1, 1), max_value=datetime(2027, 12, 31), timezones=st.sampled_from([UTC, BERLIN, NEW_YORK])
)


def oracle_start(recurrence: Recurrence, day: date) -> datetime:
    """The window's start worked out another way: step the wall clock a minute at a time
    until it reads a time that exists."""
    zone = ZoneInfo(recurrence.timezone)
    local = datetime.combine(day, recurrence.clock)
    while True:
        aware = local.replace(tzinfo=zone)
        instant = aware.astimezone(UTC)
        if instant.astimezone(zone).replace(tzinfo=None) == local:
            return instant
        local += timedelta(minutes=1)


def oracle_active(recurrence: Recurrence, at: datetime) -> bool:
    local_day = at.astimezone(ZoneInfo(recurrence.timezone)).date()
    for back in range(9):
        day = local_day - timedelta(days=back)
        if day.weekday() in recurrence.weekdays:
            start = oracle_start(recurrence, day)
            if start <= at < start + timedelta(seconds=recurrence.duration_s):
                return True
    return False


@settings(max_examples=300)
@given(recurrences, instants, st.integers(0, 30 * 86_400), st.one_of(st.none(), st.integers(1, 60 * 86_400)))
def test_active_is_membership_in_windows(
    recurrence: Recurrence, at: datetime, since_s: int, length_s: int | None
) -> None:
    # Arithmetic and comparisons in UTC: within one tzinfo Python works on the wall clock.
    at = at.astimezone(UTC)
    starts_at = at - timedelta(seconds=since_s)
    ends_at = None if length_s is None else starts_at + timedelta(seconds=length_s)
    listed = windows(recurrence, starts_at, ends_at or at + timedelta(days=1))
    in_bounds = starts_at <= at and (ends_at is None or at < ends_at)
    member = in_bounds and any(start <= at < end for start, end in listed)
    assert active(starts_at, ends_at, recurrence, at) == member
    assert active(EVER, None, recurrence, at) == oracle_active(recurrence, at)


@settings(max_examples=100)
@given(recurrences, instants, st.integers(1, 21 * 86_400))
def test_windows_overlap_the_range_and_start_on_the_weekdays(
    recurrence: Recurrence, start: datetime, span: int
) -> None:
    end = start.astimezone(UTC) + timedelta(seconds=span)
    zone = ZoneInfo(recurrence.timezone)
    for opens, closes in windows(recurrence, start, end):
        assert opens < end and closes > start
        assert closes - opens == timedelta(seconds=recurrence.duration_s)
        assert opens.tzinfo is UTC
        local_day = opens.astimezone(zone).date()
        days = [d for d in (local_day, local_day - timedelta(days=1)) if d.weekday() in recurrence.weekdays]
        assert any(oracle_start(recurrence, day) == opens for day in days)


@settings(max_examples=100)
@given(recurrences, instants)
def test_next_change_is_the_first_flip(recurrence: Recurrence, at: datetime) -> None:
    at = at.astimezone(UTC)
    changed = next_change(EVER, None, recurrence, at)
    now = active(EVER, None, recurrence, at)
    if changed is None:
        assert all(active(EVER, None, recurrence, at + timedelta(hours=h)) == now for h in range(0, 24 * 15, 7))
        return
    assert changed > at
    assert active(EVER, None, recurrence, changed) != now
    assert active(EVER, None, recurrence, changed - timedelta(microseconds=1)) == now
