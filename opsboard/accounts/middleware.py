"""Fail closed: a Django view that declares no role is refused, never opened. And Admins
held to a second factor set one up before anything else."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseForbidden, JsonResponse
from django.shortcuts import redirect

from opsboard.accounts import second_factor, security_events
from opsboard.accounts.permissions import declared_role

logger = logging.getLogger(__name__)


class ViewMiddleware:
    """A middleware that acts only in ``process_view``, once the view is known."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)


class FailClosedMiddleware(ViewMiddleware):
    def process_view(
        self, request: HttpRequest, view_func: Callable[..., Any], args: Any, kwargs: Any
    ) -> HttpResponse | None:
        if declared_role(view_func) is not None:
            return None
        if getattr(view_func, "cls", None) is not None:
            return None  # an API view: HasRole refuses it with a JSON answer
        logger.error("view %s declares no role; refused", getattr(view_func, "__qualname__", view_func))
        security_events.count(security_events.PERMISSION_DENIED)
        return HttpResponseForbidden("This page declares no role, so it is closed.")


ENROL_FIRST = "Admins must set up a second factor first: open /account/second-factor/ in the browser."
EXEMPT_VIEWS = frozenset(
    {
        "login",
        "logout",
        "healthz",
        "accounts:login_code",
        "accounts:second_factor",
        "accounts:second_factor_start",
        "accounts:second_factor_confirm",
    }
)


class RequireSecondFactorMiddleware(ViewMiddleware):
    """With ``OPSBOARD_REQUIRE_TOTP_FOR_ADMINS``, an Admin without a second factor can use
    nothing but the pages that set one up (and signing out): other pages redirect there, and
    API calls made with the browser session get 403. API tokens are not affected: they are
    credentials of their own, and a second factor guards only the interactive sign-in."""

    def process_view(
        self, request: HttpRequest, view_func: Callable[..., Any], args: Any, kwargs: Any
    ) -> HttpResponse | None:
        if not settings.REQUIRE_TOTP_FOR_ADMINS or _exempt(request):
            return None
        if not second_factor.must_enrol(request.user):
            return None
        if "api" in request.resolver_match.namespaces:
            return JsonResponse({"detail": ENROL_FIRST}, status=403)
        return redirect("accounts:second_factor")


def _exempt(request: HttpRequest) -> bool:
    match = request.resolver_match
    return match is None or match.view_name in EXEMPT_VIEWS
