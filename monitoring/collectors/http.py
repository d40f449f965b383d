"""A synthetic probe of a plain HTTP JSON endpoint: a configured request, an expected
status and, optionally, a value at a JSON path (recorded when it is a number, compared
when an expected value is set)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from monitoring.collectors.base import (
    Collector,
    ConfigError,
    Scrape,
    Stopwatch,
    TargetSpec,
    config_from_dict,
    synthetic,
)
from opsboard.outbound import OutboundError, Response, request

METHODS = ("GET", "POST", "PUT", "HEAD")
_PATH_STEP = re.compile(r"\.([A-Za-z_][\w-]*)|\[(\d+)\]|\[\"([^\"]+)\"\]")


@dataclass(frozen=True)
class HttpConfig:
    """``json_path`` like ``$.status`` or ``$.data[0].score``; ``body`` is sent as JSON."""

    method: str = "GET"
    body: Any = None
    expected_status: int = 200
    json_path: str = ""
    expected_value: str = ""

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> HttpConfig:
        config = config_from_dict(cls, data)
        if config.method.upper() not in METHODS:
            raise ConfigError("method", f"{config.method!r} is not one of {', '.join(METHODS)}")
        if not 100 <= config.expected_status <= 599:
            raise ConfigError("expected_status", "must be an HTTP status between 100 and 599")
        if config.json_path:
            parse_json_path(config.json_path)
        return config


def parse_json_path(path: str) -> list[str | int]:
    """``$.a.b[0]["c d"]`` → ["a", "b", 0, "c d"]; ConfigError for anything else."""
    rest = path.strip()
    rest = rest[1:] if rest.startswith("$") else "." + rest if not rest.startswith(("[", ".")) else rest
    steps: list[str | int] = []
    position = 0
    while position < len(rest):
        match = _PATH_STEP.match(rest, position)
        if not match:
            raise ConfigError("json_path", f"cannot read {path!r} at {rest[position:]!r}; use $.key[0].key")
        name, index, quoted = match.groups()
        steps.append(int(index) if index is not None else name or quoted)
        position = match.end()
    return steps


def value_at(document: Any, steps: list[str | int]) -> Any:
    for step in steps:
        try:
            document = document[step]
        except (KeyError, IndexError, TypeError):
            raise LookupError(
                f"nothing at {''.join(f'[{s}]' if isinstance(s, int) else '.' + s for s in steps)}"
            ) from None
    return document


class HttpProbe(Collector):
    Config = HttpConfig

    def collect(self, spec: TargetSpec, ts_ms: int) -> Scrape:
        watch = Stopwatch()
        labels = {**spec.target_labels(), "probe": "http"}
        config: HttpConfig = spec.config
        response: Response | None = None
        value: Any = None
        error = ""
        try:
            response = request(
                config.method.upper(),
                spec.url,
                json=config.body,
                headers=dict(spec.headers),
                timeout_s=spec.timeout_s,
                max_bytes=1024 * 1024,
            )
            value, error = self._check(config, response)
        except OutboundError as exc:
            error = str(exc)
        duration = watch.elapsed
        samples = [
            synthetic("probe_success", labels, ts_ms, 0 if error else 1),
            synthetic("probe_duration_seconds", labels, ts_ms, duration),
        ]
        if response is not None:
            samples.append(synthetic("probe_http_status_code", labels, ts_ms, response.status))
        if isinstance(value, int | float) and not isinstance(value, bool):
            samples.append(synthetic("probe_json_value", labels, ts_ms, value))
        return Scrape(samples, not error, error, duration)

    def _check(self, config: HttpConfig, response: Response) -> tuple[Any, str]:
        if response.status != config.expected_status:
            return None, f"HTTP {response.status}, expected {config.expected_status}"
        if not config.json_path:
            return None, ""
        try:
            value = value_at(response.json(), parse_json_path(config.json_path))
        except (OutboundError, LookupError) as exc:
            return None, str(exc)
        if config.expected_value and str(value) != config.expected_value:
            return value, f"{config.json_path} is {value!r}, expected {config.expected_value!r}"
        return value, ""
