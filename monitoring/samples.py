"""Samples as every part of Opsboard passes them around. Framework-free.

A sample is one value of one series at one time. Labels are a tuple of (name, value)
pairs sorted by name, so that a (name, labels) pair is hashable and identifies a series
without sorting again on the hot path.
"""

from __future__ import annotations

import hashlib
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass

Labels = tuple[tuple[str, str], ...]

METRIC_NAME = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*\Z")
LABEL_NAME = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*\Z")
MAX_NAME_LENGTH = 200
MAX_LABELS = 64
MAX_LABEL_VALUE_LENGTH = 1024
SPECIAL_VALUES = {"nan": math.nan, "+inf": math.inf, "inf": math.inf, "-inf": -math.inf}


class InvalidSample(ValueError):
    """A sample that cannot be stored; the message names what is wrong."""


@dataclass(frozen=True, slots=True)
class Sample:
    name: str
    labels: Labels
    ts_ms: int
    value: float


def make_labels(labels: Mapping[str, str] | None) -> Labels:
    """Labels in their canonical form: sorted pairs, empty values dropped (as Prometheus)."""
    if not labels:
        return ()
    return tuple(sorted((str(k), str(v)) for k, v in labels.items() if v != ""))


def sample(name: str, labels: Mapping[str, str] | None, ts_ms: int, value: float) -> Sample:
    """A sample from plain values, with its labels in canonical form."""
    return Sample(name, make_labels(labels), int(ts_ms), float(value))


def check_series(name: str, labels: Labels) -> None:
    """Raise InvalidSample naming the first problem with a series' name or labels."""
    if not isinstance(name, str) or not METRIC_NAME.match(name) or len(name) > MAX_NAME_LENGTH:
        raise InvalidSample(f"metric name {name!r} is not a valid Prometheus metric name")
    if len(labels) > MAX_LABELS:
        raise InvalidSample(f"{name}: {len(labels)} labels; at most {MAX_LABELS} are allowed")
    seen: set[str] = set()
    for label, value in labels:
        if not isinstance(label, str) or not LABEL_NAME.match(label) or label.startswith("__"):
            raise InvalidSample(f"{name}: label name {label!r} is not valid")
        if label in seen:
            raise InvalidSample(f"{name}: label {label!r} appears twice")
        seen.add(label)
        if not isinstance(value, str) or len(value) > MAX_LABEL_VALUE_LENGTH:
            raise InvalidSample(f"{name}: value of label {label!r} must be text of at most 1024 characters")


def to_value(raw: object) -> float:
    """A sample value as float64: numbers, or the strings NaN, +Inf, -Inf (JSON has no NaN)."""
    if isinstance(raw, bool):
        raise InvalidSample(f"value {raw!r} is not a number")
    if isinstance(raw, int | float):
        return float(raw)
    if isinstance(raw, str):
        special = SPECIAL_VALUES.get(raw.strip().lower())
        if special is not None:
            return special
        try:
            return float(raw)
        except ValueError:
            pass
    raise InvalidSample(f"value {raw!r} is not a number")


def series_hash(name: str, labels: Labels) -> str:
    """A stable identity of a series: 128 bits of BLAKE2b over the name and sorted labels."""
    digest = hashlib.blake2b(digest_size=16)
    digest.update(name.encode())
    for label, value in labels:
        digest.update(b"\x00" + label.encode() + b"\x01" + value.encode())
    return digest.hexdigest()
