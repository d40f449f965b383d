"""Pages of on-call: who is on call now and next, with a 14-day calendar per schedule;
schedules with their layers and overrides; escalation policies and their steps;
notification channels; people's contact methods; and each person's iCalendar feed.

Every change goes through ``alerts.setup`` (audited). Times are shown, and typed into
forms, in the schedule's time zone.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterable
from datetime import date, timedelta
from typing import Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.db import models, transaction
from django.db.models import Count
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_POST

from alerts import oncall, setup
from alerts.models import (
    AlertRule,
    ContactMethod,
    EscalationPolicy,
    EscalationStep,
    Notification,
    NotificationChannel,
    Schedule,
    ScheduleLayer,
    ScheduleOverride,
)
from alerts.oncall_board import boards_of, display_names, schedule_zone
from alerts.oncall_feed import feed_for, ical_url, ical_user
from alerts.oncall_forms import (
    ChannelForm,
    ContactMethodForm,
    LayerForm,
    OverrideForm,
    PolicyForm,
    ScheduleForm,
    StepForm,
    config_summary,
    format_restrictions,
    timezone_names,
    valid_uids,
)
from opsboard.accounts import roles
from opsboard.accounts.models import User
from opsboard.accounts.permissions import has_role, role_required
from opsboard.audit.services import Actor

logger = logging.getLogger(__name__)


# --- The iCalendar feed ---------------------------------------------------------------------


@role_required(roles.PUBLIC)
def ical_feed(request: HttpRequest, token: str) -> HttpResponse:
    """Calendar apps cannot sign in: the secret address is the credential."""
    user = ical_user(token)
    if user is None:
        raise Http404("no such calendar")
    response = HttpResponse(feed_for(user, timezone.now()), content_type="text/calendar; charset=utf-8")
    response["Content-Disposition"] = 'inline; filename="oncall.ics"'
    response["Cache-Control"] = "private, max-age=300"
    return response


# --- Now and next, schedules ------------------------------------------------------------------


@role_required(roles.VIEWER)
def index(request: HttpRequest) -> HttpResponse:
    context = {
        "boards": boards_of(Schedule.objects.all(), timezone.now()),
        "feed_url": ical_url(request.user),
        "can_edit": has_role(request.user, roles.EDITOR),
        "can_cover": has_role(request.user, roles.RESPONDER),
        "tab": "schedules",
    }
    return render(request, "alerts/oncall/index.html", context)


def _schedule(uid: Any) -> Schedule:
    return get_object_or_404(Schedule, uid=uid)


@role_required(roles.VIEWER)
def schedule_detail(request: HttpRequest, uid: Any) -> HttpResponse:
    schedule = _schedule(uid)
    now = timezone.now()
    board = boards_of([schedule], now)[0]
    layers = list(schedule.layers.order_by("position"))
    names = display_names(str(person) for layer in layers for person in layer.participants)
    context = {
        "schedule": schedule,
        "board": board,
        "layers": [
            (layer, [names[str(u)] for u in layer.participants], format_restrictions(layer.restrictions))
            for layer in layers
        ],
        "overrides": schedule.overrides.filter(ends_at__gt=now).select_related("user", "created_by")[:200],
        "past_overrides": schedule.overrides.filter(ends_at__lte=now).count(),
        "used_by": EscalationStep.objects.filter(schedule=schedule).select_related("policy"),
        "can_edit": has_role(request.user, roles.EDITOR),
        "can_cover": has_role(request.user, roles.RESPONDER),
        "tab": "schedules",
    }
    return render(request, "alerts/oncall/schedule_detail.html", context)


def _posted(request: HttpRequest) -> Any:
    return request.POST if request.method == "POST" else None


def _form_page(request: HttpRequest, form: Any, **context: Any) -> HttpResponse:
    context = {"form": form, "tab": "schedules", **context}
    return render(request, "alerts/oncall/form.html", context, status=400 if form.errors else 200)


@role_required(roles.EDITOR)
def schedule_create(request: HttpRequest) -> HttpResponse:
    form = ScheduleForm(_posted(request), initial={"timezone": "UTC"})
    if form.is_valid():
        schedule = setup.create(Schedule, form.values(), by=Actor.of(request))
        messages.success(request, f"Created the schedule {schedule.name}; now add a layer.")
        return redirect("oncall:schedule", uid=schedule.uid)
    return _form_page(request, form, title="New schedule", submit="Create", timezones=timezone_names())


@role_required(roles.EDITOR)
def schedule_edit(request: HttpRequest, uid: Any) -> HttpResponse:
    schedule = _schedule(uid)
    title, back = f"Edit {schedule.name}", reverse("oncall:schedule", args=[schedule.uid])
    form = ScheduleForm(_posted(request), instance=_schedule(uid))  # a copy: the form changes its instance
    if form.is_valid():
        setup.update(schedule, form.values(), by=Actor.of(request))
        messages.success(request, f"Saved {form.cleaned_data['name']}.")
        return redirect("oncall:schedule", uid=schedule.uid)
    return _form_page(request, form, title=title, submit="Save", back=back, timezones=timezone_names())


@role_required(roles.EDITOR)
@require_POST
def schedule_delete(request: HttpRequest, uid: Any) -> HttpResponse:
    schedule = _schedule(uid)
    steps = EscalationStep.objects.filter(schedule=schedule).select_related("policy")
    if steps:
        policies = ", ".join(sorted({step.policy.name for step in steps}))
        messages.error(request, f"{schedule.name} is a step of {policies}: remove it from there first.")
        return redirect("oncall:schedule", uid=schedule.uid)
    setup.delete(schedule, by=Actor.of(request), parts=[*schedule.overrides.all(), *schedule.layers.all()])
    messages.success(request, f"Deleted the schedule {schedule.name}.")
    return redirect("oncall:index")


# --- Layers -------------------------------------------------------------------------------------


def _layer(schedule: Schedule, position: int) -> ScheduleLayer:
    layer = schedule.layers.filter(position=position).order_by("pk").first()
    if layer is None:
        raise Http404("no such layer")
    return layer


@role_required(roles.EDITOR)
def layer_create(request: HttpRequest, uid: Any) -> HttpResponse:
    schedule = _schedule(uid)
    with timezone.override(schedule_zone(schedule)):
        start = timezone.localtime().replace(hour=9, minute=0, second=0, microsecond=0)
        form = LayerForm(_posted(request), schedule=schedule, initial={"start": start})
        if form.is_valid():
            with transaction.atomic():
                locked = Schedule.objects.select_for_update().get(pk=schedule.pk)
                position = (locked.layers.aggregate(last=models.Max("position"))["last"] or 0) + 1
                values = {"schedule": locked, "position": position, **form.values()}
                setup.create(ScheduleLayer, values, by=Actor.of(request))
            messages.success(request, f"Added a layer to {schedule.name}.")
            return redirect("oncall:schedule", uid=schedule.uid)
        return _layer_page(request, form, schedule, f"New layer of {schedule.name}", "Add")


def _layer_page(request: HttpRequest, form: LayerForm, schedule: Schedule, title: str, submit: str) -> HttpResponse:
    intro = f"Times are in the schedule's time zone, {schedule.timezone}. Later layers cover earlier ones."
    back = reverse("oncall:schedule", args=[schedule.uid])
    return _form_page(request, form, title=title, submit=submit, back=back, intro=intro)


@role_required(roles.EDITOR)
def layer_edit(request: HttpRequest, uid: Any, position: int) -> HttpResponse:
    schedule = _schedule(uid)
    layer = _layer(schedule, position)
    with timezone.override(schedule_zone(schedule)):
        form = LayerForm(_posted(request), schedule=schedule, layer=layer)
        if form.is_valid():
            setup.update(layer, form.values(), by=Actor.of(request))
            messages.success(request, f"Saved the layer of {schedule.name}.")
            return redirect("oncall:schedule", uid=schedule.uid)
        return _layer_page(request, form, schedule, f"Edit a layer of {schedule.name}", "Save")


@role_required(roles.EDITOR)
@require_POST
def layer_delete(request: HttpRequest, uid: Any, position: int) -> HttpResponse:
    schedule = _schedule(uid)
    by = Actor.of(request)
    with transaction.atomic():
        Schedule.objects.select_for_update().get(pk=schedule.pk)
        setup.delete(_layer(schedule, position), by=by)
        _renumber(schedule.layers.order_by("position", "pk"), by)
    messages.success(request, f"Removed the layer from {schedule.name}.")
    return redirect("oncall:schedule", uid=schedule.uid)


def _renumber(rows: Iterable[models.Model], by: Actor, first: int = 1) -> None:
    """Positions first, first + 1, ... in the given order (audited where one changes)."""
    for position, row in enumerate(rows, first):
        if row.position != position:
            setup.update(row, {"position": position}, by=by)


# --- Overrides ----------------------------------------------------------------------------------


@role_required(roles.RESPONDER)
def override_create(request: HttpRequest, uid: Any) -> HttpResponse:
    """ "I'll cover Saturday": ``?day=YYYY-MM-DD`` proposes that whole local day."""
    schedule = _schedule(uid)
    with timezone.override(schedule_zone(schedule)):
        form = OverrideForm(_posted(request), initial=_cover_initial(request, schedule))
        if form.is_valid():
            values = {**form.cleaned_data, "schedule": schedule, "created_by": request.user}
            setup.create(ScheduleOverride, values, by=Actor.of(request))
            messages.success(request, f"{form.cleaned_data['user']} covers {schedule.name} as asked.")
            return redirect("oncall:schedule", uid=schedule.uid)
        intro = f"Times are in the schedule's time zone, {schedule.timezone}. An override wins over every layer."
        back = reverse("oncall:schedule", args=[schedule.uid])
        return _form_page(request, form, title=f"Cover {schedule.name}", submit="Add override", back=back, intro=intro)


def _cover_initial(request: HttpRequest, schedule: Schedule) -> dict[str, Any]:
    try:
        day = date.fromisoformat(request.GET.get("day", ""))
    except ValueError:
        day = timezone.localdate() + timedelta(days=1)
    starts = oncall.wall_clock(schedule.timezone, day, "00:00")
    ends = oncall.wall_clock(schedule.timezone, day + timedelta(days=1), "00:00")
    user = request.user if request.user.role_id and request.user.is_active else None
    return {"user": user, "starts_at": starts, "ends_at": ends}


@role_required(roles.RESPONDER)
@require_POST
def override_delete(request: HttpRequest, uid: Any, override: Any) -> HttpResponse:
    schedule = _schedule(uid)
    setup.delete(get_object_or_404(schedule.overrides, uid=override), by=Actor.of(request))
    messages.success(request, "Override removed.")
    return redirect("oncall:schedule", uid=schedule.uid)


# --- Escalation policies and their steps ----------------------------------------------------------


@role_required(roles.VIEWER)
def policy_list(request: HttpRequest) -> HttpResponse:
    policies = EscalationPolicy.objects.annotate(step_count=Count("steps"))
    used = Counter(AlertRule.objects.filter(policy__isnull=False).values_list("policy_id", flat=True))
    listing = [(policy, used.get(policy.pk, 0)) for policy in policies]
    context = {"policies": listing, "can_edit": has_role(request.user, roles.EDITOR), "tab": "policies"}
    return render(request, "alerts/oncall/policy_list.html", context)


def _policy(uid: Any) -> EscalationPolicy:
    return get_object_or_404(EscalationPolicy, uid=uid)


@role_required(roles.VIEWER)
def policy_detail(request: HttpRequest, uid: Any) -> HttpResponse:
    policy = _policy(uid)
    can_edit = has_role(request.user, roles.EDITOR)
    context = {
        "policy": policy,
        "steps": policy.steps.select_related("schedule", "user", "channel").order_by("position"),
        "rules": AlertRule.objects.filter(policy=policy).order_by("name"),
        "step_form": StepForm() if can_edit else None,
        "can_edit": can_edit,
        "tab": "policies",
    }
    return render(request, "alerts/oncall/policy_detail.html", context)


@role_required(roles.EDITOR)
def policy_create(request: HttpRequest) -> HttpResponse:
    form = PolicyForm(_posted(request))
    if form.is_valid():
        by = Actor.of(request)
        with transaction.atomic():
            policy = setup.create(EscalationPolicy, form.values(), by=by)
            if not EscalationPolicy.objects.filter(is_default=True).exists():
                policy = setup.make_default(policy, by=by)  # rules without a policy use it
        messages.success(request, f"Created the policy {policy.name}; now add its steps.")
        return redirect("oncall:policy", uid=policy.uid)
    back = reverse("oncall:policies")
    return _form_page(request, form, title="New escalation policy", submit="Create", back=back, tab="policies")


@role_required(roles.EDITOR)
def policy_edit(request: HttpRequest, uid: Any) -> HttpResponse:
    policy = _policy(uid)
    title, back = f"Edit {policy.name}", reverse("oncall:policy", args=[policy.uid])
    form = PolicyForm(_posted(request), instance=_policy(uid))  # a copy: the form changes its instance
    if form.is_valid():
        setup.update(policy, form.values(), by=Actor.of(request))
        messages.success(request, f"Saved {form.cleaned_data['name']}.")
        return redirect("oncall:policy", uid=policy.uid)
    return _form_page(request, form, title=title, submit="Save", back=back, tab="policies")


@role_required(roles.EDITOR)
@require_POST
def policy_make_default(request: HttpRequest, uid: Any) -> HttpResponse:
    policy = setup.make_default(_policy(uid), by=Actor.of(request))
    messages.success(request, f"{policy.name} is now the default policy.")
    return redirect("oncall:policy", uid=policy.uid)


@role_required(roles.EDITOR)
@require_POST
def policy_delete(request: HttpRequest, uid: Any) -> HttpResponse:
    policy = _policy(uid)
    rules = list(AlertRule.objects.filter(policy=policy).values_list("name", flat=True))
    if rules:
        messages.error(request, f"{policy.name} pages for the rules {', '.join(sorted(rules))}: change them first.")
        return redirect("oncall:policy", uid=policy.uid)
    if policy.is_default:
        messages.error(request, f"{policy.name} is the default policy: make another one the default first.")
        return redirect("oncall:policy", uid=policy.uid)
    setup.delete(policy, by=Actor.of(request), parts=policy.steps.all())
    messages.success(request, f"Deleted the policy {policy.name}.")
    return redirect("oncall:policies")


def _step(policy: EscalationPolicy, position: int) -> EscalationStep:
    step = policy.steps.filter(position=position).order_by("pk").first()
    if step is None:
        raise Http404("no such step")
    return step


@role_required(roles.EDITOR)
@require_POST
def step_create(request: HttpRequest, uid: Any) -> HttpResponse:
    policy = _policy(uid)
    form = StepForm(request.POST)
    if form.is_valid():
        with transaction.atomic():
            locked = EscalationPolicy.objects.select_for_update().get(pk=policy.pk)
            position = (locked.steps.aggregate(last=models.Max("position"))["last"] or 0) + 1
            setup.create(
                EscalationStep, {"policy": locked, "position": position, **form.values()}, by=Actor.of(request)
            )
        messages.success(request, "Step added.")
        return redirect("oncall:policy", uid=policy.uid)
    back = reverse("oncall:policy", args=[policy.uid])
    return _form_page(request, form, title=f"New step of {policy.name}", submit="Add", back=back, tab="policies")


@role_required(roles.EDITOR)
def step_edit(request: HttpRequest, uid: Any, position: int) -> HttpResponse:
    policy = _policy(uid)
    step = _step(policy, position)
    form = StepForm(_posted(request), initial=StepForm.initial_of(step))
    if form.is_valid():
        setup.update(step, form.values(), by=Actor.of(request))
        messages.success(request, "Step saved.")
        return redirect("oncall:policy", uid=policy.uid)
    back = reverse("oncall:policy", args=[policy.uid])
    return _form_page(request, form, title=f"Edit a step of {policy.name}", submit="Save", back=back, tab="policies")


@role_required(roles.EDITOR)
@require_POST
def step_delete(request: HttpRequest, uid: Any, position: int) -> HttpResponse:
    policy = _policy(uid)
    by = Actor.of(request)
    with transaction.atomic():
        EscalationPolicy.objects.select_for_update().get(pk=policy.pk)
        setup.delete(_step(policy, position), by=by)
        _renumber(policy.steps.order_by("position", "pk"), by)
    messages.success(request, "Step removed.")
    return redirect("oncall:policy", uid=policy.uid)


@role_required(roles.EDITOR)
@require_POST
def step_move(request: HttpRequest, uid: Any, position: int) -> HttpResponse:
    """``direction`` up or down: the step swaps places with its neighbour."""
    policy = _policy(uid)
    by = Actor.of(request)
    with transaction.atomic():
        EscalationPolicy.objects.select_for_update().get(pk=policy.pk)
        steps = list(policy.steps.order_by("position", "pk"))
        index = next((n for n, step in enumerate(steps) if step.position == position), None)
        if index is None:
            raise Http404("no such step")
        other = index + {"up": -1, "down": 1}.get(request.POST.get("direction", ""), 0)
        if other != index and 0 <= other < len(steps):
            steps[index], steps[other] = steps[other], steps[index]
            _renumber(steps, by)
    return redirect("oncall:policy", uid=policy.uid)


# --- Notification channels --------------------------------------------------------------------


@role_required(roles.VIEWER)
def channel_list(request: HttpRequest) -> HttpResponse:
    channels = NotificationChannel.objects.all()
    listing = [(channel, config_summary(channel.config)) for channel in channels]
    context = {"channels": listing, "can_edit": has_role(request.user, roles.EDITOR), "tab": "channels"}
    return render(request, "alerts/oncall/channel_list.html", context)


def _kind_page(request: HttpRequest, form: Any, **context: Any) -> HttpResponse:
    return _form_page(request, form, kind_form=True, **context)


@role_required(roles.EDITOR)
def channel_create(request: HttpRequest) -> HttpResponse:
    form = ChannelForm(_posted(request))
    if form.is_valid():
        channel = setup.create(NotificationChannel, form.values(), by=Actor.of(request))
        messages.success(request, f"Created the channel {channel.name}.")
        return redirect("oncall:channels")
    back = reverse("oncall:channels")
    return _kind_page(request, form, title="New channel", submit="Create", back=back, tab="channels")


@role_required(roles.EDITOR)
def channel_edit(request: HttpRequest, uid: Any) -> HttpResponse:
    channel = get_object_or_404(NotificationChannel, uid=uid)
    form = ChannelForm(_posted(request), instance=NotificationChannel.objects.get(pk=channel.pk))  # a copy
    if form.is_valid():
        setup.update(channel, form.values(), by=Actor.of(request))
        messages.success(request, f"Saved {form.cleaned_data['name']}.")
        return redirect("oncall:channels")
    back = reverse("oncall:channels")
    return _kind_page(request, form, title=f"Edit {channel.name}", submit="Save", back=back, tab="channels")


@role_required(roles.EDITOR)
@require_POST
def channel_delete(request: HttpRequest, uid: Any) -> HttpResponse:
    channel = get_object_or_404(NotificationChannel, uid=uid)
    policies = sorted({s.policy.name for s in EscalationStep.objects.filter(channel=channel).select_related("policy")})
    if policies:
        messages.error(request, f"{channel.name} is a step of {', '.join(policies)}: remove it from there first.")
    elif Notification.objects.filter(channel=channel).exists():
        messages.error(request, f"{channel.name} has notifications on record: turn it off instead.")
    else:
        setup.delete(channel, by=Actor.of(request))
        messages.success(request, f"Deleted the channel {channel.name}.")
    return redirect("oncall:channels")


# --- Contact methods: one's own, or anyone's for an Admin -------------------------------------------


def _contact_owner(request: HttpRequest) -> User:
    """The user whose methods the page shows: oneself, or ``?user=<uid>`` for an Admin."""
    wanted = request.GET.get("user") or request.POST.get("user")
    if not wanted or wanted == str(request.user.uid):
        return request.user
    if not has_role(request.user, roles.ADMIN):
        raise PermissionDenied("Only an Admin manages other people's contact methods.")
    if not valid_uids([wanted]):
        raise Http404("no such user")
    return get_object_or_404(User, uid=wanted)


def _contact_method(request: HttpRequest, uid: Any) -> ContactMethod:
    """One's own method; an Admin's look-up reaches anyone's; others see 404."""
    methods = ContactMethod.objects.select_related("user")
    if not has_role(request.user, roles.ADMIN):
        methods = methods.filter(user=request.user)
    return get_object_or_404(methods, uid=uid)


def _contact_url(owner: User, request: HttpRequest) -> str:
    url = reverse("oncall:contact")
    return url if owner == request.user else f"{url}?user={owner.uid}"


@role_required(roles.VIEWER)
def contact_list(request: HttpRequest) -> HttpResponse:
    """The methods and an add form; POST adds one."""
    owner = _contact_owner(request)
    form = ContactMethodForm(_posted(request))
    if form.is_valid():
        setup.create(ContactMethod, {"user": owner, **form.values()}, by=Actor.of(request))
        messages.success(request, "Contact method added.")
        return redirect(_contact_url(owner, request))
    methods = [(method, config_summary(method.config)) for method in ContactMethod.objects.filter(user=owner)]
    context = {
        "owner": owner,
        "own": owner == request.user,
        "methods": methods,
        "form": form,
        "people": User.objects.filter(is_active=True) if has_role(request.user, roles.ADMIN) else None,
        "tab": "contact",
    }
    return render(request, "alerts/oncall/contact.html", context, status=400 if form.errors else 200)


@role_required(roles.VIEWER)
def contact_edit(request: HttpRequest, uid: Any) -> HttpResponse:
    method = _contact_method(request, uid)
    form = ContactMethodForm(_posted(request), method=method)
    back = _contact_url(method.user, request)
    if form.is_valid():
        setup.update(method, form.values(), by=Actor.of(request))
        messages.success(request, "Contact method saved.")
        return redirect(back)
    title = f"Edit {method.user.username}'s {method.kind} contact"
    return _kind_page(request, form, title=title, submit="Save", back=back, tab="contact")


@role_required(roles.VIEWER)
@require_POST
def contact_delete(request: HttpRequest, uid: Any) -> HttpResponse:
    method = _contact_method(request, uid)
    setup.delete(method, by=Actor.of(request))
    messages.success(request, "Contact method removed.")
    return redirect(_contact_url(method.user, request))
