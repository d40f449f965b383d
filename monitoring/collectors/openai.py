"""A synthetic probe of an OpenAI-compatible completion endpoint, streamed.

Sends a small prompt with ``stream: true`` to ``/v1/completions`` or ``/v1/chat/completions``
and records what a user would feel: total latency, time to first token, output tokens per
second, the HTTP status, and ``probe_success`` (with an optional expected substring).
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from monitoring.collectors.base import (
    Collector,
    ConfigError,
    Scrape,
    Stopwatch,
    TargetSpec,
    config_from_dict,
    synthetic,
)
from monitoring.samples import Sample
from opsboard.outbound import OutboundError, stream

API_PATHS = ("/v1/completions", "/v1/chat/completions")


@dataclass(frozen=True)
class OpenAIConfig:
    """``model`` is the served model's name; ``expect``, if set, must appear in the output."""

    model: str = ""
    prompt: str = "Say OK."
    max_tokens: int = 16
    expect: str = ""
    extra_body: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> OpenAIConfig:
        config = config_from_dict(cls, data)
        if not 1 <= config.max_tokens <= 4096:
            raise ConfigError("max_tokens", "must be between 1 and 4096")
        if not isinstance(config.extra_body, dict):
            raise ConfigError("extra_body", "must be a JSON object of extra request fields")
        return config


@dataclass
class Completion:
    status: int = 0
    first_token_s: float | None = None
    text: str = ""
    chunks: int = 0
    usage_tokens: int | None = None

    @property
    def output_tokens(self) -> int:
        """The server's own count when it sends usage; else one token per streamed chunk."""
        return self.usage_tokens if self.usage_tokens is not None else self.chunks


class OpenAIProbe(Collector):
    Config = OpenAIConfig

    def collect(self, spec: TargetSpec, ts_ms: int) -> Scrape:
        watch = Stopwatch()
        labels = {**spec.target_labels(), "probe": "openai"}
        completion = Completion()
        error = ""
        try:
            self._complete(spec, watch, completion)
            error = self._verdict(spec, completion)
        except (OutboundError, ProbeError) as exc:
            error = str(exc)
        duration = watch.elapsed
        samples = self._samples(labels, ts_ms, completion, duration, not error)
        return Scrape(samples, not error, error, duration)

    def _complete(self, spec: TargetSpec, watch: Stopwatch, completion: Completion) -> None:
        """Stream the completion into ``completion``, which keeps what arrived if it fails."""
        chat = urlsplit(spec.url).path.rstrip("/").endswith("/chat/completions")
        body = _request_body(spec.config, chat)
        with stream("POST", spec.url, json=body, headers=dict(spec.headers), timeout_s=spec.timeout_s) as (
            resp,
            chunks,
        ):
            completion.status = resp.status_code
            if resp.status_code != 200:
                raise ProbeError(f"HTTP {resp.status_code} from {spec.url}")
            for event in _sse_events(chunks):
                _take(event, chat, completion, watch)

    def _verdict(self, spec: TargetSpec, completion: Completion) -> str:
        if completion.first_token_s is None:
            return "the stream ended without any output token"
        expect = spec.config.expect
        if expect and expect not in completion.text:
            return f"the output does not contain {expect!r}: {completion.text[:120]!r}"
        return ""

    def _samples(self, labels: dict, ts_ms: int, done: Completion, duration: float, ok: bool) -> list[Sample]:
        samples = [
            synthetic("probe_success", labels, ts_ms, 1 if ok else 0),
            synthetic("probe_duration_seconds", labels, ts_ms, duration),
        ]
        if done.status:
            samples.append(synthetic("probe_http_status_code", labels, ts_ms, done.status))
        if done.first_token_s is not None:
            tokens = done.output_tokens
            generating = max(duration - done.first_token_s, 1e-9)
            samples += [
                synthetic("probe_time_to_first_token_seconds", labels, ts_ms, done.first_token_s),
                synthetic("probe_output_tokens", labels, ts_ms, tokens),
                synthetic("probe_output_tokens_per_second", labels, ts_ms, max(tokens - 1, 0) / generating),
            ]
        return samples


class ProbeError(Exception):
    """The endpoint answered, but not as an OpenAI-compatible stream."""


def _request_body(config: OpenAIConfig, chat: bool) -> dict[str, Any]:
    body: dict[str, Any] = {
        "model": config.model,
        "max_tokens": config.max_tokens,
        "stream": True,
        "stream_options": {"include_usage": True},
        "temperature": 0,
    }
    if chat:
        body["messages"] = [{"role": "user", "content": config.prompt}]
    else:
        body["prompt"] = config.prompt
    return {**body, **config.extra_body}


def _sse_events(chunks: Iterator[bytes]) -> Iterator[dict[str, Any]]:
    """The JSON payloads of a server-sent event stream, up to ``data: [DONE]``."""
    buffer = b""
    for chunk in chunks:
        buffer += chunk
        while b"\n" in buffer:
            line, buffer = buffer.split(b"\n", 1)
            line = line.strip()
            if not line.startswith(b"data:"):
                continue
            data = line[5:].strip()
            if data == b"[DONE]":
                return
            try:
                yield json.loads(data)
            except ValueError:
                raise ProbeError(f"a stream event is not JSON: {data[:80]!r}") from None


def _take(event: dict[str, Any], chat: bool, completion: Completion, watch: Stopwatch) -> None:
    """Fold one stream event into the completion: text, first-token time, usage."""
    usage = event.get("usage") or {}
    if isinstance(usage, dict) and usage.get("completion_tokens") is not None:
        completion.usage_tokens = int(usage["completion_tokens"])
    for choice in event.get("choices") or []:
        text = (choice.get("delta") or {}).get("content") if chat else choice.get("text")
        if text:
            if completion.first_token_s is None:
                completion.first_token_s = watch.elapsed
            completion.text += text
            completion.chunks += 1
