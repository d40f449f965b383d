"""Project-wide pages: the Overview, /healthz and /metrics."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from prometheus_client.exposition import choose_encoder
from rest_framework.negotiation import BaseContentNegotiation
from rest_framework.renderers import BaseRenderer
from rest_framework.request import Request
from rest_framework.views import APIView

from monitoring import overview as overview_figures
from opsboard import metrics
from opsboard.accounts import roles
from opsboard.accounts.models import ApiToken
from opsboard.accounts.permissions import HasRole, has_role, role_required
from opsboard.health import LivenessCollector, health_report


@role_required(roles.PUBLIC)
def healthz(request: HttpRequest) -> JsonResponse:
    """200 when the database, Redis, the Celery heartbeat, beat and the evaluator are fine;
    503 naming what is down or late."""
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


class MetricsAccess(HasRole):
    """/metrics is open with ``OPSBOARD_METRICS_PUBLIC``. Otherwise a scraper uses a token
    with the ``read`` scope (its user at least a Viewer, as for the query API), and a
    browser needs an Admin's session: the figures are Opsboard's internals, not the fleet."""

    def has_permission(self, request: Any, view: Any) -> bool:
        if settings.OPSBOARD_METRICS_PUBLIC:
            return True
        if not super().has_permission(request, view):
            return False
        return isinstance(request.auth, ApiToken) or has_role(request.user, roles.ADMIN)


class _AnyAccept(BaseContentNegotiation):
    """The answer is exposition text whatever the scraper accepts; errors are JSON."""

    def select_renderer(self, request: Request, renderers: list[BaseRenderer], format_suffix: Any = None) -> Any:
        return renderers[0], renderers[0].media_type


class MetricsView(APIView):
    """Opsboard's own metrics in Prometheus's text format (OpenMetrics when asked for)."""

    required_role = roles.VIEWER
    required_scope = "read"
    permission_classes = [MetricsAccess]
    content_negotiation_class = _AnyAccept

    @extend_schema(responses={(200, "text/plain"): OpenApiTypes.STR}, operation_id="metrics")
    def get(self, request: Request) -> HttpResponse:
        encoder, content_type = choose_encoder(request.headers.get("Accept", ""))
        body = encoder(metrics.registry(LivenessCollector()))
        response = HttpResponse(body, content_type=content_type)
        response["Cache-Control"] = "no-store"
        return response
