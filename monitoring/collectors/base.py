"""What every collector shares: the target as collectors see it, and what they return.

Framework-free. A collector is a small class with one method, ``collect(spec, ts_ms)``,
that returns samples and never touches the database; the poll task writes them.
"""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any, ClassVar
from urllib.parse import urlsplit

from monitoring.samples import Sample, make_labels
from opsboard import outbound


class ConfigError(ValueError):
    """A kind's configuration that cannot work; ``field`` names the offending key."""

    def __init__(self, field_name: str, message: str) -> None:
        super().__init__(f"{field_name}: {message}")
        self.field = field_name
        self.message = message


@dataclass(frozen=True)
class NoConfig:
    """The configuration of a kind that needs none beyond the target's common fields."""

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> NoConfig:
        return cls()


def config_from_dict(cls: type, data: Mapping[str, Any]) -> Any:
    """Build a kind's config dataclass from a dict, checking each field's type; unknown keys refused."""
    known = {f.name: f for f in fields(cls)}
    unknown = sorted(set(data) - set(known))
    if unknown:
        raise ConfigError(unknown[0], f"unknown setting; this kind takes {', '.join(known) or 'none'}")
    values = {}
    for name, spec in known.items():
        if name in data and data[name] is not None:
            values[name] = _coerce(name, data[name], spec.type)
    return cls(**values)


def _coerce(name: str, value: Any, type_name: Any) -> Any:
    expected = str(type_name)
    if expected.startswith("int") and not isinstance(value, bool):
        if isinstance(value, int) or (isinstance(value, str) and value.strip().lstrip("-").isdigit()):
            return int(value)
        raise ConfigError(name, f"{value!r} is not a whole number")
    if expected.startswith("float") and not isinstance(value, bool):
        try:
            return float(value)
        except (TypeError, ValueError):
            raise ConfigError(name, f"{value!r} is not a number") from None
    if expected.startswith("bool"):
        if isinstance(value, bool):
            return value
        raise ConfigError(name, f"{value!r} is not true or false")
    if expected.startswith("str"):
        if isinstance(value, str):
            return value
        raise ConfigError(name, f"{value!r} is not text")
    return value


@dataclass(frozen=True)
class TargetSpec:
    """A target as collectors see it: plain values copied from the database row."""

    uid: str
    name: str
    kind: str
    role: str  # "model" or "node": the label that names the target
    url: str
    timeout_s: float
    labels: Mapping[str, str] = field(default_factory=dict)
    headers: Mapping[str, str] = field(default_factory=dict)
    config: Any = None
    series_limit: int = 10_000
    version: str = ""

    def target_labels(self, instance: str | None = None) -> dict[str, str]:
        """job, instance, and model or node, then the target's own labels (which win)."""
        labels = {"job": self.name, "instance": instance or _instance(self.url), self.role: self.name}
        if self.version:
            labels["version"] = self.version
        return {**labels, **self.labels}


def _instance(url: str) -> str:
    parts = urlsplit(url)
    if not parts.hostname:
        return url
    port = parts.port or (443 if parts.scheme == "https" else 80)
    return f"{parts.hostname}:{port}"


@dataclass
class Scrape:
    """The outcome of one poll: samples to store, and how the poll went."""

    samples: list[Sample]
    up: bool
    error: str = ""
    duration_s: float = 0.0


class Collector(ABC):
    """Base of the collector kinds; subclasses set ``Config`` and implement ``collect``."""

    Config: ClassVar[type] = NoConfig

    @classmethod
    def check_url(cls, url: str) -> str | None:
        """Why ``url`` cannot be this kind's target, or None. Most kinds poll over http(s);
        private addresses are fine, since GPU nodes live there."""
        if not url:
            return "this kind needs a URL"
        try:
            outbound.check_url(url)
        except outbound.OutboundError as exc:
            return str(exc)
        return None

    @abstractmethod
    def collect(self, spec: TargetSpec, ts_ms: int) -> Scrape:
        """Poll the target once; never raise for anything the target does."""


class Stopwatch:
    def __init__(self) -> None:
        self.started = time.monotonic()

    @property
    def elapsed(self) -> float:
        return time.monotonic() - self.started


def synthetic(name: str, labels: Mapping[str, str], ts_ms: int, value: float) -> Sample:
    return Sample(name, make_labels(labels), ts_ms, float(value))
