"""Silence and inhibition matchers: parsed by the PromQL parser, matched as in Alertmanager."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from alerts.matchers import format_matchers, matches, parse_matchers
from monitoring.promql import Matcher, PromQLError

ALERT = {"alertname": "GpuTooHot", "model": "llama", "severity": "warning", "node": "gpu-1"}


def refusal(text: str) -> PromQLError:
    with pytest.raises(PromQLError) as caught:
        parse_matchers(text)
    return caught.value


# --- Parsing ---------------------------------------------------------------------------------


def test_with_and_without_braces_give_the_same_matchers() -> None:
    expected = (
        Matcher("model", "=", "llama"),
        Matcher("severity", "=~", "warn.*"),
        Matcher("node", "!=", "gpu-3"),
        Matcher("job", "!~", "test|dev"),
    )
    text = 'model="llama", severity=~"warn.*", node!="gpu-3", job!~"test|dev"'
    assert parse_matchers(text) == expected
    assert parse_matchers("{" + text + "}") == expected
    assert parse_matchers("  {" + text + "}  ") == expected


def test_strings_are_read_as_promql_strings() -> None:
    assert parse_matchers(r'msg="say \"hi\"\n"') == (Matcher("msg", "=", 'say "hi"\n'),)
    assert parse_matchers("path=`C:\\tmp`") == (Matcher("path", "=", "C:\\tmp"),)
    assert parse_matchers("model='llama'") == (Matcher("model", "=", "llama"),)


def test_alertname_and_name_are_ordinary_labels() -> None:
    assert parse_matchers('alertname="GpuTooHot"') == (Matcher("alertname", "=", "GpuTooHot"),)
    assert parse_matchers('job="x", __name__="up"') == (Matcher("__name__", "=", "up"), Matcher("job", "=", "x"))
    assert parse_matchers('{__name__="up"}') == (Matcher("__name__", "=", "up"),)
    assert parse_matchers('__name__=~"up|down"') == (Matcher("__name__", "=~", "up|down"),)


def test_a_trailing_comma_and_a_comment_are_allowed() -> None:
    assert parse_matchers('model="llama",') == (Matcher("model", "=", "llama"),)
    assert parse_matchers('model="llama" # the big one') == (Matcher("model", "=", "llama"),)


# --- Matching --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('model="llama"', True),
        ('model="mistral"', False),
        ('model!="mistral"', True),
        ('model!="llama"', False),
        ('severity=~"warn.*"', True),
        ('severity=~"crit.*"', False),
        ('severity!~"crit.*"', True),
        ('severity!~"warn.*"', False),
        ('alertname="GpuTooHot", node=~"gpu-[0-9]+"', True),
        ('alertname="GpuTooHot", node=~"cpu-.*"', False),
    ],
)
def test_each_operator(text: str, expected: bool) -> None:
    # The anchor keeps != and !~ from being refused as matching every alert on their own.
    assert matches(parse_matchers(f'alertname="GpuTooHot", {text}'), ALERT) is expected


def test_regexes_are_anchored_at_both_ends() -> None:
    assert not matches(parse_matchers('model=~"lla"'), ALERT)
    assert not matches(parse_matchers('model=~"ama"'), ALERT)
    assert matches(parse_matchers('model=~"l+ama"'), ALERT)
    assert matches(parse_matchers('model="llama", model!~"lla"'), ALERT)
    # An alternation is anchored as a whole, not just its first and last branches.
    assert not matches(parse_matchers('model=~"x|lla"'), ALERT)


def test_a_missing_label_matches_as_empty_text() -> None:
    assert matches(parse_matchers('model="llama", team=""'), ALERT)
    assert matches(parse_matchers('model="llama", team!="ml"'), ALERT)
    assert matches(parse_matchers('model="llama", team=~"ml|"'), ALERT)
    assert not matches(parse_matchers('team="ml"'), ALERT)
    assert not matches(parse_matchers('team=~".+"'), ALERT)
    assert matches(parse_matchers('model="llama", team!~".+"'), ALERT)


def test_all_matchers_must_match() -> None:
    found = parse_matchers('model="llama", severity="critical"')
    assert not matches(found, ALERT)
    assert matches(found, {**ALERT, "severity": "critical"})


# --- Refusals ---------------------------------------------------------------------------------


@pytest.mark.parametrize("text", ["", "   ", "{}", "{ }", " { } "])
def test_an_empty_list_is_refused(text: str) -> None:
    error = refusal(text)
    assert "empty matcher list" in error.message
    assert error.position == 0


@pytest.mark.parametrize("text", ['job=~".*", team=""', 'model!="llama"', 'severity!~"crit.*"'])
def test_matchers_that_all_accept_a_missing_label_are_refused(text: str) -> None:
    # As in Alertmanager: such a silence would also silence alerts that lack these labels.
    error = refusal(text)
    assert "at least one must not" in error.message


@pytest.mark.parametrize(
    ("text", "message", "position"),
    [
        ('model=="llama"', "unexpected '==', expected a matcher operator (=, !=, =~ or !~)", 5),
        ("model=", "unexpected end of the matchers, expected a quoted string after '='", 6),
        ("model", "unexpected end of the matchers, expected a matcher operator (=, !=, =~ or !~)", 5),
        ('model="llama", severity=~"("', "invalid regular expression '(': missing )", 25),
        ('model="llama" severity="x"', "unexpected identifier 'severity', expected ',' or '}'", 14),
        ('model="llama"}', "'}' without an opening '{'", 13),
        ('{model="llama"} x', "unexpected identifier 'x', expected the end of the expression", 16),
        ('model="llama', "unterminated string", 6),
        ('1model="x"', "invalid number or duration '1model'", 0),
        ('up{model="llama"}', "unexpected '{', expected a matcher operator (=, !=, =~ or !~)", 2),
    ],
)
def test_errors_name_the_problem_and_its_position_in_the_text(text: str, message: str, position: int) -> None:
    error = refusal(text)
    assert (error.message, error.position) == (message, position)
    assert isinstance(error, ValueError)


def test_a_braced_list_keeps_its_own_positions() -> None:
    error = refusal('{model="llama", x}')
    assert error.position == 17


# --- Round trip -------------------------------------------------------------------------------


def test_format_writes_braces_and_reads_back() -> None:
    found = parse_matchers('model="llama", msg="a \\"b\\"\\n", severity=~"warn.*"')
    text = format_matchers(found)
    assert text == '{model="llama", msg="a \\"b\\"\\n", severity=~"warn.*"}'
    assert parse_matchers(text) == found


_label_names = st.from_regex(r"[a-zA-Z_][a-zA-Z0-9_]{0,10}", fullmatch=True)
_equality = st.builds(Matcher, _label_names, st.sampled_from(["=", "!="]), st.text(max_size=20))
_regex = st.builds(Matcher, _label_names, st.sampled_from(["=~", "!~"]), st.sampled_from(["a.*", "b|c", ".+", "x?"]))


@given(st.lists(st.one_of(_equality, _regex), max_size=6))
def test_round_trip_for_any_matchers(extra: list[Matcher]) -> None:
    found = (Matcher("alertname", "=", "Anchor"), *(m for m in extra if m.name != "__name__"))
    assert parse_matchers(format_matchers(found)) == found


@given(st.text(max_size=40))
def test_any_text_parses_or_raises_a_value_error_with_a_position(text: str) -> None:
    try:
        found = parse_matchers(text)
    except PromQLError as exc:
        assert 0 <= exc.position <= len(text)
    else:
        assert found
        assert parse_matchers(format_matchers(found)) == found
