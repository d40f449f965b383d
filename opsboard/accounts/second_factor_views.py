"""The code step of a sign-in, and a user's own second-factor page (set up, turn off, new
recovery codes). The Admin's reset is on the Users page (``views.user_second_factor_reset``)."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.safestring import mark_safe
from django.views.decorators.http import require_POST

from opsboard import crypto
from opsboard.accounts import lockout, roles, second_factor, security_events, signin, totp
from opsboard.accounts.permissions import role_required
from opsboard.audit.services import Actor

WRONG_CODE = "That code is not right. Type the 6 digits your app shows now, or one of your recovery codes."


@role_required(roles.PUBLIC)
def login_code(request: HttpRequest) -> HttpResponse:
    """Second step of a sign-in: the code from the authenticator app, or a recovery code."""
    step = signin.pending_code_step(request)
    if step is None:
        messages.error(request, "Sign in again: the code step expired or was not started.")
        return redirect("login")
    if request.method != "POST":
        return render(request, "accounts/login_code.html", {"username": step.user.username})
    username = step.user.username
    if lockout.is_locked_out(request, username):
        return signin.refuse_locked_out(request, username)
    check = second_factor.sign_in(request, step.user, request.POST.get("code", ""), backend=step.backend)
    if check.ok:
        signin.end_code_step(request)
        return redirect(step.next_url)
    refusal = signin.note_wrong_code(request, username)
    context = {"username": username, "error": WRONG_CODE}
    return refusal or render(request, "accounts/login_code.html", context, status=400)


@role_required(roles.AUTHENTICATED)
def account_second_factor(request: HttpRequest) -> HttpResponse:
    return _page(request)


def _page(request: HttpRequest, *, status: int = 200, error: str = "") -> HttpResponse:
    user = request.user
    context = {
        "enrolled": second_factor.is_enrolled(user),
        "required": second_factor.must_enrol(user),
        "recovery_left": second_factor.recovery_codes_left(user),
        "error": error,
    }
    pending = None if context["enrolled"] else second_factor.pending_device(user)
    if pending is not None and not crypto.is_encrypted(pending.secret):
        uri = totp.otpauth_uri(pending.secret, user.username)
        # The SVG is drawn by segno from our own URI: no user-controlled markup reaches it.
        context.update(pending=True, uri=uri, secret=pending.secret, qr=mark_safe(totp.qr_svg(uri)))  # noqa: S308
    return render(request, "accounts/second_factor.html", context, status=status)


@role_required(roles.AUTHENTICATED)
@require_POST
def second_factor_start(request: HttpRequest) -> HttpResponse:
    try:
        second_factor.start_enrolment(request.user)
    except second_factor.SecondFactorError as exc:
        return _page(request, status=409, error=str(exc))
    return redirect("accounts:second_factor")


@role_required(roles.AUTHENTICATED)
@require_POST
def second_factor_confirm(request: HttpRequest) -> HttpResponse:
    try:
        codes = second_factor.confirm_enrolment(request.user, request.POST.get("code", ""), by=Actor.of(request))
    except second_factor.SecondFactorError as exc:
        return _page(request, status=409, error=str(exc))
    if codes is None:
        security_events.count(security_events.TOTP_FAILED)
        return _page(request, status=400, error="That code is not right: type the 6 digits your app shows now.")
    return _recovery_codes_page(request, codes, "Your second factor is on")


@role_required(roles.AUTHENTICATED)
@require_POST
def second_factor_disable(request: HttpRequest) -> HttpResponse:
    refusal = _refuse_if_locked_out(request)
    if refusal is not None:
        return refusal
    check = second_factor.disable(request.user, request.POST.get("code", ""), by=Actor.of(request))
    if not check.ok:
        return _wrong_code(request)
    messages.success(request, "Your second factor is off: you sign in with your password alone.")
    return redirect("accounts:second_factor")


@role_required(roles.AUTHENTICATED)
@require_POST
def second_factor_recovery_codes(request: HttpRequest) -> HttpResponse:
    refusal = _refuse_if_locked_out(request)
    if refusal is not None:
        return refusal
    check, codes = second_factor.renew_recovery_codes(request.user, request.POST.get("code", ""), by=Actor.of(request))
    if not check.ok:
        return _wrong_code(request)
    return _recovery_codes_page(request, codes, "New recovery codes")


def _refuse_if_locked_out(request: HttpRequest) -> HttpResponse | None:
    """Changes that a code proves are refused while the user is locked out from this address."""
    username = request.user.username
    return signin.refuse_locked_out(request, username) if lockout.is_locked_out(request, username) else None


def _wrong_code(request: HttpRequest) -> HttpResponse:
    """A wrong code counts towards the lockout like a wrong password."""
    return signin.note_wrong_code(request, request.user.username) or _page(request, status=400, error=WRONG_CODE)


def _recovery_codes_page(request: HttpRequest, codes: list[str], title: str) -> HttpResponse:
    return render(request, "accounts/recovery_codes.html", {"codes": codes, "title": title})
