"""Prometheus text exposition (0.0.4) and OpenMetrics text → samples. Framework-free.

Parsing is prometheus_client's. Its errors do not say where they are, so on an error the
text is parsed again line by line to name the first line that fails on its own.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping

from prometheus_client.openmetrics import parser as openmetrics_parser
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Timestamp

from monitoring.samples import Sample, make_labels

# `_created` samples repeat a creation time per series; Prometheus does not keep them either.
TYPES_WITH_CREATED = frozenset({"counter", "histogram", "summary", "gaugehistogram"})
OPENMETRICS_CONTENT_TYPE = "application/openmetrics-text"


class ExpositionError(ValueError):
    """Malformed exposition text; ``line`` is 1-based, or 0 when no single line is to blame."""

    def __init__(self, line: int, message: str) -> None:
        where = f"line {line}: " if line else ""
        super().__init__(f"{where}{message}")
        self.line = line


def parse(
    text: str, *, default_ts_ms: int, openmetrics: bool = False, extra_labels: Mapping[str, str] | None = None
) -> list[Sample]:
    """Every sample in ``text``; those without a timestamp get ``default_ts_ms``.

    ``extra_labels`` (a target's labels) are added to every sample. An exposed label of the
    same name is kept as ``exported_<name>``, as Prometheus does with ``honor_labels: false``.
    """
    families = _families(text, openmetrics)
    created = {f"{family.name}_created" for family in families if family.type in TYPES_WITH_CREATED}
    unsuffixed = set() if openmetrics else _counters_without_total(text)
    samples: list[Sample] = []
    for family in families:
        restore = family.type == "counter" and family.name in unsuffixed
        for s in family.samples:
            if s.name in created:
                continue
            name = s.name.removesuffix("_total") if restore else s.name
            labels = _with_target_labels(s.labels, extra_labels) if extra_labels else s.labels
            ts_ms = _ts_ms(s.timestamp, default_ts_ms, s.name)
            samples.append(Sample(name, make_labels(labels), ts_ms, float(s.value)))
    return samples


_COUNTER_TYPE_LINE = re.compile(r"^#\s*TYPE\s+(\S+)\s+counter\s*$", re.MULTILINE)


def _counters_without_total(text: str) -> set[str]:
    """Counters declared without ``_total``: prometheus_client's parser appends it to their
    samples, but Prometheus keeps names as exposed (dcgm-exporter's counters have none)."""
    return {name for name in _COUNTER_TYPE_LINE.findall(text) if not name.endswith("_total")}


def _with_target_labels(exposed: Mapping[str, str], target: Mapping[str, str]) -> dict[str, str]:
    labels = {(f"exported_{k}" if k in target else k): v for k, v in exposed.items()}
    labels.update(target)
    return labels


def _families(text: str, openmetrics: bool) -> list:
    parse_text = openmetrics_parser.text_string_to_metric_families if openmetrics else text_string_to_metric_families
    try:
        return list(parse_text(text))
    except ValueError as exc:
        raise _locate(text, openmetrics, exc) from None


def _locate(text: str, openmetrics: bool, exc: ValueError) -> ExpositionError:
    """The first line that fails when parsed on its own, with the parser's message."""
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip() or line.startswith("# EOF"):
            continue
        try:
            list(text_string_to_metric_families(line + "\n"))
        except ValueError as line_error:
            return ExpositionError(number, f"{_reason(line_error)} in {line[:200]!r}")
    return ExpositionError(0, _reason(exc))


def _reason(exc: ValueError) -> str:
    message = str(exc)
    if message.startswith("could not convert string to float"):
        return "a value or timestamp is not a number"
    return message


_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1  # Prometheus keeps timestamps as int64 milliseconds


def _ts_ms(timestamp: float | Timestamp | None, default_ts_ms: int, name: str) -> int:
    if timestamp is None:
        return default_ts_ms
    if isinstance(timestamp, Timestamp):
        ts_ms = timestamp.sec * 1000 + timestamp.nsec // 1_000_000
    else:  # a float: NaN, ±Inf and 1e308 (infinite in milliseconds) are no time
        ts_ms = round(timestamp * 1000) if math.isfinite(timestamp * 1000) else None
    if ts_ms is None or not _INT64_MIN <= ts_ms <= _INT64_MAX:
        raise ExpositionError(0, f"sample {name}: timestamp {timestamp} is not a time in int64 milliseconds")
    return ts_ms


def is_openmetrics(content_type: str) -> bool:
    return content_type.split(";")[0].strip().lower() == OPENMETRICS_CONTENT_TYPE
