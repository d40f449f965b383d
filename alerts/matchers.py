"""Label matchers for silences and inhibition, written as in Alertmanager.

Framework-free. A matcher list is written like a selector's braces, with or without them::

    {model="llama", severity=~"warn.*", node!="gpu-3"}
    model="llama", severity=~"warn.*"

It is parsed by the project's one expression parser (``monitoring.promql``), so strings,
escapes and regular expressions (RE2, fully anchored) are exactly those of the query
language. Every label is ordinary here: ``alertname`` and ``__name__`` are matched like
any other. A missing label matches as the empty string, as in Prometheus and Alertmanager.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

from monitoring.promql import Matcher, PromQLError, parse_selector

__all__ = ["Matcher", "PromQLError", "format_matchers", "matches", "parse_matchers"]

_EMPTY = re.compile(r"\s*\{?\s*\}?\s*")
# The parser's message when every matcher accepts the empty string (and so any alert).
_ALL_EMPTY = "vector selector must contain at least one non-empty matcher"


def parse_matchers(text: str) -> tuple[Matcher, ...]:
    """The matchers in ``text``, in the order written (a ``__name__`` equality first).

    Raises ``PromQLError`` (a ``ValueError``) with the message and the 0-based position in
    ``text``. An empty list is refused, and so is a list whose every matcher matches the
    empty string (such as ``job=~".*"``): a silence must match something, as Alertmanager
    requires.
    """
    if _EMPTY.fullmatch(text):
        raise PromQLError("empty matcher list: a silence or inhibition must match something", 0)
    braced = text.lstrip().startswith("{")
    # The closing brace goes on a line of its own, so that a trailing # comment cannot hide it.
    source = text if braced else "{" + text + "\n}"
    try:
        selector = parse_selector(source)
    except PromQLError as exc:
        raise _relocated(exc, text, braced) from None
    found = selector.matchers
    if selector.metric is not None:
        # The parser folds __name__="x" into the metric name; here it is just a label.
        found = (Matcher("__name__", "=", selector.metric), *found)
    return found


def _relocated(exc: PromQLError, text: str, braced: bool) -> PromQLError:
    """The error with its position in ``text`` rather than in the braced source."""
    message, position = exc.message, exc.position
    if message == _ALL_EMPTY:
        message = "every matcher also matches a missing label; at least one must not, or it would match every alert"
    if braced:
        return PromQLError(message, position)
    if position > len(text):  # at the closing brace added above
        if message == "unbalanced '}'":  # the text's own '}' closed the added '{'
            return PromQLError("'}' without an opening '{'", text.rfind("}"))
        message = message.replace("unexpected '}'", "unexpected end of the matchers")
        return PromQLError(message, len(text))
    return PromQLError(message, max(position - 1, 0))


def matches(matchers: Iterable[Matcher], labels: Mapping[str, str]) -> bool:
    """Whether every matcher accepts ``labels`` (vacuously true for no matchers;
    ``parse_matchers`` never returns an empty list)."""
    plain = dict(labels)
    return all(matcher.matches(plain) for matcher in matchers)


def format_matchers(matchers: Iterable[Matcher]) -> str:
    """The matchers as text in braces; ``parse_matchers`` reads it back to the same matchers."""
    return "{" + ", ".join(str(matcher) for matcher in matchers) + "}"
