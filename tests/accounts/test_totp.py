"""The optional second factor: codes and recovery codes, enrolment, the code step of a
sign-in, replay, lockout on wrong codes, disabling, the Admin's reset, and the setting that
holds Admins to it."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator
from django.conf import settings
from django.db import connection
from django.test import Client
from django.urls import reverse

from opsboard.accounts import second_factor, totp
from opsboard.accounts.models import RecoveryCode, TotpDevice, User
from opsboard.asgi import application
from opsboard.audit.models import AuditEvent
from opsboard.audit.services import Actor
from tests.conftest import PASSWORD, client_for, make_user

T0 = datetime(2026, 11, 29, 10, 0, 5, tzinfo=UTC)  # 5 s into a 30-second step
SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"


@pytest.fixture
def clock() -> Iterator[time_machine.Coordinates]:
    with time_machine.travel(T0, tick=False) as traveller:
        yield traveller


def code_now(secret: str) -> str:
    return totp.code_at(secret, time.time())


def enrol(user: User, clock: time_machine.Coordinates) -> tuple[str, list[str]]:
    """Turn the second factor on as the pages do, then move past the step used to confirm it."""
    device = second_factor.start_enrolment(user)
    codes = second_factor.confirm_enrolment(user, code_now(device.secret), by=Actor.system("test"))
    assert codes is not None
    clock.shift(timedelta(seconds=30))
    return device.secret, codes


def password_step(username: str, client: Client | None = None, **extra: str):
    client = client or Client()
    response = client.post(reverse("login"), {"username": username, "password": PASSWORD}, **extra)
    return client, response


def code_step(client: Client, code: str):
    return client.post(reverse("accounts:login_code"), {"code": code})


def audited(action: str) -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(action=action).order_by("id"))


# --- codes, without Django --------------------------------------------------------------


def test_codes_are_accepted_one_step_either_side_and_no_further() -> None:
    now = 1_700_000_015.0
    step = int(now // 30)
    for offset in (-1, 0, 1):
        assert totp.matching_step(SECRET, totp.code_at(SECRET, now + 30 * offset), now) == step + offset
    for offset in (-2, 2):
        assert totp.matching_step(SECRET, totp.code_at(SECRET, now + 30 * offset), now) is None


def test_codes_match_rfc_6238s_sha1_vector() -> None:
    rfc_secret = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"  # "12345678901234567890" in base32
    assert totp.code_at(rfc_secret, 59) == "287082"  # the RFC's 94287082, to 6 digits
    assert totp.matching_step(rfc_secret, "287 082", 59) == 1


def test_a_malformed_code_matches_nothing() -> None:
    for typed in ("", "12345", "1234567", "abcdef", "١٢٣٤٥٦"):
        assert totp.matching_step(SECRET, typed, 1_700_000_000) is None


def test_recovery_codes_are_random_and_read_back_however_typed() -> None:
    codes = totp.new_recovery_codes()
    assert len(codes) == 10 and len(set(codes)) == 10
    first = codes[0]
    assert len(first) == 19 and first.count("-") == 3
    assert totp.is_recovery_shaped(totp.normalise(first.upper().replace("-", " ")))
    assert totp.recovery_digest(first) == totp.recovery_digest(first.upper().replace("-", ""))
    assert first not in totp.recovery_digest(first)


def test_the_qr_code_is_an_inline_svg_of_the_otpauth_uri() -> None:
    uri = totp.otpauth_uri(SECRET, "ada")
    assert uri == f"otpauth://totp/Opsboard:ada?secret={SECRET}&issuer=Opsboard"
    svg = totp.qr_svg(uri)
    assert svg.startswith("<svg") and svg.rstrip().endswith("</svg>") and "<script" not in svg


# --- enrolment ----------------------------------------------------------------------------


def test_enrolment_shows_the_secret_until_confirmed_then_never(viewer, clock) -> None:
    client = client_for(viewer)
    assert b"is <strong>off</strong>" in client.get(reverse("accounts:second_factor")).content
    assert client.post(reverse("accounts:second_factor_start")).status_code == 302
    page = client.get(reverse("accounts:second_factor")).content.decode()
    secret = TotpDevice.objects.get(user=viewer).secret
    assert "<svg" in page and secret in page and "otpauth://totp/Opsboard:vic?secret=" in page

    wrong = client.post(reverse("accounts:second_factor_confirm"), {"code": "000000"})
    assert wrong.status_code == 400
    assert audited("auth.totp_failed")[0].changes == {"during": "enrolment", "problem": "wrong code"}

    shown = client.post(reverse("accounts:second_factor_confirm"), {"code": code_now(secret)})
    assert shown.status_code == 200
    codes = shown.content.decode().split('id="recovery-codes">')[1].split("</pre>")[0].split()
    assert len(codes) == 10
    stored = set(RecoveryCode.objects.filter(user=viewer).values_list("digest", flat=True))
    assert stored == {totp.recovery_digest(code) for code in codes}
    after = client.get(reverse("accounts:second_factor")).content.decode()
    assert "is <strong>on</strong>" in after and secret not in after and "<svg" not in after
    assert audited("auth.totp_enrol")[0].changes == {"recovery_codes_issued": 10}


def test_the_secret_is_encrypted_at_rest_and_never_audited(viewer, clock) -> None:
    secret, codes = enrol(viewer, clock)
    with connection.cursor() as cursor:
        cursor.execute("SELECT secret FROM accounts_totpdevice")
        (column,) = cursor.fetchone()
    assert column.startswith("enc:v1:") and secret not in column
    assert TotpDevice.objects.get(user=viewer).secret == secret
    everything = json.dumps(list(AuditEvent.objects.values("changes", "object_repr")))
    assert secret not in everything and not any(code in everything for code in codes)


def test_a_second_enrolment_is_refused_while_one_is_on(viewer, clock) -> None:
    enrol(viewer, clock)
    response = client_for(viewer).post(reverse("accounts:second_factor_start"))
    assert response.status_code == 409
    assert b"turn it off before setting up another" in response.content


# --- the code step ------------------------------------------------------------------------


def test_sign_in_asks_for_the_code_after_the_password(viewer, clock) -> None:
    secret, _ = enrol(viewer, clock)
    client, response = password_step(viewer.username)
    assert response.status_code == 302 and response["Location"] == reverse("accounts:login_code")
    assert client.get(reverse("overview")).status_code == 302  # not signed in yet
    assert audited("auth.login") == []
    assert b"Signing in as <strong>vic</strong>" in client.get(reverse("accounts:login_code")).content

    assert code_step(client, "000000").status_code == 400
    failed = audited("auth.totp_failed")[-1]
    assert failed.changes == {"during": "sign-in", "problem": "wrong code"} and failed.actor is None

    done = code_step(client, code_now(secret))
    assert done.status_code == 302 and done["Location"] == reverse("overview")
    assert client.get(reverse("overview")).status_code == 200
    login = audited("auth.login")[-1]
    assert login.actor == viewer and login.changes == {"second_factor": "authenticator app"}


def test_the_next_page_survives_the_code_step(viewer, clock) -> None:
    secret, _ = enrol(viewer, clock)
    client = Client()
    client.post(reverse("login"), {"username": viewer.username, "password": PASSWORD, "next": "/audit/"})
    assert code_step(client, code_now(secret))["Location"] == "/audit/"


def test_a_code_is_not_accepted_twice(viewer, clock) -> None:
    secret, _ = enrol(viewer, clock)
    code = code_now(secret)
    client, _ = password_step(viewer.username)
    assert code_step(client, code).status_code == 302
    client.post(reverse("logout"))
    clock.shift(timedelta(seconds=20))  # still inside the code's window
    again, _ = password_step(viewer.username)
    assert code_step(again, code).status_code == 400
    assert audited("auth.totp_failed")[-1].changes["problem"] == "code already used"
    clock.shift(timedelta(seconds=30))
    assert code_step(again, code_now(secret)).status_code == 302


def test_a_recovery_code_signs_in_once(viewer, clock) -> None:
    _, codes = enrol(viewer, clock)
    client, _ = password_step(viewer.username)
    assert code_step(client, codes[3].upper()).status_code == 302
    assert audited("auth.login")[-1].changes == {"second_factor": "recovery code"}
    client.post(reverse("logout"))
    again, _ = password_step(viewer.username)
    assert code_step(again, codes[3]).status_code == 400
    assert audited("auth.totp_failed")[-1].changes["problem"] == "wrong or used recovery code"
    assert b"9 unused recovery codes left" in client_for(viewer).get(reverse("accounts:second_factor")).content


def test_the_code_step_expires(viewer, clock) -> None:
    secret, _ = enrol(viewer, clock)
    client, _ = password_step(viewer.username)
    clock.shift(timedelta(minutes=5, seconds=1))
    response = code_step(client, code_now(secret))
    assert response.status_code == 302 and response["Location"] == reverse("login")
    assert client.get(reverse("overview")).status_code == 302


def test_the_code_step_needs_a_password_first(db) -> None:
    response = Client().get(reverse("accounts:login_code"))
    assert response.status_code == 302 and response["Location"] == reverse("login")


def test_wrong_codes_lock_out_like_wrong_passwords(viewer, clock) -> None:
    secret, _ = enrol(viewer, clock)
    client, _ = password_step(viewer.username, REMOTE_ADDR="10.0.0.9")
    statuses = [client.post(reverse("accounts:login_code"), {"code": "000000"}, REMOTE_ADDR="10.0.0.9").status_code]
    statuses += [
        client.post(reverse("accounts:login_code"), {"code": "000000"}, REMOTE_ADDR="10.0.0.9").status_code
        for _ in range(4)
    ]
    assert statuses == [400, 400, 400, 400, 429]
    assert len(audited("auth.totp_failed")) == 5 and len(audited("auth.lockout")) == 1
    # the code step is gone, and the password step is locked out for this address
    _, response = password_step(viewer.username, REMOTE_ADDR="10.0.0.9")
    assert response.status_code == 429
    assert code_step(client, code_now(secret)).status_code == 302  # no step: back to the password
    assert client.get(reverse("overview")).status_code == 302


def test_a_mixed_run_of_wrong_passwords_and_codes_locks_out(viewer, clock) -> None:
    enrol(viewer, clock)
    for _ in range(3):
        Client().post(reverse("login"), {"username": viewer.username, "password": "wrong"})
    client, _ = password_step(viewer.username)
    assert code_step(client, "111111").status_code == 400
    assert code_step(client, "111111").status_code == 429
    clock.shift(timedelta(seconds=30))
    _, response = password_step(viewer.username)
    assert response.status_code == 429


def test_an_unreadable_secret_fails_closed(viewer, clock) -> None:
    secret, _ = enrol(viewer, clock)
    TotpDevice.objects.filter(user=viewer).update(secret="enc:v1:not-a-token-any-key-opens")
    client, _ = password_step(viewer.username)
    assert code_step(client, code_now(secret)).status_code == 400
    assert "cannot be read" in audited("auth.totp_failed")[-1].changes["problem"]


# --- turning it off -----------------------------------------------------------------------


def test_the_user_turns_it_off_with_a_code(viewer, clock) -> None:
    secret, _ = enrol(viewer, clock)
    client = client_for(viewer)
    assert client.post(reverse("accounts:second_factor_disable"), {"code": "123"}).status_code == 400
    assert audited("auth.totp_failed")[-1].changes == {
        "during": "disable",
        "problem": "not a 6-digit code or a recovery code",
    }
    assert client.post(reverse("accounts:second_factor_disable"), {"code": code_now(secret)}).status_code == 302
    assert audited("auth.totp_disable")[-1].changes == {"confirmed_with": "authenticator app"}
    assert not TotpDevice.objects.filter(user=viewer).exists()
    assert not RecoveryCode.objects.filter(user=viewer).exists()
    assert password_step(viewer.username)[1]["Location"] == reverse("overview")


def test_new_recovery_codes_replace_the_old(viewer, clock) -> None:
    secret, old = enrol(viewer, clock)
    client = client_for(viewer)
    shown = client.post(reverse("accounts:second_factor_recovery_codes"), {"code": code_now(secret)})
    new = shown.content.decode().split('id="recovery-codes">')[1].split("</pre>")[0].split()
    assert len(new) == 10 and not set(new) & set(old)
    assert audited("auth.recovery_codes_renew")[-1].changes == {"recovery_codes_issued": 10}
    signing_in, _ = password_step(viewer.username)
    assert code_step(signing_in, old[0]).status_code == 400
    assert code_step(signing_in, new[0]).status_code == 302


@pytest.mark.parametrize("change", ["accounts:second_factor_disable", "accounts:second_factor_recovery_codes"])
def test_guessing_the_code_of_a_change_locks_it_out(viewer, clock, change: str) -> None:
    """A stolen session cannot brute-force its way to turning the second factor off."""
    secret, old = enrol(viewer, clock)
    client = client_for(viewer)
    answers = [client.post(reverse(change), {"code": "000000"}).status_code for _ in range(settings.AXES_FAILURE_LIMIT)]
    assert answers[-1] == 429
    assert client.post(reverse(change), {"code": code_now(secret)}).status_code == 429
    assert TotpDevice.objects.filter(user=viewer).exists()
    assert sorted(RecoveryCode.objects.filter(user=viewer).values_list("digest", flat=True)) == sorted(
        totp.recovery_digest(code) for code in old
    )


def test_an_admin_resets_a_lost_second_factor(admin_client, viewer, clock) -> None:
    enrol(viewer, clock)
    page = admin_client.get(reverse("accounts:users")).content.decode()
    assert reverse("accounts:user_second_factor_reset", args=[viewer.uid]) in page
    assert admin_client.post(reverse("accounts:user_second_factor_reset", args=[viewer.uid])).status_code == 302
    event = audited("auth.totp_reset")[-1]
    assert event.object_id == str(viewer.uid) and event.actor.username == "ada"
    assert not TotpDevice.objects.filter(user=viewer).exists()
    assert password_step(viewer.username)[1]["Location"] == reverse("overview")
    again = admin_client.post(reverse("accounts:user_second_factor_reset", args=[viewer.uid]))
    assert again.status_code == 409 and b"has no second factor to reset" in again.content


def test_only_admins_reset_a_second_factor(editor, viewer, clock) -> None:
    enrol(viewer, clock)
    assert client_for(editor).post(reverse("accounts:user_second_factor_reset", args=[viewer.uid])).status_code == 403
    assert client_for(viewer).post(reverse("accounts:user_second_factor_reset", args=[viewer.uid])).status_code == 403
    assert TotpDevice.objects.filter(user=viewer, confirmed_at__isnull=False).exists()
    assert audited("auth.totp_reset") == []


# --- OPSBOARD_REQUIRE_TOTP_FOR_ADMINS -------------------------------------------------------


def test_admins_held_to_a_second_factor_set_it_up_before_anything_else(settings, admin, viewer, clock) -> None:
    settings.REQUIRE_TOTP_FOR_ADMINS = True
    client = client_for(admin)
    for url in (reverse("overview"), reverse("accounts:users"), reverse("accounts:password")):
        response = client.get(url)
        assert response.status_code == 302 and response["Location"] == reverse("accounts:second_factor"), url
    refused = client.get("/api/v1/me")
    assert refused.status_code == 403 and "second factor" in refused.json()["detail"]
    page = client.get(reverse("accounts:second_factor"))
    assert page.status_code == 200 and b"Admins must set up a second factor" in page.content
    assert client_for(viewer).get(reverse("overview")).status_code == 200  # other roles are free

    client.post(reverse("accounts:second_factor_start"))
    secret = TotpDevice.objects.get(user=admin).secret
    assert client.post(reverse("accounts:second_factor_confirm"), {"code": code_now(secret)}).status_code == 200
    assert client.get(reverse("overview")).status_code == 200
    assert client.get("/api/v1/me").status_code == 200


def test_the_requirement_is_off_by_default(admin) -> None:
    assert settings.REQUIRE_TOTP_FOR_ADMINS is False
    assert client_for(admin).get(reverse("overview")).status_code == 200


@pytest.mark.django_db(transaction=True)
async def test_an_admin_held_to_a_second_factor_cannot_open_a_live_socket(settings) -> None:
    settings.REQUIRE_TOTP_FOR_ADMINS = True
    user = await sync_to_async(make_user)("root", "admin")
    client = Client()
    await sync_to_async(client.force_login)(user)
    cookie = f"{settings.SESSION_COOKIE_NAME}={client.cookies[settings.SESSION_COOKIE_NAME].value}".encode()
    headers = [(b"origin", b"http://localhost"), (b"cookie", cookie)]
    socket = WebsocketCommunicator(application, "/ws/live", headers=headers)
    connected, _ = await socket.connect()
    assert connected
    message = await socket.receive_output(timeout=5)
    assert message == {"type": "websocket.close", "code": 4403}
