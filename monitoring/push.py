"""The push API's body: exposition text or JSON samples → checked samples. Framework-free.

Everything is parsed and checked before anything is stored, so a body is stored whole
or not at all; each refusal names the line, the sample or the limit.
"""

from __future__ import annotations

import gzip
import json
import math
import zlib
from dataclasses import dataclass

from monitoring import exposition
from monitoring.samples import InvalidSample, Sample, check_series, make_labels, to_value
from opsboard.storable import storable

DAY_MS = 86_400_000


@dataclass(frozen=True)
class PushLimits:
    max_body_bytes: int
    max_samples: int
    max_future_ms: int
    oldest_ms: int


class PushRefused(Exception):
    """A body refused as a whole: ``status`` is the HTTP status, ``limit`` the setting broken."""

    def __init__(self, status: int, message: str, limit: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.limit = limit


def decode_body(raw: bytes, content_encoding: str, limits: PushLimits) -> bytes:
    """The body, decompressed when gzip-encoded, within the size limit either way."""
    if len(raw) > limits.max_body_bytes:
        raise too_large(len(raw), limits)
    if content_encoding.strip().lower() not in ("", "identity"):
        if content_encoding.strip().lower() != "gzip":
            raise PushRefused(415, f"Content-Encoding {content_encoding!r} is not supported; use gzip or none")
        raw = _gunzip(raw, limits)
    return raw


def _gunzip(raw: bytes, limits: PushLimits) -> bytes:
    decompressor = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
    try:
        out = decompressor.decompress(raw, limits.max_body_bytes + 1)
    except (zlib.error, gzip.BadGzipFile) as exc:
        raise PushRefused(400, f"the gzip body cannot be decompressed: {exc}") from None
    if len(out) > limits.max_body_bytes or decompressor.unconsumed_tail:
        raise too_large(len(out), limits)
    return out


def too_large(size: int, limits: PushLimits) -> PushRefused:
    return PushRefused(
        413,
        f"the body is {size} bytes or more; the limit is {limits.max_body_bytes} bytes",
        limit="PUSH_MAX_BODY_BYTES",
    )


def parse_body(body: bytes, content_type: str, now_ms: int, limits: PushLimits) -> list[Sample]:
    """Samples from a JSON or exposition-text body, checked against the limits."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise PushRefused(400, f"the body is not UTF-8 text (byte {exc.start})") from None
    media = content_type.split(";")[0].strip().lower()
    samples = _from_json(text, now_ms) if media == "application/json" else _from_text(text, content_type, now_ms)
    if len(samples) > limits.max_samples:
        raise PushRefused(
            413, f"{len(samples)} samples; at most {limits.max_samples} per request", limit="PUSH_MAX_SAMPLES"
        )
    if not samples:
        raise PushRefused(400, "the body holds no samples")
    _check_times(samples, now_ms, limits)
    return samples


def _from_text(text: str, content_type: str, now_ms: int) -> list[Sample]:
    try:
        samples = exposition.parse(text, default_ts_ms=now_ms, openmetrics=exposition.is_openmetrics(content_type))
    except exposition.ExpositionError as exc:
        raise PushRefused(400, f"malformed exposition text: {exc}") from None
    for index, s in enumerate(samples):
        _check_series(s, f"sample {index + 1} ({s.name})")
    return samples


def _from_json(text: str, now_ms: int) -> list[Sample]:
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        raise PushRefused(400, f"malformed JSON at line {exc.lineno} column {exc.colno}: {exc.msg}") from None
    except ValueError as exc:  # an integer of more than 4300 digits
        raise PushRefused(400, f"malformed JSON: {exc}") from None
    except RecursionError:
        raise PushRefused(400, "malformed JSON: nested too deeply") from None
    if not isinstance(document, dict) or not isinstance(document.get("samples"), list):
        raise PushRefused(400, 'the JSON body must be an object {"samples": [...]}')
    return [_json_sample(item, index, now_ms) for index, item in enumerate(document["samples"])]


def _json_sample(item: object, index: int, now_ms: int) -> Sample:
    where = f"samples[{index}]"
    if not isinstance(item, dict):
        raise PushRefused(400, f"{where} must be an object with name, labels, value and ts")
    labels = item.get("labels") or {}
    if not isinstance(labels, dict) or not all(isinstance(v, str) for v in labels.values()):
        raise PushRefused(400, f"{where}.labels must be an object of text values")
    try:
        value = to_value(item.get("value"))
    except InvalidSample as exc:
        raise PushRefused(400, f"{where}.value: {exc}") from None
    except OverflowError:  # JSON's integers have no bound; float64's do
        raise PushRefused(400, f"{where}.value: the number is too large for a float64") from None
    built = Sample(str(item.get("name", "")), make_labels(labels), _json_ts(item.get("ts"), where, now_ms), value)
    _check_series(built, where)
    return built


def _json_ts(raw: object, where: str, now_ms: int) -> int:
    """``ts`` in seconds since the epoch (as Prometheus's API); absent means now."""
    if raw is None:
        return now_ms
    if isinstance(raw, bool) or not isinstance(raw, int | float) or not _finite(raw * 1000):
        raise PushRefused(400, f"{where}.ts must be a number of seconds since the epoch, got {_shown(raw)}")
    return round(raw * 1000)


def _finite(number: float) -> bool:
    """Whether a JSON number is a finite float64 (JSON's integers have no bound)."""
    try:
        return math.isfinite(number)
    except OverflowError:
        return False


def _shown(raw: object) -> str:
    text = repr(raw)
    return text if len(text) <= 40 else f"{text[:37]}..."


def _check_series(s: Sample, where: str) -> None:
    try:
        check_series(s.name, s.labels)
    except InvalidSample as exc:
        raise PushRefused(400, f"{where}: {exc}") from None
    for label, value in s.labels:
        if not storable(value):
            raise PushRefused(400, f"{where}: value of label {label!r} holds a NUL character or a lone surrogate")


def _check_times(samples: list[Sample], now_ms: int, limits: PushLimits) -> None:
    for index, s in enumerate(samples):
        if s.ts_ms > now_ms + limits.max_future_ms:
            ahead = (s.ts_ms - now_ms) / 1000
            raise PushRefused(
                422,
                f"sample {index + 1} ({s.name}) is {ahead:.0f} s in the future; the clock-skew limit is "
                f"{limits.max_future_ms // 1000} s",
                limit="PUSH_MAX_FUTURE_S",
            )
        if s.ts_ms < limits.oldest_ms:
            age, kept = (now_ms - s.ts_ms) / DAY_MS, (now_ms - limits.oldest_ms) / DAY_MS
            raise PushRefused(
                422,
                f"sample {index + 1} ({s.name}) is {age:.1f} days old; raw samples are kept {kept:g} days, "
                "so it would be deleted at once",
                limit="RETENTION_RAW_DAYS",
            )
