"""Fail closed: a Django view that declares no role is refused, never opened."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from django.http import HttpRequest, HttpResponse, HttpResponseForbidden

from opsboard.accounts.permissions import declared_role

logger = logging.getLogger(__name__)


class FailClosedMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_view(
        self, request: HttpRequest, view_func: Callable[..., Any], args: Any, kwargs: Any
    ) -> HttpResponse | None:
        if declared_role(view_func) is not None:
            return None
        if getattr(view_func, "cls", None) is not None:
            return None  # an API view: HasRole refuses it with a JSON answer
        logger.error("view %s declares no role; refused", getattr(view_func, "__qualname__", view_func))
        return HttpResponseForbidden("This page declares no role, so it is closed.")
