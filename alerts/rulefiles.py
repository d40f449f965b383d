"""Prometheus alerting-rule files in and out.

Framework-free. The format is Prometheus's::

    groups:
      - name: gpu
        interval: 30s               # read and checked, not kept: Opsboard evaluates on its own cadence
        labels: {team: ml}          # Prometheus 3 group labels: added to each rule's labels
        rules:
          - alert: GpuTooHot
            expr: avg_over_time(nvidia_gpu_temperature_celsius[5m]) > 85
            for: 10m
            labels: {severity: critical}
            annotations:
              summary: GPU {{ $labels.gpu }} is at {{ $value }} °C
              runbook_url: https://runbooks.example/gpu-hot

Expressions are parsed by ``monitoring.promql.parse`` only, and two shapes map onto
Opsboard's conditions:

* ``<expr> OP <number>`` (a comparison at the top) → a threshold rule on ``<expr>``;
* ``absent(<selector>)`` → an absent rule on the selector, with ``seconds: 300``: Prometheus's
  ``absent()`` sees a series as present while a sample is within its 5-minute lookback.

Everything else is refused, one error per rule naming the group, the rule, the construct
and its position in ``expr``: recording rules, expressions without a comparison, any
construct the parser refuses (arithmetic, ``offset``, ``irate``, comparing two vectors,
...), a non-zero ``keep_firing_for`` and a ``for`` that is not whole seconds. Malformed YAML
or a wrong structure (no ``groups:``, a group that is not a mapping, ...) gives one error
naming the line and imports nothing. Nothing raises but a caller's bug (text not a str).
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import yaml

from alerts.templating import from_prometheus, to_prometheus
from monitoring.promql import (
    Call,
    Comparison,
    NumberLiteral,
    PromQLError,
    format_duration,
    parse,
    parse_duration,
)
from opsboard.storable import storable

ABSENT_SECONDS = 300  # Prometheus's lookback: absent() is true 5 minutes after the last sample
SEVERITIES = ("critical", "warning", "info")
DEFAULT_SEVERITY = "warning"
# Severities common in Prometheus and Alertmanager setups, mapped onto Opsboard's three.
SEVERITY_ALIASES = {
    "page": "critical",
    "critical": "critical",
    "high": "critical",
    "error": "critical",
    "warning": "warning",
    "warn": "warning",
    "medium": "warning",
    "info": "info",
    "low": "info",
    "none": "info",
}


def severity_from_label(value: str) -> str | None:
    """Opsboard's severity for a ``severity`` label's value; None for one it does not know."""
    return SEVERITY_ALIASES.get(value.strip().lower())


EXPORTED_KINDS = ("threshold", "absent")
_LABEL_NAME = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")
_RULE_FIELDS = ("alert", "record", "expr", "for", "keep_firing_for", "labels", "annotations")
_GROUP_FIELDS = ("name", "interval", "labels", "rules", "limit", "query_offset")
_PULLED_ANNOTATIONS = ("runbook_url", "description")
_UNICODE_BREAKS = ("\x85", "\u2028", "\u2029")
# What a rule can hold (AlertRule's columns): longer names and URLs, NUL (which PostgreSQL
# refuses) and lone surrogates (which YAML's \ud800 spells but UTF-8 cannot) are refused.
MAX_NAME_LENGTH = 200
MAX_RUNBOOK_URL_LENGTH = 500


@dataclass
class ImportResult:
    """The rules that could be imported (dicts ready for the rule form) and an error per refusal."""

    rules: list[dict[str, Any]] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


class _Malformed(Exception):
    """A structure that is not a rule file; ``path`` leads to the offending node."""

    def __init__(self, message: str, path: tuple[Any, ...]) -> None:
        super().__init__(message)
        self.path = path


class _Refused(Exception):
    """A rule that cannot be imported; ``key`` is the field to point at, if one."""

    def __init__(self, message: str, key: str | None = None) -> None:
        super().__init__(message)
        self.key = key


class _Lines:
    """Line numbers of nodes, found on demand by composing the YAML again (only for errors)."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.root: yaml.Node | None = None

    def line(self, path: Iterable[Any]) -> int | None:
        """The 1-based line of the deepest node along ``path`` (keys and indexes) that exists."""
        if self.root is None:
            try:
                self.root = yaml.compose(self.text, Loader=yaml.SafeLoader)
            except (yaml.YAMLError, RecursionError):
                return None
            if self.root is None:
                return None
        node = self.root
        for step in path:
            child = _child(node, step)
            if child is None:
                break
            node = child
        return node.start_mark.line + 1

    def at(self, path: Iterable[Any]) -> str:
        line = self.line(path)
        return "" if line is None else f" (line {line})"


def _child(node: yaml.Node, step: Any) -> yaml.Node | None:
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            if isinstance(key, yaml.ScalarNode) and key.value == str(step):
                return value
    if isinstance(node, yaml.SequenceNode) and isinstance(step, int) and 0 <= step < len(node.value):
        return node.value[step]
    return None


# --- Import ----------------------------------------------------------------------------------


def parse_rule_file(text: str) -> ImportResult:
    """The alerting rules of a Prometheus rule file, as Opsboard rule dicts, and the errors.

    Each rule is ``{"name", "group", "expression", "condition", "for_s", "severity", "labels",
    "annotations", "runbook_url", "description"}``. ``severity`` comes from the ``severity``
    label when it is critical, warning or info (the label is then dropped), else it is
    "warning" and the label stays. ``runbook_url`` and ``description`` are taken out of the
    annotations; templates are translated to Opsboard's spelling (``{{ $labels.x }}`` →
    ``{{ labels.x }}``, ``{{ $value }}`` → ``{{ value }}``). A rule whose name was already
    imported from the file is refused.
    """
    if not isinstance(text, str):
        raise TypeError(f"a rule file is text, not {type(text).__name__}")
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        return ImportResult(errors=[_yaml_error(exc)])
    except Exception as exc:  # PyYAML's constructors: ValueError for 2026-13-01, IndexError for "!!float ", ...
        return ImportResult(errors=[f"invalid YAML: {exc or type(exc).__name__}"])
    lines = _Lines(text)
    try:
        groups = _groups(data)
    except _Malformed as exc:
        return ImportResult(errors=[f"{exc}{lines.at(exc.path)}"])
    result = ImportResult()
    first_seen: dict[str, str] = {}
    for index, group in enumerate(groups):
        _import_group(index, group, lines, result, first_seen)
    return result


def _yaml_error(exc: yaml.YAMLError) -> str:
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    problem = getattr(exc, "problem", None) or str(exc)
    if mark is None:
        return f"invalid YAML: {problem}"
    return f"invalid YAML at line {mark.line + 1}, column {mark.column + 1}: {problem}"


def _groups(data: Any) -> list[dict[str, Any]]:
    """The groups, checked for the structure of a rule file (not yet the rules' contents)."""
    if data is None:
        raise _Malformed("the file is empty: expected groups: with a list of rule groups", ())
    if not isinstance(data, dict):
        raise _Malformed("expected a mapping with groups: at the top of the file", ())
    for key in data:
        if key != "groups":
            raise _Malformed(f"unknown field {key!r} at the top of the file; a rule file has only groups:", (key,))
    if "groups" not in data:
        raise _Malformed("the file has no groups:", ())
    groups = data["groups"]
    if not isinstance(groups, list):
        raise _Malformed("groups: must be a list of rule groups", ("groups",))
    names: set[str] = set()
    for index, group in enumerate(groups):
        _check_group(index, group, names)
    return groups


def _check_group(index: int, group: Any, names: set[str]) -> None:
    path = ("groups", index)
    if not isinstance(group, dict):
        raise _Malformed(f"group #{index + 1}: must be a mapping with name: and rules:", path)
    name = group.get("name")
    if not isinstance(name, str) or not name.strip():
        raise _Malformed(f"group #{index + 1}: needs a name:", path)
    if not storable(name):
        raise _Malformed(f"group #{index + 1}: the name holds a NUL character or a lone surrogate", (*path, "name"))
    if name in names:
        raise _Malformed(f"group {name}: another group has the same name", (*path, "name"))
    names.add(name)
    for key in group:
        if key not in _GROUP_FIELDS:
            raise _Malformed(f"group {name}: unknown field {key!r}", (*path, key))
    rules = group.get("rules")
    if rules is not None and not isinstance(rules, list):
        raise _Malformed(f"group {name}: rules: must be a list of rules", (*path, "rules"))
    for number, rule in enumerate(rules or []):
        if not isinstance(rule, dict):
            raise _Malformed(f"group {name}, rule #{number + 1}: must be a mapping", (*path, "rules", number))


def _import_group(
    index: int, group: dict[str, Any], lines: _Lines, result: ImportResult, first_seen: dict[str, str]
) -> None:
    name = group["name"]
    path = ("groups", index)
    try:
        shared = _group_labels(group)
    except _Refused as exc:
        result.errors.append(f"group {name}{lines.at((*path, exc.key))}: {exc}; its rules are not imported")
        return
    for number, rule in enumerate(group.get("rules") or []):
        rule_path = (*path, "rules", number)
        title = f"group {name}, rule {_rule_title(rule, number)}"
        try:
            converted = _convert(name, rule, shared)
        except _Refused as exc:
            where = lines.at((*rule_path, exc.key) if exc.key else rule_path)
            result.errors.append(f"{title}{where}: {exc}")
            continue
        earlier = first_seen.get(converted["name"])
        if earlier is not None:
            where = lines.at((*rule_path, "alert"))
            result.errors.append(f"{title}{where}: the name is already used by a rule of group {earlier}")
            continue
        first_seen[converted["name"]] = name
        result.rules.append(converted)


def _rule_title(rule: dict[str, Any], number: int) -> str:
    for key in ("alert", "record"):
        if isinstance(rule.get(key), str) and rule[key].strip() and storable(rule[key]):
            return rule[key]
    return f"#{number + 1}"


def _group_labels(group: dict[str, Any]) -> dict[str, str]:
    """The group's labels for its rules; settings Opsboard cannot honour refuse the group."""
    for key in ("limit", "query_offset"):
        if group.get(key) not in (None, 0, "0", "0s"):
            raise _Refused(f"{key}: is not supported", key)
    interval = group.get("interval")
    if interval is not None:
        _seconds("interval", interval)
    return _text_mapping("labels", group.get("labels"))


def _convert(group: str, rule: dict[str, Any], shared: Mapping[str, str]) -> dict[str, Any]:
    """A rule mapping as an Opsboard rule dict; ``_Refused`` says why it cannot be one."""
    for key in rule:
        if key not in _RULE_FIELDS:
            raise _Refused(f"unknown field {key!r}", str(key))
    if "record" in rule:
        raise _Refused(f"recording rule {rule['record']!r} is not supported: only alerting rules are", "record")
    name = rule.get("alert")
    if not isinstance(name, str) or not name.strip():
        raise _Refused("needs alert: with the rule's name", "alert")
    expression, condition = _condition(rule.get("expr"))
    for_s = _for_seconds(rule.get("for"))
    if _seconds("keep_firing_for", rule.get("keep_firing_for", 0)):
        raise _Refused("keep_firing_for is not supported (only 0s)", "keep_firing_for")
    labels = {**shared, **_text_mapping("labels", rule.get("labels"))}
    annotations = _text_mapping("annotations", rule.get("annotations"))
    severity = labels.get("severity")
    if severity in SEVERITIES:
        del labels["severity"]
    else:
        severity = DEFAULT_SEVERITY
    pulled = {key: from_prometheus(annotations.pop(key, "")) for key in _PULLED_ANNOTATIONS}
    _check_storable(name, pulled["runbook_url"], [expression, labels, annotations, pulled])
    return {
        "name": name,
        "group": group,
        "expression": expression,
        "condition": condition,
        "for_s": for_s,
        "severity": severity,
        "labels": {key: from_prometheus(value) for key, value in labels.items()},
        "annotations": {key: from_prometheus(value) for key, value in annotations.items()},
        "runbook_url": pulled["runbook_url"],
        "description": pulled["description"],
    }


def _check_storable(name: str, runbook_url: str, texts: list[Any]) -> None:
    """Refuses what AlertRule's columns cannot hold."""
    if len(name) > MAX_NAME_LENGTH:
        raise _Refused(f"alert: the name has {len(name)} characters; at most {MAX_NAME_LENGTH} are allowed", "alert")
    if len(runbook_url) > MAX_RUNBOOK_URL_LENGTH:
        raise _Refused(f"annotations: runbook_url is longer than {MAX_RUNBOOK_URL_LENGTH} characters", "annotations")
    for text in _strings([name, texts]):
        if not storable(text):
            raise _Refused(f"{_quoted(text, 40)} holds a NUL character or a lone surrogate, which cannot be stored")


def _condition(expr: Any) -> tuple[str, dict[str, Any]]:
    """The expression Opsboard watches and the condition that judges it."""
    if isinstance(expr, bool) or not isinstance(expr, str | int | float):
        raise _Refused("needs expr: with a PromQL expression", "expr")
    text = str(expr)
    try:
        node = parse(text)
    except PromQLError as exc:
        raise _Refused(f"expr: {exc.message} at position {exc.position} in {_quoted(text)}", "expr") from None
    if isinstance(node, Comparison):
        if math.isnan(node.threshold):
            raise _Refused(f"expr: a comparison with NaN is never true in {_quoted(text)}", "expr")
        return str(node.expr), {"kind": "threshold", "op": node.op, "value": node.threshold}
    if isinstance(node, Call) and node.func == "absent":
        return str(node.args[0]), {"kind": "absent", "seconds": ABSENT_SECONDS}
    end = len(text.rstrip())
    raise _Refused(
        f"expr: expected a comparison with a number (as in x > 5) or absent(selector) at position {end} "
        f"in {_quoted(text)}",
        "expr",
    )


def _quoted(text: str, limit: int = 120) -> str:
    flat = " ".join(text.split())
    return repr(flat if len(flat) <= limit else flat[: limit - 1] + "…")


def _seconds(key: str, value: Any) -> float:
    """A Prometheus duration (text such as 5m, or a number of seconds) in seconds."""
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise _Refused(f"{key}: {value!r} is not a duration such as 5m", key)
    try:
        seconds = parse_duration(str(value))
    except ValueError as exc:
        raise _Refused(f"{key}: {exc}", key) from None
    if not math.isfinite(seconds):
        raise _Refused(f"{key}: {value!r} is not a duration such as 5m", key)
    return seconds


def _for_seconds(value: Any) -> int:
    if value is None:
        return 0
    seconds = _seconds("for", value)
    if seconds != int(seconds):
        raise _Refused(f"for: {value!r} is not a whole number of seconds", "for")
    return int(seconds)


def _text_mapping(key: str, value: Any) -> dict[str, str]:
    """Labels or annotations: valid label names to text (numbers are taken as their text)."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise _Refused(f"{key}: must be a mapping of names to text", key)
    result = {}
    for name, text in value.items():
        if not isinstance(name, str) or not _LABEL_NAME.fullmatch(name):
            raise _Refused(f"{key}: {name!r} is not a valid name", key)
        if isinstance(text, bool) or not isinstance(text, str | int | float):
            raise _Refused(f"{key}: the value of {name} must be text", key)
        result[name] = str(text)
    return result


# --- Export ----------------------------------------------------------------------------------


def export_rules(rules: Iterable[Mapping[str, Any]], group: str = "opsboard") -> str:
    """The threshold and absent rules as a Prometheus rule file; ``parse_rule_file`` reads it
    back to the same rule dicts. Each rule goes into its own ``group`` (``group`` when it has
    none). Rules of other kinds, and absent rules whose window is not Prometheus's 5 minutes,
    are named in a comment at the top instead."""
    groups: dict[str, list[dict[str, Any]]] = {}
    skipped = []
    for rule in rules:
        kind = _kind(rule)
        condition = rule.get("condition") or {}
        if kind == "absent" and condition.get("seconds", ABSENT_SECONDS) != ABSENT_SECONDS:
            skipped.append(f"{_one_line(rule['name'])} (absent for {condition['seconds']} s; absent() looks back 5m)")
        elif kind not in EXPORTED_KINDS:
            skipped.append(f"{_one_line(rule['name'])} ({kind})")
        else:
            groups.setdefault(rule.get("group") or group, []).append(_export_rule(rule, kind))
    document = {"groups": [{"name": name, "rules": entries} for name, entries in groups.items()]}
    # PyYAML writes the Unicode line breaks NEL, LS and PS unescaped, and reads them back as
    # spaces; a file with any of them is written with all non-ASCII characters escaped.
    readable = not any(char in text for text in _strings(document) for char in _UNICODE_BREAKS)
    text = yaml.safe_dump(document, sort_keys=False, allow_unicode=readable, default_flow_style=False, width=1_000_000)
    if skipped:
        text = f"# not expressible in PromQL, not exported: {', '.join(skipped)}\n{text}"
    return text


def _strings(value: Any) -> Iterator[str]:
    """Every string in nested dicts and lists, keys included."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _strings(key)
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)


def _kind(rule: Mapping[str, Any]) -> str:
    """The condition's kind: in ``condition`` (the import's shape) or ``condition_kind`` (the model's)."""
    return str(rule.get("condition_kind") or (rule.get("condition") or {}).get("kind") or "")


def _one_line(text: Any) -> str:
    return " ".join(str(text).split())


def _export_rule(rule: Mapping[str, Any], kind: str) -> dict[str, Any]:
    condition = rule.get("condition") or {}
    if kind == "absent":
        expr = f"absent({rule['expression']})"
    else:
        expr = f"{rule['expression']} {condition['op']} {NumberLiteral(float(condition['value']))}"
    entry: dict[str, Any] = {"alert": rule["name"], "expr": expr}
    if rule.get("for_s"):
        entry["for"] = format_duration(rule["for_s"])
    labels = dict(rule.get("labels") or {})
    labels.setdefault("severity", rule.get("severity") or DEFAULT_SEVERITY)
    entry["labels"] = {key: to_prometheus(str(value)) for key, value in labels.items()}
    annotations = dict(rule.get("annotations") or {})
    for key in _PULLED_ANNOTATIONS:
        if rule.get(key):
            annotations[key] = rule[key]
    if annotations:
        entry["annotations"] = {key: to_prometheus(str(value)) for key, value in annotations.items()}
    return entry
