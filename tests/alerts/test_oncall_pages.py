"""The on-call pages: who is on call now and next with a 14-day calendar, schedules with
layers and overrides, escalation policies and steps, channels, contact methods and the
iCalendar feed. Every change is audited and refused to a lower role."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.conf import settings
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from alerts import oncall
from alerts.ical import event_uid, parse_events
from alerts.models import (
    AlertRule,
    ContactMethod,
    EscalationPolicy,
    EscalationStep,
    NotificationChannel,
    Schedule,
    ScheduleLayer,
    ScheduleOverride,
)
from alerts.oncall_feed import ical_token
from alerts.oncall_forms import format_restrictions, parse_restrictions
from alerts.paging import oncall_inputs
from opsboard.accounts import roles
from opsboard.accounts.models import User
from opsboard.audit.models import AuditEvent
from tests.conftest import client_for, make_user

BERLIN = ZoneInfo("Europe/Berlin")
T0 = datetime(2026, 5, 13, 12, 0, tzinfo=UTC)  # a Wednesday, 14:00 in Berlin
URL = "https://hooks.example.test/services/T000/B000/XYZsecretpath"
SECRET = "hmac-s3cr3t-value"


@pytest.fixture
def clock() -> Iterator[None]:
    with time_machine.travel(T0, tick=False):
        yield


@pytest.fixture
def people(db: None) -> dict[str, User]:
    return {name: make_user(name, roles.RESPONDER) for name in ("alice", "bob", "carol")}


@pytest.fixture
def schedule(people: dict[str, User]) -> Schedule:
    """Alice and Bob take daily turns at 09:00 Berlin time, Alice's first from Monday 11 May."""
    schedule = Schedule.objects.create(name="GPU infra", timezone="Europe/Berlin")
    ScheduleLayer.objects.create(
        schedule=schedule,
        position=1,
        participants=[str(people["alice"].uid), str(people["bob"].uid)],
        rotation=1,
        unit="days",
        handoff="09:00",
        start=datetime(2026, 5, 11, 9, tzinfo=BERLIN),
    )
    return schedule


def audited(action: str, **fields: object) -> int:
    return AuditEvent.objects.filter(action=action, **fields).count()


def errors_of(response: object) -> dict[str, list[str]]:
    return response.context["form"].errors  # type: ignore[attr-defined]


def text_of(response: object) -> str:
    return re.sub(r"\s+", " ", response.content.decode())  # type: ignore[attr-defined]


LAYER = {
    "participants": "alice, bob",
    "rotation": "7",
    "unit": "days",
    "handoff": "09:00",
    "start": "2026-05-11T09:00",
    "restrictions": "",
}


# --- Roles ----------------------------------------------------------------------------------


def test_a_viewer_sees_every_page_but_changes_nothing(viewer: User, schedule: Schedule, clock: None) -> None:
    client = client_for(viewer)
    for name in ("oncall:index", "oncall:policies", "oncall:channels", "oncall:contact"):
        assert client.get(reverse(name)).status_code == 200
    detail = client.get(reverse("oncall:schedule", args=[schedule.uid]))
    assert detail.status_code == 200
    assert reverse("oncall:layer_create", args=[schedule.uid]) not in detail.content.decode()
    refused = [
        ("oncall:schedule_create", []),
        ("oncall:schedule_edit", [schedule.uid]),
        ("oncall:layer_create", [schedule.uid]),
        ("oncall:layer_edit", [schedule.uid, 1]),
        ("oncall:layer_delete", [schedule.uid, 1]),
        ("oncall:override_create", [schedule.uid]),
        ("oncall:policy_create", []),
        ("oncall:channel_create", []),
    ]
    for name, args in refused:
        assert client.post(reverse(name, args=args), LAYER).status_code == 403, name
    assert AuditEvent.objects.count() == 0


def test_a_responder_adds_an_override_but_cannot_edit_layers(
    responder: User, schedule: Schedule, people: dict[str, User], clock: None
) -> None:
    client = client_for(responder)
    assert client.post(reverse("oncall:layer_create", args=[schedule.uid]), LAYER).status_code == 403
    assert client.post(reverse("oncall:layer_edit", args=[schedule.uid, 1]), LAYER).status_code == 403
    assert client.post(reverse("oncall:layer_delete", args=[schedule.uid, 1])).status_code == 403
    assert client.post(reverse("oncall:schedule_delete", args=[schedule.uid])).status_code == 403
    override = {"user": str(responder.uid), "starts_at": "2026-05-16T00:00", "ends_at": "2026-05-17T00:00"}
    response = client.post(reverse("oncall:override_create", args=[schedule.uid]), override)
    assert response.status_code == 302
    created = ScheduleOverride.objects.get()
    assert (created.user, created.created_by) == (responder, responder)
    assert created.starts_at == datetime(2026, 5, 16, tzinfo=BERLIN)  # read in the schedule's zone
    assert audited("scheduleoverride.create", object_id=str(created.uid), actor=responder) == 1
    assert schedule.layers.count() == 1


def test_only_editors_change_policies_and_channels(responder: User, editor: User, db: None) -> None:
    policy = EscalationPolicy.objects.create(name="Primary")
    channel = NotificationChannel.objects.create(name="ops", kind="email", config={"addresses": ["a@x.test"]})
    for name, args in [
        ("oncall:policy_edit", [policy.uid]),
        ("oncall:policy_default", [policy.uid]),
        ("oncall:policy_delete", [policy.uid]),
        ("oncall:step_create", [policy.uid]),
        ("oncall:channel_edit", [channel.uid]),
        ("oncall:channel_delete", [channel.uid]),
    ]:
        assert client_for(responder).post(reverse(name, args=args), {"name": "x"}).status_code == 403, name
    assert client_for(editor).post(reverse("oncall:policy_default", args=[policy.uid])).status_code == 302
    assert EscalationPolicy.objects.get().is_default


def test_the_navigation_offers_on_call(viewer: User) -> None:
    response = client_for(viewer).get(reverse("oncall:policies"))
    assert {"label": "On-call", "url": "/oncall/", "current": True, "count": None} in response.context["nav_items"]


# --- Schedules and layers ------------------------------------------------------------------------


def test_an_editor_creates_a_schedule_audited(editor: User) -> None:
    form = {"name": "LLM serving", "timezone": "America/New_York", "description": "vLLM fleet"}
    response = client_for(editor).post(reverse("oncall:schedule_create"), form)
    schedule = Schedule.objects.get()
    assert response["Location"] == reverse("oncall:schedule", args=[schedule.uid])
    assert schedule.timezone == "America/New_York"
    assert audited("schedule.create", object_id=str(schedule.uid), actor=editor) == 1


@pytest.mark.parametrize("zone", ["Mars/Olympus", "America", "../etc/passwd", ""])
def test_a_bad_time_zone_is_named(zone: str, editor: User) -> None:
    response = client_for(editor).post(reverse("oncall:schedule_create"), {"name": "x", "timezone": zone})
    assert response.status_code == 400
    assert "timezone" in errors_of(response)
    assert not Schedule.objects.exists()


def test_an_editor_edits_and_deletes_a_schedule(editor: User, schedule: Schedule, people: dict[str, User]) -> None:
    client = client_for(editor)
    form = {"name": "GPU infra EU", "timezone": "Europe/Paris", "description": ""}
    assert client.post(reverse("oncall:schedule_edit", args=[schedule.uid]), form).status_code == 302
    assert Schedule.objects.get().name == "GPU infra EU"
    assert audited("schedule.update", object_id=str(schedule.uid)) == 1
    ScheduleOverride.objects.create(
        schedule=schedule, user=people["carol"], starts_at=T0, ends_at=T0 + timedelta(hours=1)
    )
    assert client.post(reverse("oncall:schedule_delete", args=[schedule.uid])).status_code == 302
    assert not Schedule.objects.exists() and not ScheduleLayer.objects.exists()
    assert [audited(a) for a in ("scheduleoverride.delete", "schedulelayer.delete", "schedule.delete")] == [1, 1, 1]


def test_a_schedule_that_a_policy_pages_is_not_deleted(editor: User, schedule: Schedule) -> None:
    policy = EscalationPolicy.objects.create(name="Primary")
    EscalationStep.objects.create(policy=policy, position=1, schedule=schedule)
    response = client_for(editor).post(reverse("oncall:schedule_delete", args=[schedule.uid]), follow=True)
    assert "is a step of Primary" in text_of(response)
    assert Schedule.objects.exists() and AuditEvent.objects.count() == 0


def test_an_editor_adds_a_layer_in_the_schedules_time_zone(
    editor: User, schedule: Schedule, people: dict[str, User]
) -> None:
    form = {**LAYER, "participants": "carol, bob, carol", "restrictions": "Mon-Fri 18:00-09:00\nsat,sun 00:00-00:00"}
    response = client_for(editor).post(reverse("oncall:layer_create", args=[schedule.uid]), form)
    assert response.status_code == 302
    layer = schedule.layers.get(position=2)
    assert layer.participants == [str(people[name].uid) for name in ("carol", "bob", "carol")]
    assert layer.start == datetime(2026, 5, 11, 7, tzinfo=UTC)  # 09:00 in Berlin, summer time
    assert layer.restrictions == [
        {"weekdays": [0, 1, 2, 3, 4], "start": "18:00", "end": "09:00"},
        {"weekdays": [5, 6], "start": "00:00", "end": "00:00"},
    ]
    assert audited("schedulelayer.create", object_id=str(layer.pk), actor=editor) == 1
    oncall_inputs(Schedule.objects.get())  # the maths take what the page stored


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        ({"handoff": "25:00"}, "handoff", "not a time of day"),
        ({"handoff": "9am"}, "handoff", "HH:MM"),
        ({"rotation": "0"}, "rotation", "at least 1"),
        ({"participants": "alice, mallory"}, "participants", "mallory"),
        ({"participants": " , "}, "participants", "at least one"),
        ({"start": "next tuesday"}, "start", "valid date"),
        ({"unit": "weeks"}, "unit", "valid choice"),
        ({"restrictions": "Mon-Fri 9-5"}, "restrictions", "line 1"),
        ({"restrictions": "Mon-Fri 09:00-17:00\nFunday 09:00-17:00"}, "restrictions", "line 2"),
        ({"restrictions": "Mon 09:00-24:00"}, "restrictions", "end"),
        ({"start": "2026-03-29T02:30"}, "start", "may not exist"),  # the spring-forward gap in Berlin
    ],
)
def test_a_bad_layer_is_named(change: dict, field: str, message: str, editor: User, schedule: Schedule) -> None:
    response = client_for(editor).post(reverse("oncall:layer_create", args=[schedule.uid]), {**LAYER, **change})
    assert response.status_code == 400
    assert message in " ".join(errors_of(response)[field])
    assert schedule.layers.count() == 1


def test_every_bad_field_of_a_layer_is_named_at_once(editor: User, schedule: Schedule) -> None:
    form = {**LAYER, "participants": "nobody", "rotation": "0", "handoff": "7:5"}
    response = client_for(editor).post(reverse("oncall:layer_create", args=[schedule.uid]), form)
    assert set(errors_of(response)) == {"participants", "rotation", "handoff"}


def test_an_editor_edits_a_layer_shown_in_local_time(editor: User, schedule: Schedule) -> None:
    client = client_for(editor)
    url = reverse("oncall:layer_edit", args=[schedule.uid, 1])
    page = client.get(url)
    assert page.context["form"]["participants"].value() == "alice, bob"
    assert 'value="2026-05-11T09:00"' in page.content.decode()
    response = client.post(url, {**LAYER, "rotation": "2", "unit": "hours", "restrictions": "daily 08:00-20:00"})
    assert response.status_code == 302
    layer = schedule.layers.get()
    assert (layer.rotation, layer.unit, layer.restrictions[0]["weekdays"]) == (2, "hours", [0, 1, 2, 3, 4, 5, 6])
    event = AuditEvent.objects.get(action="schedulelayer.update")
    assert event.changes["after"]["rotation"] == 2 and event.changes["before"]["rotation"] == 1


def test_removing_a_layer_renumbers_the_others(editor: User, schedule: Schedule, people: dict[str, User]) -> None:
    for position in (2, 3):
        ScheduleLayer.objects.create(
            schedule=schedule, position=position, participants=[str(people["carol"].uid)], start=T0, rotation=position
        )
    client_for(editor).post(reverse("oncall:layer_delete", args=[schedule.uid, 1]))
    assert list(schedule.layers.order_by("position").values_list("position", "rotation")) == [(1, 2), (2, 3)]
    assert audited("schedulelayer.delete") == 1 and audited("schedulelayer.update") == 2


def test_restrictions_read_back_as_written() -> None:
    text = "Mon-Fri 09:00-17:00\nSat,Sun 00:00-00:00\ndaily 22:00-06:00\nMon,Wed,Fri 10:00-11:00"
    assert format_restrictions(parse_restrictions(text)) == text
    assert parse_restrictions("fri - mon 9:00-17:00")[0]["weekdays"] == [0, 4, 5, 6]


# --- Overrides -----------------------------------------------------------------------------------


def test_an_override_ending_before_it_starts_is_named(responder: User, schedule: Schedule) -> None:
    form = {"user": str(responder.uid), "starts_at": "2026-05-16T09:00", "ends_at": "2026-05-16T08:00"}
    response = client_for(responder).post(reverse("oncall:override_create", args=[schedule.uid]), form)
    assert response.status_code == 400
    assert "after" in " ".join(errors_of(response)["ends_at"])
    assert not ScheduleOverride.objects.exists()


def test_cover_a_day_proposes_that_whole_local_day(responder: User, schedule: Schedule, clock: None) -> None:
    url = reverse("oncall:override_create", args=[schedule.uid]) + "?day=2026-05-16"
    form = client_for(responder).get(url).context["form"]
    assert str(form["user"].value()) == str(responder.uid)
    assert form.initial["starts_at"] == datetime(2026, 5, 16, tzinfo=BERLIN)
    assert form.initial["ends_at"] == datetime(2026, 5, 17, tzinfo=BERLIN)


def test_a_responder_removes_an_override(responder: User, schedule: Schedule, people: dict[str, User]) -> None:
    override = ScheduleOverride.objects.create(
        schedule=schedule, user=people["carol"], starts_at=T0, ends_at=T0 + timedelta(hours=2)
    )
    url = reverse("oncall:override_delete", args=[schedule.uid, override.uid])
    assert client_for(responder).post(url).status_code == 302
    assert not ScheduleOverride.objects.exists()
    assert audited("scheduleoverride.delete", object_id=str(override.uid)) == 1


# --- Now, next and the calendar -----------------------------------------------------------------


def slot(response: object, name: str) -> str:
    html = text_of(response)
    return html.split(f'data-slot="{name}"', 1)[1].split("</div>", 1)[0]


def test_now_and_next_follow_the_rotation_and_the_override(
    viewer: User, responder: User, schedule: Schedule, people: dict[str, User], clock: None
) -> None:
    alice, bob, carol = people["alice"], people["bob"], people["carol"]
    page = client_for(viewer).get(reverse("oncall:index"))
    board = page.context["boards"][0]
    assert (board.now.user, board.next.user) == (str(alice.uid), str(bob.uid))
    assert "alice" in slot(page, "now") and "bob" in slot(page, "next")

    override = {"user": str(carol.uid), "starts_at": "2026-05-13T13:00", "ends_at": "2026-05-14T09:00"}
    client_for(responder).post(reverse("oncall:override_create", args=[schedule.uid]), override)
    page = client_for(viewer).get(reverse("oncall:index"))
    board = page.context["boards"][0]
    assert (board.now.user, board.now.source) == (str(carol.uid), "override")
    assert board.now.ends_at == datetime(2026, 5, 14, 7, tzinfo=UTC)
    assert (board.next.user, board.next.starts_at) == (str(bob.uid), datetime(2026, 5, 14, 7, tzinfo=UTC))
    now_html = slot(page, "now")
    assert f'data-user="{carol.uid}"' in now_html and "carol" in now_html and "override" in now_html
    assert "until Thu 14 May 09:00" in now_html  # in Berlin time
    assert "bob" in slot(page, "next")


def test_the_calendar_shows_14_days_in_local_time_with_overrides_marked(
    viewer: User, schedule: Schedule, people: dict[str, User], clock: None
) -> None:
    ScheduleOverride.objects.create(
        schedule=schedule,
        user=people["carol"],
        starts_at=datetime(2026, 5, 13, 13, tzinfo=BERLIN),
        ends_at=datetime(2026, 5, 14, 9, tzinfo=BERLIN),
    )
    page = client_for(viewer).get(reverse("oncall:schedule", args=[schedule.uid]))
    days = page.context["board"].days
    assert len(days) == 14 and text_of(page).count('class="cal-day') == 14
    assert [d.day.isoformat() for d in (days[0], days[-1])] == ["2026-05-13", "2026-05-26"]
    assert [(s.label, s.name, s.override) for s in days[0].segments] == [
        ("00:00\u201309:00", "bob", False),
        ("09:00\u201313:00", "alice", False),
        ("13:00\u201324:00", "carol", True),
    ]
    assert [(s.label, s.name) for s in days[1].segments] == [("00:00\u201309:00", "carol"), ("09:00\u201324:00", "bob")]
    html = text_of(page)
    assert re.search(
        r'<li class="override"><span class="cal-time">13:00\u201324:00</span> carol <span class="tag">', html
    )


def test_a_gap_in_the_calendar_shows_nobody(viewer: User, schedule: Schedule, clock: None) -> None:
    layer = schedule.layers.get()
    layer.restrictions = [{"weekdays": [0, 1, 2, 3, 4], "start": "09:00", "end": "17:00"}]
    layer.save()
    page = client_for(viewer).get(reverse("oncall:index"))
    saturday = page.context["boards"][0].days[3]
    assert [(s.label, s.gap) for s in saturday.segments] == [("all day", True)]
    assert "nobody" in text_of(page)


@pytest.mark.parametrize(("field", "value"), [("handoff", "9"), ("timezone", "Mars/Base"), ("timezone", "America")])
def test_a_schedule_with_broken_stored_settings_shows_why(
    field: str, value: str, viewer: User, editor: User, schedule: Schedule, people: dict[str, User], clock: None
) -> None:
    """Settings the pages refuse may come in another way (the API, the admin): pages still work."""
    if field == "handoff":
        ScheduleLayer.objects.update(handoff=value)
    else:
        Schedule.objects.update(timezone=value)
    page = client_for(viewer).get(reverse("oncall:index"))
    assert page.status_code == 200 and page.context["boards"][0].error
    assert "cannot be worked out" in text_of(page)
    assert client_for(viewer).get(reverse("oncall:schedule", args=[schedule.uid])).status_code == 200
    edit = reverse("oncall:layer_edit", args=[schedule.uid, 1])
    assert client_for(editor).get(edit).status_code == 200
    response = client_for(editor).post(edit, LAYER)
    if field == "timezone":
        assert response.status_code == 400 and "edit the schedule first" in str(response.context["form"].errors)
    else:
        assert response.status_code == 302 and ScheduleLayer.objects.get().handoff == "09:00"
    assert Client().get(feed_path(people["alice"])).status_code == 200


def test_the_board_costs_two_queries_per_schedule(viewer: User, schedule: Schedule, clock: None) -> None:
    """The layers and the overrides of each schedule; the names of everyone shown in one query."""
    client = client_for(viewer)

    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert client.get(reverse("oncall:index")).status_code == 200
        return len(captured)

    one = queries()
    for name in ("Second", "Third"):
        copy = Schedule.objects.create(name=name, timezone="UTC")
        layer = schedule.layers.get()
        ScheduleLayer.objects.create(
            schedule=copy, participants=layer.participants, start=layer.start, rotation=layer.rotation
        )
    assert queries() == one + 4


# --- The iCalendar feed --------------------------------------------------------------------------


def feed_path(user: User) -> str:
    return reverse("oncall:ical", args=[ical_token(user)])


def test_the_feed_address_is_shown_to_its_owner(viewer: User) -> None:
    page = client_for(viewer).get(reverse("oncall:index"))
    assert page.context["feed_url"] == settings.OPSBOARD_BASE_URL.rstrip("/") + feed_path(viewer)
    assert page.context["feed_url"] in page.content.decode()


def test_the_feed_holds_the_users_shifts_of_every_schedule(
    schedule: Schedule, people: dict[str, User], clock: None
) -> None:
    alice = people["alice"]
    other = Schedule.objects.create(name="Weekend", timezone="UTC")
    ScheduleLayer.objects.create(
        schedule=other,
        position=1,
        participants=[str(alice.uid), str(people["carol"].uid)],
        rotation=7,
        start=datetime(2026, 4, 1, tzinfo=UTC),
        restrictions=[{"weekdays": [5, 6], "start": "00:00", "end": "00:00"}],
    )
    ScheduleOverride.objects.create(
        schedule=schedule, user=people["carol"], starts_at=T0, ends_at=T0 + timedelta(hours=3)
    )
    response = Client().get(feed_path(alice))
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/calendar")
    expected = []
    for each in (schedule, other):
        layers, overrides = oncall_inputs(each)
        # From midnight a week ago, so the clipped first event keeps its start (and UID) all day.
        for shift in oncall.shifts(layers, overrides, datetime(2026, 5, 6, tzinfo=UTC), T0 + timedelta(days=90)):
            if shift.user == str(alice.uid):
                expected.append((shift.starts_at, shift.ends_at, event_uid(str(alice.uid), each.name, shift.starts_at)))
    assert parse_events(response.content) == sorted(expected)
    assert len({name for *_, name in expected}) == len(expected) > 40


def test_the_feed_answers_404_after_a_password_change(people: dict[str, User]) -> None:
    alice = people["alice"]
    path = feed_path(alice)
    assert Client().get(path).status_code == 200
    alice.set_password("another horse battery staple")
    alice.save()
    assert Client().get(path).status_code == 404
    assert Client().get(feed_path(alice)).status_code == 200


def test_the_feed_of_a_deactivated_user_or_a_forged_token_is_404(people: dict[str, User]) -> None:
    alice = people["alice"]
    path = feed_path(alice)
    assert Client().get(path.replace(".ics", "x.ics")).status_code == 404
    assert Client().get(reverse("oncall:ical", args=["not-a-token"])).status_code == 404
    alice.is_active = False
    alice.save()
    assert Client().get(path).status_code == 404


# --- Escalation policies and steps ------------------------------------------------------------


@pytest.fixture
def policy(db: None) -> EscalationPolicy:
    return EscalationPolicy.objects.create(name="Primary")


def test_the_first_policy_becomes_the_default(editor: User) -> None:
    client = client_for(editor)
    client.post(reverse("oncall:policy_create"), {"name": "First", "repeat": "1"})
    client.post(reverse("oncall:policy_create"), {"name": "Second", "repeat": "0", "ack_timeout_s": "3600"})
    assert list(EscalationPolicy.objects.values_list("name", "is_default")) == [("First", True), ("Second", False)]
    assert audited("escalationpolicy.create") == 2 and audited("escalationpolicy.update") == 1


def test_steps_are_added_moved_and_removed_audited(
    editor: User, policy: EscalationPolicy, schedule: Schedule, people: dict[str, User]
) -> None:
    channel = NotificationChannel.objects.create(name="ops", kind="email", config={"addresses": ["ops@x.test"]})
    client = client_for(editor)
    url = reverse("oncall:step_create", args=[policy.uid])
    for target in (f"schedule:{schedule.uid}", f"user:{people['bob'].uid}", f"channel:{channel.uid}"):
        assert client.post(url, {"target": target, "wait_minutes": "10"}).status_code == 302
    assert audited("escalationstep.create") == 3

    def order() -> list[str]:
        return [str(step.schedule or step.user or step.channel) for step in policy.steps.order_by("position")]

    assert order() == ["GPU infra", "bob", "ops"]
    client.post(reverse("oncall:step_move", args=[policy.uid, 3]), {"direction": "up"})
    assert order() == ["GPU infra", "ops", "bob"]
    client.post(reverse("oncall:step_move", args=[policy.uid, 1]), {"direction": "up"})  # first already
    assert order() == ["GPU infra", "ops", "bob"]
    client.post(reverse("oncall:step_delete", args=[policy.uid, 1]))
    assert order() == ["ops", "bob"]
    assert list(policy.steps.values_list("position", flat=True).order_by("position")) == [1, 2]
    assert audited("escalationstep.delete") == 1
    page = client_for(editor).get(reverse("oncall:policy", args=[policy.uid]))
    assert "the channel ops" in text_of(page)


def test_a_step_with_no_target_is_named(editor: User, policy: EscalationPolicy) -> None:
    response = client_for(editor).post(reverse("oncall:step_create", args=[policy.uid]), {"wait_minutes": "5"})
    assert response.status_code == 400
    assert "choose whom this step notifies" in errors_of(response)["target"]
    bad = client_for(editor).post(
        reverse("oncall:step_create", args=[policy.uid]), {"target": "user:nobody", "wait_minutes": "-1"}
    )
    assert set(errors_of(bad)) == {"target", "wait_minutes"}
    assert not EscalationStep.objects.exists()


def test_a_step_is_edited(editor: User, policy: EscalationPolicy, people: dict[str, User]) -> None:
    EscalationStep.objects.create(policy=policy, position=1, user=people["alice"], wait_minutes=5)
    url = reverse("oncall:step_edit", args=[policy.uid, 1])
    assert client_for(editor).get(url).context["form"]["target"].value() == f"user:{people['alice'].uid}"
    client_for(editor).post(url, {"target": f"user:{people['bob'].uid}", "wait_minutes": "15"})
    step = policy.steps.get()
    assert (step.user, step.wait_minutes) == (people["bob"], 15)
    assert audited("escalationstep.update") == 1


def test_a_policy_a_rule_uses_or_the_default_one_is_not_deleted(editor: User, policy: EscalationPolicy) -> None:
    client = client_for(editor)
    rule = AlertRule.objects.create(name="GPU hot", expression="gpu_temp", policy=policy)
    response = client.post(reverse("oncall:policy_delete", args=[policy.uid]), follow=True)
    assert "pages for the rules GPU hot" in text_of(response)
    rule.delete()
    client.post(reverse("oncall:policy_default", args=[policy.uid]))
    response = client.post(reverse("oncall:policy_delete", args=[policy.uid]), follow=True)
    assert "is the default policy" in text_of(response)
    assert EscalationPolicy.objects.exists() and not audited("escalationpolicy.delete")


def test_a_policy_is_edited_and_deleted_with_its_steps(
    editor: User, policy: EscalationPolicy, people: dict[str, User]
) -> None:
    EscalationStep.objects.create(policy=policy, position=1, user=people["alice"])
    client = client_for(editor)
    form = {"name": "Primary GPU", "repeat": "2", "reminder_every_s": "1800"}
    assert client.post(reverse("oncall:policy_edit", args=[policy.uid]), form).status_code == 302
    assert EscalationPolicy.objects.get().reminder_every_s == 1800
    assert client.post(reverse("oncall:policy_delete", args=[policy.uid])).status_code == 302
    assert not EscalationPolicy.objects.exists()
    assert [audited(a) for a in ("escalationpolicy.update", "escalationstep.delete", "escalationpolicy.delete")] == [
        1,
        1,
        1,
    ]


# --- Channels -----------------------------------------------------------------------------------


WEBHOOK = {"name": "ml-hooks", "kind": "webhook", "enabled": "on", "cfg_webhook_url": URL, "cfg_webhook_secret": SECRET}


@pytest.mark.parametrize(
    ("form", "field", "message"),
    [
        ({**WEBHOOK, "cfg_webhook_url": "ftp://hooks.example.test/x"}, "cfg_webhook_url", "only http and https"),
        ({**WEBHOOK, "cfg_webhook_url": ""}, "cfg_webhook_url", "a URL is needed"),
        ({"name": "s", "kind": "slack", "cfg_slack_webhook_url": "hooks.slack.com/x"}, "cfg_slack_webhook_url", "http"),
        (
            {"name": "m", "kind": "email", "cfg_email_addresses": "ops@x.test, not-an-address"},
            "cfg_email_addresses",
            "not-an-address",
        ),
        ({"name": "m", "kind": "email"}, "cfg_email_addresses", "at least one"),
        ({**WEBHOOK, "kind": "pigeon"}, "kind", "valid choice"),
    ],
)
def test_bad_channel_settings_are_named(form: dict, field: str, message: str, editor: User) -> None:
    response = client_for(editor).post(reverse("oncall:channel_create"), form)
    assert response.status_code == 400
    assert message in " ".join(errors_of(response)[field])
    assert SECRET not in response.content.decode()
    assert not NotificationChannel.objects.exists()


def test_channel_secrets_are_kept_but_never_shown_back(editor: User, viewer: User) -> None:
    client = client_for(editor)
    assert client.post(reverse("oncall:channel_create"), WEBHOOK).status_code == 302
    channel = NotificationChannel.objects.get()
    assert channel.config == {"url": URL, "secret": SECRET}
    event = AuditEvent.objects.get(action="notificationchannel.create")
    assert URL not in str(event.changes) and SECRET not in str(event.changes)

    edit = reverse("oncall:channel_edit", args=[channel.uid])
    pages = [
        client.get(reverse("oncall:channels")),
        client_for(viewer).get(reverse("oncall:channels")),
        client.get(edit),
        client.post(edit, {**WEBHOOK, "name": ""}),  # refused: nothing typed comes back either
    ]
    for page in pages:
        html = page.content.decode()
        assert URL not in html and "XYZsecretpath" not in html and SECRET not in html
    assert "url</dt><dd>set" in pages[1].content.decode()

    assert client.post(edit, {"name": "ml-hooks", "kind": "webhook", "enabled": "on"}).status_code == 302
    assert NotificationChannel.objects.get().config == {"url": URL, "secret": SECRET}  # left empty: kept
    form = {"name": "ml-hooks", "kind": "webhook", "cfg_webhook_secret_clear": "on"}
    assert client.post(edit, form).status_code == 302
    channel = NotificationChannel.objects.get()
    assert (channel.config, channel.enabled) == ({"url": URL, "secret": ""}, False)
    assert audited("notificationchannel.update") == 2


def test_an_email_channel_shows_its_addresses(editor: User) -> None:
    form = {"name": "ops-list", "kind": "email", "cfg_email_addresses": "a@x.test\nb@x.test, a@x.test"}
    client_for(editor).post(reverse("oncall:channel_create"), form)
    assert NotificationChannel.objects.get().config == {"addresses": ["a@x.test", "b@x.test"]}
    assert "a@x.test, b@x.test" in client_for(editor).get(reverse("oncall:channels")).content.decode()


def test_a_channel_in_a_policy_is_not_deleted(editor: User, policy: EscalationPolicy) -> None:
    channel = NotificationChannel.objects.create(name="ops", kind="email", config={"addresses": ["ops@x.test"]})
    EscalationStep.objects.create(policy=policy, position=1, channel=channel)
    client = client_for(editor)
    response = client.post(reverse("oncall:channel_delete", args=[channel.uid]), follow=True)
    assert "is a step of Primary" in text_of(response)
    policy.steps.all().delete()
    client.post(reverse("oncall:channel_delete", args=[channel.uid]))
    assert not NotificationChannel.objects.exists()
    assert audited("notificationchannel.delete", object_id=str(channel.uid)) == 1


# --- Contact methods ----------------------------------------------------------------------------


def test_a_viewer_manages_their_own_contact_methods(viewer: User) -> None:
    client = client_for(viewer)
    form = {"kind": "slack", "cfg_slack_webhook_url": URL}
    assert client.post(reverse("oncall:contact"), form).status_code == 302
    method = ContactMethod.objects.get()
    assert (method.user, method.config) == (viewer, {"webhook_url": URL})
    assert audited("contactmethod.create", actor=viewer) == 1
    assert URL not in client.get(reverse("oncall:contact")).content.decode()
    edit = reverse("oncall:contact_edit", args=[method.uid])
    assert client.post(edit, {"kind": "email", "cfg_email_addresses": "vic@x.test"}).status_code == 302
    assert ContactMethod.objects.get().config == {"addresses": ["vic@x.test"]}
    assert client.post(reverse("oncall:contact_delete", args=[method.uid])).status_code == 302
    assert not ContactMethod.objects.exists()
    assert audited("contactmethod.update") == 1 and audited("contactmethod.delete") == 1


def test_a_bad_contact_method_is_named(viewer: User) -> None:
    response = client_for(viewer).post(
        reverse("oncall:contact"), {"kind": "webhook", "cfg_webhook_url": "javascript:x"}
    )
    assert response.status_code == 400
    assert "only http and https" in " ".join(errors_of(response)["cfg_webhook_url"])


def test_only_an_admin_manages_other_peoples_contact_methods(viewer: User, responder: User, admin: User) -> None:
    theirs = ContactMethod.objects.create(user=responder, kind="email", config={"addresses": ["rosa@x.test"]})
    mine = client_for(viewer)
    assert mine.get(reverse("oncall:contact") + f"?user={responder.uid}").status_code == 403
    assert mine.post(reverse("oncall:contact") + f"?user={responder.uid}", {"kind": "email"}).status_code == 403
    assert mine.get(reverse("oncall:contact_edit", args=[theirs.uid])).status_code == 404
    assert mine.post(reverse("oncall:contact_delete", args=[theirs.uid])).status_code == 404
    assert "rosa@x.test" not in mine.get(reverse("oncall:contact")).content.decode()

    admin_client = client_for(admin)
    page = admin_client.get(reverse("oncall:contact") + f"?user={responder.uid}")
    assert page.context["owner"] == responder and "rosa@x.test" in page.content.decode()
    form = {"kind": "email", "cfg_email_addresses": "rosa@pager.test"}
    response = admin_client.post(reverse("oncall:contact") + f"?user={responder.uid}", form)
    assert response["Location"] == reverse("oncall:contact") + f"?user={responder.uid}"
    assert ContactMethod.objects.filter(user=responder).count() == 2
    assert admin_client.post(reverse("oncall:contact_delete", args=[theirs.uid])).status_code == 302
    assert audited("contactmethod.create", actor=admin) == 1 and audited("contactmethod.delete", actor=admin) == 1
