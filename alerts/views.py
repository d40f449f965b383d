"""Pages of the alert rules, the current alerts and the silences."""

from __future__ import annotations

from django.contrib import messages
from django.db.models import Count, Q
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from alerts import backtest, rulefiles, rules, silences
from alerts.forms import RuleForm, SilenceForm
from alerts.models import AlertRule, AlertState, AlertTransition, Silence
from opsboard.accounts import roles
from opsboard.accounts.permissions import has_role, role_required
from opsboard.audit.services import Actor


@role_required(roles.VIEWER)
def alert_list(request: HttpRequest) -> HttpResponse:
    """Alerts firing and pending, then every rule with its state and last evaluation."""
    alerts = AlertState.objects.filter(state__in=[AlertState.FIRING, AlertState.PENDING]).select_related("rule")
    rule_list = AlertRule.objects.annotate(
        firing=Count("states", filter=Q(states__state=AlertState.FIRING)),
        pending=Count("states", filter=Q(states__state=AlertState.PENDING)),
    )
    context = {
        "alerts": alerts.order_by("state", "-changed_at"),
        "rules": rule_list,
        "can_edit": has_role(request.user, roles.EDITOR),
    }
    return render(request, "alerts/alert_list.html", context)


@role_required(roles.VIEWER)
def rule_detail(request: HttpRequest, uid: str) -> HttpResponse:
    rule = get_object_or_404(AlertRule, uid=uid)
    context = {
        "rule": rule,
        "alerts": rule.states.exclude(state=AlertState.INACTIVE).order_by("state", "-changed_at")[:200],
        "transitions": AlertTransition.objects.filter(rule=rule)[:50],
        "versions": rule.versions.all()[:50],
        "can_edit": has_role(request.user, roles.EDITOR),
    }
    return render(request, "alerts/rule_detail.html", context)


@role_required(roles.EDITOR)
def rule_create(request: HttpRequest) -> HttpResponse:
    form = RuleForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        rule = rules.create_rule(form.values(), by=Actor.of(request))
        messages.success(request, f"Created the rule {rule.name}.")
        return redirect("alerts:rule", uid=rule.uid)
    return render(request, "alerts/rule_form.html", {"form": form}, status=400 if form.errors else 200)


@role_required(roles.EDITOR)
def rule_edit(request: HttpRequest, uid: str) -> HttpResponse:
    rule = get_object_or_404(AlertRule, uid=uid)
    form = RuleForm(request.POST or None, instance=rule)
    if request.method == "POST" and form.is_valid():
        rules.update_rule(rule, form.values(), by=Actor.of(request), comment=request.POST.get("comment", ""))
        messages.success(request, f"Saved {rule.name}.")
        return redirect("alerts:rule", uid=rule.uid)
    context = {"form": form, "rule": rule}
    return render(request, "alerts/rule_form.html", context, status=400 if form.errors else 200)


@role_required(roles.EDITOR)
@require_POST
def rule_preview(request: HttpRequest) -> JsonResponse:
    """The backtest of the form as it stands (unsaved): JSON for the editor's chart."""
    instance = AlertRule.objects.filter(uid=request.GET.get("rule")).first() if request.GET.get("rule") else None
    form = RuleForm(request.POST, instance=instance)
    form.is_valid()
    errors = {k: v for k, v in form.errors.items() if k != "name"}
    if errors:
        return JsonResponse({"errors": errors}, status=400)
    return JsonResponse(backtest.preview(form.values()).to_json())


@role_required(roles.EDITOR)
@require_POST
def rule_delete(request: HttpRequest, uid: str) -> HttpResponse:
    rule = get_object_or_404(AlertRule, uid=uid)
    rules.delete_rule(rule, by=Actor.of(request))
    messages.success(request, f"Deleted the rule {rule.name}.")
    return redirect("alerts:list")


@role_required(roles.VIEWER)
def rule_version(request: HttpRequest, uid: str, number: int) -> HttpResponse:
    """One version against another (default: the one before it)."""
    rule = get_object_or_404(AlertRule, uid=uid)
    version = get_object_or_404(rule.versions, number=number)
    against_number = int(request.GET.get("against") or max(number - 1, 1))
    against = get_object_or_404(rule.versions, number=against_number)
    context = {
        "rule": rule,
        "version": version,
        "against": against,
        "changes": rules.version_diff(against.snapshot, version.snapshot),
        "numbers": rule.versions.values_list("number", flat=True),
        "can_edit": has_role(request.user, roles.EDITOR),
    }
    return render(request, "alerts/rule_version.html", context)


@role_required(roles.EDITOR)
@require_POST
def rule_revert(request: HttpRequest, uid: str, number: int) -> HttpResponse:
    rule = get_object_or_404(AlertRule, uid=uid)
    get_object_or_404(rule.versions, number=number)
    try:
        rules.revert_rule(rule, number, by=Actor.of(request))
    except rules.RuleInvalid as exc:
        messages.error(request, f"Version {number} cannot be restored: {exc}")
        return redirect("alerts:rule", uid=rule.uid)
    messages.success(request, f"Restored the settings of version {number} as a new version.")
    return redirect("alerts:rule", uid=rule.uid)


@role_required(roles.VIEWER)
def rule_export(request: HttpRequest) -> HttpResponse:
    exported = rulefiles.export_rules([rules.snapshot(rule) for rule in AlertRule.objects.all()])
    response = HttpResponse(exported, content_type="application/yaml")
    response["Content-Disposition"] = 'attachment; filename="opsboard-rules.yml"'
    return response


@role_required(roles.EDITOR)
def rule_import(request: HttpRequest) -> HttpResponse:
    """Paste or upload a Prometheus rule file; valid rules are created, refused ones named."""
    context: dict = {}
    if request.method == "POST":
        text = (
            request.FILES["file"].read().decode("utf-8", "replace")
            if "file" in request.FILES
            else request.POST.get("text", "")
        )
        created, refused = import_rules(text, Actor.of(request))
        context = {"created": created, "refused": refused, "text": text}
        status = 400 if refused and not created else 200
        return render(request, "alerts/rule_import.html", context, status=status)
    return render(request, "alerts/rule_import.html", context)


def import_rules(text: str, by: Actor) -> tuple[list[AlertRule], list[str]]:
    result = rulefiles.parse_rule_file(text)
    created, refused = [], list(result.errors)
    for values in result.rules:
        settings = {name: values[name] for name in rules.EDITABLE if name in values}
        labels = dict(settings.get("labels") or {})
        if severity := rulefiles.severity_from_label(labels.get("severity", "")):
            labels.pop("severity")
            settings["severity"] = severity
            settings["labels"] = labels
        settings["condition_kind"] = values["condition"]["kind"]
        settings["condition"] = {k: v for k, v in values["condition"].items() if k != "kind"}
        if AlertRule.objects.filter(name=settings["name"]).exists():
            refused.append(f"rule {settings['name']}: a rule of that name exists already")
            continue
        try:
            created.append(rules.create_rule(settings, by=by, comment="imported"))
        except rules.RuleInvalid as exc:
            refused.append(f"rule {settings['name']}: {exc}")
    return created, refused


def _silence_page(request: HttpRequest, form: SilenceForm, status: int = 200) -> HttpResponse:
    listing = [(s, silences.is_active(s)) for s in Silence.objects.select_related("created_by")[:200]]
    context = {"silences": listing, "form": form, "can_silence": has_role(request.user, roles.RESPONDER)}
    return render(request, "alerts/silences.html", context, status=status)


@role_required(roles.VIEWER)
def silence_list(request: HttpRequest) -> HttpResponse:
    return _silence_page(request, SilenceForm())


@role_required(roles.RESPONDER)
@require_POST
def silence_create(request: HttpRequest) -> HttpResponse:
    form = SilenceForm(request.POST)
    if not form.is_valid():
        return _silence_page(request, form, status=400)
    silences.create_silence(form.cleaned_data, by=Actor.of(request))
    messages.success(request, "Silence created.")
    return redirect("alerts:silences")


@role_required(roles.RESPONDER)
@require_POST
def silence_expire(request: HttpRequest, uid: str) -> HttpResponse:
    silences.expire_silence(get_object_or_404(Silence, uid=uid), by=Actor.of(request))
    messages.success(request, "Silence ended.")
    return redirect("alerts:silences")
