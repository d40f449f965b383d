"""The target form: common fields, plus each kind's own settings generated from its
collector's config dataclass, so a kind's schema is written once, next to its collector."""

from __future__ import annotations

from dataclasses import MISSING, fields
from typing import Any

from django import forms

from monitoring.models import Target
from monitoring.targets import editable_fields, masked_headers, merge_headers, validate

KIND_FIELD_PREFIX = "cfg"


class KeyValueField(forms.CharField):
    """One ``key<sep>value`` per line → dict; used for labels (=) and headers (:)."""

    widget = forms.Textarea(attrs={"rows": 3})

    def __init__(self, separator: str, **kwargs: Any) -> None:
        self.separator = separator
        super().__init__(required=False, strip=False, **kwargs)

    def prepare_value(self, value: Any) -> Any:
        if isinstance(value, dict):
            return "\n".join(
                f"{k}{self.separator} {v}" if self.separator == ":" else f"{k}={v}" for k, v in value.items()
            )
        return value

    def to_python(self, value: Any) -> dict[str, str]:
        result: dict[str, str] = {}
        for number, line in enumerate((value or "").splitlines(), start=1):
            if not line.strip():
                continue
            key, found, rest = line.partition(self.separator)
            if not found or not key.strip():
                raise forms.ValidationError(f"line {number}: write key{self.separator}value")
            result[key.strip()] = rest.strip()
        return result


def _kind_field(spec: Any) -> forms.Field:
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


def config_field_name(kind: str, name: str) -> str:
    return f"{KIND_FIELD_PREFIX}_{kind}_{name}".replace("-", "_")


def target_form_class(model: type[Target]) -> type[forms.ModelForm]:
    target_model = model  # a class body cannot read a name it also assigns from the enclosing scope

    class TargetForm(forms.ModelForm):
        labels = KeyValueField("=", help_text="Extra labels, one name=value per line.")
        headers = KeyValueField(":", help_text="Request headers, one Name: value per line; values are kept secret.")

        class Meta:
            model = target_model
            fields = [name for name in editable_fields(target_model) if name != "config"]

        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            if self.instance.pk:
                self.initial["headers"] = masked_headers(self.instance.headers)
            for kind, collector in model.COLLECTORS.items():
                stored = self.instance.config if self.instance.pk and self.instance.kind == kind else {}
                for spec in fields(collector.Config):
                    field = _kind_field(spec)
                    if spec.name in stored:
                        field.initial = stored[spec.name]
                    self.fields[config_field_name(kind, spec.name)] = field

        def kind_groups(self) -> list[tuple[str, str, list[forms.BoundField]]]:
            """(kind, the config's description, its bound fields), for the template."""
            groups = []
            for kind, collector in model.COLLECTORS.items():
                names = [config_field_name(kind, spec.name) for spec in fields(collector.Config)]
                groups.append((kind, (collector.Config.__doc__ or "").strip(), [self[name] for name in names]))
            return groups

        def common_fields(self) -> list[forms.BoundField]:
            return [self[name] for name in self.Meta.fields]

        def clean(self) -> dict[str, Any]:
            data = super().clean()
            kind = data.get("kind")
            if kind in model.COLLECTORS:
                data["config"] = self._config_of(kind)
            if self.instance.pk:
                data["headers"] = merge_headers(self.instance.headers, data.get("headers") or {})
            for field, messages in validate(model, data).items():
                for message in messages:
                    self.add_error(field if field in self.fields else None, message)
            return data

        def _config_of(self, kind: str) -> dict[str, Any]:
            config = {}
            for spec in fields(model.COLLECTORS[kind].Config):
                value = self.cleaned_data.get(config_field_name(kind, spec.name))
                if value not in (None, ""):
                    config[spec.name] = value
            return config

        def values(self) -> dict[str, Any]:
            """The cleaned settings, as the services take them."""
            return {name: self.cleaned_data[name] for name in editable_fields(model)}

    TargetForm.__name__ = f"{model.__name__}Form"
    return TargetForm
