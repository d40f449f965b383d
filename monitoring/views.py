"""Pages of the targets: Models (model endpoints) and Nodes (GPU nodes)."""

from __future__ import annotations

from dataclasses import dataclass

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from monitoring.chart_context import chart_context
from monitoring.dashboards import model_panels, names_for_target, node_panels, series_of_target
from monitoring.forms import target_form_class
from monitoring.models import GpuNode, ModelEndpoint, Target
from monitoring.targets import create_target, delete_target, update_target
from opsboard.accounts import roles
from opsboard.accounts.permissions import has_role, role_required
from opsboard.audit.services import Actor


@dataclass(frozen=True)
class Section:
    """One kind of target's pages: its model and the words the pages use."""

    key: str
    model: type[Target]
    title: str
    singular: str


SECTIONS = {
    "models": Section("models", ModelEndpoint, "Models", "model endpoint"),
    "nodes": Section("nodes", GpuNode, "Nodes", "GPU node"),
}


def _context(request: HttpRequest, section: Section, **extra: object) -> dict[str, object]:
    return {"section": section, "can_edit": has_role(request.user, roles.EDITOR), **extra}


@role_required(roles.VIEWER)
def target_list(request: HttpRequest, section: str) -> HttpResponse:
    pages = SECTIONS[section]
    targets = pages.model.objects.all()
    return render(request, "monitoring/target_list.html", _context(request, pages, targets=targets))


@role_required(roles.VIEWER)
def target_detail(request: HttpRequest, section: str, uid: str) -> HttpResponse:
    pages = SECTIONS[section]
    target = get_object_or_404(pages.model, uid=uid)
    present = names_for_target(target)
    panels = model_panels(target, present) if section == "models" else node_panels(target, present)
    context = _context(
        request,
        pages,
        target=target,
        series_count=series_of_target(target).count(),
        metric_names=sorted(present)[:300],
        **chart_context(panels),
    )
    return render(request, "monitoring/target_detail.html", context)


@role_required(roles.EDITOR)
def target_create(request: HttpRequest, section: str) -> HttpResponse:
    pages = SECTIONS[section]
    form = target_form_class(pages.model)(request.POST or None)
    if request.method == "POST" and form.is_valid():
        target = create_target(pages.model, form.values(), by=Actor.of(request))
        messages.success(request, f"Added {target.name}; its first poll runs within seconds.")
        return redirect(f"monitoring:{section}_detail", uid=target.uid)
    status = 400 if form.errors else 200
    return render(request, "monitoring/target_form.html", _context(request, pages, form=form), status=status)


@role_required(roles.EDITOR)
def target_edit(request: HttpRequest, section: str, uid: str) -> HttpResponse:
    pages = SECTIONS[section]
    target = get_object_or_404(pages.model, uid=uid)
    form = target_form_class(pages.model)(request.POST or None, instance=target)
    if request.method == "POST" and form.is_valid():
        update_target(target, form.values(), by=Actor.of(request))
        messages.success(request, f"Saved {target.name}.")
        return redirect(f"monitoring:{section}_detail", uid=target.uid)
    status = 400 if form.errors else 200
    context = _context(request, pages, form=form, target=target)
    return render(request, "monitoring/target_form.html", context, status=status)


@role_required(roles.EDITOR)
@require_POST
def target_delete(request: HttpRequest, section: str, uid: str) -> HttpResponse:
    pages = SECTIONS[section]
    target = get_object_or_404(pages.model, uid=uid)
    delete_target(target, by=Actor.of(request))
    messages.success(request, f"Deleted {target.name}; its series stay until they age out.")
    return redirect(f"monitoring:{section}")
