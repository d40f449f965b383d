"""Pages refuse query parameters holding a NUL character: PostgreSQL cannot compare one with a
column, so a filter such as ``/incidents/?severity=%00`` would fail the page with a 500. The
API refuses them itself, in its own error shape (``opsboard.api_input``)."""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest

from opsboard.storable import storable


class RefuseUnstorableQueryMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if not request.path.startswith("/api/"):
            refused = [
                ascii(name)
                for name, values in request.GET.lists()
                if not storable(name) or not all(map(storable, values))
            ]
            if refused:
                return HttpResponseBadRequest(
                    f"query parameter {', '.join(refused)} holds a NUL character, which no page can look up",
                    content_type="text/plain; charset=utf-8",
                )
        return self.get_response(request)
