"""The PromQL subset: what parses to which tree, and what is refused with which message where."""

from __future__ import annotations

import math
import string

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from monitoring.promql import (
    Aggregation,
    BinaryOp,
    Call,
    Comparison,
    Matcher,
    Node,
    NumberLiteral,
    PromQLError,
    RangeSelector,
    Selector,
    parse,
    parse_duration,
    parse_selector,
    selectors_of,
)


def refusal(text: str) -> PromQLError:
    with pytest.raises(PromQLError) as caught:
        parse(text)
    return caught.value


def assert_refused(text: str, message: str, position: int) -> None:
    error = refusal(text)
    assert (error.message, error.position) == (message, position)


def selector(metric: str | None, *matchers: tuple[str, str, str]) -> Selector:
    return Selector(metric, tuple(Matcher(*matcher) for matcher in matchers))


def rate_of(metric: str, window_s: float = 300.0) -> Call:
    return Call("rate", (RangeSelector(selector(metric), window_s),))


# --- Selectors ------------------------------------------------------------------------


def test_bare_metric_name_is_a_selector() -> None:
    assert parse("up") == selector("up")


def test_metric_name_with_empty_braces_is_the_same_selector() -> None:
    assert parse("up{}") == selector("up")


def test_metric_names_may_contain_colons() -> None:
    assert parse("job:http_requests:rate5m") == selector("job:http_requests:rate5m")


def test_all_four_matcher_operators_parse_in_order() -> None:
    node = parse('x{a="x", b!="y", c=~"v.*", d!~"w"}')
    assert node == selector("x", ("a", "=", "x"), ("b", "!=", "y"), ("c", "=~", "v.*"), ("d", "!~", "w"))


def test_trailing_comma_in_matchers_is_allowed() -> None:
    assert parse('x{a="1",}') == selector("x", ("a", "=", "1"))


def test_name_equality_matcher_becomes_the_metric_name() -> None:
    assert parse('{__name__="x", job="a"}') == selector("x", ("job", "=", "a"))


def test_name_regex_matcher_stays_a_matcher() -> None:
    assert parse('{__name__=~"x.*"}') == selector(None, ("__name__", "=~", "x.*"))


def test_name_inequality_matcher_stays_a_matcher() -> None:
    assert parse('{__name__!="x", job="a"}') == selector(None, ("__name__", "!=", "x"), ("job", "=", "a"))


def test_name_equality_with_an_invalid_metric_name_stays_a_matcher() -> None:
    assert parse('{__name__="a b"}') == selector(None, ("__name__", "=", "a b"))


def test_selector_position_is_its_first_character() -> None:
    node = parse('  {job="a"}')
    assert isinstance(node, Selector)
    assert node.position == 2


def test_label_names_may_be_keywords() -> None:
    assert parse('x{on="a", offset="b", inf="c"}') == selector(
        "x", ("on", "=", "a"), ("offset", "=", "b"), ("inf", "=", "c")
    )


def test_whitespace_and_comments_between_tokens_are_ignored() -> None:
    text = 'rate( # the rate\n  x { a = "b" , } [ 5m ]\n) # done'
    assert parse(text) == Call("rate", (RangeSelector(selector("x", ("a", "=", "b")), 300.0),))


def test_selector_matches_with_regex_and_missing_labels() -> None:
    node = parse('x{a=~"v.*", b!~"w", c=""}')
    assert isinstance(node, Selector)
    assert node.matches("x", {"a": "value"})
    assert not node.matches("x", {"a": "value", "b": "w"})
    assert not node.matches("y", {"a": "value"})


# --- Strings --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("literal", "value"),
    [
        (r'"a\\b"', "a\\b"),
        (r'"say \"hi\""', 'say "hi"'),
        (r"'it\'s'", "it's"),
        (r"'say \"hi\"'", 'say "hi"'),
        (r'"a\nb\tc\rd"', "a\nb\tc\rd"),
        (r'"\u00e9"', "é"),
        (r'"\U0001F600"', "\U0001f600"),
        (r'"\x41\xc3\xa9"', "Aé"),
        (r'"\101"', "A"),
        (r'"\a\b\f\v"', "\a\b\f\v"),
        ('"tab\there"', "tab\there"),
        ("'double \" inside single'", 'double " inside single'),
        (r"`raw \d+ \n`", r"raw \d+ \n"),
        ("`two\nlines`", "two\nlines"),
        ('"é"', "é"),
    ],
)
def test_string_escapes_decode_like_go(literal: str, value: str) -> None:
    assert parse(f"x{{a={literal}}}") == selector("x", ("a", "=", value))


def test_unknown_escape_is_refused_at_the_backslash() -> None:
    assert_refused(r'x{a="\q"}', "unknown escape sequence '\\q'", 5)


def test_short_hex_escape_is_refused() -> None:
    assert_refused(r'x{a="\u12"}', "escape sequence '\\u' needs 4 hex digits", 5)


def test_surrogate_unicode_escape_is_refused() -> None:
    assert_refused(r'x{a="\ud800"}', "escape sequence '\\ud800' is not a valid Unicode character", 5)


def test_bad_octal_escape_is_refused() -> None:
    assert_refused(r'x{a="\400"}', "an octal escape sequence needs three octal digits up to \\377", 5)


def test_hex_escape_bytes_must_form_utf8() -> None:
    assert_refused(r'x{a="\xff"}', "string is not valid UTF-8", 4)


def test_unterminated_double_quoted_string_is_refused_at_its_quote() -> None:
    assert_refused('x{a="b}', "unterminated string", 4)


def test_unterminated_single_quoted_string_is_refused_at_its_quote() -> None:
    assert_refused("x{a='b", "unterminated string", 4)


def test_newline_ends_a_quoted_string() -> None:
    assert_refused('x{a="b\n"}', "unterminated string", 4)


def test_backslash_at_the_end_is_an_unterminated_string() -> None:
    assert_refused('x{a="b\\', "unterminated string", 4)


def test_unterminated_raw_string_is_refused_at_its_backtick() -> None:
    assert_refused("x{a=`b}", "unterminated raw string", 4)


# --- Refused selectors ----------------------------------------------------------------


def test_empty_braces_without_name_are_refused() -> None:
    assert_refused("{}", "vector selector must contain at least one non-empty matcher", 0)


@pytest.mark.parametrize("matchers", ['a=""', 'a=~".*"', 'a!~"x"', 'a="", b=~"x?"', '__name__=""'])
def test_selector_whose_matchers_all_match_empty_is_refused(matchers: str) -> None:
    assert_refused(f" {{{matchers}}}", "vector selector must contain at least one non-empty matcher", 1)


def test_one_non_empty_matcher_is_enough() -> None:
    assert parse('{a="", b!=""}') == selector(None, ("a", "=", ""), ("b", "!=", ""))


def test_invalid_regex_is_refused_at_its_string() -> None:
    error = refusal('x{a=~"("}')
    assert error.position == 5
    assert error.message.startswith("invalid regular expression '('")


def test_metric_name_given_twice_is_refused() -> None:
    assert_refused('x{__name__="y"}', "metric name given twice: 'x' and 'y'", 2)


def test_label_name_with_colon_is_refused() -> None:
    assert_refused('x{a:b="c"}', "invalid label name 'a:b'", 2)


def test_double_equals_in_matcher_is_refused() -> None:
    assert_refused('x{a=="b"}', "unexpected '==', expected a matcher operator (=, !=, =~ or !~)", 3)


def test_unquoted_matcher_value_is_refused() -> None:
    assert_refused("x{a=b}", "unexpected identifier 'b', expected a quoted string after '='", 4)


def test_missing_comma_between_matchers_is_refused() -> None:
    assert_refused('x{a="1" b="2"}', "unexpected identifier 'b', expected ',' or '}'", 8)


def test_unclosed_brace_is_refused_at_the_brace() -> None:
    assert_refused('x{a="b"', "unclosed '{'", 1)


def test_unbalanced_closing_brace_is_refused() -> None:
    assert_refused("x}", "unbalanced '}'", 1)


# --- Ranges and durations -------------------------------------------------------------


def test_range_selector_inside_rate() -> None:
    assert parse("rate(x[5m])") == rate_of("x", 300.0)


@pytest.mark.parametrize(
    ("window", "seconds"),
    [("30s", 30.0), ("1h30m", 5400.0), ("500ms", 0.5), ("2d", 172800.0), ("1w", 604800.0), ("1y", 31536000.0)],
)
def test_range_durations_in_every_unit(window: str, seconds: float) -> None:
    assert parse(f"increase(x[{window}])") == Call("increase", (RangeSelector(selector("x"), seconds),))


def test_range_selector_at_the_top_level_is_refused() -> None:
    assert_refused("x[5m]", "a range selector needs a function such as rate()", 0)


def test_zero_range_is_refused() -> None:
    assert_refused("rate(x[0s])", "a range must be longer than zero", 7)


def test_negative_range_is_refused() -> None:
    assert_refused("rate(x[-5m])", "a range must be a positive duration such as 5m", 7)


def test_range_without_unit_is_refused() -> None:
    assert_refused("rate(x[300])", "a range needs a duration with a unit, such as [300s] or [5m]", 7)


def test_fractional_duration_is_refused() -> None:
    assert_refused("rate(x[1.5m])", "invalid number or duration '1.5m'", 7)


def test_duration_units_out_of_order_are_refused() -> None:
    error = refusal("rate(x[30m1h])")
    assert error.position == 7
    assert error.message.startswith("invalid duration '30m1h'")


def test_empty_range_is_refused() -> None:
    assert_refused("rate(x[])", "unexpected ']', expected a duration such as 5m", 7)


def test_unclosed_range_is_refused_at_the_bracket() -> None:
    assert_refused("rate(x[5m", "unclosed '['", 6)


def test_subquery_is_refused_at_the_colon() -> None:
    assert_refused("rate(x[5m:1m])", "subqueries are not supported", 9)


def test_subquery_without_step_is_refused() -> None:
    assert_refused("max_over_time(x[5m:])", "subqueries are not supported", 18)


def test_subquery_of_a_function_is_refused() -> None:
    assert_refused("rate(x[5m])[30m:1m]", "subqueries are not supported", 11)


def test_two_ranges_in_a_row_are_refused_as_a_subquery() -> None:
    assert_refused("rate(x[5m][1m])", "subqueries are not supported", 10)


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("15s", 15.0),
        ("5m", 300.0),
        ("1h30m", 5400.0),
        ("500ms", 0.5),
        ("2d", 172800.0),
        ("1w", 604800.0),
        ("1y", 365 * 86400.0),
        ("1d2h3m4s5ms", 93784.005),
        ("0s", 0.0),
        ("15", 15.0),
        ("1.5", 1.5),
        (".5", 0.5),
        ("1e3", 1000.0),
        (" 30s ", 30.0),
    ],
)
def test_parse_duration_accepts_prometheus_durations_and_seconds(text: str, seconds: float) -> None:
    assert parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "empty duration"),
        ("   ", "empty duration"),
        ("-5", "cannot be negative"),
        ("-5m", "cannot be negative"),
        ("30m1h", "largest first"),
        ("1.5h", "invalid duration"),
        ("5x", "invalid duration"),
        ("m", "invalid duration"),
        ("5 m", "invalid duration"),
        ("inf", "invalid duration"),
        ("nan", "invalid duration"),
        ("99999999999999999999y", "out of range"),
        ("9999999999999999999y", "out of range"),
        ("1e300", "out of range"),
    ],
)
def test_parse_duration_refuses_malformed_text_with_a_clear_message(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_duration(text)


# --- Numbers and comparisons ----------------------------------------------------------


@pytest.mark.parametrize(
    ("literal", "value"),
    [
        ("5", 5.0),
        ("0.95", 0.95),
        ("1.", 1.0),
        (".5", 0.5),
        ("1e3", 1000.0),
        ("2.5E-3", 0.0025),
        ("0x1f", 31.0),
        ("-3", -3.0),
        ("- 3", -3.0),
        ("+3", 3.0),
        ("Inf", math.inf),
        ("+Inf", math.inf),
        ("-Inf", -math.inf),
        ("inf", math.inf),
        ("INF", math.inf),
    ],
)
def test_comparison_thresholds_in_every_number_form(literal: str, value: float) -> None:
    assert parse(f"x > {literal}") == Comparison(">", selector("x"), value)


@pytest.mark.parametrize("literal", ["NaN", "nan", "NAN", "-NaN"])
def test_nan_threshold_is_nan_in_any_case(literal: str) -> None:
    node = parse(f"x != {literal}")
    assert isinstance(node, Comparison)
    assert math.isnan(node.threshold)


@pytest.mark.parametrize("op", [">", ">=", "<", "<=", "==", "!="])
def test_every_comparison_operator_at_the_top_level(op: str) -> None:
    assert parse(f"sum(x) {op} 1") == Comparison(op, Aggregation("sum", selector("x")), 1.0)


def test_comparison_after_trailing_grouping() -> None:
    assert parse("sum(x) by (le) > 5") == Comparison(">", Aggregation("sum", selector("x"), by=("le",)), 5.0)


def test_comparison_of_a_histogram_quantile() -> None:
    node = parse("histogram_quantile(0.99, sum by (le) (rate(x_bucket[5m]))) > 0.5")
    inner = Aggregation("sum", rate_of("x_bucket"), by=("le",))
    assert node == Comparison(">", Call("histogram_quantile", (NumberLiteral(0.99), inner)), 0.5)


def test_vector_to_vector_comparison_is_refused() -> None:
    assert_refused("a > b", "comparing two vectors is not supported; compare with a number, as in x > 5", 4)


def test_comparison_with_a_braced_selector_is_refused() -> None:
    assert_refused('a > {b="1"}', "comparing two vectors is not supported; compare with a number, as in x > 5", 4)


def test_bool_modifier_is_refused() -> None:
    assert_refused("x > bool 5", "the bool modifier is not supported", 4)


@pytest.mark.parametrize("keyword", ["on", "ignoring"])
def test_vector_matching_is_refused(keyword: str) -> None:
    assert_refused(f"a > {keyword}(job) b", f"vector matching with '{keyword}' is not supported", 4)


def test_group_left_is_refused() -> None:
    assert_refused("a > group_left b", "vector matching with 'group_left' is not supported", 4)


def test_comparison_inside_an_aggregation_is_refused() -> None:
    assert_refused("sum(x > 5)", "a comparison is only supported at the top level, as in sum(x) > 5", 6)


def test_comparison_inside_a_function_is_refused() -> None:
    assert_refused("absent(x > 5)", "a comparison is only supported at the top level, as in sum(x) > 5", 9)


def test_second_comparison_is_refused() -> None:
    assert_refused("x > 5 < 10", "only one comparison is supported", 6)


def test_number_on_the_left_of_a_comparison_is_refused() -> None:
    message = "a comparison needs a vector on the left and a number on the right, as in x > 5"
    assert_refused("5 < x", message, 0)


def test_hex_number_too_large_for_a_float_is_refused() -> None:
    error = refusal("x > 0x" + "f" * 300)
    assert (error.message.endswith("is out of range"), error.position) == (True, 4)


def test_missing_threshold_is_refused() -> None:
    assert_refused("x >", "unexpected end of expression, expected a number after '>'", 3)


def test_single_equals_outside_braces_is_refused() -> None:
    assert_refused("x = 5", "'=' is only for label matchers inside {...}; compare with '==' and a number", 2)


def test_number_glued_to_letters_is_refused() -> None:
    assert_refused("x > 5x", "invalid number or duration '5x'", 4)


# --- Functions ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "func",
    [
        "rate",
        "increase",
        "avg_over_time",
        "min_over_time",
        "max_over_time",
        "sum_over_time",
        "count_over_time",
        "last_over_time",
    ],
)
def test_range_functions_take_one_range_selector(func: str) -> None:
    assert parse(f"{func}(x[1m])") == Call(func, (RangeSelector(selector("x"), 60.0),))


def test_call_position_is_the_function_name() -> None:
    node = parse("sum(  rate(x[5m]))")
    assert isinstance(node, Aggregation)
    assert isinstance(node.expr, Call)
    assert node.expr.position == 6


def test_histogram_quantile_of_a_rate() -> None:
    node = parse("histogram_quantile(0.9, rate(x_bucket[5m]))")
    assert node == Call("histogram_quantile", (NumberLiteral(0.9), rate_of("x_bucket")))


def test_histogram_quantile_of_an_aggregation() -> None:
    node = parse("histogram_quantile(0.5, sum(rate(x_bucket[5m])) by (le, job))")
    inner = Aggregation("sum", rate_of("x_bucket"), by=("le", "job"))
    assert node == Call("histogram_quantile", (NumberLiteral(0.5), inner))


def test_absent_of_a_selector() -> None:
    assert parse('absent(up{job="api"})') == Call("absent", (selector("up", ("job", "=", "api")),))


def test_trailing_comma_in_arguments_is_allowed() -> None:
    assert parse("rate(x[5m],)") == rate_of("x")


def test_unsupported_function_is_refused_by_name() -> None:
    assert_refused("irate(x[5m])", "unsupported function 'irate'", 0)


def test_function_names_are_case_sensitive() -> None:
    assert_refused("sum(Rate(x[5m]))", "unsupported function 'Rate'", 4)


def test_unsupported_aggregation_is_refused_by_name() -> None:
    assert_refused("topk(5, x)", "unsupported aggregation 'topk'", 0)


def test_unsupported_aggregation_with_grouping_is_refused_by_name() -> None:
    assert_refused("quantile by (a) (0.5, x)", "unsupported aggregation 'quantile'", 0)


def test_rate_of_a_plain_selector_is_refused_at_the_argument() -> None:
    assert_refused("rate(x)", "rate() needs a range selector such as x[5m]", 5)


def test_rate_without_arguments_is_refused_at_the_function() -> None:
    assert_refused("  rate()", "rate() needs a range selector such as x[5m]", 2)


def test_rate_of_a_number_is_refused() -> None:
    assert_refused("increase(5)", "increase() needs a range selector such as x[5m]", 9)


def test_rate_with_two_arguments_is_refused_at_the_second() -> None:
    assert_refused("rate(x[5m], y[5m])", "rate() takes exactly one argument", 12)


def test_over_time_of_a_function_is_refused() -> None:
    assert_refused("max_over_time(rate(x[5m]))", "max_over_time() needs a range selector such as x[5m]", 14)


def test_histogram_quantile_needs_a_number_first() -> None:
    assert_refused(
        "histogram_quantile(x, y)", "histogram_quantile() needs a number such as 0.95 as its first argument", 19
    )


def test_histogram_quantile_needs_an_instant_vector_second() -> None:
    message = "histogram_quantile() needs an instant vector such as rate(x_bucket[5m]) as its second argument"
    assert_refused("histogram_quantile(0.9, x[5m])", message, 24)


def test_histogram_quantile_of_two_numbers_is_refused() -> None:
    message = "histogram_quantile() needs an instant vector such as rate(x_bucket[5m]) as its second argument"
    assert_refused("histogram_quantile(0.9, 1)", message, 24)


def test_histogram_quantile_with_one_argument_is_refused() -> None:
    message = "histogram_quantile() takes two arguments: a quantile such as 0.95 and an instant vector"
    assert_refused("histogram_quantile(0.9)", message, 0)


def test_histogram_quantile_with_three_arguments_is_refused_at_the_third() -> None:
    message = "histogram_quantile() takes two arguments: a quantile such as 0.95 and an instant vector"
    assert_refused("histogram_quantile(0.9, x, y)", message, 27)


def test_absent_of_a_range_selector_is_refused() -> None:
    assert_refused("absent(x[5m])", 'absent() needs a selector such as up{job="api"}', 7)


def test_absent_of_a_function_is_refused() -> None:
    assert_refused("absent(rate(x[5m]))", 'absent() needs a selector such as up{job="api"}', 7)


def test_unclosed_call_is_refused_at_its_parenthesis() -> None:
    assert_refused("rate(x[5m]", "unclosed '('", 4)


def test_missing_comma_between_arguments_is_refused() -> None:
    assert_refused("histogram_quantile(0.9 x)", "unexpected identifier 'x', expected ',' or ')'", 23)


def test_deep_nesting_is_refused_rather_than_overflowing_the_stack() -> None:
    error = refusal("sum(" * 200 + "x" + ")" * 200)
    assert error.message == "expression is nested too deeply"


# --- Aggregations ---------------------------------------------------------------------


@pytest.mark.parametrize("op", ["sum", "avg", "min", "max", "count"])
def test_every_aggregation_without_grouping(op: str) -> None:
    assert parse(f"{op}(x)") == Aggregation(op, selector("x"))


def test_grouping_before_the_operand() -> None:
    assert parse("sum by (le) (rate(x[5m]))") == Aggregation("sum", rate_of("x"), by=("le",))


def test_grouping_after_the_operand() -> None:
    assert parse("sum(rate(x[5m])) by (le)") == Aggregation("sum", rate_of("x"), by=("le",))


def test_without_grouping_with_several_labels() -> None:
    assert parse("avg without (instance, pod,) (x)") == Aggregation("avg", selector("x"), without=("instance", "pod"))


def test_empty_grouping_is_allowed() -> None:
    assert parse("count by () (x)") == Aggregation("count", selector("x"), by=())


def test_aggregation_keywords_are_case_insensitive() -> None:
    assert parse("SUM BY (le) (x)") == Aggregation("sum", selector("x"), by=("le",))


def test_nested_aggregations() -> None:
    assert parse("max(sum by (job) (x))") == Aggregation("max", Aggregation("sum", selector("x"), by=("job",)))


def test_aggregation_name_without_parenthesis_is_a_metric_name() -> None:
    assert parse('count{job="a"}') == selector("count", ("job", "=", "a"))


def test_aggregation_of_a_range_selector_is_refused() -> None:
    message = "sum() needs an instant vector; wrap the range selector in a function such as rate()"
    assert_refused("sum(x[5m])", message, 4)


def test_aggregation_with_two_arguments_is_refused() -> None:
    assert_refused("sum(x, y)", "sum() takes exactly one expression", 5)


def test_empty_aggregation_is_refused() -> None:
    assert_refused("avg()", "avg() needs an expression to aggregate", 4)


def test_grouping_twice_is_refused() -> None:
    assert_refused("sum by (a) (x) by (b)", "sum() is grouped twice", 15)


def test_grouping_without_parentheses_is_refused() -> None:
    assert_refused("sum by le (x)", "unexpected identifier 'le', expected '(' after by", 7)


def test_invalid_grouping_label_is_refused() -> None:
    assert_refused("sum by (a:b) (x)", "invalid label name 'a:b'", 8)


def test_aggregation_of_a_number_is_refused() -> None:
    assert_refused("sum(1)", "sum() needs an instant vector, not a number", 4)


# --- Refused constructs ---------------------------------------------------------------


@pytest.mark.parametrize(("text", "op"), [("a + b", "+"), ("x * 2", "*"), ("x / 2", "/"), ("sum(x) - sum(y)", "-")])
def test_the_four_arithmetic_operators_parse(text: str, op: str) -> None:
    node = parse(text)
    assert isinstance(node, BinaryOp)
    assert node.op == op


@pytest.mark.parametrize("op", ["%", "^"])
def test_every_other_arithmetic_operator_is_refused(op: str) -> None:
    assert_refused(f"sum(x) {op} sum(y)", f"arithmetic operator '{op}' is not supported", 7)


def test_arithmetic_on_a_range_selector_inside_a_function_is_refused() -> None:
    message = "arithmetic needs instant vectors; wrap the range selector in a function such as rate()"
    assert_refused("rate(x[5m] * 2)", message, 5)


def test_unary_minus_on_a_vector_is_minus_one_times_it() -> None:
    assert parse("-x") == BinaryOp("*", NumberLiteral(-1.0), selector("x"))


def test_offset_is_refused_with_its_position() -> None:
    assert_refused("x offset 5m", "the offset modifier is not supported", 2)


def test_offset_inside_rate_is_refused_with_its_position() -> None:
    assert_refused("rate(x[5m] offset 1h)", "the offset modifier is not supported", 11)


def test_at_modifier_is_refused_with_its_position() -> None:
    assert_refused("x @ 1609746000", "the @ modifier is not supported", 2)


@pytest.mark.parametrize("op", ["and", "or", "unless"])
def test_set_operators_are_refused(op: str) -> None:
    assert_refused(f"a {op} b", f"set operator '{op}' is not supported", 2)


def test_parenthesised_expression_is_the_expression() -> None:
    assert parse("(x)") == selector("x")


def test_unbalanced_closing_parenthesis_is_refused() -> None:
    assert_refused("sum(x))", "unbalanced ')'", 6)


def test_unclosed_aggregation_is_refused_at_its_parenthesis() -> None:
    assert_refused("sum by (le) (x", "unclosed '('", 12)


def test_unclosed_grouping_is_refused_at_its_parenthesis() -> None:
    assert_refused("sum by (le", "unclosed '('", 7)


def test_trailing_garbage_is_refused() -> None:
    assert_refused("up down", "unexpected identifier 'down', expected the end of the expression", 3)


def test_unexpected_character_is_refused() -> None:
    assert_refused("up;", "unexpected character ';'", 2)


def test_string_as_an_expression_is_refused() -> None:
    assert_refused('"up"', "a string can only be a label matcher value", 0)


@pytest.mark.parametrize(("text", "position"), [("", 0), ("   ", 3), ("# just a comment", 16)])
def test_empty_input_is_refused(text: str, position: int) -> None:
    assert_refused(text, "empty expression", position)


def test_error_string_includes_the_position() -> None:
    assert str(refusal("a % b")) == "arithmetic operator '%' is not supported at position 2"


def test_error_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="unsupported function"):
        parse("irate(x[5m])")


# --- parse_selector -------------------------------------------------------------------


def test_parse_selector_returns_a_selector() -> None:
    assert parse_selector('up{job="api"}') == selector("up", ("job", "=", "api"))


def test_parse_selector_accepts_only_matchers() -> None:
    assert parse_selector('{__name__="up"}') == selector("up")


@pytest.mark.parametrize(
    ("text", "message", "position"),
    [
        ("rate(x[5m])", "expected a selector, not a call of 'rate'", 0),
        ("sum(x)", "expected a selector, not a call of 'sum'", 0),
        ("x[5m]", "expected a selector without a range", 1),
        ("x > 5", "only one comparison is supported", 2),
        ("5", "expected a selector such as up{job=\"api\"}, found number '5'", 0),
        ("", "empty expression", 0),
        ("{}", "vector selector must contain at least one non-empty matcher", 0),
        ("x offset 5m", "the offset modifier is not supported", 2),
    ],
)
def test_parse_selector_refuses_anything_but_a_selector(text: str, message: str, position: int) -> None:
    with pytest.raises(PromQLError) as caught:
        parse_selector(text)
    assert (caught.value.message, caught.value.position) == (message, position)


def test_selectors_of_lists_every_selector_in_order() -> None:
    node = parse("histogram_quantile(0.9, sum by (le) (rate(a[5m]))) > 1")
    assert selectors_of(node) == [selector("a")]
    assert selectors_of(parse('absent(b{c="d"})')) == [selector("b", ("c", "=", "d"))]


# --- Round trips ----------------------------------------------------------------------

VALID_EXPRESSIONS = [
    "up",
    "up{}",
    'x{a="x", b!="y", c=~"v.*", d!~"w",}',
    '{__name__="x", job="a"}',
    '{__name__=~"x.*", job="a"}',
    '{__name__="a b"}',
    'x{a="quote \\" backslash \\\\ newline \\n tab \\t"}',
    "x{a='single'}",
    "x{a=`raw \\d+`}",
    'x{a="é \\u00e9 \\x41"}',
    "rate(x[5m])",
    "increase(x[1h30m])",
    "last_over_time(x[500ms])",
    "count_over_time(x[1y])",
    "sum_over_time(x[90s])",
    "sum by (le) (rate(x_bucket[5m]))",
    "sum(rate(x_bucket[5m])) by (le)",
    "avg without (instance) (x)",
    "count by () (x)",
    "max(min(x))",
    "histogram_quantile(0.95, sum by (le) (rate(x_bucket[5m])))",
    "histogram_quantile(-Inf, rate(x_bucket[5m]))",
    'absent(up{job="api"})',
    "sum(x) > 5",
    "x >= -1.5",
    "x <= 1e-05",
    "x == 1e300",
    "x != +Inf",
    "x < -Inf",
    "rate(x[5m]) > 0.25  # a comment",
    'count{job="a"}',
    'x{inf="a"}',
]


@pytest.mark.parametrize("text", VALID_EXPRESSIONS)
def test_rendered_expression_parses_to_the_same_tree(text: str) -> None:
    node = parse(text)
    assert parse(str(node)) == node


def test_nan_threshold_round_trips() -> None:
    node = parse("x > NaN")
    assert str(node) == "x > NaN"
    assert str(parse(str(node))) == "x > NaN"


def test_rendering_normalises_the_expression() -> None:
    assert str(parse('sum(rate({__name__="x", a=~"b"}[90s])) by (le) >= +Inf')) == (
        'sum by (le) (rate(x{a=~"b"}[1m30s])) >= Inf'
    )


# --- Properties -----------------------------------------------------------------------

FRAGMENTS = [
    *"(){}[],=!~<>+-*/%^@:#`'\" \n.",
    "x",
    "le",
    "5m",
    "0.9",
    "-",
    "1e3",
    "Inf",
    "NaN",
    '"a"',
    "'b'",
    "\\",
    "sum",
    "by",
    "without",
    "rate",
    "histogram_quantile",
    "absent",
    "avg_over_time",
    "irate",
    "offset",
    "bool",
    "on",
    "__name__",
    '=~"(',
]

TEXTS = st.one_of(
    st.text(),
    st.text(alphabet=string.printable),
    st.lists(st.sampled_from(FRAGMENTS), max_size=30).map("".join),
)


@settings(max_examples=500, deadline=None)
@given(TEXTS)
def test_parse_returns_a_node_or_raises_promql_error(text: str) -> None:
    try:
        node = parse(text)
    except PromQLError as error:
        assert 0 <= error.position <= len(text)
    else:
        assert parse(str(node)) == node or "NaN" in str(node)


@settings(max_examples=300, deadline=None)
@given(TEXTS)
def test_parse_selector_returns_a_selector_or_raises_promql_error(text: str) -> None:
    try:
        node = parse_selector(text)
    except PromQLError as error:
        assert 0 <= error.position <= len(text)
    else:
        assert isinstance(node, Selector)


@settings(max_examples=300, deadline=None)
@given(st.one_of(TEXTS, st.text(alphabet="0123456789.eEsmhdwy-+ ")))
def test_parse_duration_returns_seconds_or_raises_value_error(text: str) -> None:
    try:
        seconds = parse_duration(text)
    except ValueError:
        return
    assert seconds >= 0


LABEL_NAMES = st.from_regex(r"[a-zA-Z_][a-zA-Z0-9_]{0,5}", fullmatch=True)
METRIC_NAMES = st.from_regex(r"[a-zA-Z_:][a-zA-Z0-9_:]{0,8}", fullmatch=True).filter(
    lambda name: name.lower() not in ("inf", "nan")
)
MATCHERS = st.builds(Matcher, LABEL_NAMES, st.sampled_from(["=", "!="]), st.text(max_size=8))
SELECTORS = st.builds(
    lambda metric, matchers: Selector(metric, tuple(matchers)),
    METRIC_NAMES,
    st.lists(MATCHERS, max_size=3),
).filter(lambda node: not any(matcher.name == "__name__" and matcher.op == "=" for matcher in node.matchers))
WINDOWS = st.integers(min_value=1, max_value=10**10).map(lambda millis: millis / 1000)
RANGE_CALLS = st.builds(
    lambda func, selector, window: Call(func, (RangeSelector(selector, window),)),
    st.sampled_from(["rate", "increase", "avg_over_time", "last_over_time"]),
    SELECTORS,
    WINDOWS,
)
NUMBERS = st.floats(allow_nan=False)


def _aggregations(inner: st.SearchStrategy[Node]) -> st.SearchStrategy[Node]:
    grouping = st.one_of(st.none(), st.lists(LABEL_NAMES, max_size=3).map(tuple))
    return st.one_of(
        st.builds(Aggregation, st.sampled_from(["sum", "avg", "min", "max", "count"]), inner, by=grouping),
        st.builds(Aggregation, st.sampled_from(["sum", "count"]), inner, without=grouping),
        st.builds(lambda q, vector: Call("histogram_quantile", (NumberLiteral(q), vector)), NUMBERS, inner),
    )


VECTORS = st.recursive(st.one_of(SELECTORS, RANGE_CALLS), _aggregations, max_leaves=5)
EXPRESSIONS = st.one_of(
    VECTORS,
    st.builds(Comparison, st.sampled_from([">", ">=", "<", "<=", "==", "!="]), VECTORS, NUMBERS),
)


@settings(max_examples=300, deadline=None)
@given(EXPRESSIONS)
def test_every_generated_tree_renders_to_text_that_parses_back_to_it(node: Node) -> None:
    assert parse(str(node)) == node


# --- Arithmetic -----------------------------------------------------------------------

A, B, C = selector("a"), selector("b"), selector("c")


def test_multiplication_binds_tighter_than_addition() -> None:
    assert parse("a + b * c") == BinaryOp("+", A, BinaryOp("*", B, C))
    assert parse("a * b + c") == BinaryOp("+", BinaryOp("*", A, B), C)
    assert parse("a - b / c") == BinaryOp("-", A, BinaryOp("/", B, C))


def test_parentheses_override_precedence() -> None:
    assert parse("(a + b) * c") == BinaryOp("*", BinaryOp("+", A, B), C)
    assert parse("a / (b - c)") == BinaryOp("/", A, BinaryOp("-", B, C))
    assert parse("((a))") == A


@pytest.mark.parametrize("op", ["+", "-", "*", "/"])
def test_operators_of_one_precedence_are_left_associative(op: str) -> None:
    assert parse(f"a {op} b {op} c") == BinaryOp(op, BinaryOp(op, A, B), C)


def test_mixed_operators_of_one_precedence_are_left_associative() -> None:
    assert parse("a - b + c") == BinaryOp("+", BinaryOp("-", A, B), C)
    assert parse("a / b * c") == BinaryOp("*", BinaryOp("/", A, B), C)


def test_unary_minus_binds_tighter_than_multiplication() -> None:
    minus_a = BinaryOp("*", NumberLiteral(-1.0), A)
    assert parse("-a * b") == BinaryOp("*", minus_a, B)
    assert parse("b * -a") == BinaryOp("*", B, minus_a)
    assert parse("-(a + b)") == BinaryOp("*", NumberLiteral(-1.0), BinaryOp("+", A, B))


def test_unary_minus_twice_negates_twice() -> None:
    assert parse("- -a") == BinaryOp("*", NumberLiteral(-1.0), BinaryOp("*", NumberLiteral(-1.0), A))


def test_unary_plus_changes_nothing() -> None:
    assert parse("+a") == A
    assert parse("a - +b") == BinaryOp("-", A, B)


def test_unary_minus_on_a_number_is_a_negative_number() -> None:
    assert parse("-5") == NumberLiteral(-5.0)
    assert parse("a * -2") == BinaryOp("*", A, NumberLiteral(-2.0))
    assert parse("- - 5") == NumberLiteral(5.0)


@pytest.mark.parametrize(
    ("text", "value"),
    [("1 + 2 * 3", 7.0), ("(1 + 2) * 3", 9.0), ("10 - 4 - 3", 3.0), ("1 / 0", math.inf), ("-1 / 0", -math.inf)],
)
def test_operations_on_numbers_are_folded(text: str, value: float) -> None:
    assert parse(text) == NumberLiteral(value)


def test_zero_divided_by_zero_folds_to_nan() -> None:
    node = parse("0 / 0")
    assert isinstance(node, NumberLiteral)
    assert math.isnan(node.value)
    assert parse("0 / 0") == parse("NaN")


def test_division_by_negative_zero_keeps_the_sign() -> None:
    assert parse("1 / -0") == NumberLiteral(-math.inf)
    assert str(parse("a / -0")) == "a / -0"


def test_numbers_combine_with_vectors_without_folding() -> None:
    assert parse("2 * a + 1") == BinaryOp("+", BinaryOp("*", NumberLiteral(2.0), A), NumberLiteral(1.0))
    assert parse("a * (1 + 1)") == BinaryOp("*", A, NumberLiteral(2.0))


def test_a_number_alone_is_a_query() -> None:
    assert parse("5") == NumberLiteral(5.0)
    assert parse("-Inf") == NumberLiteral(-math.inf)
    assert parse("(1 + 2) * 3") == NumberLiteral(9.0)


def test_on_modifier_lists_the_matching_labels() -> None:
    assert parse("a / on(model) b") == BinaryOp("/", A, B, on=("model",))
    assert parse("a / ON (model, pod,) b") == BinaryOp("/", A, B, on=("model", "pod"))
    assert parse("a + on() b") == BinaryOp("+", A, B, on=())


def test_ignoring_modifier_lists_the_ignored_labels() -> None:
    assert parse("a - ignoring(pod) b") == BinaryOp("-", A, B, ignoring=("pod",))


def test_modifier_belongs_to_its_own_operator() -> None:
    assert parse("a * on(x) b + c") == BinaryOp("+", BinaryOp("*", A, B, on=("x",)), C)
    assert parse("a + b * ignoring(x) c") == BinaryOp("+", A, BinaryOp("*", B, C, ignoring=("x",)))


def test_on_without_parenthesis_is_a_metric_name() -> None:
    assert parse("a + on") == BinaryOp("+", A, selector("on"))


def test_comparison_of_an_error_ratio() -> None:
    text = "sum by (model) (rate(failed_total[5m])) / sum by (model) (rate(requests_total[5m])) > 0.05"
    failed = Aggregation("sum", rate_of("failed_total"), by=("model",))
    requests = Aggregation("sum", rate_of("requests_total"), by=("model",))
    assert parse(text) == Comparison(">", BinaryOp("/", failed, requests), 0.05)


def test_comparison_threshold_may_be_arithmetic_on_numbers() -> None:
    assert parse("a > 2 * 0.25") == Comparison(">", A, 0.5)
    assert parse("a - b <= (1 - 3)") == Comparison("<=", BinaryOp("-", A, B), -2.0)


def test_comparison_binds_loosest() -> None:
    assert parse("a + b > 1 + 1") == Comparison(">", BinaryOp("+", A, B), 2.0)


def test_arithmetic_inside_an_aggregation() -> None:
    node = parse("sum(rate(a[5m])) / sum(rate(b[5m]) * 2)")
    right = Aggregation("sum", BinaryOp("*", rate_of("b"), NumberLiteral(2.0)))
    assert node == BinaryOp("/", Aggregation("sum", rate_of("a")), right)


def test_arithmetic_as_the_histogram_quantile_vector() -> None:
    node = parse("histogram_quantile(0.9, rate(a_bucket[5m]) / 2)")
    assert node == Call(
        "histogram_quantile", (NumberLiteral(0.9), BinaryOp("/", rate_of("a_bucket"), NumberLiteral(2.0)))
    )


def test_histogram_quantile_quantile_may_be_arithmetic_on_numbers() -> None:
    assert parse("histogram_quantile(1 - 0.25, a)") == Call("histogram_quantile", (NumberLiteral(0.75), A))


def test_selectors_of_descends_into_arithmetic() -> None:
    node = parse('a / on(x) sum(rate(b{c="d"}[5m])) - -c > 1')
    assert selectors_of(node) == [A, selector("b", ("c", "=", "d")), C]


def test_binary_op_refuses_both_on_and_ignoring() -> None:
    with pytest.raises(ValueError, match="not both"):
        BinaryOp("+", A, B, on=("x",), ignoring=("y",))
    with pytest.raises(ValueError, match="unknown arithmetic operator"):
        BinaryOp("%", A, B)


# --- Arithmetic: refusals ---------------------------------------------------------------

RANGE_IN_ARITHMETIC = "arithmetic needs instant vectors; wrap the range selector in a function such as rate()"


@pytest.mark.parametrize(
    ("text", "message", "position"),
    [
        (
            "a * on(x) group_left b",
            "'group_left' (many-to-one matching) is not supported; only one-to-one matching is",
            10,
        ),
        (
            "a * ignoring(x) group_right(y) b",
            "'group_right' (many-to-one matching) is not supported; only one-to-one matching is",
            16,
        ),
        ("a + group_left b", "'group_left' (many-to-one matching) is not supported; only one-to-one matching is", 4),
        ("a + bool b", "the bool modifier is not supported", 4),
        ("a * on(x) 2", "'on' is only allowed between two vectors", 4),
        ("2 / ignoring(x) a", "'ignoring' is only allowed between two vectors", 4),
        ("a + on(x) ignoring(y) b", "give either on(...) or ignoring(...), not both", 10),
        ("a + b % c", "arithmetic operator '%' is not supported", 6),
        ("(a + b) ^ 2", "arithmetic operator '^' is not supported", 8),
        ("a + b and c", "set operator 'and' is not supported", 6),
        ("a * (b or c)", "set operator 'or' is not supported", 7),
        ("a + b offset 5m", "the offset modifier is not supported", 6),
        ("rate(a[5m] offset 1m) / 2", "the offset modifier is not supported", 11),
        ("a / b @ 100", "the @ modifier is not supported", 6),
        ("(a + b)[5m:1m]", "subqueries are not supported", 7),
        ("a + b[5m]", RANGE_IN_ARITHMETIC, 4),
        ("-a[5m]", RANGE_IN_ARITHMETIC, 1),
        ("2 * (a[5m])", RANGE_IN_ARITHMETIC, 5),
        ("irate(a[5m]) / 2", "unsupported function 'irate'", 0),
        ("a / topk(3, b)", "unsupported aggregation 'topk'", 4),
        ("sum(a + 1 > 2)", "a comparison is only supported at the top level, as in sum(x) > 5", 10),
        ("(a > 1) + b", "a comparison is only supported at the top level, as in sum(x) > 5", 3),
        ("a / b > c", "comparing two vectors is not supported; compare with a number, as in x > 5", 8),
        ("a > 1 + b", "comparing two vectors is not supported; compare with a number, as in x > 5", 4),
        ("a / b > bool 1", "the bool modifier is not supported", 8),
        ("a > on(x) 1", "vector matching with 'on' is not supported", 4),
        ("1 + 1 > a", "a comparison needs a vector on the left and a number on the right, as in x > 5", 0),
        ("sum(2 * 3)", "sum() needs an instant vector, not a number", 4),
        ("rate(a[5m] / 2)", RANGE_IN_ARITHMETIC, 5),
        ("rate(-a[5m])", RANGE_IN_ARITHMETIC, 6),
        ("increase(2 * 3)", "increase() needs a range selector such as x[5m]", 9),
        ("absent(a + 1)", 'absent() needs a selector such as up{job="api"}', 7),
        (
            "histogram_quantile(0.5, 1 + 1)",
            "histogram_quantile() needs an instant vector such as rate(x_bucket[5m]) as its second argument",
            24,
        ),
        ("histogram_quantile(a * 2, b)", "histogram_quantile() needs a number such as 0.95 as its first argument", 19),
        ("a +", "unexpected end of expression, expected a selector, function call, aggregation, number or '('", 3),
        ("a * )", "unexpected ')', expected a selector, function call, aggregation, number or '('", 4),
        ("(a + b", "unclosed '('", 0),
        ("()", "unexpected ')', expected a selector, function call, aggregation, number or '('", 1),
        ("a + b)", "unbalanced ')'", 5),
        ('a + "b"', "a string can only be a label matcher value", 4),
    ],
)
def test_arithmetic_refusals_name_the_construct_and_position(text: str, message: str, position: int) -> None:
    assert_refused(text, message, position)


def test_long_operator_chains_are_refused_rather_than_overflowing_the_stack() -> None:
    assert refusal("x" + " + x" * 60).message == "expression is nested too deeply"
    assert refusal("-" * 200 + "x").message == "expression is nested too deeply"
    assert refusal("(" * 200 + "x" + ")" * 200).message == "expression is nested too deeply"


def test_many_signs_on_a_number_fold_without_nesting() -> None:
    assert parse("-" * 1001 + "5") == NumberLiteral(-5.0)


def test_a_chain_within_the_limit_parses() -> None:
    node = parse("x" + " + x" * 40)
    assert isinstance(node, BinaryOp)
    assert parse(str(node)) == node


# --- Arithmetic: rendering --------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "rendered"),
    [
        ("a+b*c", "a + b * c"),
        ("(a+b)*c", "(a + b) * c"),
        ("a-(b-c)", "a - (b - c)"),
        ("(a-b)-c", "a - b - c"),
        ("a/(b*c)", "a / (b * c)"),
        ("-a", "-a"),
        ("-1 * a", "-a"),
        ("-(a + b)", "-(a + b)"),
        ("- -a", "-(-a)"),
        ("a*-b", "a * -b"),
        ("a/on(x,y)b", "a / on(x, y) b"),
        ("a-ignoring()b", "a - ignoring() b"),
        ("sum(a)/sum(b)>0.5", "sum (a) / sum (b) > 0.5"),
        ('a + {__name__="bool"}', 'a + {__name__="bool"}'),
    ],
)
def test_arithmetic_renders_with_parentheses_only_where_needed(text: str, rendered: str) -> None:
    assert str(parse(text)) == rendered


VALID_ARITHMETIC = [
    "a + b * c",
    "(a + b) * c",
    "a - b - c",
    "a - (b - c)",
    "a / b / c",
    "a / (b / c)",
    "-a",
    "- -a",
    "-a * -b",
    "-(a * b)",
    "a - -5",
    "a * -0",
    "-Inf * a",
    "NaN / a",
    "a / on(model) b",
    "a + ignoring(pod, instance) b - on() c",
    "sum by (model) (rate(f[5m])) / sum by (model) (rate(t[5m])) > 0.05",
    "1 - avg by (instance) (rate(idle[1m]))",
    "histogram_quantile(0.9, rate(a_bucket[5m]) * 2)",
    "sum(a / b) by (x) - 1 <= -NaN",
    "a + on",
    "5",
    "-1e300",
]


@pytest.mark.parametrize("text", VALID_ARITHMETIC)
def test_rendered_arithmetic_parses_to_the_same_tree(text: str) -> None:
    node = parse(text)
    assert parse(str(node)) == node


ARITHMETIC_FRAGMENTS = [*FRAGMENTS, "on(x)", "ignoring(le)", "group_left", "+", "*", "/", "(", ")", "-", " "]


@settings(max_examples=500, deadline=None)
@given(st.lists(st.sampled_from(ARITHMETIC_FRAGMENTS), max_size=30).map("".join))
def test_arithmetic_text_parses_to_a_round_tripping_tree_or_a_positioned_error(text: str) -> None:
    try:
        node = parse(text)
    except PromQLError as error:
        assert 0 <= error.position <= len(text)
    else:
        assert parse(str(node)) == node


OPERATORS = st.sampled_from(["+", "-", "*", "/"])
LABEL_LISTS = st.lists(LABEL_NAMES, max_size=3).map(tuple)
MATCHING = st.one_of(
    st.just({}), LABEL_LISTS.map(lambda labels: {"on": labels}), LABEL_LISTS.map(lambda labels: {"ignoring": labels})
)
NUMBER_LITERALS = NUMBERS.map(NumberLiteral)


def _with_number(op: str, number: NumberLiteral, vector: Node, number_first: bool) -> BinaryOp:
    return BinaryOp(op, number, vector) if number_first else BinaryOp(op, vector, number)


def _arithmetic(inner: st.SearchStrategy[Node]) -> st.SearchStrategy[Node]:
    return st.one_of(
        st.builds(
            lambda op, left, right, matching: BinaryOp(op, left, right, **matching), OPERATORS, inner, inner, MATCHING
        ),
        st.builds(_with_number, OPERATORS, NUMBER_LITERALS, inner, st.booleans()),
        inner.map(lambda vector: BinaryOp("*", NumberLiteral(-1.0), vector)),
        _aggregations(inner),
    )


ARITHMETIC_VECTORS = st.recursive(st.one_of(SELECTORS, RANGE_CALLS), _arithmetic, max_leaves=8)
ARITHMETIC_EXPRESSIONS = st.one_of(
    ARITHMETIC_VECTORS,
    NUMBER_LITERALS,
    st.builds(Comparison, st.sampled_from([">", ">=", "<", "<=", "==", "!="]), ARITHMETIC_VECTORS, NUMBERS),
)


@settings(max_examples=500, deadline=None)
@given(ARITHMETIC_EXPRESSIONS)
def test_every_generated_arithmetic_tree_renders_to_text_that_parses_back_to_it(node: Node) -> None:
    assert parse(str(node)) == node
