"""The target form: common fields, plus each kind's own settings generated from its
collector's config dataclass, so a kind's schema is written once, next to its collector."""

from __future__ import annotations

from typing import Any

from django import forms

from monitoring.models import Target
from monitoring.targets import editable_fields, masked_headers, merge_headers, validate
from opsboard import crypto
from opsboard.kindforms import add_kind_fields, config_of, kind_groups

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


def target_form_class(model: type[Target]) -> type[forms.ModelForm]:
    target_model = model  # a class body cannot read a name it also assigns from the enclosing scope
    configs = {kind: collector.Config for kind, collector in model.COLLECTORS.items()}

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
                self._note_unreadable_headers()
            current = self.instance.kind if self.instance.pk else ""
            add_kind_fields(self, KIND_FIELD_PREFIX, configs, current, self.instance.config if current else {})

        def _note_unreadable_headers(self) -> None:
            unreadable = crypto.unreadable_keys(self.instance.headers)
            if unreadable:
                note = f" The stored {', '.join(unreadable)} {crypto.UNREADABLE}: type the value again."
                self.fields["headers"].help_text += note

        def kind_groups(self) -> list[tuple[str, str, list[forms.BoundField]]]:
            return kind_groups(self, KIND_FIELD_PREFIX, configs)

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
            return config_of(self, KIND_FIELD_PREFIX, kind, configs[kind])

        def values(self) -> dict[str, Any]:
            """The cleaned settings, as the services take them."""
            return {name: self.cleaned_data[name] for name in editable_fields(model)}

    TargetForm.__name__ = f"{model.__name__}Form"
    return TargetForm
