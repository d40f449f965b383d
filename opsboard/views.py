"""Project-wide pages: the Overview and /healthz."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render

from monitoring import overview as overview_figures
from opsboard.accounts import roles
from opsboard.accounts.permissions import role_required
from opsboard.health import health_report


@role_required(roles.PUBLIC)
def healthz(request: HttpRequest) -> JsonResponse:
    """200 when the database, Redis and the Celery heartbeat are fine; 503 naming what is down."""
    healthy, body = health_report()
    response = JsonResponse(body, status=200 if healthy else 503)
    response["Cache-Control"] = "no-store"
    return response


@role_required(roles.VIEWER)
def overview(request: HttpRequest) -> HttpResponse:
    """The fleet at a glance. ``?fragment=1`` answers only the part the page refreshes."""
    healthy, report = health_report()
    context = {
        "healthy": healthy,
        "checks": report["checks"].values(),
        "models": overview_figures.model_rows(),
        "nodes": overview_figures.node_rows(),
        "runs": overview_figures.active_runs(),
    }
    template = "overview_live.html" if request.GET.get("fragment") else "overview.html"
    return render(request, template, context)
