"""Annotation and label templates: ``{{ labels.model }}`` and ``{{ value }}``.

Framework-free, and nothing is ever evaluated: a small regular-expression renderer that
knows exactly these placeholders (the ``$`` forms are Prometheus's spelling)::

    {{ labels.NAME }}   {{ $labels.NAME }}   the label's value; empty when the alert lacks it
    {{ value }}         {{ $value }}         the value, as Prometheus prints it (Go's %v)

each optionally followed by one filter::

    | printf "FORMAT"   exactly one of the Go verbs %.Nf, %f, %d, %s, %g, %.Ng, with literal
                        text and %% around it: | printf "%.1f °C"
    | humanize          with SI prefixes: 1.234k, 3.4M, 56m (milli), as Prometheus's humanize

Numbers print as Go prints them, so that imported Prometheus annotations read the same.
Two deliberate departures: ``%d`` rounds a float to the nearest whole number (Go prints an
error there), and a label that is not written as a number is printed unchanged by the
numeric verbs and by ``humanize``.

Anything else inside ``{{ }}`` (Go's ``{{ printf "%.2f" $value }}`` form, ``{{ range }}``,
``{{- x -}}``, ...) is left in the output exactly as written; ``validate()`` names each such
part and its position for the rule form.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterator, Mapping
from decimal import Decimal

_PLACEHOLDER = re.compile(
    r"""\s*(?P<subject>\$?labels\.(?P<label>[a-zA-Z_][a-zA-Z0-9_]*)|\$?value)
        \s*(?:\|\s*(?:printf\s+"(?P<format>[^"\\]*)"|(?P<humanize>humanize)))?\s*""",
    re.VERBOSE,
)
_VERB = re.compile(r"%(?:%|(?:\.(?P<precision>[0-9]{1,2}))?(?P<verb>[fdsg]))")
# The subject at the start of a supported placeholder, for translating between spellings.
_SUBJECT = re.compile(r"^(\s*)\$?(labels\.|value)")
_NUMBER = re.compile(r"[-+]?(?:(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][-+]?[0-9]+)?|[iI]nf|NaN)")
_LARGE_PREFIXES = ("k", "M", "G", "T", "P", "E", "Z", "Y")
_SMALL_PREFIXES = ("m", "u", "n", "p", "f", "a", "z", "y")
SUPPORTED = '{{ labels.NAME }}, {{ value }}, optionally with | printf "%.2f" or | humanize'


def render(template: str, labels: Mapping[str, str], value: float | None) -> str:
    """``template`` with its placeholders filled in; a missing label (or no value) is empty."""
    return _replace_tags(template, lambda inner: _render_tag(inner, labels, value))


def validate(template: str) -> list[str]:
    """A message for each ``{{ ... }}`` that ``render`` leaves as written, naming it and its
    0-based position, and for a ``{{`` that is never closed."""
    problems = []
    for start, end in _tags(template):
        if end < 0:
            problems.append(f"'{{{{' at position {start} is never closed with '}}}}'")
        elif _parse_tag(template[start + 2 : end - 2]) is None:
            problems.append(
                f"unsupported template {_shorten(template[start:end])} at position {start}: use {SUPPORTED}"
            )
    return problems


def to_prometheus(template: str) -> str:
    """Opsboard's spelling to Prometheus's: ``{{ labels.x }}`` → ``{{ $labels.x }}``, ``{{ value }}``
    → ``{{ $value }}``. Only supported placeholders change; spacing and filters are kept."""
    return _replace_tags(template, lambda inner: _respell(inner, "$"))


def from_prometheus(template: str) -> str:
    """Prometheus's spelling to Opsboard's: the reverse of ``to_prometheus``."""
    return _replace_tags(template, lambda inner: _respell(inner, ""))


def _tags(template: str) -> Iterator[tuple[int, int]]:
    """(start, end) of each ``{{ ... }}``, braces included, in one pass; the last may be
    (start, -1): a ``{{`` never closed."""
    position = 0
    while (start := template.find("{{", position)) >= 0:
        close = template.find("}}", start + 2)
        if close < 0:
            yield start, -1
            return
        yield start, close + 2
        position = close + 2


def _replace_tags(template: str, replace: Callable[[str], str | None]) -> str:
    """``template`` with each tag replaced by ``replace(inner text)``, or kept when that is None."""
    parts = []
    position = 0
    for start, end in _tags(template):
        if end < 0:
            break
        replaced = replace(template[start + 2 : end - 2])
        parts.append(template[position:start])
        parts.append(template[start:end] if replaced is None else replaced)
        position = end
    parts.append(template[position:])
    return "".join(parts)


def _respell(inner: str, sigil: str) -> str | None:
    if _parse_tag(inner) is None:
        return None
    return "{{" + _SUBJECT.sub(lambda m: f"{m.group(1)}{sigil}{m.group(2)}", inner, count=1) + "}}"


def _shorten(text: str, limit: int = 60) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


# --- Placeholders -------------------------------------------------------------------------


def _parse_tag(inner: str) -> re.Match[str] | None:
    """The placeholder's parts, or None when it is not one this module renders."""
    match = _PLACEHOLDER.fullmatch(inner)
    if match is None:
        return None
    if match.group("format") is not None and _format_verb(match.group("format")) is None:
        return None
    return match


def _render_tag(inner: str, labels: Mapping[str, str], value: float | None) -> str | None:
    match = _parse_tag(inner)
    if match is None:
        return None
    subject: str | float | None
    if match.group("label") is not None:
        found = labels.get(match.group("label"))
        subject = found if isinstance(found, str) else None
    else:
        subject = value
    if subject is None:
        return ""
    if match.group("humanize"):
        return _humanize_subject(subject)
    if match.group("format") is not None:
        return printf(match.group("format"), subject)
    return subject if isinstance(subject, str) else format_value(subject)


def _humanize_subject(subject: str | float) -> str:
    number = _as_number(subject)
    return humanize(number) if number is not None else str(subject)


def _as_number(subject: str | float) -> float | None:
    """The subject as a number: a label's text only when it is written as one (1.5, -2e3, NaN, +Inf)."""
    if not isinstance(subject, str):
        return float(subject)
    if not _NUMBER.fullmatch(subject):
        return None
    return float(subject)


# --- Numbers, as Go prints them -------------------------------------------------------------


def format_value(value: float) -> str:
    """A float as Prometheus prints ``$value`` (Go's ``%v``, that is ``%g`` with the shortest
    digits that read back as the same float): 3, 0.25, 123456, 1.5e+06, 1e-05, NaN, +Inf, -Inf."""
    value = float(value)
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    if value == 0:
        return "-0" if math.copysign(1.0, value) < 0 else "0"
    # repr() has the shortest digits that read back as the same float; formatting the float
    # again with that many digits could round its exact binary value differently.
    shortest = Decimal(repr(value)).normalize()
    sign, digits, power = shortest.as_tuple()
    exponent = len(digits) + int(power) - 1  # of the first significant digit
    if -4 <= exponent < 6:
        return format(shortest, "f")
    mantissa = "".join(map(str, digits))
    if len(mantissa) > 1:
        mantissa = f"{mantissa[0]}.{mantissa[1:]}"
    return f"{'-' if sign else ''}{mantissa}e{'-' if exponent < 0 else '+'}{abs(exponent):02d}"


def humanize(value: float) -> str:
    """Prometheus's ``humanize``: SI prefixes and four significant digits (1234 → 1.234k,
    0.056 → 56m, 0 → 0)."""
    value = float(value)
    if value == 0 or not math.isfinite(value):
        return format_value(value)
    prefix = ""
    if abs(value) >= 1:
        for candidate in _LARGE_PREFIXES:
            if abs(value) < 1000:
                break
            prefix, value = candidate, value / 1000
    else:
        for candidate in _SMALL_PREFIXES:
            if abs(value) >= 1:
                break
            prefix, value = candidate, value * 1000
    # Python's %.4g and Go's agree: the same rounding, exponent threshold and trimmed zeros.
    return f"{value:.4g}{prefix}"


def _format_verb(text: str) -> re.Match[str] | None:
    """The one value verb of a printf format, or None when there is not exactly one (or a
    stray %)."""
    verbs = [match for match in _VERB.finditer(text) if match.group() != "%%"]
    stripped = _VERB.sub("", text)
    if len(verbs) != 1 or "%" in stripped:
        return None
    verb = verbs[0]
    if verb.group("precision") is not None and verb.group("verb") not in "fg":
        return None
    return verb


def printf(text: str, subject: str | float) -> str:
    """Go's ``printf`` for the supported subset; a label that is not a number is printed as it is."""
    verb = _format_verb(text)
    if verb is None:
        raise ValueError(f"unsupported printf format {text!r}")
    before = text[: verb.start()].replace("%%", "%")
    after = text[verb.end() :].replace("%%", "%")
    return before + _format_one(verb, subject) + after


def _format_one(verb: re.Match[str], subject: str | float) -> str:
    kind = verb.group("verb")
    if kind == "s":
        return subject if isinstance(subject, str) else format_value(subject)
    number = _as_number(subject)
    if number is None:
        return str(subject)
    if not math.isfinite(number):
        return format_value(number)
    if kind == "d":
        return str(round(number))
    precision = verb.group("precision")
    if kind == "f":
        return f"{number:.{6 if precision is None else int(precision)}f}"
    if precision is None:
        return format_value(number)
    return f"{number:.{precision}g}"  # as Go's %.Ng: the same form, rounding and trimmed zeros
