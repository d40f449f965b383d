"""The steps of a sign-in after the password: the code step's state, and lockout answers.

Between a correct password and the code, the session holds only who is signing in, where
to go after, and since when (the step expires after ``CODE_STEP_MAX_AGE_S``). The user is
signed in, and the session key cycled, only once the code is right.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect

from opsboard.accounts import lockout, security_events, services
from opsboard.accounts.models import User
from opsboard.audit.services import Actor

SESSION_KEY = "opsboard_code_step"
CODE_STEP_MAX_AGE_S = 300


@dataclass(frozen=True)
class CodeStep:
    user: User
    backend: str
    next_url: str


def begin_code_step(request: HttpRequest, user: User, next_url: str) -> HttpResponse:
    """Remember the user whose password was right, and send them to the code step."""
    request.session.cycle_key()
    request.session[SESSION_KEY] = {"user": user.pk, "backend": user.backend, "next": next_url, "at": time.time()}
    return redirect("accounts:login_code")


def pending_code_step(request: HttpRequest) -> CodeStep | None:
    """The code step in progress, or None when none was started, it expired or its user is gone."""
    data = request.session.get(SESSION_KEY)
    if not isinstance(data, dict) or time.time() - data.get("at", 0) > CODE_STEP_MAX_AGE_S:
        return None
    user = User.objects.filter(pk=data.get("user"), is_active=True).first()
    if user is None:
        return None
    return CodeStep(user=user, backend=data["backend"], next_url=data["next"])


def end_code_step(request: HttpRequest) -> None:
    request.session.pop(SESSION_KEY, None)


def note_lockout(request: HttpRequest, username: str) -> None:
    """Audit and count a sign-in answered with the lockout page."""
    services.record_lockout(username, Actor.of(request))
    security_events.count(security_events.LOCKOUT)


def refuse_locked_out(request: HttpRequest, username: str) -> HttpResponse:
    """The lockout page for a step that is refused before any check, audited and counted."""
    end_code_step(request)
    note_lockout(request, username)
    return lockout.lockout_response(request, credentials={"username": username})


def note_wrong_code(request: HttpRequest, username: str) -> HttpResponse | None:
    """Count a wrong code like a wrong password; the lockout page when it locks, else None."""
    security_events.count(security_events.TOTP_FAILED)
    if not lockout.note_failure(request, username):
        return None
    end_code_step(request)
    note_lockout(request, username)
    return lockout.lockout_response(request, credentials={"username": username})
