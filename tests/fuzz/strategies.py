"""Hypothesis strategies for the inputs Opsboard parses: exposition text, selectors, rule files,
Alertmanager payloads. Each has a valid form (for round trips) and a near-valid one (valid
pieces with mistakes mixed in), which finds far more than random text does."""

from __future__ import annotations

import math
from datetime import UTC
from typing import Any

from hypothesis import strategies as st

# --- Names and label values ------------------------------------------------------------------

NAME_RE = r"[a-zA-Z_:][a-zA-Z0-9_:]{0,12}"
LABEL_RE = r"[a-zA-Z_][a-zA-Z0-9_]{0,8}"
# Names that collide with a parser's keywords or suffixes, tried as often as random ones.
TRICKY_NAMES = ["up", "x_total", "x_bucket", "x_count", "x_sum", "x_created", "Inf", "NaN", "nan", "inf", "bool", "by"]
TRICKY_TEXT = ["", " ", "\\", '"', "\n", "\\n", '\\"', "\x00", "é", "\u2028", "😀", "{", "}", "=", ",", "#", "\t", "\r"]

metric_names = st.one_of(st.from_regex(NAME_RE, fullmatch=True), st.sampled_from(TRICKY_NAMES))
label_names = st.one_of(
    st.from_regex(LABEL_RE, fullmatch=True), st.sampled_from(["le", "quantile", "job", "__name__", "__x", "_"])
)
label_values = st.one_of(
    st.text(max_size=8),
    st.lists(st.sampled_from(TRICKY_TEXT), max_size=4).map("".join),
    st.sampled_from(["+Inf", "0.5", "-0", "NaN"]),
)
# Text without NUL and lone surrogates: what a valid exposition or selector may carry.
clean_text = st.text(st.characters(exclude_categories=["Cs"], exclude_characters="\x00"), max_size=8)


def escape_label_value(value: str) -> str:
    """A label value as the exposition formats write it: backslash, quote and newline escaped."""
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


# --- Exposition text -------------------------------------------------------------------------

SPECIAL_VALUES = ["NaN", "+Inf", "-Inf", "Inf", "-0", "+0", "0", "1e308", "1e400", "-1e400", "0x1f", "1_000", "nan"]
values_text = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.integers(min_value=-(2**70), max_value=2**70).map(str),
    st.sampled_from(SPECIAL_VALUES),
)
timestamps_text = st.one_of(
    st.integers(min_value=-(2**64), max_value=2**64).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.sampled_from(["NaN", "Inf", "+Inf", "-Inf", "1e400", "1e308", "-1e308", "1.5", "0", "-0", "x"]),
)
TYPES = [
    "counter",
    "gauge",
    "histogram",
    "summary",
    "untyped",
    "unknown",
    "info",
    "stateset",
    "gaugehistogram",
    "bogus",
]


@st.composite
def label_sets(draw: st.DrawFn, valid: bool = False) -> str:
    """``{a="x",b="y"}`` (or nothing); near-valid ones break the syntax now and then."""
    names = st.from_regex(LABEL_RE, fullmatch=True) if valid else label_names
    values = clean_text if valid else label_values
    pairs = draw(st.dictionaries(names, values, max_size=3))
    if not pairs and draw(st.booleans()):
        return ""
    parts = [f'{name}="{escape_label_value(value)}"' for name, value in pairs.items()]
    text = "{" + ",".join(parts) + ("," if parts and draw(st.booleans()) else "") + "}"
    if not valid and draw(st.integers(0, 4)) == 0:
        text = draw(st.sampled_from([text[:-1], text.replace('"', "", 1), text + "}", text.replace("=", "", 1)]))
    return text


@st.composite
def sample_lines(draw: st.DrawFn, name: str | None = None) -> str:
    name = name or draw(metric_names)
    line = f"{name}{draw(label_sets())} {draw(values_text)}"
    if draw(st.booleans()):
        line += f" {draw(timestamps_text)}"
    return line


@st.composite
def family_lines(draw: st.DrawFn) -> list[str]:
    """One metric family: HELP, TYPE, UNIT lines and samples, histogram and summary series included."""
    name = draw(metric_names)
    kind = draw(st.sampled_from(TYPES))
    lines = []
    if draw(st.booleans()):
        lines.append(f"# HELP {name} {draw(st.text(max_size=10))}".replace("\n", " "))
    if draw(st.integers(0, 3)):
        lines.append(f"# TYPE {name} {kind}")
    if draw(st.integers(0, 3)) == 0:
        lines.append(f"# UNIT {name} {draw(st.sampled_from(['seconds', 'bytes', '', 'x y']))}")
    if kind in ("histogram", "gaugehistogram"):
        bounds = draw(st.lists(st.sampled_from(["0.1", "1", "+Inf", "NaN", "x", "-1"]), max_size=4))
        lines += [f'{name}_bucket{{le="{le}"}} {draw(values_text)}' for le in bounds]
        lines += [f"{name}_{suffix} {draw(values_text)}" for suffix in draw(st.sets(st.sampled_from(["count", "sum"])))]
    elif kind == "summary":
        quantiles = draw(st.lists(st.sampled_from(["0.5", "0.99", "1.5", "x"]), max_size=3))
        lines += [f'{name}{{quantile="{q}"}} {draw(values_text)}' for q in quantiles]
        lines += [f"{name}_{suffix} {draw(values_text)}" for suffix in draw(st.sets(st.sampled_from(["count", "sum"])))]
    else:
        suffix = draw(st.sampled_from(["", "", "_total", "_created", "_info"]))
        lines += draw(st.lists(sample_lines(name + suffix), max_size=3))
    return lines


@st.composite
def near_valid_exposition(draw: st.DrawFn) -> str:
    """Families, stray samples, comments and blank lines in some order, sometimes ended by # EOF."""
    chunks = draw(
        st.lists(
            st.one_of(
                family_lines(),
                sample_lines().map(lambda line: [line]),
                st.sampled_from(["", "# a comment", "#", "  ", "# EOF", "# TYPE", "# HELP x"]).map(lambda line: [line]),
            ),
            max_size=5,
        )
    )
    lines = [line for chunk in chunks for line in chunk]
    if draw(st.booleans()):
        lines.append("# EOF")
    newline = draw(st.sampled_from(["\n", "\n", "\r\n"]))
    text = newline.join(lines)
    return text + newline if draw(st.integers(0, 4)) else text


# --- Valid exposition, for round trips --------------------------------------------------------

finite_values = st.floats(allow_nan=False, allow_infinity=False, width=64)
exposed_values = st.one_of(finite_values, st.sampled_from([math.nan, math.inf, -math.inf, -0.0]))


@st.composite
def valid_series(draw: st.DrawFn) -> tuple[str, dict[str, str], float, int | None]:
    """A gauge's sample: name, labels (no empty values: those are dropped), value, timestamp (ms) or None."""
    name = draw(st.from_regex(r"[a-zA-Z_:][a-zA-Z0-9_:]{0,12}", fullmatch=True))
    labels = draw(st.dictionaries(st.from_regex(LABEL_RE, fullmatch=True), clean_text.filter(bool), max_size=3))
    ts = draw(st.none() | st.integers(min_value=0, max_value=4_102_444_800_000))
    return name, labels, draw(exposed_values), ts


def format_exposed_value(value: float) -> str:
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    return repr(value)


def render_gauges(series: list[tuple[str, dict[str, str], float, int | None]], openmetrics: bool) -> str:
    """The text of gauge families; OpenMetrics timestamps are seconds, the text format's milliseconds."""
    lines = []
    for name in dict.fromkeys(name for name, *_ in series):
        lines.append(f"# TYPE {name} gauge")
        for same, labels, value, ts in series:
            if same != name:
                continue
            inner = ",".join(f'{k}="{escape_label_value(v)}"' for k, v in labels.items())
            line = (
                f"{name}{{{inner}}} {format_exposed_value(value)}" if inner else f"{name} {format_exposed_value(value)}"
            )
            if ts is not None:
                line += f" {ts // 1000}.{ts % 1000:03d}" if openmetrics else f" {ts}"
            lines.append(line)
    if openmetrics:
        lines.append("# EOF")
    return "\n".join(lines) + "\n"


# --- Selectors ---------------------------------------------------------------------------------


@st.composite
def valid_selectors(draw: st.DrawFn) -> str:
    """A selector in any of its spellings: bare name, name with matchers, matchers only (then one
    of them must not match the empty string), quotes of either kind, spaces, a trailing comma."""
    name = draw(st.none() | st.from_regex(NAME_RE, fullmatch=True).filter(lambda n: n.lower() not in ("inf", "nan")))
    ops = st.sampled_from(["=", "!=", "=~", "!~"])
    regex_values = st.sampled_from([".*", ".+", "a|b", "x.*", "[0-9]+", "(a)", "é+"])
    matchers = []
    for label in draw(st.lists(st.from_regex(LABEL_RE, fullmatch=True), max_size=3)):
        op = draw(ops)
        value = draw(regex_values if "~" in op else clean_text)
        matchers.append(f"{label}{op}{draw(quoted(value))}")
    if name is None:
        matchers.append(f"job={draw(quoted(draw(clean_text.filter(bool))))}")
    if not matchers and name is not None and draw(st.booleans()):
        return name
    space = draw(st.sampled_from(["", " "]))
    inner = f",{space}".join(matchers) + draw(st.sampled_from(["", ","] if matchers else [""]))
    return f"{name or ''}{space}{{{space}{inner}{space}}}"


@st.composite
def quoted(draw: st.DrawFn, value: str) -> str:
    """``value`` as a PromQL string: double or single quotes (Go escapes), or backticks (raw)."""
    quote = draw(st.sampled_from(['"', "'", "`"]))
    if quote == "`":
        if "`" not in value:
            return f"`{value}`"
        quote = '"'
    escaped = value.replace("\\", "\\\\").replace(quote, "\\" + quote).replace("\n", "\\n")
    return f"{quote}{escaped}{quote}"


PROMQL_PIECES = [
    "up", "x", "rate(", "sum", " by ", "(", ")", "{", "}", "[", "]", "5m", "1h30m", "0s", ",", "job", "=", "!=", "=~",
    "!~", '"a"', "'b'", "`c`", '"\\x"', '"\\u00e9"', '"\\377"', '"', ">", ">=", "==", "+", "-", "*", "/", "%", "^",
    "1", "0x1f", "1e400", "Inf", "NaN", ".5", " ", "\n", "#c\n", "offset", "@", "bool", "on", "ignoring(", "group_left",
    "histogram_quantile(", "0.95", "absent(", "avg_over_time(", "count", "without", "topk", ":", "__name__", "and",
]  # fmt: skip
near_valid_promql = st.lists(st.sampled_from(PROMQL_PIECES), max_size=16).map("".join)


# --- Rule files ----------------------------------------------------------------------------------

yaml_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(),
    st.text(max_size=12),
    st.sampled_from(["up == 0", "5m", "1h30m", "0s", "-1m", "1e400", "absent(up)", "rate(x[5m]) > 1", "{{ $value }}"]),
)
RULE_KEYS = ["groups", "name", "rules", "alert", "record", "expr", "for", "keep_firing_for", "labels", "annotations"]
RULE_KEYS += ["interval", "limit", "query_offset", "severity", "summary", "runbook_url", "x"]
yaml_values = st.recursive(
    yaml_scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3),
        st.dictionaries(st.one_of(st.sampled_from(RULE_KEYS), yaml_scalars), inner, max_size=4),
    ),
    max_leaves=20,
)
importable = st.sampled_from(
    ["up == 0", "absent(up)", "sum by (job) (rate(x[5m])) > 0.5", "x > Inf", "-x < -1", "x > NaN", "avg(x)"]
)
expressions = st.one_of(importable, near_valid_promql, importable)


@st.composite
def near_valid_rule_files(draw: st.DrawFn) -> dict[str, Any]:
    """A rule file's structure with each field sometimes of the wrong type or value."""

    def maybe(strategy: st.SearchStrategy) -> Any:
        return draw(st.one_of(strategy, yaml_values) if draw(st.integers(0, 5)) == 3 else strategy)

    mappings = st.dictionaries(
        st.one_of(label_names, st.sampled_from(["severity", "summary", "runbook_url"])),
        st.one_of(
            st.text(max_size=8), st.sampled_from(["critical", "page", "{{ $value }}", "{{ $labels.x }}"]), yaml_scalars
        ),
        max_size=3,
    )
    rules = []
    for _ in range(draw(st.integers(0, 3))):
        rule = {"alert": maybe(st.text(min_size=1, max_size=10)), "expr": maybe(expressions)}
        for key, strategy in (
            ("for", st.sampled_from(["5m", "0s", "1.5", "90", "1m30s", "-1s", "1e400", "1000000000000y"])),
            ("keep_firing_for", st.sampled_from(["0s", "5m"])),
            ("labels", mappings),
            ("annotations", mappings),
        ):
            if draw(st.integers(0, 3)) == 0:
                rule[key] = maybe(strategy)
        if draw(st.integers(0, 9)) == 5:
            rule["record"] = draw(st.text(max_size=5))
        rules.append(rule)
    group = {"name": maybe(st.one_of(st.text(min_size=1, max_size=8), st.just("g"))), "rules": maybe(st.just(rules))}
    if draw(st.booleans()):
        group["interval"] = maybe(st.sampled_from(["30s", "1m", "x", "0"]))
    if draw(st.integers(0, 3)) == 0:
        group["labels"] = maybe(mappings)
    groups = [group, {**group, "name": f"{group['name']}-2"}] if draw(st.integers(0, 3)) == 0 else [group]
    return {"groups": maybe(st.just(groups))}


# --- Alertmanager payloads ------------------------------------------------------------------------

json_scalars = st.one_of(
    st.none(), st.booleans(), st.integers(min_value=-(2**70), max_value=2**70), st.floats(allow_nan=False), st.text()
)
json_values = st.recursive(
    json_scalars, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3)
)
times = st.one_of(
    st.datetimes(timezones=st.just(UTC)).map(lambda t: t.isoformat().replace("+00:00", "Z")),
    st.sampled_from(
        [
            "0001-01-01T00:00:00Z",
            "2026-11-29T10:00:00Z",
            "2026-11-29",
            "2026-11-29T10:00:00",
            "9999-12-31T23:59:59-01:00",
        ]
    ),
    st.sampled_from(["0001-01-01T00:00:00+01:00", "x", "", "2026-13-01T00:00:00Z"]),
)


@st.composite
def near_valid_alertmanager(draw: st.DrawFn) -> Any:
    """A version-4 webhook whose fields are sometimes of the wrong type or out of range."""

    def maybe(strategy: st.SearchStrategy) -> Any:
        return draw(st.one_of(strategy, json_values) if draw(st.integers(0, 6)) == 0 else strategy)

    text_maps = st.dictionaries(
        st.sampled_from(["alertname", "severity", "node", "job"]) | st.text(max_size=4), st.text()
    )
    alerts = []
    for _ in range(draw(st.integers(0, 3))):
        alert = {
            "status": maybe(st.sampled_from(["firing", "resolved"])),
            "labels": maybe(text_maps),
            "annotations": maybe(text_maps),
            "startsAt": maybe(times),
            "endsAt": maybe(times),
            "generatorURL": maybe(st.text(max_size=20)),
            "fingerprint": maybe(st.text(min_size=1, max_size=20) | st.text(min_size=65, max_size=80)),
        }
        alerts.append({key: value for key, value in alert.items() if draw(st.integers(0, 7))})
    payload = {
        "version": maybe(st.just("4")),
        "groupKey": maybe(st.text(max_size=20)),
        "status": maybe(st.sampled_from(["firing", "resolved"])),
        "receiver": maybe(st.text(max_size=10)),
        "groupLabels": maybe(text_maps),
        "commonLabels": maybe(text_maps),
        "commonAnnotations": maybe(text_maps),
        "externalURL": maybe(st.text(max_size=10)),
        "alerts": maybe(st.just(alerts)),
    }
    return {key: value for key, value in payload.items() if key in ("version", "alerts") or draw(st.integers(0, 5))}
