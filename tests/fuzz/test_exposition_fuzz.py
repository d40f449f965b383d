"""The exposition parser: any text parses or raises ExpositionError with a message; valid text
gives back exactly the samples it was written from."""

from __future__ import annotations

import math

from hypothesis import example, given
from hypothesis import strategies as st

from monitoring import exposition
from monitoring.samples import make_labels
from tests.fuzz.profiles import fuzz
from tests.fuzz.strategies import near_valid_exposition, render_gauges, valid_series


def parses_or_explains(text: str, openmetrics: bool) -> list:
    try:
        return exposition.parse(text, default_ts_ms=1_700_000_000_000, openmetrics=openmetrics)
    except exposition.ExpositionError as exc:
        assert str(exc)
        return []


@fuzz()
@given(st.text(max_size=200), st.booleans())
def test_any_text(text: str, openmetrics: bool) -> None:
    parses_or_explains(text, openmetrics)


@fuzz()
@given(st.binary(max_size=200), st.booleans())
def test_any_bytes_decoded_as_the_push_api_does(raw: bytes, openmetrics: bool) -> None:
    parses_or_explains(raw.decode("utf-8", "replace"), openmetrics)


@fuzz(share=3)
@given(near_valid_exposition(), st.booleans())
@example("a 1 1e400\n", False)  # a timestamp too large to be milliseconds: was an OverflowError
@example("a 1 NaN\n", False)  # a NaN timestamp: was a ValueError of another kind
@example("a 1 -1e400\n", False)
@example("a 1 1e308\n# EOF\n", True)  # finite in seconds, infinite in milliseconds
@example("a 1 99999999999999999999\n# EOF\n", True)  # past int64 milliseconds
def test_near_valid_exposition(text: str, openmetrics: bool) -> None:
    for s in parses_or_explains(text, openmetrics):
        assert isinstance(s.ts_ms, int) and -(2**63) <= s.ts_ms < 2**63
        assert isinstance(s.value, float)


def same_value(a: float, b: float) -> bool:
    return (math.isnan(a) and math.isnan(b)) or (a == b and math.copysign(1, a) == math.copysign(1, b))


@fuzz()
@given(
    st.lists(valid_series(), min_size=1, max_size=6, unique_by=lambda s: (s[0], tuple(sorted(s[1].items())))),
    st.booleans(),
)
def test_valid_exposition_round_trips(series: list, openmetrics: bool) -> None:
    text = render_gauges(series, openmetrics)
    parsed = exposition.parse(text, default_ts_ms=123, openmetrics=openmetrics)
    # Families are written in the order names first appear, each family's samples in order.
    order = list(dict.fromkeys(name for name, *_ in series))
    expected = sorted(series, key=lambda s: order.index(s[0]))
    assert [(s.name, s.labels, s.ts_ms) for s in parsed] == [
        (name, make_labels(labels), 123 if ts is None else ts) for name, labels, _, ts in expected
    ]
    assert all(same_value(s.value, value) for s, (_, _, value, _) in zip(parsed, expected, strict=True))


@fuzz()
@given(st.from_regex(r"[a-zA-Z_:][a-zA-Z0-9_:]{0,12}", fullmatch=True), st.integers(0, 10**6))
def test_a_counter_keeps_its_exposed_name(name: str, value: int) -> None:
    """Counters exposed without ``_total`` (dcgm-exporter's) keep their name, as in Prometheus."""
    parsed = exposition.parse(f"# TYPE {name} counter\n{name} {value}\n", default_ts_ms=0)
    assert [(s.name, s.value) for s in parsed] == [(name, float(value))]
