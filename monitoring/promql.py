"""The expression language: a subset of PromQL, parsed by one recursive-descent parser.

Framework-free. The query API, the alert rules and the rule-file importer all parse
through ``parse()``; anything outside the subset is refused with a ``PromQLError`` that
names the construct and its position.

The subset::

    query       := expr [ cmp_op expr ]                 (top level only; see "Comparisons" below)
    expr        := term { ( "+" | "-" ) [ matching ] term }
    term        := unary { ( "*" | "/" ) [ matching ] unary }
    unary       := { "+" | "-" } operand
    operand     := number | "(" expr ")" | aggregation | call | selector [ "[" duration "]" ]
    matching    := ( on | ignoring ) "(" labels ")"
    aggregation := agg_op [ by|without "(" labels ")" ] "(" expr ")" [ by|without "(" labels ")" ]
    call        := rate|increase "(" range ")"
                 | avg_over_time|min_over_time|max_over_time|sum_over_time|count_over_time|last_over_time "(" range ")"
                 | histogram_quantile "(" expr "," expr ")"
                 | absent "(" selector ")"
    range       := selector "[" duration "]"
    selector    := metric_name [ "{" matchers "}" ] | "{" matchers "}"
    matcher     := label_name ( "=" | "!=" | "=~" | "!~" ) string
    number      := decimal | hex | Inf | NaN
    agg_op      := sum | avg | min | max | count
    cmp_op      := ">" | ">=" | "<" | "<=" | "==" | "!="

Arithmetic follows Prometheus: ``*`` and ``/`` bind tighter than ``+`` and ``-``, all four are
left-associative, and a unary sign binds tightest. Operations on two numbers are folded while
parsing (``1 + 2`` is the number 3, ``1 / 0`` is +Inf as IEEE division gives), a minus on a number
is a negative number, and a minus on a vector is written into the tree as ``-1 * vector``. So a
``BinaryOp`` always has a vector on at least one side. ``on(...)`` / ``ignoring(...)`` may only
follow an operator between two vectors.

Types are checked as the tree is built: a range selector is only a function's argument; a number
alone is a query (a scalar: one series without labels), a term of arithmetic, the quantile of
histogram_quantile() or a comparison threshold, but not an aggregation's operand or another
argument.

Comparisons: ``expr cmp_op expr`` filters the left side's points, at the top level only. The left
side must be a vector and the right side must fold to a number (``x > 2 * 0.25``).

Refused with their position: offset, @, subqueries, functions and aggregations outside the
subset, ``%`` and ``^``, set operators (and, or, unless), ``bool``, ``group_left`` and
``group_right``, and comparing two vectors.
"""

from __future__ import annotations

import math
import re
import string
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache
from typing import NamedTuple, TypeVar

import numpy as np
import re2

# --- The syntax tree -----------------------------------------------------------------

MATCH_OPS = ("=", "!=", "=~", "!~")
COMPARISON_OPS = (">", ">=", "<", "<=", "==", "!=")
# The arithmetic operators as numpy ufuncs: IEEE results (1 / 0 is +Inf, 0 / 0 is NaN), for
# folding numbers while parsing and for evaluating vectors alike.
ARITHMETIC: dict[str, np.ufunc] = {"+": np.add, "-": np.subtract, "*": np.multiply, "/": np.divide}
_PRECEDENCE = {"+": 1, "-": 1, "*": 2, "/": 2}
# Metric names that read as modifiers right after an arithmetic operator: rendered as
# {__name__="..."}, which parses back to the same selector.
_MODIFIER_NAMES = ("bool", "group_left", "group_right")
AGGREGATION_OPS = ("sum", "avg", "min", "max", "count")
RATE_FUNCTIONS = ("rate", "increase")
OVER_TIME_FUNCTIONS = (
    "avg_over_time",
    "min_over_time",
    "max_over_time",
    "sum_over_time",
    "count_over_time",
    "last_over_time",
)


class PromQLError(ValueError):
    """An expression outside the supported subset, or malformed; ``position`` is 0-based."""

    def __init__(self, message: str, position: int) -> None:
        super().__init__(f"{message} at position {position}")
        self.message = message
        self.position = position


@lru_cache(maxsize=1024)
def compile_regex(pattern: str) -> re2._Regexp:
    """A fully anchored RE2 regex (linear time, as Prometheus); ValueError when invalid."""
    options = re2.Options()
    options.log_errors = False
    try:
        return re2.compile(f"^(?:{pattern})$", options)
    except re2.error as exc:
        raise ValueError(f"invalid regular expression {pattern!r}: {_re2_reason(exc)}") from None


def _re2_reason(exc: Exception) -> str:
    """RE2's reason without the anchoring added above (its message is bytes: b'reason: ^(?:…)$')."""
    raw = exc.args[0] if exc.args else exc
    text = raw.decode(errors="replace") if isinstance(raw, bytes) else str(raw)
    return text.split(": ^(?:")[0]


@dataclass(frozen=True)
class Matcher:
    """A label matcher. A missing label matches as the empty string, as in Prometheus."""

    name: str
    op: str
    value: str

    def matches(self, labels: dict[str, str]) -> bool:
        actual = labels.get(self.name, "")
        if self.op == "=":
            return actual == self.value
        if self.op == "!=":
            return actual != self.value
        found = compile_regex(self.value).match(actual) is not None
        return found if self.op == "=~" else not found

    def __str__(self) -> str:
        escaped = self.value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
        return f'{self.name}{self.op}"{escaped}"'


@dataclass(frozen=True)
class Selector:
    """An instant-vector selector. ``metric`` is None when the name is only in matchers."""

    metric: str | None
    matchers: tuple[Matcher, ...]
    # Where the selector was written, for error messages; not part of its identity.
    position: int = field(default=0, compare=False)

    def matches(self, name: str, labels: dict[str, str]) -> bool:
        if self.metric is not None and name != self.metric:
            return False
        with_name = {**labels, "__name__": name}
        return all(matcher.matches(with_name) for matcher in self.matchers)

    def __str__(self) -> str:
        matchers = [str(matcher) for matcher in self.matchers]
        if self.metric is not None and self.metric.lower() in _MODIFIER_NAMES:
            matchers.insert(0, str(Matcher("__name__", "=", self.metric)))
            return f"{{{', '.join(matchers)}}}"
        inner = ", ".join(matchers)
        if self.metric is None:
            return f"{{{inner}}}"
        return f"{self.metric}{{{inner}}}" if inner else self.metric


@dataclass(frozen=True)
class RangeSelector:
    selector: Selector
    window_s: float

    def __str__(self) -> str:
        return f"{self.selector}[{format_duration(self.window_s)}]"


@dataclass(frozen=True)
class NumberLiteral:
    value: float

    def __str__(self) -> str:
        if math.isnan(self.value):
            return "NaN"
        if math.isinf(self.value):
            return "Inf" if self.value > 0 else "-Inf"
        if self.value == 0 and math.copysign(1.0, self.value) < 0:
            return "-0"
        return repr(self.value) if self.value != int(self.value) else str(int(self.value))


@dataclass(frozen=True)
class Call:
    """A function call; ``args`` are checked by the parser against the function's signature."""

    func: str
    args: tuple[Node, ...]
    position: int = field(default=0, compare=False)

    def __str__(self) -> str:
        return f"{self.func}({', '.join(str(arg) for arg in self.args)})"


@dataclass(frozen=True)
class Aggregation:
    """``op by (labels) (expr)``; ``by`` None with ``without`` set means ``without (labels)``."""

    op: str
    expr: Node
    by: tuple[str, ...] | None = None
    without: tuple[str, ...] | None = None

    def __str__(self) -> str:
        grouping = ""
        if self.by is not None:
            grouping = f" by ({', '.join(self.by)})"
        elif self.without is not None:
            grouping = f" without ({', '.join(self.without)})"
        return f"{self.op}{grouping} ({self.expr})"


@dataclass(frozen=True)
class BinaryOp:
    """``left op right`` for ``+ - * /``, with a vector on at least one side.

    ``on`` / ``ignoring`` (at most one is set) choose the labels that match the series of two
    vectors; None for both is Prometheus's default, every label but ``__name__``. A unary minus
    on a vector is ``BinaryOp("*", NumberLiteral(-1.0), vector)``.
    """

    op: str
    left: Node
    right: Node
    on: tuple[str, ...] | None = None
    ignoring: tuple[str, ...] | None = None

    def __post_init__(self) -> None:
        if self.op not in ARITHMETIC:
            raise ValueError(f"unknown arithmetic operator {self.op!r}")
        if self.on is not None and self.ignoring is not None:
            raise ValueError("a binary operation matches on() or ignoring() labels, not both")

    def __str__(self) -> str:
        if self.is_negation():
            return f"-({self.right})" if isinstance(self.right, BinaryOp) else f"-{self.right}"
        precedence = _PRECEDENCE[self.op]
        left = _operand_text(self.left, precedence)
        right = _operand_text(self.right, precedence + 1)  # left-associative: a - (b - c)
        return f"{left} {self.op}{self.matching_text()} {right}"

    def is_negation(self) -> bool:
        """Whether this is ``-1 * expr``, which is how a unary minus is kept (and rendered back)."""
        plain = self.on is None and self.ignoring is None
        return plain and self.op == "*" and isinstance(self.left, NumberLiteral) and self.left.value == -1

    def matching_text(self) -> str:
        """`` on(a, b)``, `` ignoring(a)`` or nothing."""
        if self.on is not None:
            return f" on({', '.join(self.on)})"
        if self.ignoring is not None:
            return f" ignoring({', '.join(self.ignoring)})"
        return ""


def _operand_text(node: Node, precedence: int) -> str:
    """``node`` as an operand of an operator: in parentheses when it binds less than ``precedence``
    (a unary minus binds tightest)."""
    if isinstance(node, BinaryOp) and not node.is_negation() and _PRECEDENCE[node.op] < precedence:
        return f"({node})"
    return str(node)


@dataclass(frozen=True)
class Comparison:
    """``expr op number``: keeps the points where the comparison holds (a filter)."""

    op: str
    expr: Node
    threshold: float

    def __str__(self) -> str:
        return f"{self.expr} {self.op} {NumberLiteral(self.threshold)}"


Node = Selector | RangeSelector | NumberLiteral | Call | Aggregation | BinaryOp | Comparison


def format_duration(seconds: float) -> str:
    """The shortest Prometheus duration for ``seconds`` (``90`` → ``1m30s``)."""
    if seconds <= 0:
        return "0s"
    millis = round(seconds * 1000)
    parts = []
    for unit, size in (("d", 86_400_000), ("h", 3_600_000), ("m", 60_000), ("s", 1000), ("ms", 1)):
        count, millis = divmod(millis, size)
        if count:
            parts.append(f"{count}{unit}")
    return "".join(parts)


def selectors_of(node: Node) -> list[Selector]:
    """Every selector in an expression, in order (for matching rules to series)."""
    if isinstance(node, Selector):
        return [node]
    if isinstance(node, RangeSelector):
        return [node.selector]
    if isinstance(node, Call):
        return [selector for arg in node.args for selector in selectors_of(arg)]
    if isinstance(node, Aggregation | Comparison):
        return selectors_of(node.expr)
    if isinstance(node, BinaryOp):
        return [*selectors_of(node.left), *selectors_of(node.right)]
    return []


# --- Durations -------------------------------------------------------------------------

_DURATION_UNITS = (
    ("y", 365 * 86_400_000),
    ("w", 7 * 86_400_000),
    ("d", 86_400_000),
    ("h", 3_600_000),
    ("m", 60_000),
    ("s", 1000),
    ("ms", 1),
)
# Prometheus' own format: each unit at most once, largest first ("1h30m", not "30m1h").
_DURATION_PARTS = re.compile("".join(rf"(?:([0-9]+){unit})?" for unit, _ in _DURATION_UNITS))
_PLAIN_SECONDS = re.compile(r"(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][-+]?[0-9]+)?")
_MAX_DURATION_MS = 2**63 - 1  # Prometheus keeps durations in an int64


def _duration_ms(text: str) -> int:
    """A Prometheus duration with units in whole milliseconds; ValueError when malformed."""
    match = _DURATION_PARTS.fullmatch(text)
    if not text or match is None:
        raise ValueError(
            f"invalid duration {text!r}: use whole numbers of the units y, w, d, h, m, s, ms, "
            "largest first, as in 15s, 5m or 1h30m"
        )
    total = 0
    for (_, size), digits in zip(_DURATION_UNITS, match.groups(), strict=True):
        if digits is not None:
            # Checked before int(), which refuses very long digit strings with its own error.
            if len(digits) > 19:
                raise ValueError(f"duration {text!r} is out of range")
            total += int(digits) * size
    if total > _MAX_DURATION_MS:
        raise ValueError(f"duration {text!r} is out of range")
    return total


def parse_duration(text: str) -> float:
    """Seconds in a Prometheus duration ("1h30m" → 5400.0) or a plain number of seconds ("1.5")."""
    stripped = text.strip()
    if not stripped:
        raise ValueError("empty duration: expected e.g. 15s, 5m, 1h30m or a number of seconds")
    if stripped.startswith("-"):
        raise ValueError(f"invalid duration {text!r}: a duration cannot be negative")
    if _PLAIN_SECONDS.fullmatch(stripped):
        seconds = float(stripped)
        if seconds * 1000 > _MAX_DURATION_MS:
            raise ValueError(f"duration {text!r} is out of range")
        return seconds
    return _duration_ms(stripped) / 1000


# --- The lexer -------------------------------------------------------------------------

_IDENTIFIER = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")
_LABEL_NAME = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")
_DURATION_TOKEN = re.compile(r"(?:[0-9]+(?:ms|[smhdwy]))+")
_NUMBER = re.compile(r"0[xX][0-9a-fA-F]+|(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][-+]?[0-9]+)?")
_WORD_CHAR = re.compile(r"[a-zA-Z0-9_.]")
_WORD_TAIL = re.compile(r"[a-zA-Z0-9_.]*")
# Longest first, so that "!=" is not read as "!" and "=".
_OPERATORS = ("!=", "!~", "=~", "==", ">=", "<=", "=", ">", "<", "(", ")", "{", "}", "[", "]", ",", "+", "-", "*", "/")
_REFUSED_OPERATORS = ("%", "^", "@")
_SPACE = frozenset(" \t\r\n")
_SIMPLE_ESCAPES = {
    "a": "\a",
    "b": "\b",
    "f": "\f",
    "n": "\n",
    "r": "\r",
    "t": "\t",
    "v": "\v",
    "\\": "\\",
    "'": "'",
    '"': '"',
}
_HEX_ESCAPE_WIDTHS = {"x": 2, "u": 4, "U": 8}


@dataclass(frozen=True)
class Token:
    """A lexeme. ``kind`` is ident, number, duration, string, op or eof; ``text`` is the source."""

    kind: str
    text: str
    position: int
    number: float = 0.0  # the value of a number, or a duration in seconds
    string: str = ""  # the decoded value of a string


def _tokenize(text: str) -> list[Token]:
    tokens = []
    position = _skip_space(text, 0)
    while position < len(text):
        token = _next_token(text, position)
        tokens.append(token)
        position = _skip_space(text, position + len(token.text))
    tokens.append(Token("eof", "", position))
    return tokens


def _skip_space(text: str, position: int) -> int:
    """Past whitespace and ``#`` comments, which run to the end of the line."""
    while position < len(text):
        if text[position] == "#":
            newline = text.find("\n", position)
            position = len(text) if newline < 0 else newline + 1
        elif text[position] in _SPACE:
            position += 1
        else:
            break
    return position


def _is_digit(char: str) -> bool:
    return "0" <= char <= "9"


def _next_token(text: str, position: int) -> Token:
    char = text[position]
    if char in "\"'":
        return _lex_quoted_string(text, position)
    if char == "`":
        return _lex_raw_string(text, position)
    if _is_digit(char) or (char == "." and _is_digit(text[position + 1 : position + 2])):
        return _lex_number(text, position)
    identifier = _IDENTIFIER.match(text, position)
    if identifier:
        return Token("ident", identifier.group(), position)
    for operator in (*_OPERATORS, *_REFUSED_OPERATORS):
        if text.startswith(operator, position):
            return Token("op", operator, position)
    raise PromQLError(f"unexpected character {char!r}", position)


def _lex_number(text: str, position: int) -> Token:
    """A duration ("5m", "1h30m") or a number ("3", "0.95", "1e3", "0x1f")."""
    duration = _DURATION_TOKEN.match(text, position)
    if duration and not _WORD_CHAR.match(text, duration.end()):
        try:
            millis = _duration_ms(duration.group())
        except ValueError as exc:
            raise PromQLError(str(exc), position) from None
        return Token("duration", duration.group(), position, number=millis / 1000)
    number = _NUMBER.match(text, position)
    assert number is not None  # the caller saw a digit
    if _WORD_CHAR.match(text, number.end()):
        word = number.group() + _WORD_TAIL.match(text, number.end()).group()
        raise PromQLError(f"invalid number or duration {word!r}", position)
    return Token("number", number.group(), position, number=_number_value(number.group(), position))


def _number_value(word: str, position: int) -> float:
    if word[:2].lower() != "0x":
        return float(word)
    try:
        return float(int(word, 16))
    except OverflowError:
        raise PromQLError(f"number {word!r} is out of range", position) from None


def _lex_raw_string(text: str, position: int) -> Token:
    """A backtick string: no escapes, may span lines."""
    end = text.find("`", position + 1)
    if end < 0:
        raise PromQLError("unterminated raw string", position)
    value = text[position + 1 : end]
    _check_utf8(value.encode("utf-8", "surrogatepass"), position)
    return Token("string", text[position : end + 1], position, string=value)


def _lex_quoted_string(text: str, position: int) -> Token:
    """A double- or single-quoted string with Go escapes. Bytes are collected, as in Go, so
    that ``\\xc3\\xa9`` spells "é"; the result must be valid UTF-8."""
    quote = text[position]
    value = bytearray()
    index = position + 1
    while index < len(text) and text[index] not in (quote, "\n"):
        if text[index] == "\\":
            chunk, index = _escape(text, index, position)
            value += chunk
        else:
            value += text[index].encode("utf-8", "surrogatepass")
            index += 1
    if index >= len(text) or text[index] == "\n":
        raise PromQLError("unterminated string", position)
    return Token("string", text[position : index + 1], position, string=_check_utf8(bytes(value), position))


def _check_utf8(value: bytes, position: int) -> str:
    try:
        return value.decode("utf-8")
    except UnicodeDecodeError:
        raise PromQLError("string is not valid UTF-8", position) from None


def _escape(text: str, index: int, opening: int) -> tuple[bytes, int]:
    """The bytes of the escape sequence at ``index`` (a backslash) and the index after it."""
    if index + 1 >= len(text):
        raise PromQLError("unterminated string", opening)
    code = text[index + 1]
    if code in _SIMPLE_ESCAPES:
        return _SIMPLE_ESCAPES[code].encode(), index + 2
    if code in _HEX_ESCAPE_WIDTHS:
        return _hex_escape(text, index, code)
    if code in "01234567":
        return _octal_escape(text, index)
    shown = code if code.isprintable() else repr(code)
    raise PromQLError(f"unknown escape sequence '\\{shown}'", index)


def _hex_escape(text: str, index: int, code: str) -> tuple[bytes, int]:
    """``\\xXX`` is one byte; ``\\uXXXX`` and ``\\UXXXXXXXX`` are Unicode code points."""
    width = _HEX_ESCAPE_WIDTHS[code]
    digits = text[index + 2 : index + 2 + width]
    if len(digits) != width or any(char not in string.hexdigits for char in digits):
        raise PromQLError(f"escape sequence '\\{code}' needs {width} hex digits", index)
    value = int(digits, 16)
    if code == "x":
        return bytes([value]), index + 2 + width
    if value > 0x10FFFF or 0xD800 <= value <= 0xDFFF:
        raise PromQLError(f"escape sequence '\\{code}{digits}' is not a valid Unicode character", index)
    return chr(value).encode(), index + 2 + width


def _octal_escape(text: str, index: int) -> tuple[bytes, int]:
    digits = text[index + 1 : index + 4]
    if len(digits) != 3 or any(char not in "01234567" for char in digits) or int(digits, 8) > 255:
        raise PromQLError("an octal escape sequence needs three octal digits up to \\377", index)
    return bytes([int(digits, 8)]), index + 4


# --- The parser ------------------------------------------------------------------------

FUNCTIONS = (*RATE_FUNCTIONS, *OVER_TIME_FUNCTIONS, "histogram_quantile", "absent")
# Prometheus aggregations outside the subset, refused by name rather than as unknown functions.
_UNSUPPORTED_AGGREGATIONS = (
    "topk",
    "bottomk",
    "quantile",
    "stddev",
    "stdvar",
    "group",
    "count_values",
    "limitk",
    "limit_ratio",
)
_NUMBER_WORDS = ("inf", "nan")  # numbers, not metric names, as in Prometheus
_VECTOR_MATCHING = ("on", "ignoring", "group_left", "group_right")
_SET_OPERATORS = ("and", "or", "unless")
# Nesting of calls, aggregations and parentheses, and apart from it of arithmetic operators
# (a chain a + b + c nests to the left): both far below Python's recursion limit.
_MAX_DEPTH = 50

_T = TypeVar("_T")


def _describe(token: Token) -> str:
    if token.kind == "ident":
        return f"identifier '{token.text}'"
    if token.kind == "op":
        return f"'{token.text}'"
    if token.kind == "string":
        return f"string {token.text}"
    return f"{token.kind} '{token.text}'"


def _refusal(token: Token) -> str | None:
    """The message for a token that starts a PromQL construct outside the subset, if it does."""
    word = token.text.lower() if token.kind == "ident" else None
    if token.kind == "op" and token.text in ("%", "^"):
        return f"arithmetic operator '{token.text}' is not supported"
    if token.kind == "op" and token.text in COMPARISON_OPS:
        return "a comparison is only supported at the top level, as in sum(x) > 5"
    if token.kind == "op" and token.text in ("=", "=~", "!~"):
        return f"'{token.text}' is only for label matchers inside {{...}}; compare with '==' and a number"
    if token.kind == "op" and token.text in ("@", "["):
        return "the @ modifier is not supported" if token.text == "@" else "subqueries are not supported"
    if word in ("offset", "bool"):
        return f"the {word} modifier is not supported"
    if word in _VECTOR_MATCHING:
        return f"vector matching with '{word}' is not supported"
    if word in _SET_OPERATORS:
        return f"set operator '{word}' is not supported"
    return None


def _build_selector(metric: str | None, matchers: list[tuple[Matcher, int]], position: int) -> Selector:
    """A ``__name__="x"`` matcher becomes the metric name when none is written before the brace."""
    kept = []
    for matcher, at in matchers:
        if matcher.name == "__name__" and matcher.op == "=" and _is_metric_name(matcher.value):
            if metric is not None:
                raise PromQLError(f"metric name given twice: '{metric}' and '{matcher.value}'", at)
            metric = matcher.value
        else:
            kept.append(matcher)
    if metric is None and all(matcher.matches({}) for matcher in kept):
        raise PromQLError("vector selector must contain at least one non-empty matcher", position)
    return Selector(metric, tuple(kept), position)


def _is_metric_name(value: str) -> bool:
    """Only names that re-render as a bare metric name (so not "", "a b" or "Inf") are folded."""
    return _IDENTIFIER.fullmatch(value) is not None and value.lower() not in _NUMBER_WORDS


def _check_regex(token: Token) -> None:
    try:
        compile_regex(token.string)
    except ValueError as exc:  # invalid syntax, or a string that is not valid UTF-8
        raise PromQLError(str(exc), token.position) from None


def _check_call(name: Token, args: list[tuple[Node, int]]) -> Call:
    """Checks the arguments against the function's signature."""
    func = name.text
    if func == "histogram_quantile":
        _check_histogram_quantile(name.position, args)
    elif func == "absent":
        _check_single_argument(func, name.position, args, Selector, 'absent() needs a selector such as up{job="api"}')
    else:
        message = f"{func}() needs a range selector such as x[5m]"
        _check_single_argument(func, name.position, args, RangeSelector, message)
    return Call(func, tuple(node for node, _ in args), name.position)


def _check_single_argument(func: str, position: int, args: list[tuple[Node, int]], kind: type, message: str) -> None:
    if not args:
        raise PromQLError(message, position)
    node, at = args[0]
    if not isinstance(node, kind):
        raise PromQLError(message, at)
    if len(args) > 1:
        raise PromQLError(f"{func}() takes exactly one argument", args[1][1])


def _check_histogram_quantile(position: int, args: list[tuple[Node, int]]) -> None:
    if len(args) != 2:
        at = args[2][1] if len(args) > 2 else position
        raise PromQLError("histogram_quantile() takes two arguments: a quantile such as 0.95 and an instant vector", at)
    (quantile, quantile_at), (vector, vector_at) = args
    if not isinstance(quantile, NumberLiteral):
        raise PromQLError("histogram_quantile() needs a number such as 0.95 as its first argument", quantile_at)
    if isinstance(vector, NumberLiteral | RangeSelector):
        raise PromQLError(
            "histogram_quantile() needs an instant vector such as rate(x_bucket[5m]) as its second argument",
            vector_at,
        )


class _Matching(NamedTuple):
    """The ``on(...)`` or ``ignoring(...)`` after an arithmetic operator, and where it was written."""

    on: tuple[str, ...] | None = None
    ignoring: tuple[str, ...] | None = None
    keyword: Token | None = None


def _literal(value: float) -> NumberLiteral:
    """A number; NaN is always the one ``math.nan`` object, so that equal trees compare equal."""
    return NumberLiteral(math.nan if math.isnan(value) else value)


def _fold(op: str, left: float, right: float) -> NumberLiteral:
    """An operation on two numbers, computed as the evaluation computes it (IEEE, via numpy)."""
    with np.errstate(all="ignore"):
        return _literal(float(ARITHMETIC[op](np.float64(left), np.float64(right))))


def _binary(op: str, position: int, left: Node, right: Node, matching: _Matching) -> Node:
    """``left op right``, type-checked; two numbers are folded into one."""
    for side in (left, right):
        if isinstance(side, RangeSelector):
            message = "arithmetic needs instant vectors; wrap the range selector in a function such as rate()"
            raise PromQLError(message, side.selector.position)
    numbers = isinstance(left, NumberLiteral), isinstance(right, NumberLiteral)
    if matching.keyword is not None and any(numbers):
        keyword = matching.keyword
        raise PromQLError(f"'{keyword.text.lower()}' is only allowed between two vectors", keyword.position)
    if isinstance(left, NumberLiteral) and isinstance(right, NumberLiteral):
        return _fold(op, left.value, right.value)
    node = BinaryOp(op, left, right, matching.on, matching.ignoring)
    if _binary_depth(node) > _MAX_DEPTH:
        raise PromQLError("expression is nested too deeply", position)
    return node


def _negate(sign: Token, node: Node) -> Node:
    """A unary minus: a negative number, or ``-1 * vector``."""
    if isinstance(node, NumberLiteral):
        return _literal(-node.value)
    return _binary("*", sign.position, NumberLiteral(-1.0), node, _Matching())


def _binary_depth(node: Node) -> int:
    """The most arithmetic operators on one path down from ``node``."""
    if isinstance(node, BinaryOp):
        return 1 + max(_binary_depth(node.left), _binary_depth(node.right))
    if isinstance(node, Aggregation | Comparison):
        return _binary_depth(node.expr)
    if isinstance(node, Call):
        return max((_binary_depth(arg) for arg in node.args), default=0)
    return 0


def _aggregation(op: str, expr: Node, grouping: tuple[str, tuple[str, ...]] | None) -> Aggregation:
    if grouping is None:
        return Aggregation(op, expr)
    keyword, labels = grouping
    if keyword == "by":
        return Aggregation(op, expr, by=labels)
    return Aggregation(op, expr, without=labels)


class _Parser:
    """Recursive descent over the tokens: one method per rule of the grammar."""

    def __init__(self, text: str) -> None:
        self.tokens = _tokenize(text)
        self.index = 0
        self.depth = 0

    # Token helpers.

    @property
    def current(self) -> Token:
        return self.tokens[self.index]

    def peek(self) -> Token:
        return self.tokens[min(self.index + 1, len(self.tokens) - 1)]

    def advance(self) -> Token:
        token = self.current
        if token.kind != "eof":
            self.index += 1
        return token

    def at(self, *ops: str) -> bool:
        return self.current.kind == "op" and self.current.text in ops

    def at_keyword(self, *words: str) -> bool:
        return self.current.kind == "ident" and self.current.text.lower() in words

    def at_number(self) -> bool:
        """A number; ``Inf`` and ``NaN`` in any case are numbers (signs are unary operators)."""
        token = self.current
        return token.kind == "number" or (token.kind == "ident" and token.text.lower() in _NUMBER_WORDS)

    def at_paren(self) -> bool:
        """Whether the token after the current one is ``(``."""
        return self.peek().kind == "op" and self.peek().text == "("

    def unexpected(self, expected: str, *, refusals: bool = True) -> PromQLError:
        """An error for the current token, naming the refused construct it starts, if any."""
        token = self.current
        if token.kind == "eof":
            return PromQLError(f"unexpected end of expression, expected {expected}", token.position)
        message = _refusal(token) if refusals else None
        return PromQLError(message or f"unexpected {_describe(token)}, expected {expected}", token.position)

    def expect(self, op: str, expected: str) -> Token:
        if not self.at(op):
            raise self.unexpected(expected)
        return self.advance()

    def close(self, closer: str, opener: Token) -> None:
        if self.at(closer):
            self.advance()
            return
        if self.current.kind == "eof":
            raise PromQLError(f"unclosed '{opener.text}'", opener.position)
        raise self.unexpected(f"'{closer}'")

    def comma_list(self, opener: Token, closer: str, item: Callable[[], _T]) -> list[_T]:
        """Items up to ``closer``, separated by commas; a trailing comma is allowed."""
        items: list[_T] = []
        while not self.at(closer):
            if self.current.kind == "eof":
                raise PromQLError(f"unclosed '{opener.text}'", opener.position)
            items.append(item())
            if self.at(","):
                self.advance()
            elif not self.at(closer) and self.current.kind != "eof":
                raise self.unexpected(f"',' or '{closer}'", refusals=closer != "}")
        self.advance()
        return items

    def refuse_empty(self) -> None:
        if self.current.kind == "eof":
            raise PromQLError("empty expression", self.current.position)

    # Grammar rules.

    def expression(self) -> Node:
        """The whole input: an arithmetic expression, optionally compared with a number."""
        self.refuse_empty()
        start = self.current.position
        node = self.instant_vector("a range selector needs a function such as rate()")
        if self.at(*COMPARISON_OPS):
            node = self.comparison(node, start)
        self.expect_end()
        return node

    def bare_selector(self) -> Selector:
        self.refuse_empty()
        token = self.current
        is_name = token.kind == "ident" and token.text.lower() not in _NUMBER_WORDS
        if not (is_name or self.at("{")):
            raise PromQLError(f'expected a selector such as up{{job="api"}}, found {_describe(token)}', token.position)
        if is_name and self.peek().kind == "op" and self.peek().text == "(":
            raise PromQLError(f"expected a selector, not a call of '{token.text}'", token.position)
        selector = self.selector()
        if self.at("["):
            raise PromQLError("expected a selector without a range", self.current.position)
        self.expect_end()
        return selector

    def expect_end(self) -> None:
        token = self.current
        if token.kind == "eof":
            return
        if self.at(*COMPARISON_OPS):
            raise PromQLError("only one comparison is supported", token.position)
        if self.at(")", "}", "]"):
            raise PromQLError(f"unbalanced '{token.text}'", token.position)
        raise self.unexpected("the end of the expression")

    def comparison(self, expr: Node, start: int) -> Comparison:
        """``expr op threshold``: the threshold must fold to a number, the left side must not."""
        if isinstance(expr, NumberLiteral):
            raise PromQLError("a comparison needs a vector on the left and a number on the right, as in x > 5", start)
        op = self.advance()
        token = self.current
        if self.at_keyword("bool", *_VECTOR_MATCHING):
            raise PromQLError(_refusal(token) or "", token.position)
        vector = (token.kind == "ident" and not self.at_number()) or self.at("{")
        if not (vector or self.at_number() or self.at("(", "+", "-")):
            raise self.unexpected(f"a number after '{op.text}'")
        threshold = None if vector else self.arithmetic()
        if not isinstance(threshold, NumberLiteral):
            raise PromQLError(
                "comparing two vectors is not supported; compare with a number, as in x > 5", token.position
            )
        return Comparison(op.text, expr, threshold.value)

    def instant_vector(self, range_message: str) -> Node:
        """An arithmetic expression that is not a bare range selector."""
        node = self.arithmetic()
        if isinstance(node, RangeSelector):
            raise PromQLError(range_message, node.selector.position)
        return node

    def arithmetic(self) -> Node:
        """``term { ("+" | "-") [ matching ] term }``, left-associative."""
        return self.chain(("+", "-"), self.term)

    def term(self) -> Node:
        """``unary { ("*" | "/") [ matching ] unary }``, left-associative."""
        return self.chain(("*", "/"), self.unary)

    def chain(self, ops: tuple[str, ...], operand: Callable[[], Node]) -> Node:
        """Operands joined by operators of one precedence, folded to the left."""
        node = operand()
        while self.at(*ops):
            op = self.advance()
            matching = self.matching()
            node = _binary(op.text, op.position, node, operand(), matching)
        return node

    def unary(self) -> Node:
        """``{ "+" | "-" } operand``; a plus changes nothing."""
        signs = []
        while self.at("+", "-"):
            signs.append(self.advance())
        node = self.operand()
        for sign in reversed(signs):
            if sign.text == "-":
                node = _negate(sign, node)
        return node

    def matching(self) -> _Matching:
        """An optional ``on(labels)`` or ``ignoring(labels)`` after an arithmetic operator."""
        if self.at_keyword("bool"):
            raise PromQLError("the bool modifier is not supported", self.current.position)
        matching = _Matching()
        if self.at_keyword("on", "ignoring") and self.at_paren():
            keyword = self.advance()
            labels = self.label_list(keyword.text.lower())
            on = keyword.text.lower() == "on"
            matching = _Matching(labels if on else None, None if on else labels, keyword)
            if self.at_keyword("on", "ignoring") and self.at_paren():
                raise PromQLError("give either on(...) or ignoring(...), not both", self.current.position)
        if self.at_keyword("group_left", "group_right"):
            word = self.current.text.lower()
            raise PromQLError(
                f"'{word}' (many-to-one matching) is not supported; only one-to-one matching is",
                self.current.position,
            )
        return matching

    def operand(self) -> Node:
        """A number, parenthesised expression, aggregation, call or selector (possibly with a range),
        nested at most _MAX_DEPTH deep."""
        if self.depth >= _MAX_DEPTH:
            raise PromQLError("expression is nested too deeply", self.current.position)
        self.depth += 1
        try:
            return self.operand_body()
        finally:
            self.depth -= 1

    def operand_body(self) -> Node:
        token = self.current
        if self.at_number():
            return self.number()
        if token.kind == "ident":
            return self.named(token)
        if self.at("{"):
            return self.ranged(self.selector())
        if self.at("("):
            return self.parenthesised()
        if token.kind == "string":
            raise PromQLError("a string can only be a label matcher value", token.position)
        raise self.unexpected("a selector, function call, aggregation, number or '('")

    def number(self) -> NumberLiteral:
        """A number; the caller has checked ``at_number()``."""
        token = self.advance()
        if token.kind == "number":
            return _literal(token.number)
        return _literal(math.nan if token.text.lower() == "nan" else math.inf)

    def parenthesised(self) -> Node:
        """``"(" expr ")"``; the tree keeps no trace of the parentheses."""
        opener = self.advance()
        node = self.arithmetic()
        self.close(")", opener)
        return node

    def named(self, token: Token) -> Node:
        """An identifier starts an aggregation, a function call or a selector."""
        word = token.text.lower()
        follower = self.peek()
        opens = follower.kind == "op" and follower.text == "("
        grouped = follower.kind == "ident" and follower.text.lower() in ("by", "without")
        if word in AGGREGATION_OPS and (opens or grouped):
            return self.aggregation()
        if word in _UNSUPPORTED_AGGREGATIONS and (opens or grouped):
            raise PromQLError(f"unsupported aggregation '{token.text}'", token.position)
        if opens:
            return self.call()
        return self.ranged(self.selector())

    def aggregation(self) -> Aggregation:
        op = self.advance().text.lower()
        grouping = self.grouping()
        opener = self.expect("(", f"'(' after {op}")
        if self.at(")"):
            raise PromQLError(f"{op}() needs an expression to aggregate", self.current.position)
        start = self.current.position
        expr = self.instant_vector(
            f"{op}() needs an instant vector; wrap the range selector in a function such as rate()"
        )
        if isinstance(expr, NumberLiteral):
            raise PromQLError(f"{op}() needs an instant vector, not a number", start)
        if self.at(","):
            raise PromQLError(f"{op}() takes exactly one expression", self.current.position)
        self.close(")", opener)
        if grouping is None:
            grouping = self.grouping()
        elif self.at_keyword("by", "without"):
            raise PromQLError(f"{op}() is grouped twice", self.current.position)
        return _aggregation(op, expr, grouping)

    def grouping(self) -> tuple[str, tuple[str, ...]] | None:
        """An optional ``by (labels)`` or ``without (labels)``."""
        if not self.at_keyword("by", "without"):
            return None
        keyword = self.advance().text.lower()
        return keyword, self.label_list(keyword)

    def label_list(self, keyword: str) -> tuple[str, ...]:
        """``"(" labels ")"`` after ``keyword`` (by, without, on, ignoring)."""
        opener = self.expect("(", f"'(' after {keyword}")
        return tuple(label.text for label in self.comma_list(opener, ")", self.label_name))

    def call(self) -> Call:
        name = self.advance()
        if name.text not in FUNCTIONS:
            raise PromQLError(f"unsupported function '{name.text}'", name.position)
        opener = self.advance()
        return _check_call(name, self.comma_list(opener, ")", self.argument))

    def argument(self) -> tuple[Node, int]:
        """A function argument and its position; the function's signature is checked afterwards."""
        position = self.current.position
        return self.arithmetic(), position

    def selector(self) -> Selector:
        start = self.current
        metric = self.advance().text if start.kind == "ident" else None
        matchers: list[tuple[Matcher, int]] = []
        if self.at("{"):
            opener = self.advance()
            matchers = self.comma_list(opener, "}", self.matcher)
        return _build_selector(metric, matchers, start.position)

    def matcher(self) -> tuple[Matcher, int]:
        name = self.label_name()
        op = self.current
        if not self.at(*MATCH_OPS):
            raise self.unexpected("a matcher operator (=, !=, =~ or !~)", refusals=False)
        self.advance()
        value = self.current
        if value.kind != "string":
            raise self.unexpected(f"a quoted string after '{op.text}'", refusals=False)
        self.advance()
        if op.text in ("=~", "!~"):
            _check_regex(value)
        return Matcher(name.text, op.text, value.string), name.position

    def label_name(self) -> Token:
        token = self.current
        if token.kind != "ident":
            raise self.unexpected("a label name", refusals=False)
        if not _LABEL_NAME.fullmatch(token.text):
            raise PromQLError(f"invalid label name '{token.text}'", token.position)
        return self.advance()

    def ranged(self, selector: Selector) -> Selector | RangeSelector:
        """The selector, or a range selector when a ``[duration]`` follows."""
        if not self.at("["):
            return selector
        opener = self.advance()
        window = self.duration()
        if self.current.text.startswith(":"):
            raise PromQLError("subqueries are not supported", self.current.position)
        self.close("]", opener)
        if self.at("["):
            raise PromQLError("subqueries are not supported", self.current.position)
        return RangeSelector(selector, window)

    def duration(self) -> float:
        token = self.current
        if token.kind == "number":
            raise PromQLError(f"a range needs a duration with a unit, such as [{token.text}s] or [5m]", token.position)
        if self.at("-"):
            raise PromQLError("a range must be a positive duration such as 5m", token.position)
        if token.kind != "duration":
            raise self.unexpected("a duration such as 5m", refusals=False)
        self.advance()
        if token.number <= 0:
            raise PromQLError("a range must be longer than zero", token.position)
        return token.number


def parse(text: str) -> Node:
    """The syntax tree of ``text``; PromQLError names anything outside the subset and where it is."""
    return _Parser(text).expression()


def parse_selector(text: str) -> Selector:
    """A bare selector, without range or function (``/api/v1/series`` ``match[]``, ``fn=``)."""
    return _Parser(text).bare_selector()
