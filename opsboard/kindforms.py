"""Form fields generated from a kind's config dataclass (collectors, alert conditions), so
that each kind's settings are declared once, next to the class that uses them."""

from __future__ import annotations

from dataclasses import MISSING, fields
from typing import Any

from django import forms


def kind_field(spec: Any) -> forms.Field:
    """A form field for one config dataclass field, by its annotated type."""
    default = None if spec.default is MISSING else spec.default
    kind = str(spec.type)
    label = spec.name.replace("_", " ")
    if kind.startswith("bool"):
        return forms.BooleanField(required=False, initial=default, label=label)
    if kind.startswith("int"):
        return forms.IntegerField(required=False, initial=default, label=label)
    if kind.startswith("float"):
        return forms.FloatField(required=False, initial=default, label=label)
    if kind.startswith("str"):
        return forms.CharField(required=False, initial=default, label=label, strip=False)
    return forms.JSONField(required=False, initial=default, label=f"{label} (JSON)")


def field_name(prefix: str, kind: str, name: str) -> str:
    return f"{prefix}_{kind}_{name}".replace("-", "_")


def add_kind_fields(form: forms.Form, prefix: str, kinds: dict[str, Any], current_kind: str, stored: dict) -> None:
    """Add every kind's settings to ``form``; the current kind's fields start from ``stored``."""
    for kind, config in kinds.items():
        for spec in fields(config):
            field = kind_field(spec)
            if kind == current_kind and spec.name in stored:
                field.initial = stored[spec.name]
            form.fields[field_name(prefix, kind, spec.name)] = field


def kind_groups(form: forms.Form, prefix: str, kinds: dict[str, Any]) -> list[tuple[str, str, list[forms.BoundField]]]:
    """(kind, the config's description, its bound fields), for the template."""
    return [
        (kind, (config.__doc__ or "").strip(), [form[field_name(prefix, kind, spec.name)] for spec in fields(config)])
        for kind, config in kinds.items()
    ]


def config_of(form: forms.Form, prefix: str, kind: str, config: Any) -> dict[str, Any]:
    """The chosen kind's settings from the cleaned data, empty values left to their defaults."""
    values = {}
    for spec in fields(config):
        value = form.cleaned_data.get(field_name(prefix, kind, spec.name))
        if value not in (None, ""):
            values[spec.name] = value
    return values
