"""The audit log's filters, shared by the page, the CSV export and the API."""

from __future__ import annotations

from typing import Any

from django import forms
from django.db.models import QuerySet

from opsboard.audit.models import AuditEvent


class AuditFilterForm(forms.Form):
    actor = forms.CharField(required=False, max_length=150)
    action = forms.CharField(required=False, max_length=64)
    object_type = forms.CharField(required=False, max_length=64)
    since = forms.DateTimeField(required=False, widget=forms.DateTimeInput(attrs={"type": "datetime-local"}))
    until = forms.DateTimeField(required=False, widget=forms.DateTimeInput(attrs={"type": "datetime-local"}))

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if data.get("since") and data.get("until") and data["since"] > data["until"]:
            raise forms.ValidationError("'since' is after 'until'.")
        return data

    def apply(self, events: QuerySet[AuditEvent]) -> QuerySet[AuditEvent]:
        """Narrow ``events`` by the valid filters (call after ``is_valid``)."""
        data = self.cleaned_data
        if data.get("actor"):
            events = events.filter(actor_name=data["actor"])
        if data.get("action"):
            events = events.filter(action=data["action"])
        if data.get("object_type"):
            events = events.filter(object_type=data["object_type"])
        if data.get("since"):
            events = events.filter(time__gte=data["since"])
        if data.get("until"):
            events = events.filter(time__lte=data["until"])
        return events


def filter_choices() -> dict[str, list[str]]:
    """The distinct actions and object types present, for the filter's drop-downs."""
    events = AuditEvent.objects.order_by()
    return {
        "actions": sorted(events.values_list("action", flat=True).distinct()),
        "object_types": sorted(t for t in events.values_list("object_type", flat=True).distinct() if t),
    }
