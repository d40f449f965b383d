"""Text the database can keep: PostgreSQL refuses NUL in text and JSON, and UTF-8 cannot spell
a lone surrogate (which a JSON escape such as ``\\ud800`` can). No Django import."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def storable(text: str) -> bool:
    try:
        text.encode()
    except UnicodeEncodeError:
        return False
    return "\x00" not in text


def unstorable_at(value: Any) -> str | None:
    """Where the first text (a string, or a key of an object) the database cannot keep is in
    ``value`` (decoded JSON or form fields), e.g. ``config.env[2]``; None when there is none.

    Walked without recursion (JSON nests deeply). Keys are checked before the walk goes under
    them, so the path itself is always text an answer can hold.
    """
    pending: list[tuple[str, Any]] = [("", value)]
    while pending:
        where, item = pending.pop()
        if isinstance(item, str) and not storable(item):
            return where or "the body"
        if isinstance(item, Mapping):
            if any(isinstance(key, str) and not storable(key) for key in item):
                return f"a key in {where or 'the body'}"
            pending += [(f"{where}.{key}" if where else str(key), each) for key in item for each in _values(item, key)]
        elif isinstance(item, list | tuple):
            pending += [(f"{where}[{index}]", element) for index, element in enumerate(item)]
    return None


def _values(mapping: Mapping, key: Any) -> list[Any]:
    """Form fields (a QueryDict) keep every value of a name; ``mapping[key]`` is only the last."""
    getlist = getattr(mapping, "getlist", None)
    return getlist(key) if getlist else [mapping[key]]
