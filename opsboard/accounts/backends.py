"""The lockout check that runs before any password is checked."""

from __future__ import annotations

from typing import Any

from axes.backends import AxesStandaloneBackend
from axes.exceptions import AxesBackendPermissionDenied
from django.http import HttpRequest

# Set on a request whose sign-in was refused because of a lockout: its password was never checked.
REFUSED_ATTR = "opsboard_refused_by_lockout"


class LockoutBackend(AxesStandaloneBackend):
    """django-axes' backend, first in ``AUTHENTICATION_BACKENDS``.

    A sign-in through a web request is refused while its user name and address are locked
    out. ``authenticate()`` called without a request comes from code running inside
    Opsboard (the test client's ``login()``, a shell): there is no address to lock and no
    attacker in between, so it passes on to the password check instead of raising as
    axes' own backend does.
    """

    def authenticate(
        self, request: HttpRequest | None, username: str | None = None, password: str | None = None, **kwargs: Any
    ) -> None:
        if request is None:
            return None
        try:
            return super().authenticate(request, username, password, **kwargs)
        except AxesBackendPermissionDenied:
            setattr(request, REFUSED_ATTR, True)
            raise
