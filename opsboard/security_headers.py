"""The Content-Security-Policy of every response: django-csp's middleware, plus two things
a static policy cannot say.

- WebSockets: ``connect-src 'self'`` covers ``ws:``/``wss:`` of the page's own host in
  CSP Level 3 browsers (Chromium, Firefox), but older Safari did not, so the socket
  origins of the host the request came to (already checked against ``ALLOWED_HOSTS``)
  are named as well.
- Views whose third-party code needs more than the site-wide policy (Redoc injects its
  styles at run time) get the directives listed in ``OPSBOARD_CSP_VIEW_DIRECTIVES`` under
  their URL name, replacing the site-wide ones for that page alone.
"""

from __future__ import annotations

from typing import Any

from csp.middleware import CSPMiddleware, PolicyParts
from django.conf import settings
from django.core.exceptions import DisallowedHost
from django.http import HttpRequest, HttpResponseBase

Directives = dict[str, Any]


def socket_sources(request: HttpRequest) -> list[str]:
    """``ws://host[:port]`` and ``wss://host[:port]`` of this request; none for a refused host."""
    try:
        host = request.get_host()
    except DisallowedHost:
        return []
    return [f"ws://{host}", f"wss://{host}"]


def view_directives(request: HttpRequest) -> Directives:
    """The directives configured for the view that answered, by its URL name."""
    match = getattr(request, "resolver_match", None)
    if match is None:
        return {}
    return getattr(settings, "OPSBOARD_CSP_VIEW_DIRECTIVES", {}).get(match.view_name, {})


def joined(*updates: Directives | None) -> Directives:
    """Source lists of several updates, joined per directive in order."""
    out: Directives = {}
    for update in updates:
        for directive, sources in (update or {}).items():
            out[directive] = [*out.get(directive, []), *sources]
    return out


class OpsboardCSPMiddleware(CSPMiddleware):
    """django-csp's middleware with the socket origins and per-view directives above."""

    def get_policy_parts(
        self, request: HttpRequest, response: HttpResponseBase, report_only: bool = False
    ) -> PolicyParts:
        parts = super().get_policy_parts(request=request, response=response, report_only=report_only)
        if not report_only:
            parts.update = joined({"connect-src": socket_sources(request)}, parts.update)
            parts.replace = {**view_directives(request), **(parts.replace or {})}
        return parts
