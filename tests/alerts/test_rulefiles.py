"""Prometheus rule files: import into Opsboard's rule dicts, export back, refuse the rest by name."""

from __future__ import annotations

import math
import string
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from alerts.rulefiles import export_rules, parse_rule_file
from alerts.templating import from_prometheus
from monitoring.promql import Comparison, PromQLError, parse

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "rules"


def fixture(name: str) -> str:
    return (FIXTURES / name).read_text(encoding="utf-8")


def only_error(text: str) -> str:
    result = parse_rule_file(text)
    assert result.rules == []
    assert len(result.errors) == 1, result.errors
    return result.errors[0]


def one_rule(rule_yaml: str) -> dict[str, Any]:
    result = parse_rule_file("groups:\n  - name: g\n    rules:\n" + _indent(rule_yaml, 6))
    assert result.errors == []
    (rule,) = result.rules
    return rule


def rule_error(rule_yaml: str) -> str:
    result = parse_rule_file("groups:\n  - name: g\n    rules:\n" + _indent(rule_yaml, 6))
    assert result.rules == []
    (error,) = result.errors
    return error


def _indent(text: str, spaces: int) -> str:
    return "".join(" " * spaces + line + "\n" for line in text.strip("\n").splitlines())


# --- Import -----------------------------------------------------------------------------------


def test_a_realistic_rule_file_imports_completely() -> None:
    result = parse_rule_file(fixture("gpu_serving.rules.yml"))
    assert result.errors == []
    assert [(rule["group"], rule["name"]) for rule in result.rules] == [
        ("gpu", "GpuTooHot"),
        ("gpu", "GpuMemoryNearlyFull"),
        ("serving", "TargetDown"),
        ("serving", "HighErrorRatio"),
        ("serving", "SlowP95Latency"),
        ("serving", "TrainerMetricsAbsent"),
    ]
    assert result.rules[0] == {
        "name": "GpuTooHot",
        "group": "gpu",
        "expression": "avg_over_time(nvidia_gpu_temperature_celsius[5m])",
        "condition": {"kind": "threshold", "op": ">", "value": 85.0},
        "for_s": 600,
        "severity": "critical",
        "labels": {"team": "ml-platform"},
        "annotations": {"summary": 'GPU {{ labels.gpu }} on {{ labels.node }} is at {{ value | printf "%.1f" }} °C'},
        "runbook_url": "https://runbooks.example.test/gpu/too-hot",
        "description": "The five-minute average temperature of {{ labels.gpu }} is above 85 °C.",
    }


def test_thresholds_keep_the_expression_and_the_comparison_apart() -> None:
    rules = {rule["name"]: rule for rule in parse_rule_file(fixture("gpu_serving.rules.yml")).rules}
    latency = rules["SlowP95Latency"]
    assert latency["expression"] == "histogram_quantile(0.95, sum by (le) (rate(request_duration_seconds_bucket[5m])))"
    assert latency["condition"] == {"kind": "threshold", "op": ">", "value": 0.5}
    assert latency["for_s"] == 5400
    assert rules["TargetDown"]["expression"] == 'up{job="model-server"}'
    assert rules["TargetDown"]["condition"] == {"kind": "threshold", "op": "==", "value": 0.0}
    assert rules["GpuMemoryNearlyFull"]["expression"] == "max by (node, gpu) (nvidia_gpu_memory_used_ratio)"
    assert rules["GpuMemoryNearlyFull"]["condition"]["op"] == ">="


def test_absent_becomes_an_absent_rule_with_prometheus_lookback() -> None:
    rules = {rule["name"]: rule for rule in parse_rule_file(fixture("gpu_serving.rules.yml")).rules}
    absent = rules["TrainerMetricsAbsent"]
    assert absent["expression"] == 'up{job="trainer"}'
    assert absent["condition"] == {"kind": "absent", "seconds": 300}
    assert absent["description"] == "No scrape of the trainer for five minutes."
    assert absent["annotations"] == {}


@pytest.mark.parametrize(
    ("labels", "severity", "kept"),
    [
        ("{severity: critical}", "critical", {}),
        ("{severity: warning}", "warning", {}),
        ("{severity: info, team: ml}", "info", {"team": "ml"}),
        ("{severity: page}", "warning", {"severity": "page"}),
        ("{severity: Critical}", "warning", {"severity": "Critical"}),
        ("{team: ml}", "warning", {"team": "ml"}),
        ("{}", "warning", {}),
    ],
)
def test_severity_comes_from_the_label_when_opsboard_knows_it(labels: str, severity: str, kept: dict) -> None:
    rule = one_rule(f"- alert: A\n  expr: up == 0\n  labels: {labels}")
    assert (rule["severity"], rule["labels"]) == (severity, kept)


def test_templates_are_translated_everywhere() -> None:
    rule = one_rule(
        """
- alert: A
  expr: up == 0
  labels: {instance_copy: "{{ $labels.instance }}"}
  annotations:
    summary: "{{ $labels.job }} is {{ $value }}"
    description: "{{$value | humanize}} down"
    other: '{{ printf "%.2f" $value }}'
"""
    )
    assert rule["labels"] == {"instance_copy": "{{ labels.instance }}"}
    assert rule["annotations"] == {"summary": "{{ labels.job }} is {{ value }}", "other": '{{ printf "%.2f" $value }}'}
    assert rule["description"] == "{{value | humanize}} down"
    assert rule["runbook_url"] == ""


def test_missing_for_labels_and_annotations_take_defaults() -> None:
    rule = one_rule("- alert: A\n  expr: up == 0")
    assert (rule["for_s"], rule["labels"], rule["annotations"]) == (0, {}, {})
    assert (rule["severity"], rule["runbook_url"], rule["description"]) == ("warning", "", "")


def test_numbers_in_labels_are_taken_as_their_text() -> None:
    rule = one_rule("- alert: A\n  expr: up == 0\n  labels: {priority: 1, weight: 0.5}")
    assert rule["labels"] == {"priority": "1", "weight": "0.5"}


def test_group_labels_are_added_to_each_rule() -> None:
    text = """
groups:
  - name: g
    labels: {team: ml, severity: critical}
    rules:
      - {alert: A, expr: up == 0}
      - {alert: B, expr: up == 0, labels: {team: infra}}
"""
    first, second = parse_rule_file(text).rules
    assert (first["labels"], first["severity"]) == ({"team": "ml"}, "critical")
    assert (second["labels"], second["severity"]) == ({"team": "infra"}, "critical")


@pytest.mark.parametrize(
    ("written", "seconds"), [("5m", 300), ("1h30m", 5400), ("0s", 0), ("90", 90), (0, 0), (30, 30)]
)
def test_for_is_a_prometheus_duration(written: Any, seconds: int) -> None:
    assert one_rule(f"- alert: A\n  expr: up == 0\n  for: {written}")["for_s"] == seconds


def test_thresholds_may_be_negative_or_infinite() -> None:
    assert one_rule("- alert: A\n  expr: x < -5")["condition"]["value"] == -5.0
    assert one_rule("- alert: A\n  expr: x >= Inf")["condition"]["value"] == math.inf
    assert one_rule("- alert: A\n  expr: x != 1e3")["condition"] == {"kind": "threshold", "op": "!=", "value": 1000.0}


def test_a_multi_line_expression() -> None:
    rule = one_rule(
        "- alert: A\n  expr: |\n    sum by (model) (\n      rate(errors_total[5m])  # per second\n    ) > 1"
    )
    assert rule["expression"] == "sum by (model) (rate(errors_total[5m]))"


def test_interval_is_read_and_checked_but_not_kept() -> None:
    text = "groups:\n  - name: g\n    interval: 1m\n    rules:\n      - {alert: A, expr: up == 0}\n"
    assert parse_rule_file(text).errors == []
    bad = "groups:\n  - name: g\n    interval: soon\n    rules:\n      - {alert: A, expr: up == 0}\n"
    (error,) = parse_rule_file(bad).errors
    assert error.startswith("group g (line 3): interval: invalid duration 'soon'")


def test_an_empty_group_imports_nothing_and_is_no_error() -> None:
    result = parse_rule_file("groups:\n  - name: g\n    rules: []\n  - name: h\n")
    assert (result.rules, result.errors) == ([], [])


# --- Refusals ---------------------------------------------------------------------------------


def test_unsupported_constructs_are_refused_by_rule_with_their_position() -> None:
    result = parse_rule_file(fixture("unsupported.rules.yml"))
    refused = [error for error in result.errors if "ErrorRatioHigh" not in error]
    assert refused == [
        "group mixed, rule job:http_requests:rate5m (line 6): recording rule 'job:http_requests:rate5m' is not "
        "supported: only alerting rules are",
        "group mixed, rule FastRise (line 14): expr: unsupported function 'irate' at position 0 "
        "in 'irate(requests_total[5m]) > 1'",
        "group mixed, rule MoreErrorsThanRequests (line 17): expr: comparing two vectors is not supported; compare "
        "with a number, as in x > 5 at position 15 in 'errors_total > requests_total'",
        "group mixed, rule SlowerThanLastWeek (line 20): expr: the offset modifier is not supported at position 38 "
        "in 'rate(request_duration_seconds_sum[5m] offset 1w) > 1'",
        "group mixed, rule TopTalkers (line 23): expr: unsupported aggregation 'topk' at position 0 "
        "in 'topk(3, rate(requests_total[5m])) > 100'",
        "group mixed, rule NoComparison (line 26): expr: expected a comparison with a number (as in x > 5) or "
        "absent(selector) at position 29 in 'sum(rate(requests_total[5m]))'",
    ]
    assert [rule["name"] for rule in result.rules if rule["name"] != "ErrorRatioHigh"] == ["StillSupported"]


@pytest.mark.parametrize(
    "expr",
    ["errors_total / requests_total > 1", "errors_total % 2 > 1", "x @ 100 > 1", "rate(x[5m:1m]) > 1", "x > 2 * 0.25"],
)
def test_the_importer_accepts_exactly_what_the_parser_accepts(expr: str) -> None:
    """One parser: arithmetic and the rest are imported, or refused, as ``parse()`` decides."""
    try:
        node = parse(expr)
    except PromQLError as exc:
        error = rule_error(f"- alert: A\n  expr: {expr}")
        assert f"expr: {exc.message} at position {exc.position} in {expr!r}" in error
    else:
        assert isinstance(node, Comparison)
        rule = one_rule(f"- alert: A\n  expr: {expr}")
        assert rule["expression"] == str(node.expr)
        assert rule["condition"] == {"kind": "threshold", "op": node.op, "value": node.threshold}


@pytest.mark.parametrize(
    ("rule", "message"),
    [
        ("- alert: A\n  expr: up > 1 > 2", "expr: only one comparison is supported at position 7"),
        ("- alert: A\n  expr: up and down", "expr: set operator 'and' is not supported at position 3"),
        ("- alert: A\n  expr: up > bool 1", "expr: the bool modifier is not supported at position 5"),
        ("- alert: A\n  expr: up", "expr: expected a comparison with a number (as in x > 5) or absent(selector)"),
        ("- alert: A\n  expr: absent(rate(x[5m]))", "expr: absent() needs a selector such as up"),
        ("- alert: A\n  expr: x == NaN", "expr: a comparison with NaN is never true"),
        ("- alert: A\n  expr: ''", "expr: empty expression at position 0"),
        ("- alert: A", "needs expr: with a PromQL expression"),
        ("- alert: A\n  expr: [up]", "needs expr: with a PromQL expression"),
        ("- expr: up == 0", "needs alert: with the rule's name"),
        ("- alert: ''\n  expr: up == 0", "needs alert: with the rule's name"),
        ("- alert: A\n  expr: up == 0\n  for: soon", "for: invalid duration 'soon'"),
        ("- alert: A\n  expr: up == 0\n  for: 1500ms", "for: '1500ms' is not a whole number of seconds"),
        ("- alert: A\n  expr: up == 0\n  for: -5m", "for: invalid duration '-5m': a duration cannot be negative"),
        ("- alert: A\n  expr: up == 0\n  keep_firing_for: 5m", "keep_firing_for is not supported (only 0s)"),
        ("- alert: A\n  expr: up == 0\n  labels: [a]", "labels: must be a mapping of names to text"),
        ("- alert: A\n  expr: up == 0\n  labels: {a-b: x}", "labels: 'a-b' is not a valid name"),
        ("- alert: A\n  expr: up == 0\n  labels: {a: [x]}", "labels: the value of a must be text"),
        ("- alert: A\n  expr: up == 0\n  labels: {a: yes}", "labels: the value of a must be text"),
        ("- alert: A\n  expr: up == 0\n  annotations: {summary: null}", "annotations: the value of summary must be"),
        ("- alert: A\n  expr: up == 0\n  severity: critical", "unknown field 'severity'"),
    ],
)
def test_each_refusal_names_the_rule_and_the_problem(rule: str, message: str) -> None:
    error = rule_error(rule)
    assert error.startswith("group g, rule ")
    assert message in error


def test_keep_firing_for_zero_is_accepted() -> None:
    assert one_rule("- alert: A\n  expr: up == 0\n  keep_firing_for: 0s")["name"] == "A"


def test_refusals_point_at_the_line_of_the_field() -> None:
    text = "groups:\n  - name: g\n    rules:\n      - alert: A\n        expr: up == 0\n        for: soon\n"
    (error,) = parse_rule_file(text).errors
    assert error.startswith("group g, rule A (line 6): for: ")


def test_a_rule_without_a_name_is_numbered() -> None:
    result = parse_rule_file("groups:\n  - name: g\n    rules:\n      - {alert: A, expr: up == 0}\n      - expr: up\n")
    assert [rule["name"] for rule in result.rules] == ["A"]
    assert result.errors == ["group g, rule #2 (line 5): needs alert: with the rule's name"]


def test_duplicate_rule_names_in_one_file_are_refused() -> None:
    text = """
groups:
  - name: g
    rules:
      - {alert: GpuHot, expr: gpu_temp > 80, labels: {severity: warning}}
  - name: h
    rules:
      - {alert: GpuHot, expr: gpu_temp > 90, labels: {severity: critical}}
"""
    result = parse_rule_file(text)
    assert [(rule["group"], rule["condition"]["value"]) for rule in result.rules] == [("g", 80.0)]
    assert result.errors == ["group h, rule GpuHot (line 8): the name is already used by a rule of group g"]


def test_unsupported_group_settings_refuse_the_group() -> None:
    text = "groups:\n  - name: g\n    limit: 10\n    rules:\n      - {alert: A, expr: up == 0}\n"
    result = parse_rule_file(text)
    assert result.rules == []
    assert result.errors == ["group g (line 3): limit: is not supported; its rules are not imported"]


# --- Malformed files ---------------------------------------------------------------------------


def test_malformed_yaml_names_its_line() -> None:
    text = "groups:\n  - name: g\n    rules:\n      - alert: A\n        expr: up == 0\n      labels: [\n"
    error = only_error(text)
    assert error.startswith("invalid YAML at line ")
    assert error.split(",")[0] in ("invalid YAML at line 6", "invalid YAML at line 7")


def test_a_tab_indentation_error_names_its_line() -> None:
    error = only_error("groups:\n  - name: g\n\trules: []\n")
    assert error.startswith("invalid YAML at line 3, column 1: ")


def test_yaml_that_python_cannot_construct_is_an_error_not_an_exception() -> None:
    assert only_error("groups:\n  - name: 2026-13-45\n").startswith("invalid YAML: ")
    assert only_error("groups: !!python/object:os.system x\n").startswith("invalid YAML at line 1")
    assert only_error("groups:\n  - name: !!float \n").startswith("invalid YAML: ")
    assert only_error("[" * 5000).startswith("invalid YAML")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", "the file is empty: expected groups: with a list of rule groups"),
        ("# only a comment\n", "the file is empty: expected groups: with a list of rule groups"),
        ("- a\n- b\n", "expected a mapping with groups: at the top of the file (line 1)"),
        ("just text", "expected a mapping with groups: at the top of the file (line 1)"),
        ("rules: []\n", "unknown field 'rules' at the top of the file; a rule file has only groups: (line 1)"),
        ("groups: {name: g}\n", "groups: must be a list of rule groups (line 1)"),
        ("groups:\n  - name: g\n  - rules\n", "group #2: must be a mapping with name: and rules: (line 3)"),
        ("groups:\n  - rules: []\n", "group #1: needs a name: (line 2)"),
        ("groups:\n  - {name: g}\n  - {name: g}\n", "group g: another group has the same name (line 3)"),
        ("groups:\n  - name: g\n    colour: red\n", "group g: unknown field 'colour' (line 3)"),
        ("groups:\n  - name: g\n    rules: {alert: A}\n", "group g: rules: must be a list of rules (line 3)"),
        ("groups:\n  - name: g\n    rules:\n      - up == 0\n", "group g, rule #1: must be a mapping (line 4)"),
    ],
)
def test_a_wrong_structure_is_one_error_naming_the_line(text: str, expected: str) -> None:
    assert only_error(text) == expected


def test_text_that_is_not_a_string_is_a_caller_bug() -> None:
    with pytest.raises(TypeError):
        parse_rule_file(b"groups: []")  # type: ignore[arg-type]


@settings(max_examples=300)
@given(st.text(max_size=200))
def test_random_text_never_raises(text: str) -> None:
    result = parse_rule_file(text)
    assert all(isinstance(error, str) for error in result.errors)


_yaml_scalars = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=20), st.sampled_from(["up == 0", "5m"])
)
_yaml_values = st.recursive(
    _yaml_scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3),
        st.dictionaries(
            st.sampled_from(
                ["groups", "name", "rules", "alert", "expr", "for", "labels", "annotations", "record", "x"]
            ),
            inner,
            max_size=4,
        ),
    ),
    max_leaves=20,
)


@settings(max_examples=300)
@given(_yaml_values)
def test_random_structures_never_raise(data: Any) -> None:
    result = parse_rule_file(yaml.safe_dump(data))
    assert isinstance(result.errors, list)


@settings(max_examples=200)
@given(st.text(alphabet=string.printable, max_size=60))
def test_random_expressions_never_raise(expr: str) -> None:
    text = yaml.safe_dump({"groups": [{"name": "g", "rules": [{"alert": "A", "expr": expr}]}]})
    result = parse_rule_file(text)
    assert len(result.rules) + len(result.errors) == 1


# --- Export and round trip -----------------------------------------------------------------------


def test_export_writes_a_prometheus_rule_file() -> None:
    rules = [
        {
            "name": "GpuTooHot",
            "group": "",
            "expression": "avg_over_time(gpu_temp[5m])",
            "condition": {"kind": "threshold", "op": ">", "value": 85.0},
            "for_s": 600,
            "severity": "critical",
            "labels": {"team": "ml"},
            "annotations": {"summary": "{{ labels.gpu }} at {{ value | humanize }}"},
            "runbook_url": "https://runbooks.example.test/gpu",
            "description": "Hot: {{ value }}",
        },
        {
            "name": "TrainerGone",
            "expression": 'up{job="trainer"}',
            "condition": {"kind": "absent", "seconds": 300},
            "for_s": 0,
            "severity": "warning",
        },
    ]
    assert yaml.safe_load(export_rules(rules, group="fleet")) == {
        "groups": [
            {
                "name": "fleet",
                "rules": [
                    {
                        "alert": "GpuTooHot",
                        "expr": "avg_over_time(gpu_temp[5m]) > 85",
                        "for": "10m",
                        "labels": {"team": "ml", "severity": "critical"},
                        "annotations": {
                            "summary": "{{ $labels.gpu }} at {{ $value | humanize }}",
                            "runbook_url": "https://runbooks.example.test/gpu",
                            "description": "Hot: {{ $value }}",
                        },
                    },
                    {"alert": "TrainerGone", "expr": 'absent(up{job="trainer"})', "labels": {"severity": "warning"}},
                ],
            }
        ]
    }


def test_export_lists_what_promql_cannot_express_in_a_comment() -> None:
    rules = [
        {"name": "Spiky", "condition_kind": "anomaly", "condition": {}},
        {"name": "Climbing", "condition": {"kind": "trend"}},
        {"name": "Wandering", "condition": {"kind": "drift"}},
        {"name": "NaNs", "condition": {"kind": "not_finite"}},
        {"name": "Long gone", "expression": "up", "condition": {"kind": "absent", "seconds": 900}},
        {"name": "Fine", "expression": "up", "condition": {"kind": "threshold", "op": "==", "value": 0}},
    ]
    text = export_rules(rules)
    first_line = text.splitlines()[0]
    assert first_line == (
        "# not expressible in PromQL, not exported: Spiky (anomaly), Climbing (trend), Wandering (drift), "
        "NaNs (not_finite), Long gone (absent for 900 s; absent() looks back 5m)"
    )
    assert [rule["name"] for rule in parse_rule_file(text).rules] == ["Fine"]


def test_export_escapes_unicode_line_breaks_that_yaml_would_fold() -> None:
    rule = {
        "name": "Odd\u2028name",
        "expression": "up",
        "condition": {"kind": "threshold", "op": "==", "value": 0.0},
        "description": "NEL\x85inside, °C",
    }
    back = parse_rule_file(export_rules([rule])).rules[0]
    assert (back["name"], back["description"]) == ("Odd\u2028name", "NEL\x85inside, °C")


def test_export_of_nothing_is_an_empty_rule_file() -> None:
    assert yaml.safe_load(export_rules([])) == {"groups": []}


def test_export_keeps_the_model_shape_with_condition_kind() -> None:
    rule = {"name": "A", "expression": "up", "condition_kind": "threshold", "condition": {"op": "<", "value": 1}}
    assert "expr: up < 1" in export_rules([rule])


def test_fixture_round_trip() -> None:
    imported = parse_rule_file(fixture("gpu_serving.rules.yml")).rules
    again = parse_rule_file(export_rules(imported))
    assert again.errors == []
    assert again.rules == imported


def test_an_unmapped_severity_label_survives_the_round_trip() -> None:
    imported = parse_rule_file(fixture("gpu_serving.rules.yml")).rules
    error_ratio = next(rule for rule in imported if rule["name"] == "HighErrorRatio")
    assert (error_ratio["severity"], error_ratio["labels"]) == ("warning", {"severity": "page"})
    assert "severity: page" in export_rules([error_ratio])


# In the parser's own spelling (as an import gives them): "count(up)" reads back as "count (up)".
EXPRESSIONS = [
    "up",
    'up{job="model-server", instance=~"gpu-.*"}',
    "rate(http_requests_total[5m])",
    "sum by (model) (rate(errors_total[1m]))",
    "avg without (gpu) (avg_over_time(gpu_temp[10m]))",
    "histogram_quantile(0.99, sum by (le, model) (rate(latency_seconds_bucket[5m])))",
    "max_over_time(queue_depth[1h30m])",
    "count(up)",
]
EXPRESSIONS = [str(parse(expression)) for expression in EXPRESSIONS]
SELECTORS = ["up", 'up{job="trainer"}', '{__name__=~"gpu_.*", node="a"}', 'training_loss{run!=""}']
_names = st.text(alphabet=string.ascii_letters + string.digits + " _-:.", min_size=1, max_size=20).filter(str.strip)
_label_names = st.from_regex(r"[a-z_][a-z0-9_]{0,8}", fullmatch=True)
# What a rule can hold: no NUL and no lone surrogate (PostgreSQL's text refuses them, and so
# does the importer).
_texts = st.text(st.characters(exclude_categories=["Cs"], exclude_characters="\x00"), max_size=40).map(from_prometheus)
_conditions = st.one_of(
    st.builds(
        lambda expression, op, value: (expression, {"kind": "threshold", "op": op, "value": value}),
        st.sampled_from(EXPRESSIONS),
        st.sampled_from([">", ">=", "<", "<=", "==", "!="]),
        st.floats(allow_nan=False),
    ),
    st.builds(lambda selector: (selector, {"kind": "absent", "seconds": 300}), st.sampled_from(SELECTORS)),
)


@st.composite
def opsboard_rules(draw: st.DrawFn) -> dict[str, Any]:
    expression, condition = draw(_conditions)
    labels = draw(st.dictionaries(_label_names.filter(lambda name: name != "severity"), _texts, max_size=3))
    if draw(st.booleans()):
        labels["severity"] = draw(st.sampled_from(["page", "ticket", ""]))  # unmapped: stays a label
    annotations = draw(
        st.dictionaries(_label_names.filter(lambda name: name not in ("runbook_url", "description")), _texts)
    )
    return {
        "name": draw(_names),
        "group": draw(st.sampled_from(["gpu", "serving", "opsboard"])),
        "expression": expression,
        "condition": condition,
        "for_s": draw(st.integers(0, 7 * 86_400)),
        "severity": "warning" if "severity" in labels else draw(st.sampled_from(["critical", "warning", "info"])),
        "labels": labels,
        "annotations": annotations,
        "runbook_url": draw(st.sampled_from(["", "https://runbooks.example.test/x"])),
        "description": draw(_texts),
    }


@settings(max_examples=200, deadline=None)
@given(st.lists(opsboard_rules(), max_size=5, unique_by=lambda rule: rule["name"]))
def test_import_of_export_gives_back_the_rules(rules: list[dict[str, Any]]) -> None:
    result = parse_rule_file(export_rules(rules))
    assert result.errors == []
    # The export gathers each group's rules, in the order the groups first appear.
    groups = [rule["group"] for rule in rules]
    assert result.rules == sorted(rules, key=lambda rule: groups.index(rule["group"]))
