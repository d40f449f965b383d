"""The optional second factor: an authenticator app (TOTP) plus single-use recovery codes.

Every change goes through these functions, each in one transaction that locks the user's
device and writes its audit event. No audit event ever holds the secret or a code.

The secret is encrypted at rest (``opsboard.crypto``) and shown only while enrolment is
unconfirmed, never after. A secret that the current keys cannot open fails closed: no code
is accepted until an Admin resets the second factor.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth import login
from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone

from opsboard import crypto
from opsboard.accounts import roles, services, totp
from opsboard.accounts.models import RecoveryCode, TotpDevice, User
from opsboard.audit.services import Actor, record

logger = logging.getLogger(__name__)

AUTHENTICATOR = "authenticator app"
RECOVERY_CODE = "recovery code"


class SecondFactorError(Exception):
    """The step does not apply to this user's second factor now; the message says why."""


@dataclass(frozen=True)
class CodeCheck:
    """What a code proved: ``method`` (AUTHENTICATOR or RECOVERY_CODE) or, when it failed, ``problem``."""

    method: str | None
    problem: str = ""

    @property
    def ok(self) -> bool:
        return self.method is not None


def is_enrolled(user: User) -> bool:
    return TotpDevice.objects.filter(user=user, confirmed_at__isnull=False).exists()


def must_enrol(user: User) -> bool:
    """Whether ``user`` is an Admin held to ``OPSBOARD_REQUIRE_TOTP_FOR_ADMINS`` without a second factor."""
    if not settings.REQUIRE_TOTP_FOR_ADMINS or not getattr(user, "is_authenticated", False):
        return False
    return user.role_id == roles.ADMIN and not is_enrolled(user)


def pending_device(user: User) -> TotpDevice | None:
    """The unconfirmed device of an enrolment in progress, whose secret may still be shown."""
    return TotpDevice.objects.filter(user=user, confirmed_at__isnull=True).first()


def recovery_codes_left(user: User) -> int:
    return RecoveryCode.objects.filter(user=user, used_at__isnull=True).count()


def start_enrolment(user: User) -> TotpDevice:
    """A fresh unconfirmed secret (replacing an unconfirmed one). Not audited: it protects
    nothing until confirmed. Refused when a second factor is on already."""
    with transaction.atomic():
        device = TotpDevice.objects.select_for_update().filter(user=user).first()
        if device is not None and device.is_confirmed:
            raise SecondFactorError("A second factor is on already; turn it off before setting up another.")
        if device is None:
            return TotpDevice.objects.create(user=user, secret=totp.new_secret())
        device.secret = totp.new_secret()
        device.save(update_fields=["secret"])
    return device


def confirm_enrolment(user: User, code: str, *, by: Actor) -> list[str] | None:
    """Turn the second factor on with a first code from the app; returns the recovery codes,
    to be shown once, or None when the code is wrong (audited as a failed code)."""
    with transaction.atomic():
        device = TotpDevice.objects.select_for_update().filter(user=user, confirmed_at__isnull=True).first()
        if device is None:
            raise SecondFactorError("No set-up is in progress; start again.")
        if crypto.is_encrypted(device.secret):
            raise SecondFactorError(f"The set-up's secret {crypto.UNREADABLE}; start again.")
        step = totp.matching_step(device.secret, code, time.time())
        if step is None:
            _record_failed(user, by, during="enrolment", problem="wrong code")
            return None
        device.confirmed_at = timezone.now()
        device.last_used_step = step
        device.save(update_fields=["confirmed_at", "last_used_step"])
        codes = _replace_recovery_codes(user)
        record("auth.totp_enrol", by=by, obj=user, changes={"recovery_codes_issued": len(codes)})
    return codes


def sign_in(request: HttpRequest, user: User, code: str, *, backend: str) -> CodeCheck:
    """The second step of a sign-in: on a good code, sign ``user`` in and audit it; on a wrong
    one, audit the failure. The caller counts failures towards lockout."""
    with transaction.atomic():
        check = _consume(user, code)
        if not check.ok:
            _record_failed(user, Actor.of(request), during="sign-in", problem=check.problem)
            return check
        login(request, user, backend=backend)
        services.record_login(user, Actor.of(request), second_factor=check.method)
    return check


def disable(user: User, code: str, *, by: Actor) -> CodeCheck:
    """The user turns their second factor off, proving it with a current code or a recovery code."""
    with transaction.atomic():
        check = _consume(user, code)
        if not check.ok:
            _record_failed(user, by, during="disable", problem=check.problem)
            return check
        _remove(user)
        record("auth.totp_disable", by=by, obj=user, changes={"confirmed_with": check.method})
    return check


def renew_recovery_codes(user: User, code: str, *, by: Actor) -> tuple[CodeCheck, list[str]]:
    """New recovery codes (the old ones stop working), proven with a current code."""
    with transaction.atomic():
        check = _consume(user, code)
        if not check.ok:
            _record_failed(user, by, during="new recovery codes", problem=check.problem)
            return check, []
        codes = _replace_recovery_codes(user)
        record("auth.recovery_codes_renew", by=by, obj=user, changes={"recovery_codes_issued": len(codes)})
    return check, codes


def reset(user: User, *, by: Actor) -> None:
    """An Admin removes ``user``'s second factor (a lost phone); the user may set up a new one."""
    with transaction.atomic():
        device = TotpDevice.objects.select_for_update().filter(user=user).first()
        if device is None or not device.is_confirmed:
            raise SecondFactorError(f"{user.username} has no second factor to reset.")
        _remove(user)
        record("auth.totp_reset", by=by, obj=user, changes={"before": {"second_factor": True}, "after": None})


def _consume(user: User, code: str) -> CodeCheck:
    """Check a code against the locked device and use it up: the step of an app code is kept
    so that it is not accepted again; a recovery code is marked used."""
    device = TotpDevice.objects.select_for_update().filter(user=user, confirmed_at__isnull=False).first()
    if device is None:
        return CodeCheck(None, "no second factor")
    typed = totp.normalise(code)
    if totp.is_totp_shaped(typed):
        return _consume_app_code(device, typed)
    if totp.is_recovery_shaped(typed):
        return _consume_recovery_code(user, typed)
    return CodeCheck(None, "not a 6-digit code or a recovery code")


def _consume_app_code(device: TotpDevice, typed: str) -> CodeCheck:
    if crypto.is_encrypted(device.secret):
        logger.error("the TOTP secret of user %s %s; an Admin must reset it", device.user_id, crypto.UNREADABLE)
        return CodeCheck(None, f"secret {crypto.UNREADABLE}")
    step = totp.matching_step(device.secret, typed, time.time())
    if step is None:
        return CodeCheck(None, "wrong code")
    if step <= device.last_used_step:
        return CodeCheck(None, "code already used")
    device.last_used_step = step
    device.save(update_fields=["last_used_step"])
    return CodeCheck(AUTHENTICATOR)


def _consume_recovery_code(user: User, typed: str) -> CodeCheck:
    unused = RecoveryCode.objects.filter(user=user, digest=totp.recovery_digest(typed), used_at__isnull=True)
    if unused.update(used_at=timezone.now()) != 1:
        return CodeCheck(None, "wrong or used recovery code")
    return CodeCheck(RECOVERY_CODE)


def _replace_recovery_codes(user: User) -> list[str]:
    RecoveryCode.objects.filter(user=user).delete()
    codes = totp.new_recovery_codes()
    RecoveryCode.objects.bulk_create(RecoveryCode(user=user, digest=totp.recovery_digest(c)) for c in codes)
    return codes


def _remove(user: User) -> None:
    RecoveryCode.objects.filter(user=user).delete()
    TotpDevice.objects.filter(user=user).delete()


def _record_failed(user: User, by: Actor, *, during: str, problem: str) -> None:
    record("auth.totp_failed", by=by, obj=user, changes={"during": during, "problem": problem})
