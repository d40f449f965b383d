"""Forms of the on-call pages. They validate, with the rotation maths and the transports'
own config checks so that every error names its field; ``alerts.setup`` makes the changes.

Date and time fields are read and shown in the current time zone: the views activate the
schedule's zone around these forms, so a start of 09:00 means 09:00 where the team is.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterable
from dataclasses import asdict, fields
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any
from zoneinfo import available_timezones

from django import forms
from django.db.models import QuerySet

from alerts import oncall
from alerts.models import EscalationPolicy, NotificationChannel, Schedule, ScheduleLayer
from alerts.setup import SECRET_CONFIG_KEYS
from alerts.transports import TRANSPORTS
from monitoring.collectors.base import ConfigError
from opsboard import crypto
from opsboard.accounts.models import User
from opsboard.audit.masking import is_secret_key
from opsboard.kindforms import field_name, kind_field

PREFIX = "cfg"
DAY_NAMES = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_WINDOW = re.compile(r"(?P<days>.+?)\s+(?P<start>\d{1,2}:\d{2})\s*-\s*(?P<end>\d{1,2}:\d{2})")
# A valid layer: each field is checked alone by swapping it into this one.
_GOOD_LAYER = {
    "participants": ["someone"],
    "rotation": 1,
    "unit": oncall.DAYS,
    "handoff": "09:00",
    "start": datetime(2000, 1, 3, tzinfo=UTC),
    "timezone": "UTC",
    "restrictions": [],
}
LOCAL_INPUT = {"type": "datetime-local"}
LOCAL_FORMAT = "%Y-%m-%dT%H:%M"


@lru_cache(maxsize=1)
def timezone_names() -> tuple[str, ...]:
    return tuple(sorted(available_timezones()))


def people() -> QuerySet[User]:
    """Who can be on call or paged: active users with a role."""
    return User.objects.filter(is_active=True, role__isnull=False).order_by("username")


def local_datetime_field(help_text: str) -> forms.DateTimeField:
    widget = forms.DateTimeInput(attrs=LOCAL_INPUT, format=LOCAL_FORMAT)
    return forms.DateTimeField(widget=widget, help_text=help_text)


def _named(error: ValueError) -> tuple[str, str]:
    """("rotation", "must be at least 1, not 0") from the maths' "rotation: must be ..."."""
    name, _, message = str(error).partition(": ")
    return re.split(r"[\[.]", name, maxsplit=1)[0], message or str(error)


# --- Restrictions as text: "Mon-Fri 09:00-17:00", one window per line -----------------------


def parse_restrictions(text: str) -> list[dict[str, Any]]:
    """Windows in their stored form, one per non-empty line "<days> HH:MM-HH:MM"; days as
    Mon-Fri, Sat,Sun or daily. ``ValueError`` naming the line."""
    found = []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        match = _WINDOW.fullmatch(line.strip())
        if not match:
            raise ValueError(f"line {number}: write days and hours, such as Mon-Fri 09:00-17:00")
        try:
            days = _days(match["days"])
            restriction = oncall.Restriction(days, match["start"].zfill(5), match["end"].zfill(5))
        except ValueError as exc:
            raise ValueError(f"line {number}: {exc}") from None
        found.append(restriction.to_dict())
    return found


def _days(text: str) -> tuple[int, ...]:
    text = re.sub(r"\s*-\s*", "-", text.strip().lower())
    if text in ("daily", "every day", "all"):
        return tuple(range(7))
    days: list[int] = []
    for part in filter(None, re.split(r"[,\s]+", text)):
        first, _, last = part.partition("-")
        start = _day(first)
        end = _day(last) if last else start
        days += [(start + offset) % 7 for offset in range((end - start) % 7 + 1)]
    return tuple(days)


def _day(name: str) -> int:
    for index, day in enumerate(DAY_NAMES):
        if len(name) >= 3 and day.startswith(name):
            return index
    raise ValueError(f"weekdays: {name!r} is not a day; use Mon to Sun")


def format_restrictions(stored: Any) -> str:
    """The text form of stored windows (what ``parse_restrictions`` reads back)."""
    lines = []
    for item in stored if isinstance(stored, list) else []:
        try:
            restriction = oncall.Restriction.from_dict(item)
        except ValueError:
            lines.append(str(item))
            continue
        lines.append(f"{format_days(restriction.weekdays)} {restriction.start}-{restriction.end}")
    return "\n".join(lines)


def format_days(weekdays: tuple[int, ...]) -> str:
    if len(weekdays) == 7:
        return "daily"
    runs: list[list[int]] = []
    for day in weekdays:
        if runs and runs[-1][-1] == day - 1:
            runs[-1].append(day)
        else:
            runs.append([day])
    names = [DAY_NAMES[day][:3].capitalize() for day in range(7)]
    parts = [f"{names[run[0]]}-{names[run[-1]]}" if len(run) > 2 else ",".join(names[d] for d in run) for run in runs]
    return ",".join(parts)


# --- Schedules, layers, overrides ---------------------------------------------------------


class ScheduleForm(forms.ModelForm):
    class Meta:
        model = Schedule
        fields = ["name", "timezone", "description"]
        widgets = {
            "timezone": forms.TextInput(attrs={"list": "timezone-names", "autocomplete": "off"}),
            "description": forms.Textarea(attrs={"rows": 2}),
        }
        help_texts = {"timezone": "An IANA name such as Europe/Berlin: hand-offs and the calendar follow it."}

    def clean_timezone(self) -> str:
        name = self.cleaned_data["timezone"].strip()
        if name not in timezone_names():
            raise forms.ValidationError(f"unknown time zone {name!r}; use an IANA name such as Europe/Berlin")
        return name

    def values(self) -> dict[str, Any]:
        return {name: self.cleaned_data[name] for name in self.Meta.fields}


class LayerForm(forms.Form):
    participants = forms.CharField(
        widget=forms.TextInput(attrs={"size": 60}),
        help_text="Usernames in turn order, separated by commas; a name may repeat.",
    )
    rotation = forms.IntegerField(initial=7, help_text="How long each turn lasts, in the unit below.")
    unit = forms.ChoiceField(choices=ScheduleLayer.UNITS, initial=oncall.DAYS)
    handoff = forms.CharField(
        max_length=5,
        initial="09:00",
        label="Hand-off",
        help_text="Local time of the hand-off as HH:MM (for turns in days).",
    )
    start = local_datetime_field("When the first person's first turn begins, in the schedule's time zone.")
    restrictions = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="Cover only these windows, one per line, e.g. Mon-Fri 09:00-17:00, or Sat,Sun 00:00-00:00 "
        "for whole days; an end at or before the start ends the next day. Empty: all the time.",
    )

    FIELDS = ("participants", "rotation", "unit", "handoff", "start", "restrictions")

    def __init__(self, *args: Any, schedule: Schedule, layer: ScheduleLayer | None = None, **kwargs: Any) -> None:
        if layer is not None:
            kwargs.setdefault("initial", {}).update(self.initial_of(layer))
        super().__init__(*args, **kwargs)
        self.schedule = schedule

    @staticmethod
    def initial_of(layer: ScheduleLayer) -> dict[str, Any]:
        uids = [str(uid) for uid in layer.participants]
        names = {str(user.uid): user.username for user in User.objects.filter(uid__in=valid_uids(uids))}
        return {
            "participants": ", ".join(names.get(uid, uid) for uid in uids),
            "rotation": layer.rotation,
            "unit": layer.unit,
            "handoff": layer.handoff,
            "start": layer.start,
            "restrictions": format_restrictions(layer.restrictions),
        }

    def _alone(self, name: str, value: Any) -> Any:
        try:
            oncall.validate_layer({**_GOOD_LAYER, name: value})
        except ValueError as exc:
            raise forms.ValidationError(_named(exc)[1]) from None
        return value

    def clean_participants(self) -> list[str]:
        names = [name.strip() for name in re.split(r"[,\n]", self.cleaned_data["participants"]) if name.strip()]
        found = {user.username: str(user.uid) for user in people().filter(username__in=names)}
        unknown = sorted({name for name in names if name not in found})
        if unknown:
            raise forms.ValidationError(f"no active user with a role is called {', '.join(unknown)}")
        return self._alone("participants", [found[name] for name in names])

    def clean_rotation(self) -> int:
        return self._alone("rotation", self.cleaned_data["rotation"])

    def clean_handoff(self) -> str:
        return self._alone("handoff", self.cleaned_data["handoff"].strip())

    def clean_restrictions(self) -> list[dict[str, Any]]:
        try:
            return parse_restrictions(self.cleaned_data["restrictions"])
        except ValueError as exc:
            raise forms.ValidationError(str(exc)) from None

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if self.schedule.timezone not in timezone_names():
            self.add_error(
                None, f"the schedule's time zone {self.schedule.timezone!r} is not one: edit the schedule first"
            )
        elif not self.errors:
            try:
                oncall.validate_layer({**self.values(), "timezone": self.schedule.timezone})
            except ValueError as exc:
                name, message = _named(exc)
                self.add_error(name if name in self.fields else None, message)
        return data

    def values(self) -> dict[str, Any]:
        return {name: self.cleaned_data[name] for name in self.FIELDS}


def valid_uids(uids: Iterable[Any]) -> list[str]:
    """Those of ``uids`` that are UUIDs (stored participants are not checked by the database)."""
    valid = []
    for uid in uids:
        try:
            valid.append(str(uuid.UUID(str(uid))))
        except ValueError:
            continue
    return valid


class OverrideForm(forms.Form):
    user = forms.ModelChoiceField(queryset=people(), to_field_name="uid", help_text="Who covers.")
    starts_at = local_datetime_field("In the schedule's time zone.")
    ends_at = local_datetime_field("In the schedule's time zone.")
    comment = forms.CharField(max_length=200, required=False)

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if data.get("user") and data.get("starts_at") and data.get("ends_at"):
            try:
                oncall.Override(str(data["user"].uid), data["starts_at"], data["ends_at"])
            except ValueError as exc:
                name, message = _named(exc)
                self.add_error(name if name in self.fields else None, message)
        return data


# --- Escalation policies and steps --------------------------------------------------------


class PolicyForm(forms.ModelForm):
    class Meta:
        model = EscalationPolicy
        fields = ["name", "repeat", "ack_timeout_s", "reminder_every_s"]
        labels = {
            "repeat": "Repeat the steps",
            "ack_timeout_s": "Acknowledgement timeout (seconds)",
            "reminder_every_s": "Remind every (seconds)",
        }

    def values(self) -> dict[str, Any]:
        return {name: self.cleaned_data[name] for name in self.Meta.fields}


TARGET_KINDS = ("schedule", "user", "channel")


def target_choices() -> list[tuple[str, Any]]:
    channels = NotificationChannel.objects.all()
    return [
        ("", "— choose —"),
        ("Schedules (whoever is on call)", [(f"schedule:{s.uid}", s.name) for s in Schedule.objects.all()]),
        ("People", [(f"user:{u.uid}", u.username) for u in people()]),
        ("Channels", [(f"channel:{c.uid}", c.name + ("" if c.enabled else " (off)")) for c in channels]),
    ]


class StepForm(forms.Form):
    target = forms.ChoiceField(
        help_text="Whom this step notifies: a schedule's on-call person, one person, or a channel.",
        error_messages={"required": "choose whom this step notifies"},
    )
    wait_minutes = forms.IntegerField(
        min_value=0, initial=5, help_text="Minutes to wait, unacknowledged, before the next step."
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["target"].choices = target_choices()

    @staticmethod
    def initial_of(step: Any) -> dict[str, Any]:
        for kind in TARGET_KINDS:
            target = getattr(step, kind)
            if target is not None:
                return {"target": f"{kind}:{target.uid}", "wait_minutes": step.wait_minutes}
        return {"wait_minutes": step.wait_minutes}

    def clean_target(self) -> dict[str, Any]:
        kind, _, uid = self.cleaned_data["target"].partition(":")
        models = {"schedule": Schedule.objects, "user": people(), "channel": NotificationChannel.objects}
        found = models[kind].filter(uid=uid).first() if kind in models else None
        if found is None:
            raise forms.ValidationError("that target no longer exists; choose another")
        return {name: found if name == kind else None for name in TARGET_KINDS}

    def values(self) -> dict[str, Any]:
        return {**self.cleaned_data["target"], "wait_minutes": self.cleaned_data["wait_minutes"]}


# --- Channels and contact methods: a transport kind and its settings ------------------------


class SecretInput(forms.TextInput):
    """Never renders a value: stored secrets are not shown back, nor typed ones after an error."""

    def get_context(self, name: str, value: Any, attrs: dict[str, Any] | None) -> dict[str, Any]:
        return super().get_context(name, None, attrs)


def is_secret(name: str) -> bool:
    return name in SECRET_CONFIG_KEYS or is_secret_key(name)


def secret_state(value: Any) -> str:
    if crypto.is_encrypted(value):
        return crypto.UNREADABLE
    return "set" if value else "not set"


def config_summary(config: dict[str, Any]) -> list[tuple[str, str]]:
    """(setting, what may be shown of it): secrets only as "set", "not set", or "cannot be
    read with the current keys" when it is stored encrypted under a key no longer listed."""
    shown = []
    for key, value in (config or {}).items():
        if is_secret(key):
            shown.append((key, secret_state(value)))
        elif isinstance(value, list):
            shown.append((key, ", ".join(str(item) for item in value)))
        else:
            shown.append((key, str(value)))
    return shown


class KindConfigMixin:
    """A ``kind`` field of the transports and each kind's settings, generated from the kind's
    ``Config`` dataclass. Secret settings are never shown back; left empty, the stored value
    stays (tick "remove" to clear it)."""

    fields: dict[str, forms.Field]
    cleaned_data: dict[str, Any]

    def add_kind_fields(self, kind: str, stored: dict[str, Any]) -> None:
        self.stored_kind, self.stored = kind, stored or {}
        for name, transport in TRANSPORTS.items():
            for spec in fields(transport.Config):
                key = field_name(PREFIX, name, spec.name)
                own = self.stored if name == kind else {}
                self.fields[key] = self._setting_field(spec, own)
                if is_secret(spec.name) and own.get(spec.name):
                    self.fields[f"{key}_clear"] = forms.BooleanField(required=False, label="remove the stored value")

    @staticmethod
    def _setting_field(spec: Any, stored: dict[str, Any]) -> forms.Field:
        label = spec.name.replace("_", " ")
        if is_secret(spec.name):
            note = "Set; leave empty to keep it." if stored.get(spec.name) else ""
            if crypto.is_encrypted(stored.get(spec.name)):
                note = f"Stored, but it {crypto.UNREADABLE}: type it again."
            widget = SecretInput(attrs={"autocomplete": "off", "size": 60})
            return forms.CharField(required=False, label=label, widget=widget, help_text=note, strip=True)
        if str(spec.type).startswith("list"):
            initial = "\n".join(str(item) for item in stored.get(spec.name) or [])
            widget = forms.Textarea(attrs={"rows": 2})
            note = "One or more, separated by commas or new lines."
            return forms.CharField(required=False, label=label, widget=widget, initial=initial, help_text=note)
        field = kind_field(spec)
        if spec.name in stored:
            field.initial = stored[spec.name]
        return field

    def kind_groups(self) -> list[tuple[str, str, list[forms.BoundField]]]:
        """(kind, the config's description, its bound fields), for the template."""
        groups = []
        for name, transport in TRANSPORTS.items():
            keys = [field_name(PREFIX, name, spec.name) for spec in fields(transport.Config)]
            keys = [k for key in keys for k in (key, f"{key}_clear") if k in self.fields]
            description = (transport.Config.__doc__ or "").strip().replace("``", "")
            groups.append((name, description, [self[key] for key in keys]))
        return groups

    def common_fields(self) -> list[forms.BoundField]:
        return [self[name] for name in self.fields if not name.startswith(f"{PREFIX}_")]

    def clean_config(self, kind: str) -> dict[str, Any] | None:
        """The chosen kind's settings, checked by its ``Config.from_dict``; None (and the
        error added to the field it names) when they are wrong."""
        config, raw = TRANSPORTS[kind].Config, self._raw_config(kind)
        unreadable = [name for name, value in raw.items() if crypto.is_encrypted(value)]
        for name in unreadable:  # kept from the stored settings, which no current key opens
            self.add_error(field_name(PREFIX, kind, name), f"The stored value {crypto.UNREADABLE}: type it again.")
        if unreadable:
            return None
        try:
            return asdict(config.from_dict(raw))
        except ConfigError as exc:
            key = field_name(PREFIX, kind, exc.field)
            self.add_error(key if key in self.fields else None, exc.message)
            return None

    def _raw_config(self, kind: str) -> dict[str, Any]:
        raw = {}
        for spec in fields(TRANSPORTS[kind].Config):
            key = field_name(PREFIX, kind, spec.name)
            value = self.cleaned_data.get(key)
            if is_secret(spec.name) and not value and kind == self.stored_kind:
                value = "" if self.cleaned_data.get(f"{key}_clear") else self.stored.get(spec.name)
            if str(spec.type).startswith("list") and isinstance(value, str):
                value = [item.strip() for item in re.split(r"[,\n]", value) if item.strip()]
            if value not in (None, ""):
                raw[spec.name] = value
        return raw


KIND_CHOICES = [(kind, kind) for kind in TRANSPORTS]


class ChannelForm(KindConfigMixin, forms.ModelForm):
    kind = forms.ChoiceField(choices=KIND_CHOICES)

    class Meta:
        model = NotificationChannel
        fields = ["name", "kind", "enabled"]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.add_kind_fields(self.instance.kind if self.instance.pk else "", self.instance.config)

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if data.get("kind") in TRANSPORTS:
            data["config"] = self.clean_config(data["kind"])
        return data

    def values(self) -> dict[str, Any]:
        return {name: self.cleaned_data[name] for name in ("name", "kind", "config", "enabled")}


class ContactMethodForm(KindConfigMixin, forms.Form):
    kind = forms.ChoiceField(choices=KIND_CHOICES, help_text="How you are paged.")

    def __init__(self, *args: Any, method: Any = None, **kwargs: Any) -> None:
        if method is not None:
            kwargs.setdefault("initial", {})["kind"] = method.kind
        super().__init__(*args, **kwargs)
        self.add_kind_fields(method.kind if method else "", method.config if method else {})

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if data.get("kind") in TRANSPORTS:
            data["config"] = self.clean_config(data["kind"])
        return data

    def values(self) -> dict[str, Any]:
        return {"kind": self.cleaned_data["kind"], "config": self.cleaned_data["config"]}
