"""Security events as the series opsboard_security_events_total{kind}: counted where they
happen, copied into the store by the beat task, and watched by the default rule pack."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator
from django.conf import settings
from django.http import HttpResponse
from django.test import Client, override_settings
from django.urls import path, reverse

from alerts import default_rules
from alerts.evaluation import evaluate_many
from alerts.models import AlertRule, AlertState
from monitoring.query import query_range
from opsboard.accounts import second_factor, security_events, services, totp
from opsboard.accounts.security_events import KINDS
from opsboard.accounts.tasks import export_security_events
from opsboard.asgi import application
from opsboard.audit.models import AuditEvent
from opsboard.audit.services import Actor
from opsboard.redis_client import redis_client, redis_key
from tests.conftest import PASSWORD, client_for, make_user

T0 = datetime(2026, 11, 29, 10, 0, 0, tzinfo=UTC)
T0_MS = int(T0.timestamp() * 1000)
UNREACHABLE_REDIS = "redis://127.0.0.1:1/0"
BURST_RULE = "Burst of refused sign-ins or API tokens"


@pytest.fixture(autouse=True)
def _no_pause(monkeypatch: pytest.MonkeyPatch) -> None:
    """A test that makes Redis unreachable pauses counting in this process; not past its end."""
    monkeypatch.setattr(security_events, "_paused_until", 0.0)


def counted(**expected: int) -> dict[str, int]:
    return {kind: expected.get(kind, 0) for kind in KINDS}


def fail_sign_in(username: str, address: str = "10.0.0.1") -> int:
    data = {"username": username, "password": "wrong"}
    return Client().post(reverse("login"), data, REMOTE_ADDR=address).status_code


def with_token(secret: str, method: str = "get", url: str = "/api/v1/me", **data: object) -> int:
    client = Client(HTTP_AUTHORIZATION=f"Bearer {secret}")
    return getattr(client, method)(url, data, content_type="application/json").status_code


def stored_points(kind: str) -> list[tuple[int, float]]:
    selector = f'opsboard_security_events_total{{kind="{kind}"}}'
    result = query_range(selector, T0_MS - 60_000, T0_MS + 60_000, 1000, fn="raw")
    points = [zip(series.ts, series.values, strict=True) for series in result.series]
    return [(int(ts), float(value)) for pairs in points for ts, value in pairs]


# --- counting --------------------------------------------------------------------------------


def test_each_kind_counts_up_from_zero(db) -> None:
    assert security_events.totals() == counted()
    security_events.count(security_events.LOGIN_FAILED)
    security_events.count(security_events.LOGIN_FAILED)
    security_events.count(security_events.TOKEN_REFUSED)
    assert security_events.totals() == counted(login_failed=2, token_refused=1)


def test_an_unknown_kind_is_refused_by_name(db) -> None:
    with pytest.raises(ValueError, match="unknown security event kind 'login_failure'"):
        security_events.count("login_failure")


def test_failed_sign_ins_and_lockouts_are_counted(viewer) -> None:
    assert [fail_sign_in(viewer.username) for _ in range(7)] == [200] * 4 + [429] * 3
    assert security_events.totals() == counted(login_failed=5, lockout=3)


def test_wrong_codes_are_counted(viewer) -> None:
    device = second_factor.start_enrolment(viewer)
    second_factor.confirm_enrolment(viewer, totp.code_at(device.secret, time.time()), by=Actor.system("test"))
    client = Client()
    client.post(reverse("login"), {"username": viewer.username, "password": PASSWORD})
    assert client.post(reverse("accounts:login_code"), {"code": "not a code"}).status_code == 400
    assert security_events.totals() == counted(totp_failed=1)


def test_refused_api_tokens_are_counted(viewer) -> None:
    token, secret = services.create_token(user=viewer, name="ci", scopes=["read"], by=Actor.system("test"))
    assert with_token(secret) == 200
    assert with_token("opsb_unknown") == 401
    assert Client(HTTP_AUTHORIZATION="Bearer two parts").get("/api/v1/me").status_code == 401
    services.revoke_token(token, by=Actor.system("test"))
    assert with_token(secret) == 401
    assert Client().get("/api/v1/me").status_code == 401  # no token at all is not a refused token
    assert security_events.totals() == counted(token_refused=3)


def test_a_deactivated_users_token_is_counted_as_refused(cast, viewer) -> None:
    _, secret = services.create_token(user=viewer, name="ci", scopes=["read"], by=Actor.system("test"))
    services.set_active(viewer, False, by=Actor.system("test"))
    assert with_token(secret) == 401
    assert security_events.totals() == counted(token_refused=1)


def test_permission_denials_are_counted_for_pages_api_and_scopes(admin, viewer) -> None:
    assert client_for(viewer).get(reverse("accounts:users")).status_code == 403
    assert client_for(viewer).get("/api/v1/tokens").status_code == 403
    _, read_only = services.create_token(user=admin, name="r", scopes=["read"], by=Actor.system("test"))
    assert with_token(read_only, "post", "/api/v1/tokens", name="t", user="vic", scopes=["read"]) == 403
    assert security_events.totals() == counted(permission_denied=3)


def test_anonymous_callers_are_sent_to_sign_in_not_counted(db) -> None:
    assert Client().get(reverse("accounts:users")).status_code == 302
    assert Client().get("/api/v1/tokens").status_code == 401
    assert security_events.totals() == counted()


def undeclared_view(request: object) -> HttpResponse:
    return HttpResponse("open")


urlpatterns = [path("undeclared/", undeclared_view, name="undeclared")]


@override_settings(ROOT_URLCONF=__name__)
def test_a_view_refused_for_declaring_no_role_is_counted(viewer) -> None:
    assert client_for(viewer).get("/undeclared/").status_code == 403
    assert security_events.totals() == counted(permission_denied=1)


@pytest.mark.django_db(transaction=True)
async def test_a_refused_websocket_is_counted_and_a_signed_out_one_is_not() -> None:
    user = await sync_to_async(make_user)("nobody", None)
    client = Client()
    await sync_to_async(client.force_login)(user)
    cookie = f"{settings.SESSION_COOKIE_NAME}={client.cookies[settings.SESSION_COOKIE_NAME].value}".encode()
    for headers, code in (([(b"cookie", cookie)], 4403), ([], 4401)):
        socket = WebsocketCommunicator(application, "/ws/live", headers=[(b"origin", b"http://localhost"), *headers])
        assert (await socket.connect())[0]
        assert (await socket.receive_output(timeout=5))["code"] == code
    assert await sync_to_async(security_events.totals)() == counted(permission_denied=1)


def test_requests_go_on_when_redis_is_unreachable(settings, viewer) -> None:
    settings.REDIS_URL = UNREACHABLE_REDIS
    started = time.monotonic()
    assert fail_sign_in(viewer.username) == 200
    assert with_token("opsb_unknown") == 401
    assert client_for(viewer).get(reverse("accounts:users")).status_code == 403
    assert time.monotonic() - started < 5  # no request waits on Redis
    assert AuditEvent.objects.filter(action="auth.login_failed").count() == 1
    assert security_events._paused_until > time.time()  # later events skip Redis for a moment


# --- into the store, and the default rule ---------------------------------------------------


def test_the_export_writes_every_kinds_total_into_the_store(db) -> None:
    security_events.count(security_events.LOCKOUT)
    security_events.count(security_events.PERMISSION_DENIED)
    security_events.count(security_events.PERMISSION_DENIED)
    with time_machine.travel(T0, tick=False):
        assert export_security_events() == "wrote 5 security event totals"
    assert stored_points("lockout") == [(T0_MS, 1.0)]
    assert stored_points("permission_denied") == [(T0_MS, 2.0)]
    assert stored_points("login_failed") == [(T0_MS, 0.0)]


def test_the_export_is_skipped_when_redis_is_unreachable(settings, db) -> None:
    settings.REDIS_URL = UNREACHABLE_REDIS
    with time_machine.travel(T0, tick=False):
        assert export_security_events().startswith("skipped: Redis is unreachable")
    assert stored_points("login_failed") == []  # zeros would read as a counter reset


def test_the_export_runs_every_15_seconds_on_the_maintenance_queue() -> None:
    entry = settings.CELERY_BEAT_SCHEDULE["security-events"]
    assert entry["task"] == export_security_events.name and entry["schedule"] == 15.0
    assert settings.CELERY_TASK_ROUTES[export_security_events.name] == {"queue": "maintenance"}


def burst_rule() -> AlertRule:
    default_rules.install()
    return AlertRule.objects.get(name=BURST_RULE)


def test_a_burst_of_refused_sign_ins_fires_the_default_rule(viewer) -> None:
    rule = burst_rule()
    with time_machine.travel(T0, tick=False) as clock:
        export_security_events()
        clock.shift(timedelta(seconds=15))
        # one user name from one address: 5 wrong passwords (the fifth locks out), 7 refused while locked out
        assert [fail_sign_in(viewer.username) for _ in range(12)] == [200] * 4 + [429] * 8
        # a spray over other names from other addresses, and some stolen-looking tokens
        assert {fail_sign_in(f"guess-{n}", address=f"10.0.1.{n}") for n in range(6)} == {200}
        assert {with_token(f"opsb_guess{n}") for n in range(3)} == {401}
        assert security_events.totals() == counted(login_failed=11, lockout=8, token_refused=3)
        export_security_events()
        now_ms = T0_MS + 15_000
        assert stored_points("login_failed") == [(T0_MS, 0.0), (now_ms, 11.0)]
        assert stored_points("lockout") == [(T0_MS, 0.0), (now_ms, 8.0)]
        assert stored_points("token_refused") == [(T0_MS, 0.0), (now_ms, 3.0)]
        evaluate_many([rule.pk], now_ms)
    alert = AlertState.objects.get(rule=rule)
    assert alert.state == "firing"
    assert alert.last_value == pytest.approx(22.0)


def test_a_few_refused_sign_ins_do_not_fire_it(viewer) -> None:
    rule = burst_rule()
    with time_machine.travel(T0, tick=False) as clock:
        export_security_events()
        clock.shift(timedelta(seconds=15))
        for n in range(20):
            fail_sign_in(f"typo-{n}", address=f"10.0.2.{n}")
        export_security_events()
        evaluate_many([rule.pk], T0_MS + 15_000)
    assert not AlertState.objects.filter(rule=rule, state__in=["pending", "firing"]).exists()


def test_the_rule_reads_counters_across_a_reset_of_redis(db) -> None:
    """Redis losing its counters looks like a restarted exporter: increase() counts on from 0."""
    rule = burst_rule()
    with time_machine.travel(T0, tick=False) as clock:
        count_many(security_events.LOGIN_FAILED, 30)
        export_security_events()
        clock.shift(timedelta(seconds=15))
        count_many(security_events.LOGIN_FAILED, 1)
        export_security_events()
        clock.shift(timedelta(seconds=15))
        redis_client().delete(redis_key("security_events", security_events.LOGIN_FAILED))
        count_many(security_events.LOGIN_FAILED, 25)
        export_security_events()
        evaluate_many([rule.pk], T0_MS + 30_000)
    assert [value for _, value in stored_points("login_failed")] == [30.0, 31.0, 25.0]
    assert AlertState.objects.get(rule=rule).state == "firing"  # 1 + 25 more, not 25 - 30


def count_many(kind: str, times: int) -> None:
    for _ in range(times):
        security_events.count(kind)
