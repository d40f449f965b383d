"""The expression parser: anything parses or raises PromQLError; what it prints parses back to
the same tree; every generated selector is valid and survives its round trip."""

from __future__ import annotations

import math

from hypothesis import given
from hypothesis import strategies as st

from monitoring.promql import Node, PromQLError, Selector, parse, parse_selector, selectors_of
from tests.fuzz.profiles import fuzz
from tests.fuzz.strategies import near_valid_promql, valid_selectors


def has_nan(node: Node) -> bool:
    """NaN thresholds and literals compare unequal to themselves, so trees holding one are
    compared by their text instead."""
    return "nan" in str(node).lower()


def parse_or_refuse(text: str) -> None:
    for parser in (parse, parse_selector):
        try:
            node = parser(text)
        except PromQLError as exc:
            assert exc.message and 0 <= exc.position <= len(text)
            continue
        assert all(isinstance(s, Selector) for s in selectors_of(node))
        again = parser(str(node))
        assert again == node or (has_nan(node) and str(again) == str(node)), (text, str(node))


@fuzz(share=2)
@given(near_valid_promql)
def test_near_valid_expressions(text: str) -> None:
    parse_or_refuse(text)


@fuzz()
@given(st.text(max_size=40))
def test_any_text(text: str) -> None:
    parse_or_refuse(text)


@fuzz(share=2)
@given(valid_selectors())
def test_valid_selectors_round_trip(text: str) -> None:
    selector = parse_selector(text)
    assert parse_selector(str(selector)) == selector
    assert parse(text) == selector
    assert selectors_of(selector) == [selector]


@fuzz()
@given(
    valid_selectors(), st.sampled_from(["rate", "increase", "avg_over_time", "last_over_time"]), st.integers(1, 10**6)
)
def test_selectors_inside_calls_are_found(text: str, func: str, seconds: int) -> None:
    node = parse(f"sum by (job) ({func}({text}[{seconds}s])) > 0.5")
    assert selectors_of(node) == [parse_selector(text)]
    assert not math.isnan(node.threshold)
