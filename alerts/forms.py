"""The rule editor's form and the silence form. They validate; services change state."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django import forms
from django.utils import timezone

from alerts import matchers, rules
from alerts.conditions import CONDITIONS
from alerts.models import AlertRule
from alerts.schedule import Recurrence
from monitoring.forms import KeyValueField
from monitoring.promql import PromQLError
from opsboard.kindforms import add_kind_fields, config_of, kind_groups

PREFIX = "cond"
CONFIGS = {kind: condition.Config for kind, condition in CONDITIONS.items()}


class LabelListField(forms.CharField):
    """Comma-separated label names → list."""

    def prepare_value(self, value: Any) -> Any:
        return ", ".join(value) if isinstance(value, list) else value

    def to_python(self, value: Any) -> list[str]:
        return [part.strip() for part in (value or "").split(",") if part.strip()]


class RuleForm(forms.ModelForm):
    group_by = LabelListField(required=False, help_text="Labels that make one incident, e.g. node, gpu.")
    inhibit_equal = LabelListField(required=False, help_text="Labels that must be equal for the inhibition.")
    labels = KeyValueField("=", help_text="Extra labels, one name=value per line.")
    annotations = KeyValueField(
        "=", help_text="One name=text per line; {{ labels.model }} and {{ value }} are filled in."
    )
    expression = forms.CharField(widget=forms.TextInput(attrs={"size": 80}), max_length=4000)

    class Meta:
        model = AlertRule
        fields = [
            "name",
            "description",
            "expression",
            "condition_kind",
            "for_s",
            "severity",
            "group_by",
            "labels",
            "annotations",
            "runbook_url",
            "inhibited_by",
            "inhibit_equal",
            "enabled",
            "policy",
            "auto_resolve",
            "reopen_window_s",
        ]
        widgets = {
            "description": forms.Textarea(attrs={"rows": 2}),
            "inhibited_by": forms.TextInput(attrs={"size": 60}),
        }

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        current = self.instance.condition_kind if self.instance.pk else ""
        add_kind_fields(self, PREFIX, CONFIGS, current, self.instance.condition if current else {})
        self.fields["reopen_window_s"].required = False
        self.fields["policy"].empty_label = "the default policy"

    def kind_groups(self) -> list:
        return kind_groups(self, PREFIX, CONFIGS)

    def common_fields(self) -> list[forms.BoundField]:
        return [self[name] for name in self.Meta.fields]

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if data.get("reopen_window_s") is None:
            data["reopen_window_s"] = AlertRule._meta.get_field("reopen_window_s").default
        kind = data.get("condition_kind")
        if kind in CONFIGS:
            data["condition"] = config_of(self, PREFIX, kind, CONFIGS[kind])
        for field, messages in rules.validate({**data, "name": data.get("name") or "x"}).items():
            for message in messages:
                self.add_error(field if field in self.fields else None, message)
        return data

    def values(self) -> dict[str, Any]:
        policy = self.cleaned_data.get("policy")
        values = {name: self.cleaned_data.get(name) for name in rules.EDITABLE if name != "policy_id"}
        return {**values, "policy_id": policy.pk if policy else None}


class SilenceForm(forms.Form):
    matchers = forms.CharField(
        max_length=2000,
        widget=forms.TextInput(attrs={"size": 60, "placeholder": 'model="llama-70b", severity="warning"'}),
    )
    starts_at = forms.DateTimeField(required=False, help_text="Default: now (UTC).")
    ends_at = forms.DateTimeField(required=False, help_text="Required unless it recurs.")
    duration = forms.DurationField(required=False, help_text="Instead of an end: e.g. 2:00:00 for two hours.")
    comment = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}))
    recurring = forms.BooleanField(required=False, label="Recurring maintenance window")
    weekdays = forms.MultipleChoiceField(
        required=False,
        choices=[(str(i), day) for i, day in enumerate(["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"])],
        widget=forms.CheckboxSelectMultiple,
    )
    window_start = forms.CharField(required=False, max_length=5, help_text="HH:MM local time")
    window_duration = forms.DurationField(required=False, help_text="e.g. 2:00:00")
    timezone = forms.CharField(required=False, max_length=64, initial="UTC")

    def clean_matchers(self) -> str:
        try:
            parsed = matchers.parse_matchers(self.cleaned_data["matchers"])
        except (PromQLError, ValueError) as exc:
            raise forms.ValidationError(str(exc)) from None
        return matchers.format_matchers(parsed)

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        data["starts_at"] = data.get("starts_at") or timezone.now()
        if data.get("duration") and not data.get("ends_at"):
            data["ends_at"] = data["starts_at"] + data["duration"]
        data["recurrence"] = self._recurrence(data) if data.get("recurring") else None
        if not data.get("recurring") and not data.get("ends_at"):
            self.add_error("ends_at", "give an end or a duration (only recurring windows may be open-ended)")
        if data.get("ends_at") and data["ends_at"] <= data["starts_at"]:
            self.add_error("ends_at", "the end is before the start")
        return data

    def _recurrence(self, data: dict[str, Any]) -> dict[str, Any] | None:
        duration: timedelta | None = data.get("window_duration")
        raw = {
            "weekdays": [int(day) for day in data.get("weekdays") or []],
            "start": data.get("window_start") or "",
            "duration_s": int(duration.total_seconds()) if duration else 0,
            "timezone": data.get("timezone") or "UTC",
        }
        try:
            return Recurrence.from_dict(raw).to_dict()
        except ValueError as exc:
            self.add_error("recurring", str(exc))
            return None
