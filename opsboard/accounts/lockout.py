"""Lockout after repeated failed sign-ins, on django-axes.

Axes counts failures per user name and client address (``AXES_LOCKOUT_PARAMETERS``) in the
database, so counts are shared by every web process and survive restarts. This module holds
what Opsboard adds around it: the address axes keys on, the page a locked-out sign-in gets,
wrong second-factor codes counted like wrong passwords, and who is locked out now.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from axes.handlers.proxy import AxesProxyHandler
from axes.models import AccessAttempt
from django.conf import settings
from django.contrib.auth.signals import user_login_failed
from django.db.models import Max, Sum
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone


def failure_limit() -> int:
    return settings.AXES_FAILURE_LIMIT


def cool_off() -> timedelta:
    return settings.AXES_COOLOFF_TIME


def lockout_response(
    request: HttpRequest, original_response: HttpResponse | None = None, credentials: dict[str, Any] | None = None
) -> HttpResponse:
    """The answer to a locked-out sign-in: 429 Too Many Requests with Retry-After.

    429 rather than 403: nothing is forbidden to this user, they are asked to slow down and
    come back after the cool-off, which is what 429 and its Retry-After header say.
    """
    username = (credentials or {}).get("username") or request.POST.get("username", "")
    seconds = int(cool_off().total_seconds())
    context = {"username": username, "minutes": max(1, seconds // 60), "failure_limit": failure_limit()}
    response = render(request, "accounts/locked_out.html", context, status=settings.AXES_HTTP_RESPONSE_CODE)
    response["Retry-After"] = str(seconds)
    return response


def is_locked_out(request: HttpRequest, username: str) -> bool:
    """Whether sign-ins as ``username`` from this request's address are refused now."""
    return not AxesProxyHandler.is_allowed(request, {"username": username})


def note_failure(request: HttpRequest, username: str) -> bool:
    """Count a failed sign-in step that is not a password (a wrong code) on the same counter
    as wrong passwords; True when it locks the user name and address out.

    Django's ``user_login_failed`` is the documented way to tell axes of a failure.
    """
    user_login_failed.send(sender=__name__, credentials={"username": username}, request=request)
    return bool(getattr(request, "axes_locked_out", False))


def locked_out_until(usernames: list[str]) -> dict[str, datetime]:
    """Of ``usernames``, those locked out from at least one address now, with when the last
    of their lockouts ends."""
    since = timezone.now() - cool_off()
    rows = (
        AccessAttempt.objects.filter(username__in=usernames, attempt_time__gte=since)
        .values("username", "ip_address")
        .annotate(failures=Sum("failures_since_start"), last=Max("attempt_time"))
        .filter(failures__gte=failure_limit())
        .order_by()
    )
    until: dict[str, datetime] = {}
    for row in rows:
        ends = row["last"] + cool_off()
        until[row["username"]] = max(ends, until.get(row["username"], ends))
    return until


def forget_failures(username: str) -> int:
    """Forget every failed sign-in of ``username``, from every address; the number of records removed."""
    return AxesProxyHandler.reset_attempts(username=username)
