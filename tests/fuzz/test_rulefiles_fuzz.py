"""The rule-file importer: any text gives rules and errors (strings), never an exception; every
imported rule is one the database can hold, and exports and imports back to itself."""

from __future__ import annotations

import yaml
from hypothesis import example, given
from hypothesis import strategies as st

from alerts.rulefiles import MAX_NAME_LENGTH, ImportResult, export_rules, parse_rule_file
from opsboard.storable import storable
from tests.fuzz.profiles import fuzz
from tests.fuzz.strategies import near_valid_rule_files, yaml_values

YAML_PIECES = [
    *"ab:- \n{}[]'\"!&*|>#%@`,?\t\\",
    "!!float ", "!!int ", "!!binary ", "!!timestamp ", "!!python/object ", "!!set ", "!!omap ", "2026-13-01", "groups:",
    "rules:", "&a ", "*a", "<<: ", "\\x00", "\\ud800", "\x85", "\ufeff", "%YAML 1.1\n", "---\n",
    ".inf", ".nan", "1e400",
]  # fmt: skip
yamlish = st.lists(st.sampled_from(YAML_PIECES), max_size=25).map("".join)


def strings(value: object) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [text for pair in value.items() for item in pair for text in strings(item)]
    if isinstance(value, list):
        return [text for item in value for text in strings(item)]
    return []


def check(result: ImportResult) -> None:
    assert all(isinstance(error, str) and error for error in result.errors)
    assert all(storable(error) for error in result.errors), result.errors  # shown on the import page
    for rule in result.rules:
        assert 0 < len(rule["name"]) <= MAX_NAME_LENGTH
        assert all(storable(text) for text in strings(rule)), rule
    if result.rules:
        again = parse_rule_file(export_rules(result.rules))
        assert again.errors == []
        assert sorted(again.rules, key=lambda r: r["name"]) == sorted(result.rules, key=lambda r: r["name"])


@fuzz(share=2)
@given(near_valid_rule_files())
@example({"groups": [{"name": "g", "rules": [{"alert": "A\x00", "expr": "up > 1"}]}]})  # NUL: PostgreSQL refuses it
@example({"groups": [{"name": "g", "rules": [{"alert": "A" * 201, "expr": "up > 1"}]}]})  # over the name column
@example({"groups": [{"name": "\ud800", "rules": [{"alert": "A", "expr": "up > 1"}]}]})  # in every error message
@example({"groups": [{"name": "g", "rules": [{"alert": "A", "expr": "up > 1", "labels": {"x": "\udfff"}}]}]})
@example(
    {"groups": [{"name": "g", "rules": [{"alert": "A", "expr": "up > 1", "annotations": {"runbook_url": "h" * 501}}]}]}
)
def test_near_valid_rule_files(data: dict) -> None:
    check(parse_rule_file(yaml.safe_dump(data, allow_unicode=True)))


@fuzz()
@given(st.one_of(yaml_values.map(yaml.safe_dump), yamlish, st.text(max_size=60)))
def test_any_yaml_or_text(text: str) -> None:
    check(parse_rule_file(text))
