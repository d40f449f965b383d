"""The one permission helper: every view, API endpoint and consumer declares its role here.

- ``role_required(role)`` decorates a function view;
- ``RoleRequiredMixin`` with ``required_role`` serves Django class-based views;
- ``HasRole`` is the default DRF permission; API views set ``required_role`` (reads) and
  optionally ``write_role`` (unsafe methods), ``required_scope`` and ``write_scope`` (token
  scopes);
- ``has_role(user, role)`` is the check itself, for consumers and templates.

A view that declares nothing is refused: ``FailClosedMiddleware`` for Django views and
``HasRole`` for API views both answer 403.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from rest_framework.permissions import SAFE_METHODS, BasePermission

from opsboard.accounts import roles, security_events

logger = logging.getLogger(__name__)

ROLE_ATTR = "opsboard_required_role"


def has_role(user: Any, required: str) -> bool:
    """Whether ``user`` (possibly anonymous) may do what needs ``required``."""
    if required == roles.PUBLIC:
        return True
    if user is None or not user.is_authenticated or not user.is_active:
        return False
    return roles.satisfies(getattr(user, "role_id", None), required)


def _check(request: HttpRequest, role: str) -> HttpResponse | None:
    """None when allowed; a login redirect for anonymous users; PermissionDenied otherwise."""
    if has_role(request.user, role):
        return None
    if not request.user.is_authenticated:
        return redirect_to_login(request.get_full_path())
    security_events.count(security_events.PERMISSION_DENIED)
    raise PermissionDenied(f"this page needs the {role} role")


def role_required(role: str) -> Callable[[Callable[..., HttpResponse]], Callable[..., HttpResponse]]:
    """Decorate a function view with the role it needs."""
    if role not in roles.DECLARABLE:
        raise ValueError(f"unknown role {role!r}")

    def decorator(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
        @wraps(view)
        def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            return _check(request, role) or view(request, *args, **kwargs)

        setattr(wrapper, ROLE_ATTR, role)
        return wrapper

    return decorator


class RoleRequiredMixin:
    """For Django class-based views: set ``required_role``."""

    required_role: str | None = None

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if self.required_role not in roles.DECLARABLE:
            security_events.count(security_events.PERMISSION_DENIED)
            raise PermissionDenied("this view declares no role")
        return _check(request, self.required_role) or super().dispatch(request, *args, **kwargs)


def declared_role(view_func: Callable[..., Any]) -> str | None:
    """The role a resolved view declares, whatever kind of view it is; None if none."""
    role = getattr(view_func, ROLE_ATTR, None)
    if role is None:
        view_class = getattr(view_func, "view_class", None) or getattr(view_func, "cls", None)
        role = getattr(view_class, "required_role", None)
    return role if role in roles.DECLARABLE else None


def declared_write_role(view_func: Callable[..., Any]) -> str | None:
    """The role an API view needs for unsafe methods (its read role when not set apart)."""
    view_class = getattr(view_func, "cls", None)
    return getattr(view_class, "write_role", None) or declared_role(view_func)


class HasRole(BasePermission):
    """DRF permission: the view's declared role, and for tokens, the needed scope.

    A refusal of a signed-in caller (a 403; anonymous callers get 401) is counted as a
    security event.
    """

    def has_permission(self, request: Any, view: Any) -> bool:
        allowed = self._allows(request, view)
        if not allowed and request.user is not None and request.user.is_authenticated:
            security_events.count(security_events.PERMISSION_DENIED)
        return allowed

    def _allows(self, request: Any, view: Any) -> bool:
        role = getattr(view, "required_role", None)
        if request.method not in SAFE_METHODS:
            role = getattr(view, "write_role", None) or role
        if role not in roles.DECLARABLE:
            logger.error("API view %s declares no role; refused", type(view).__name__)
            return False
        if not has_role(request.user, role):
            return False
        return role == roles.PUBLIC or _token_allows(request, view)


def needed_scope(request: Any, view: Any) -> str:
    """The token scope a request needs: the view's own (``write_scope`` for unsafe methods
    when set apart), else read or write by method."""
    if request.method not in SAFE_METHODS and getattr(view, "write_scope", None):
        return view.write_scope
    return getattr(view, "required_scope", None) or ("read" if request.method in SAFE_METHODS else "write")


def _token_allows(request: Any, view: Any) -> bool:
    token = request.auth
    if token is None or not hasattr(token, "allows"):
        return True  # a browser session carries the user's full role
    return token.allows(needed_scope(request, view))
