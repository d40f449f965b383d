"""Pages of the training runs."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render

from monitoring.chart_context import chart_context
from monitoring.dashboards import names_for_run, run_panels
from monitoring.models import TrainingRun
from opsboard.accounts import roles
from opsboard.accounts.permissions import role_required


@role_required(roles.VIEWER)
def run_list(request: HttpRequest) -> HttpResponse:
    runs = TrainingRun.objects.all()
    project, status = request.GET.get("project", ""), request.GET.get("status", "")
    if project:
        runs = runs.filter(project=project)
    if status:
        runs = runs.filter(status=status)
    context = {
        "runs": runs[:500],
        "projects": TrainingRun.objects.order_by("project").values_list("project", flat=True).distinct(),
        "statuses": [choice for choice, _ in TrainingRun.STATUSES],
        "project": project,
        "status": status,
    }
    return render(request, "monitoring/run_list.html", context)


@role_required(roles.VIEWER)
def run_detail(request: HttpRequest, uid: str) -> HttpResponse:
    run = get_object_or_404(TrainingRun, uid=uid)
    siblings = list(TrainingRun.objects.filter(project=run.project).exclude(pk=run.pk)[:50])
    panels = run_panels(run, names_for_run(run))
    overlays = [{"id": str(other.uid), "name": other.name} for other in siblings]
    context = {
        "run": run,
        "siblings": siblings,
        "x_axis_choice": True,
        **chart_context(panels, default_range="24h", run={"id": str(run.uid), "name": run.name}, overlays=overlays),
    }
    return render(request, "monitoring/run_detail.html", context)
