"""Pages of the incidents: the list (live), one incident with its timeline and actions,
the one-click links of notifications, and the demo's webhook receiver."""

from __future__ import annotations

import json
import time
from datetime import timedelta

from django import forms
from django.contrib import messages
from django.db.models import Case, IntegerField, QuerySet, Value, When
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from alerts import incidents, links, silences
from alerts.matchers import format_matchers, parse_matchers
from alerts.models import (
    AlertState,
    ExternalAlert,
    Incident,
    NotificationChannel,
    ReceivedNotification,
)
from alerts.transports.webhook import verify_signature
from monitoring.chart_context import chart_context
from monitoring.explore_views import ExploreForm, explore_panel
from monitoring.models import GpuNode, ModelEndpoint
from monitoring.promql import Matcher, PromQLError
from opsboard.accounts import roles
from opsboard.accounts.models import User
from opsboard.accounts.permissions import has_role, role_required
from opsboard.audit.services import Actor, client_ip

FILTERS = ("status", "severity", "model", "assignee")


def filtered(request: HttpRequest) -> QuerySet[Incident]:
    """Open first, newest first; narrowed by status, severity, model (a group label) and assignee."""
    found = Incident.objects.select_related("assignee", "acknowledged_by", "rule")
    status = request.GET.get("status", "open")
    if status == "open":
        found = found.filter(status__in=Incident.OPEN)
    elif status in dict(Incident.STATUSES):
        found = found.filter(status=status)
    if request.GET.get("severity"):
        found = found.filter(severity=request.GET["severity"])
    if request.GET.get("model"):
        found = found.filter(group_labels__model=request.GET["model"])
    if request.GET.get("assignee"):
        found = found.filter(assignee__username=request.GET["assignee"])
    open_first = Case(When(status__in=Incident.OPEN, then=Value(0)), default=Value(1), output_field=IntegerField())
    return found.annotate(open_first=open_first).order_by("open_first", "-opened_at")


@role_required(roles.VIEWER)
def incident_list(request: HttpRequest) -> HttpResponse:
    """``?fragment=1`` answers only the table, which the page refreshes when told over the WebSocket."""
    context = {
        "incidents": filtered(request)[:200],
        "filters": {name: request.GET.get(name, "") for name in FILTERS},
        "severities": [s for s, _ in Incident._meta.get_field("severity").choices],
        "assignees": User.objects.filter(is_active=True, role__isnull=False).order_by("username"),
    }
    template = "alerts/incident_table.html" if request.GET.get("fragment") else "alerts/incident_list.html"
    return render(request, template, context)


@role_required(roles.VIEWER)
def incident_detail(request: HttpRequest, uid: str) -> HttpResponse:
    incident = get_object_or_404(Incident.objects.select_related("rule", "assignee", "acknowledged_by"), uid=uid)
    context = {
        "incident": incident,
        "alerts": AlertState.objects.filter(incident=incident).order_by("-changed_at")[:100],
        "external": ExternalAlert.objects.filter(incident=incident)[:100],
        "events": incident.events.select_related("actor"),
        "notifications": incident.notifications.prefetch_related("attempt_log")[:100],
        "targets": _targets(incident.group_labels),
        "can_respond": has_role(request.user, roles.RESPONDER),
        "users": User.objects.filter(is_active=True, role__isnull=False).order_by("username"),
        "silence_matchers": format_matchers(tuple(Matcher(k, "=", v) for k, v in incident.group_labels.items() if v))
        if incident.group_labels
        else "",
    }
    if incident.rule:
        context.update(_chart(incident))
    return render(request, "alerts/incident_detail.html", context)


CHART_AROUND_S = 1800


def _chart(incident: Incident) -> dict:
    """The rule's expression charted from half an hour before the incident opened to half an
    hour after (or now, if sooner); the range buttons move on from there."""
    form = ExploreForm({"query": incident.rule.expression})
    if not form.is_valid():
        return {}
    opened = incident.opened_at.timestamp()
    window = {"from": int(opened - CHART_AROUND_S), "to": int(min(opened + CHART_AROUND_S, time.time()) + 60)}
    return chart_context(
        [explore_panel(form.cleaned_data)], window=window, marks=[{"at": int(opened), "label": "fired"}]
    )


def _targets(labels: dict[str, str]) -> list[tuple[str, str, object, str]]:
    """(kind, name, url name) of the targets the incident's labels name, for links."""
    found = []
    if labels.get("model") and (model := ModelEndpoint.objects.filter(name=labels["model"]).first()):
        found.append(("model", model.name, model.uid, "monitoring:models_detail"))
    if labels.get("node") and (node := GpuNode.objects.filter(name=labels["node"]).first()):
        found.append(("node", node.name, node.uid, "monitoring:nodes_detail"))
    return found


@role_required(roles.RESPONDER)
@require_POST
def incident_action(request: HttpRequest, uid: str, action: str) -> HttpResponse:
    incident = get_object_or_404(Incident, uid=uid)
    by, comment = Actor.of(request), request.POST.get("comment", "").strip()[:2000]
    if action == "ack":
        incidents.acknowledge(incident, by=by, comment=comment)
    elif action == "resolve":
        incidents.resolve(incident, by=by, comment=comment)
    elif action == "note" and comment:
        incidents.add_note(incident, comment, by=by)
    elif action == "assign":
        user = User.objects.filter(username=request.POST.get("assignee", ""), is_active=True).first()
        incidents.reassign(incident, user, by=by)
    elif action == "silence":
        _silence(request, incident, by)
    else:
        messages.error(request, "Nothing to do: write a note, or choose an action.")
    return redirect("alerts:incident", uid=incident.uid)


class IncidentSilenceForm(forms.Form):
    """Silence from an incident: its group's labels prefilled, by default until it resolves."""

    matchers = forms.CharField(max_length=2000)
    hours = forms.FloatField(min_value=0.1, max_value=24 * 7)
    comment = forms.CharField(max_length=2000, required=False)
    expire_with_incident = forms.BooleanField(required=False)

    def clean_matchers(self) -> str:
        try:
            return format_matchers(parse_matchers(self.cleaned_data["matchers"]))
        except (PromQLError, ValueError) as exc:
            raise forms.ValidationError(str(exc)) from None


def _silence(request: HttpRequest, incident: Incident, by: Actor) -> None:
    form = IncidentSilenceForm(request.POST)
    if not form.is_valid():
        problems = "; ".join(f"{name}: {' '.join(errors)}" for name, errors in form.errors.items())
        messages.error(request, f"Not silenced. {problems}")
        return
    data, now = form.cleaned_data, timezone.now()
    silence = silences.create_silence(
        {
            "matchers": data["matchers"],
            "starts_at": now,
            "ends_at": now + timedelta(hours=data["hours"]),
            "comment": data["comment"] or f"from {incident.code}",
            "incident": incident,
            "expire_with_incident": data["expire_with_incident"],
        },
        by=by,
    )
    messages.success(
        request, "Silenced." + (" It ends when this incident resolves." if silence.expire_with_incident else "")
    )


PREFETCH_HEADERS = ("HTTP_PURPOSE", "HTTP_SEC_PURPOSE", "HTTP_X_PURPOSE", "HTTP_X_MOZ")


@role_required(roles.PUBLIC)
def incident_link(request: HttpRequest, token: str) -> HttpResponse:
    """A notification's one-click link: acknowledges or resolves as its recipient, once.

    The signature is the authentication. Browsers' prefetches (which announce themselves)
    are shown the page without acting, so that a preview does not acknowledge.
    """
    try:
        if any("prefetch" in request.META.get(h, "").lower() for h in PREFETCH_HEADERS):
            use = links.read_link(token)
            return render(request, "alerts/link_done.html", {"use": use, "done": False})
        use = links.spend_link(token)
    except links.LinkRefused as exc:
        return render(request, "alerts/link_done.html", {"error": str(exc)}, status=_refusal_status(str(exc)))
    actor = Actor(use.user, client_ip(request), use.user.username if use.user else f"link sent by {use.via}")
    before = use.incident.status
    action = incidents.acknowledge if use.action == "ack" else incidents.resolve
    action(use.incident, by=actor, via=f"link ({use.via})")
    use.incident.refresh_from_db()
    changed = use.incident.status != before
    return render(request, "alerts/link_done.html", {"use": use, "done": True, "changed": changed, "before": before})


def _refusal_status(message: str) -> int:
    if "expired" in message:
        return 410
    if "used already" in message:
        return 409
    return 403


@csrf_exempt
@role_required(roles.PUBLIC)
@require_POST
def receiver_post(request: HttpRequest, uid: str) -> JsonResponse:
    """Opsboard's own webhook receiver: stores what a channel sent, with whether its HMAC
    signature verified. Authenticated by that signature, so it needs no session."""
    channel = get_object_or_404(NotificationChannel, uid=uid)
    body = request.body[:65536]
    ok = verify_signature(
        channel.config.get("secret", ""),
        request.META.get("HTTP_X_OPSBOARD_TIMESTAMP", ""),
        body,
        request.META.get("HTTP_X_OPSBOARD_SIGNATURE", ""),
    )
    if not ok:
        return JsonResponse({"error": "bad or missing X-Opsboard-Signature"}, status=401)
    try:
        payload = json.loads(body)
    except ValueError:
        return JsonResponse({"error": "the body is not JSON"}, status=400)
    ReceivedNotification.objects.create(
        channel=channel,
        event=str(payload.get("event", ""))[:20],
        delivery_id=str(payload.get("delivery_id", ""))[:64],
        signature_ok=ok,
        payload=payload,
    )
    return JsonResponse({"received": True})


@role_required(roles.VIEWER)
def receiver_list(request: HttpRequest) -> HttpResponse:
    received = list(ReceivedNotification.objects.select_related("channel")[:100])
    for item in received:
        item.pretty = json.dumps(item.payload, indent=2, ensure_ascii=False)
    return render(request, "alerts/receiver.html", {"received": received})
