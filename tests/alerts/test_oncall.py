"""Who is on call: rotations across DST, restrictions, overrides, the merged schedule."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from itertools import pairwise
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from alerts.oncall import (
    Layer,
    Override,
    Restriction,
    Shift,
    now_and_next,
    on_call,
    shifts,
    validate_layer,
    wall_clock,
)

BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")
HOUR = timedelta(hours=1)
WEEKDAYS = (0, 1, 2, 3, 4)


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def berlin(*args: int) -> datetime:
    return datetime(*args, tzinfo=BERLIN)


def weekly_berlin(**changes: Any) -> Layer:
    """Alice, Bob, Carol a week each, handing off Monday 09:00 Europe/Berlin from 2 March 2026."""
    values: dict[str, Any] = {
        "participants": ("alice", "bob", "carol"),
        "rotation": 7,
        "unit": "days",
        "handoff": "09:00",
        "start": berlin(2026, 3, 2, 9),
        "timezone": "Europe/Berlin",
    }
    return Layer(**(values | changes))


def always(user: str) -> Layer:
    """``user`` on call all the time from 2026."""
    return Layer((user,), 1, "days", "00:00", utc(2026, 1, 1), "Europe/Berlin")


def hours_of(shift: Shift) -> float:
    return shift.duration / HOUR


# --- Weekly rotation in Europe/Berlin, across both DST changes of 2026 --------------------


@pytest.mark.parametrize(
    ("at", "user"),
    [
        (berlin(2026, 3, 2, 8, 59), None),  # before the layer starts
        (berlin(2026, 3, 2, 9), "alice"),
        (berlin(2026, 3, 9, 8, 59, 59), "alice"),
        (berlin(2026, 3, 9, 9), "bob"),
        (berlin(2026, 3, 16, 9), "carol"),
        (berlin(2026, 3, 23, 9), "alice"),
        (berlin(2026, 3, 29, 12), "alice"),  # the Sunday of the spring change
        (berlin(2026, 3, 30, 8, 59), "alice"),
        (berlin(2026, 3, 30, 9), "bob"),
        (berlin(2026, 10, 25, 12), "alice"),  # the Sunday of the autumn change
        (berlin(2026, 10, 26, 8, 59), "alice"),
        (berlin(2026, 10, 26, 9), "bob"),
    ],
)
def test_weekly_rotation_who_is_on_call(at: datetime, user: str | None) -> None:
    assert on_call([weekly_berlin()], [], at) == user


def test_spring_forward_moves_the_utc_handoff_an_hour_earlier() -> None:
    found = shifts([weekly_berlin()], [], utc(2026, 3, 20), utc(2026, 4, 10))
    assert [(s.user, s.starts_at, s.ends_at) for s in found[1:3]] == [
        ("alice", utc(2026, 3, 23, 8), utc(2026, 3, 30, 7)),  # 09:00 CET to 09:00 CEST
        ("bob", utc(2026, 3, 30, 7), utc(2026, 4, 6, 7)),
    ]
    assert [hours_of(s) for s in found[1:3]] == [167, 168]
    assert on_call([weekly_berlin()], [], utc(2026, 3, 30, 6, 59, 59)) == "alice"
    assert on_call([weekly_berlin()], [], utc(2026, 3, 30, 7)) == "bob"


def test_fall_back_moves_the_utc_handoff_an_hour_later() -> None:
    found = shifts([weekly_berlin()], [], utc(2026, 10, 14), utc(2026, 11, 5))
    assert [(s.user, s.starts_at, s.ends_at) for s in found[1:3]] == [
        ("alice", utc(2026, 10, 19, 7), utc(2026, 10, 26, 8)),  # 09:00 CEST to 09:00 CET
        ("bob", utc(2026, 10, 26, 8), utc(2026, 11, 2, 8)),
    ]
    assert [hours_of(s) for s in found[1:3]] == [169, 168]
    assert on_call([weekly_berlin()], [], utc(2026, 10, 26, 7, 30)) == "alice"  # 08:30 CET


def test_every_handoff_of_the_year_is_monday_0900_berlin() -> None:
    found = shifts([weekly_berlin()], [], utc(2026, 3, 2, 8), utc(2027, 3, 1, 8))
    assert len(found) == 52
    for shift in found:
        local = shift.starts_at.astimezone(BERLIN)
        assert (local.weekday(), local.hour, local.minute) == (0, 9, 0)
        assert shift.starts_at.tzinfo == UTC
    lengths = sorted(hours_of(s) for s in found)
    assert lengths == [167] + [168] * 50 + [169]
    assert [s.user for s in found[:4]] == ["alice", "bob", "carol", "alice"]


def test_start_after_the_handoff_time_shortens_the_first_turn() -> None:
    layer = weekly_berlin(start=berlin(2026, 3, 4, 15))  # a Wednesday; the anchor is that day 09:00
    assert layer.anchor == utc(2026, 3, 4, 8)
    found = shifts([layer], [], utc(2026, 3, 1), utc(2026, 3, 19))
    assert [(s.user, s.starts_at.astimezone(BERLIN)) for s in found] == [
        ("alice", berlin(2026, 3, 4, 15)),
        ("bob", berlin(2026, 3, 11, 9)),  # Wednesdays: the anchor's weekday
        ("carol", berlin(2026, 3, 18, 9)),
    ]


def test_start_before_the_handoff_time_lengthens_the_first_turn() -> None:
    layer = weekly_berlin(start=berlin(2026, 3, 2, 6))
    assert layer.anchor == utc(2026, 3, 2, 8)
    assert on_call([layer], [], berlin(2026, 3, 2, 5, 59)) is None
    assert on_call([layer], [], berlin(2026, 3, 2, 6)) == "alice"
    assert on_call([layer], [], berlin(2026, 3, 9, 9)) == "bob"


# --- Daily rotation in America/New_York -----------------------------------------------------


def daily_new_york(handoff: str = "09:00") -> Layer:
    return Layer(("alice", "bob"), 1, "days", handoff, datetime(2026, 3, 1, 9, tzinfo=NEW_YORK), "America/New_York")


def test_daily_rotation_in_new_york_keeps_0900_local_across_dst() -> None:
    found = shifts([daily_new_york()], [], utc(2026, 3, 6, 14), utc(2026, 3, 10, 13))
    assert [(s.user, s.starts_at) for s in found] == [
        ("bob", utc(2026, 3, 6, 14)),  # 09:00 EST
        ("alice", utc(2026, 3, 7, 14)),
        ("bob", utc(2026, 3, 8, 13)),  # 09:00 EDT: spring forward was at 02:00 that day
        ("alice", utc(2026, 3, 9, 13)),
    ]
    assert [hours_of(s) for s in found] == [24, 23, 24, 24]
    autumn = shifts([daily_new_york()], [], utc(2026, 10, 31, 13), utc(2026, 11, 2, 14))
    assert [hours_of(s) for s in autumn] == [25, 24]


def test_a_handoff_in_the_spring_gap_happens_when_the_gap_ends() -> None:
    found = shifts([daily_new_york("02:30")], [], utc(2026, 3, 7, 7, 30), utc(2026, 3, 9, 6, 30))
    assert [s.starts_at for s in found] == [utc(2026, 3, 7, 7, 30), utc(2026, 3, 8, 7)]  # 02:30 EST; 03:00 EDT
    assert [hours_of(s) for s in found] == [23.5, 23.5]


def test_an_ambiguous_handoff_happens_at_its_first_occurrence() -> None:
    found = shifts([daily_new_york("01:30")], [], utc(2026, 10, 31, 5, 30), utc(2026, 11, 2, 6, 30))
    assert [s.starts_at for s in found] == [utc(2026, 10, 31, 5, 30), utc(2026, 11, 1, 5, 30)]  # both EDT
    assert [hours_of(s) for s in found] == [24, 25]


def test_wall_clock_resolves_gaps_and_repeats() -> None:
    assert wall_clock("Europe/Berlin", date(2026, 3, 29), "02:30") == utc(2026, 3, 29, 1)  # 03:00 CEST
    assert wall_clock("Europe/Berlin", date(2026, 10, 25), "02:30") == utc(2026, 10, 25, 0, 30)  # CEST
    assert wall_clock("Europe/Berlin", date(2026, 10, 25), "03:30") == utc(2026, 10, 25, 2, 30)
    assert wall_clock("Australia/Lord_Howe", date(2026, 10, 4), "02:15") == utc(2026, 10, 3, 15, 30)


# --- Hourly rotation -------------------------------------------------------------------------


def test_hourly_rotation_ignores_dst() -> None:
    layer = Layer(("alice", "bob"), 12, "hours", "00:00", berlin(2026, 3, 28, 21), "Europe/Berlin")
    found = shifts([layer], [], utc(2026, 3, 28, 20), utc(2026, 3, 30, 20))
    assert all(hours_of(s) == 12 for s in found)
    assert [s.starts_at for s in found] == [utc(2026, 3, 28, 20) + k * 12 * HOUR for k in range(4)]
    assert [s.starts_at.astimezone(BERLIN).hour for s in found] == [21, 10, 22, 10]  # local time moves
    assert [s.user for s in found] == ["alice", "bob", "alice", "bob"]


def test_hourly_rotation_hands_off_at_the_anchors_minute() -> None:
    layer = Layer(("alice", "bob", "carol"), 8, "hours", "09:00", utc(2026, 3, 2, 9, 15), "UTC")
    assert on_call([layer], [], utc(2026, 3, 2, 17, 14)) == "alice"
    assert on_call([layer], [], utc(2026, 3, 2, 17, 15)) == "bob"
    assert on_call([layer], [], utc(2026, 3, 3, 9, 15)) == "alice"


# --- Restrictions ------------------------------------------------------------------------------


def business_hours_on_top() -> list[Layer]:
    bottom = always("alice")
    top = Layer(
        ("carol", "dave"),
        1,
        "days",
        "09:00",
        berlin(2026, 3, 2, 9),
        "Europe/Berlin",
        (Restriction(WEEKDAYS, "09:00", "17:00"),),
    )
    return [bottom, top]


@pytest.mark.parametrize(
    ("at", "user"),
    [
        (berlin(2026, 3, 4, 10), "carol"),  # Wednesday, business hours; the third day of the rotation
        (berlin(2026, 3, 4, 8, 59), "alice"),
        (berlin(2026, 3, 4, 17), "alice"),
        (berlin(2026, 3, 4, 16, 59), "carol"),
        (berlin(2026, 3, 5, 12), "dave"),
        (berlin(2026, 3, 7, 10), "alice"),  # Saturday
        (berlin(2026, 3, 30, 9), "carol"),  # still 09:00 local after the spring change
        (berlin(2026, 3, 30, 8, 59), "alice"),
    ],
)
def test_business_hours_layer_on_top_of_a_24_7_layer(at: datetime, user: str) -> None:
    assert on_call(business_hours_on_top(), [], at) == user


def test_business_hours_schedule() -> None:
    found = shifts(business_hours_on_top(), [], berlin(2026, 3, 2), berlin(2026, 3, 4))
    assert [(s.user, s.starts_at.astimezone(BERLIN).hour, s.source) for s in found] == [
        ("alice", 0, "layer 1"),
        ("carol", 9, "layer 2"),
        ("alice", 17, "layer 1"),
        ("dave", 9, "layer 2"),
        ("alice", 17, "layer 1"),
    ]
    assert found[-1].ends_at == berlin(2026, 3, 4)


def night_layers() -> list[Layer]:
    nights = (Restriction(WEEKDAYS, "22:00", "06:00"),)
    night = Layer(("owl",), 1, "days", "22:00", berlin(2026, 3, 1), "Europe/Berlin", nights)
    return [always("alice"), night]


@pytest.mark.parametrize(
    ("at", "user"),
    [
        (berlin(2026, 3, 3, 21, 59), "alice"),  # Tuesday
        (berlin(2026, 3, 3, 22), "owl"),
        (berlin(2026, 3, 4, 0, 0), "owl"),
        (berlin(2026, 3, 4, 5, 59), "owl"),
        (berlin(2026, 3, 4, 6), "alice"),
        (berlin(2026, 3, 7, 3), "owl"),  # Saturday morning: Friday's night
        (berlin(2026, 3, 7, 23), "alice"),  # Saturday night: no window starts on Saturday
        (berlin(2026, 3, 9, 3), "alice"),  # Monday morning: Sunday night
        (berlin(2026, 3, 9, 23), "owl"),
    ],
)
def test_night_restriction_crosses_midnight(at: datetime, user: str) -> None:
    assert on_call(night_layers(), [], at) == user


def test_a_night_across_spring_forward_is_an_hour_shorter() -> None:
    saturday_nights = (Restriction((5,), "22:00", "06:00"),)
    layer = Layer(("owl",), 1, "days", "00:00", berlin(2026, 3, 1), "Europe/Berlin", saturday_nights)
    found = shifts([layer], [], berlin(2026, 3, 27, 12), berlin(2026, 3, 29, 12))
    assert [(s.starts_at, hours_of(s)) for s in found] == [(utc(2026, 3, 28, 21), 7)]  # 22:00 CET to 06:00 CEST


def test_a_restricted_layer_covers_nothing_before_its_start() -> None:
    layers = [always("alice"), weekly_berlin(restrictions=(Restriction((0,), "00:00", "00:00"),))]
    assert on_call(layers, [], berlin(2026, 3, 2, 8)) == "alice"
    assert on_call(layers, [], berlin(2026, 3, 2, 9)) == "alice"  # the top layer's alice
    assert on_call(layers, [], berlin(2026, 3, 9, 9)) == "bob"
    assert on_call(layers, [], berlin(2026, 3, 10, 9)) == "alice"  # Tuesday: the bottom layer


# --- Overrides ------------------------------------------------------------------------------------


def test_an_override_in_the_middle_of_a_shift_splits_it() -> None:
    override = Override("dave", utc(2026, 3, 4, 12), utc(2026, 3, 5, 12))
    found = shifts([weekly_berlin()], [override], utc(2026, 3, 2, 8), utc(2026, 3, 9, 8))
    assert found == [
        Shift("alice", utc(2026, 3, 2, 8), utc(2026, 3, 4, 12), "layer 1"),
        Shift("dave", utc(2026, 3, 4, 12), utc(2026, 3, 5, 12), "override"),
        Shift("alice", utc(2026, 3, 5, 12), utc(2026, 3, 9, 8), "layer 1"),
    ]
    assert on_call([weekly_berlin()], [override], utc(2026, 3, 5, 11, 59)) == "dave"


def test_overlapping_overrides_the_later_starting_wins() -> None:
    overrides = [
        Override("erin", utc(2026, 3, 4, 12), utc(2026, 3, 4, 13)),
        Override("dave", utc(2026, 3, 4, 10), utc(2026, 3, 4, 14)),  # earlier start, listed later
    ]
    found = shifts([weekly_berlin()], overrides, utc(2026, 3, 4, 9), utc(2026, 3, 4, 15))
    assert [(s.user, s.starts_at.hour, s.ends_at.hour) for s in found] == [
        ("alice", 9, 10),
        ("dave", 10, 12),
        ("erin", 12, 13),
        ("dave", 13, 14),
        ("alice", 14, 15),
    ]


def test_overrides_starting_together_the_later_in_the_list_wins() -> None:
    first = Override("dave", utc(2026, 3, 4, 10), utc(2026, 3, 4, 14))
    second = Override("erin", utc(2026, 3, 4, 10), utc(2026, 3, 4, 12))
    assert on_call([weekly_berlin()], [first, second], utc(2026, 3, 4, 11)) == "erin"
    assert on_call([weekly_berlin()], [second, first], utc(2026, 3, 4, 11)) == "dave"
    assert on_call([weekly_berlin()], [first, second], utc(2026, 3, 4, 12)) == "dave"


def test_an_override_covers_where_no_layer_does() -> None:
    override = Override("dave", utc(2026, 3, 1), utc(2026, 3, 2))
    assert on_call([weekly_berlin()], [override], utc(2026, 3, 1, 12)) == "dave"
    assert on_call([], [override], utc(2026, 3, 1, 12)) == "dave"
    assert on_call([], [override], utc(2026, 3, 2)) is None


def test_override_times_are_checked_and_kept_in_utc() -> None:
    with pytest.raises(ValueError, match=r"^starts_at: must be timezone-aware"):
        Override("dave", datetime(2026, 3, 1), utc(2026, 3, 2))
    with pytest.raises(ValueError, match=r"^ends_at: must be after starts_at"):
        Override("dave", utc(2026, 3, 2), utc(2026, 3, 2))
    with pytest.raises(ValueError, match=r"^user:"):
        Override("", utc(2026, 3, 1), utc(2026, 3, 2))
    assert Override("dave", berlin(2026, 3, 1, 1), berlin(2026, 3, 2)).starts_at.tzinfo == UTC


# --- shifts() ------------------------------------------------------------------------------------


def test_shifts_cover_exactly_the_range_asked_for() -> None:
    start, end = utc(2026, 3, 3, 17, 23), utc(2026, 3, 20, 1, 2, 3)
    found = shifts([weekly_berlin()], [], start, end)
    assert found[0].starts_at == start
    assert found[-1].ends_at == end
    assert all(a.ends_at == b.starts_at for a, b in pairwise(found))


def test_shifts_merge_when_the_same_user_continues() -> None:
    layer = weekly_berlin(participants=("alice", "alice", "bob"))
    found = shifts([layer], [], utc(2026, 3, 2, 8), utc(2026, 3, 30, 7))
    assert [(s.user, hours_of(s)) for s in found] == [("alice", 14 * 24), ("bob", 168), ("alice", 167)]


def test_shifts_merge_across_sources_and_keep_the_first_source() -> None:
    override = Override("alice", utc(2026, 3, 9, 8), utc(2026, 3, 10, 8))  # extends alice's turn
    found = shifts([weekly_berlin()], [override], utc(2026, 3, 2, 8), utc(2026, 3, 16, 8))
    assert found == [
        Shift("alice", utc(2026, 3, 2, 8), utc(2026, 3, 10, 8), "layer 1"),
        Shift("bob", utc(2026, 3, 10, 8), utc(2026, 3, 16, 8), "layer 1"),
    ]


def test_shifts_leave_gaps_where_nobody_is_on_call() -> None:
    layer = business_hours_on_top()[1]
    found = shifts([layer], [], berlin(2026, 3, 6), berlin(2026, 3, 10))  # Friday to Tuesday
    assert [(s.user, s.starts_at.astimezone(BERLIN)) for s in found] == [
        ("carol", berlin(2026, 3, 6, 9)),
        ("dave", berlin(2026, 3, 9, 9)),
    ]
    assert all(hours_of(s) == 8 for s in found)


def test_shifts_of_an_empty_range_or_of_nothing() -> None:
    assert shifts([weekly_berlin()], [], utc(2026, 3, 5), utc(2026, 3, 5)) == []
    assert shifts([weekly_berlin()], [], utc(2026, 3, 6), utc(2026, 3, 5)) == []
    assert shifts([], [], utc(2026, 3, 5), utc(2026, 3, 6)) == []


def test_naive_instants_are_refused() -> None:
    naive = datetime(2026, 3, 5, 12)
    with pytest.raises(ValueError, match=r"^at: must be timezone-aware"):
        on_call([weekly_berlin()], [], naive)
    with pytest.raises(ValueError, match=r"^start: must be timezone-aware"):
        shifts([weekly_berlin()], [], naive, utc(2026, 3, 6))
    with pytest.raises(ValueError, match=r"^at: must be timezone-aware"):
        now_and_next([weekly_berlin()], [], naive)


# --- now_and_next ------------------------------------------------------------------------------


def test_now_and_next_during_a_shift() -> None:
    current, following = now_and_next([weekly_berlin()], [], utc(2026, 3, 25, 12))
    assert current == Shift("alice", utc(2026, 3, 23, 8), utc(2026, 3, 30, 7), "layer 1")
    assert following == Shift("bob", utc(2026, 3, 30, 7), utc(2026, 4, 6, 7), "layer 1")


def test_now_and_next_at_a_handoff_is_the_new_shift() -> None:
    current, following = now_and_next([weekly_berlin()], [], utc(2026, 3, 30, 7))
    assert current is not None and current.user == "bob"
    assert following is not None and following.user == "carol"


def test_now_and_next_finds_whole_shifts_longer_than_the_first_look() -> None:
    layer = weekly_berlin(participants=("alice", "bob"), rotation=28)
    current, following = now_and_next([layer], [], utc(2026, 4, 27, 12))
    assert current == Shift("alice", utc(2026, 4, 27, 7), utc(2026, 5, 25, 7), "layer 1")
    assert following == Shift("bob", utc(2026, 5, 25, 7), utc(2026, 6, 22, 7), "layer 1")


def test_now_and_next_when_nobody_is_on_call() -> None:
    layer = business_hours_on_top()[1]
    current, following = now_and_next([layer], [], berlin(2026, 3, 7, 12))  # Saturday
    assert current is None
    assert following == Shift("dave", berlin(2026, 3, 9, 9), berlin(2026, 3, 9, 17), "layer 1")
    assert now_and_next([], [], utc(2026, 3, 7)) == (None, None)


def test_now_and_next_clips_an_endless_shift_at_the_horizon() -> None:
    at = utc(2026, 3, 7)
    current, following = now_and_next([always("alice")], [], at, horizon=timedelta(days=30))
    assert current == Shift("alice", utc(2026, 2, 5), utc(2026, 4, 6), "layer 1")
    assert following is None


# --- Stored form and validation ----------------------------------------------------------------


def stored_layer() -> dict[str, Any]:
    return {
        "participants": ["alice", "bob"],
        "rotation": 1,
        "unit": "days",
        "handoff": "09:00",
        "start": "2026-03-02T09:00:00+01:00",
        "timezone": "Europe/Berlin",
        "restrictions": [{"weekdays": [0, 1, 2, 3, 4], "start": "09:00", "end": "17:00"}],
    }


def test_from_dict_and_to_dict_round_trip() -> None:
    layer = Layer.from_dict(stored_layer())
    assert layer.participants == ("alice", "bob")
    assert layer.start == utc(2026, 3, 2, 8) and layer.start.tzinfo == UTC
    assert layer.restrictions == (Restriction(WEEKDAYS, "09:00", "17:00"),)
    assert Layer.from_dict(layer.to_dict()) == layer
    assert layer.to_dict() == stored_layer() | {"start": "2026-03-02T08:00:00+00:00"}
    assert validate_layer(stored_layer()) == layer


def test_restrictions_are_optional_and_weekdays_normalised() -> None:
    data = stored_layer()
    del data["restrictions"]
    assert Layer.from_dict(data).restrictions == ()
    assert Restriction((4, 0, 4), "22:00", "06:00").weekdays == (0, 4)


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"participants": []}, "participants"),
        ({"participants": "alice"}, "participants"),
        ({"participants": ["alice", ""]}, "participants"),
        ({"rotation": 0}, "rotation"),
        ({"rotation": "7"}, "rotation"),
        ({"rotation": True}, "rotation"),
        ({"unit": "weeks"}, "unit"),
        ({"handoff": "9:00"}, "handoff"),
        ({"handoff": "24:00"}, "handoff"),
        ({"handoff": None}, "handoff"),
        ({"timezone": "Mars/Olympus_Mons"}, "timezone"),
        ({"timezone": ""}, "timezone"),
        ({"timezone": "America"}, "timezone"),
        ({"start": "2026-03-02T09:00:00"}, "start"),
        ({"start": "next Monday"}, "start"),
        ({"start": datetime(2026, 3, 2, 9)}, "start"),
        ({"restrictions": "weekdays"}, "restrictions"),
        ({"restrictions": ["09:00-17:00"]}, "restrictions[0]"),
        ({"restrictions": [{"weekdays": [7], "start": "09:00", "end": "17:00"}]}, "restrictions[0].weekdays"),
        ({"restrictions": [{"weekdays": [], "start": "09:00", "end": "17:00"}]}, "restrictions[0].weekdays"),
        ({"restrictions": [{"weekdays": [0], "start": "9", "end": "17:00"}]}, "restrictions[0].start"),
        (
            {
                "restrictions": [
                    {"weekdays": [0], "start": "09:00", "end": "17:00"},
                    {"weekdays": [1], "start": "09:00", "end": "17:60"},
                ]
            },
            "restrictions[1].end",
        ),
        ({"restrictions": [{"weekdays": [0], "start": "09:00"}]}, "restrictions[0].end"),
        ({"colour": "blue"}, "colour"),
    ],
)
def test_from_dict_errors_name_the_field(changes: dict[str, Any], field: str) -> None:
    with pytest.raises(ValueError) as raised:
        Layer.from_dict(stored_layer() | changes)
    assert str(raised.value).startswith(f"{field}: ")


@pytest.mark.parametrize("field", ["participants", "rotation", "unit", "handoff", "start", "timezone"])
def test_from_dict_requires_each_field(field: str) -> None:
    data = stored_layer()
    del data[field]
    with pytest.raises(ValueError, match=rf"^{field}: required"):
        Layer.from_dict(data)


def test_the_constructor_checks_too() -> None:
    with pytest.raises(ValueError, match=r"^start: must be timezone-aware"):
        weekly_berlin(start=datetime(2026, 3, 2, 9))
    with pytest.raises(ValueError, match=r"^restrictions\[0\]: "):
        weekly_berlin(restrictions=({"weekdays": [0], "start": "09:00", "end": "17:00"},))
    with pytest.raises(ValueError, match=r"^end: "):
        Restriction((0,), "09:00", "5pm")


# --- Properties ----------------------------------------------------------------------------------

RANGE_START, RANGE_END = utc(2026, 3, 1), utc(2026, 4, 20)  # Berlin, New York and Lord Howe DST changes
ZONES = ("Europe/Berlin", "America/New_York", "Australia/Lord_Howe", "Asia/Kolkata", "UTC")
USERS = ("ann", "ben", "cat", "dan")
clocks = st.builds(lambda h, m: f"{h:02d}:{m:02d}", st.integers(0, 23), st.sampled_from([0, 15, 30, 59]))
instants = st.datetimes(
    min_value=RANGE_START.replace(tzinfo=None) - timedelta(days=3),
    max_value=RANGE_END.replace(tzinfo=None) + timedelta(days=3),
    timezones=st.just(UTC),
)
restrictions = st.builds(Restriction, st.lists(st.integers(0, 6), min_size=1, max_size=7).map(tuple), clocks, clocks)


@st.composite
def layers(draw: st.DrawFn) -> Layer:
    unit = draw(st.sampled_from(["days", "hours"]))
    return Layer(
        participants=tuple(draw(st.lists(st.sampled_from(USERS), min_size=1, max_size=4))),
        rotation=draw(st.integers(1, 8) if unit == "days" else st.integers(1, 40)),
        unit=unit,
        handoff=draw(clocks),
        start=draw(instants),
        timezone=draw(st.sampled_from(ZONES)),
        restrictions=tuple(draw(st.lists(restrictions, max_size=2))),
    )


@st.composite
def overrides(draw: st.DrawFn) -> Override:
    starts_at = draw(instants)
    return Override(draw(st.sampled_from(USERS)), starts_at, starts_at + draw(st.timedeltas(HOUR / 60, 4 * 24 * HOUR)))


def _check_structure(found: list[Shift], start: datetime, end: datetime) -> None:
    for shift in found:
        assert start <= shift.starts_at < shift.ends_at <= end
        assert shift.starts_at.tzinfo == UTC and shift.ends_at.tzinfo == UTC
    for before, after in pairwise(found):
        assert before.ends_at <= after.starts_at
        assert not (before.ends_at == after.starts_at and before.user == after.user)  # merged


@settings(max_examples=150, deadline=None)
@given(
    st.lists(layers(), max_size=3),
    st.lists(overrides(), max_size=3),
    st.lists(instants, min_size=1, max_size=8),
)
def test_on_call_agrees_with_shifts(stack: list[Layer], covering: list[Override], moments: list[datetime]) -> None:
    found = shifts(stack, covering, RANGE_START, RANGE_END)
    _check_structure(found, RANGE_START, RANGE_END)
    for shift in found:
        assert on_call(stack, covering, shift.starts_at) == shift.user
        assert on_call(stack, covering, shift.ends_at - timedelta(microseconds=1)) == shift.user
    for at in moments:
        if RANGE_START <= at < RANGE_END:
            containing = [s.user for s in found if s.starts_at <= at < s.ends_at]
            assert on_call(stack, covering, at) == (containing[0] if containing else None)


@settings(max_examples=150, deadline=None)
@given(layers(), st.integers(0, 60))
def test_turns_change_exactly_at_handoffs(layer: Layer, turn: int) -> None:
    handoff = layer.handoff_at(turn)
    assert handoff < layer.handoff_at(turn + 1)
    just_before = handoff - timedelta(microseconds=1)
    if handoff >= layer.start:
        assert layer.turn(handoff) == turn
    if turn > 0 and just_before >= layer.start:
        assert layer.turn(just_before) == turn - 1
    if layer.unit == "days":
        zone = ZoneInfo(layer.timezone)
        local = handoff.astimezone(zone)
        if local.strftime("%H:%M") == layer.handoff:
            assert local.fold == 0  # the first of two occurrences
        else:  # a hand-off time in a gap: at the change itself
            assert just_before.astimezone(zone).utcoffset() != local.utcoffset()
            assert local.strftime("%H:%M") > layer.handoff


@settings(max_examples=60, deadline=None)
@given(st.lists(layers(), min_size=1, max_size=3), st.lists(overrides(), max_size=2), instants)
def test_now_and_next_agrees_with_shifts(stack: list[Layer], covering: list[Override], at: datetime) -> None:
    current, following = now_and_next(stack, covering, at, horizon=timedelta(days=40))
    assert (current.user if current else None) == on_call(stack, covering, at)
    if current is not None:
        assert current.starts_at <= at < current.ends_at
    if following is not None:
        assert following.starts_at > at
        assert current is None or following.starts_at >= current.ends_at
        assert on_call(stack, covering, following.starts_at) == following.user
