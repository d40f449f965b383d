"""Annotation and label templates: the supported placeholders, filters, and nothing evaluated."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from alerts.templating import format_value, from_prometheus, humanize, render, to_prometheus, validate

LABELS = {"model": "llama", "gpu": "3", "temp": "81.456", "node": "gpu-node-1"}


# --- Placeholders ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "template",
    [
        "{{ labels.model }}",
        "{{ $labels.model }}",
        "{{labels.model}}",
        "{{$labels.model}}",
        "{{   labels.model\t}}",
    ],
)
def test_label_placeholders(template: str) -> None:
    assert render(template, LABELS, None) == "llama"


@pytest.mark.parametrize("template", ["{{ value }}", "{{ $value }}", "{{value}}", "{{$value}}"])
def test_value_placeholders(template: str) -> None:
    assert render(template, LABELS, 91.5) == "91.5"


def test_a_sentence_with_several_placeholders() -> None:
    template = "GPU {{ labels.gpu }} on {{ $labels.node }} of {{ labels.model }} is at {{ value }} °C"
    assert render(template, LABELS, 91.0) == "GPU 3 on gpu-node-1 of llama is at 91 °C"


def test_a_missing_label_renders_as_empty_text() -> None:
    assert render("[{{ labels.team }}]", LABELS, 1.0) == "[]"
    assert render('[{{ labels.team | printf "%.2f" }}]', LABELS, 1.0) == "[]"
    assert render("[{{ labels.team | humanize }}]", LABELS, 1.0) == "[]"


def test_no_value_renders_as_empty_text() -> None:
    assert render("[{{ value }}]", LABELS, None) == "[]"
    assert render('[{{ value | printf "%.2f" }}]', LABELS, None) == "[]"


def test_text_without_placeholders_is_unchanged() -> None:
    for text in ["", "plain", "{ labels.model }", "{{", "}}", "a } b { c", "100% done"]:
        assert render(text, LABELS, 1.0) == text


# --- Values ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (3.0, "3"),
        (-2.0, "-2"),
        (0.25, "0.25"),
        (0.1 + 0.2, "0.30000000000000004"),
        (1 / 3, "0.3333333333333333"),
        (123456.0, "123456"),
        (1e6, "1e+06"),
        (1234567.0, "1.234567e+06"),
        (0.0001, "0.0001"),
        (0.00001, "1e-05"),
        (0.0, "0"),
        (-0.0, "-0"),
        (math.nan, "NaN"),
        (math.inf, "+Inf"),
        (-math.inf, "-Inf"),
        (1.7976931348623157e308, "1.7976931348623157e+308"),
        (5.960464477539063e-08, "5.960464477539063e-08"),  # the shortest digits, not re-rounded
        (-2.5e-7, "-2.5e-07"),
        (1e100, "1e+100"),
    ],
)
def test_values_print_as_prometheus_prints_them(value: float, text: str) -> None:
    assert format_value(value) == text
    assert render("{{ value }}", {}, value) == text


@given(st.floats(allow_nan=False, allow_infinity=False))
def test_values_read_back_as_the_same_float(value: float) -> None:
    assert float(format_value(value)) == value


# --- Filters -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("template", "value", "text"),
    [
        ('{{ value | printf "%.2f" }}', 91.456, "91.46"),
        ('{{ value | printf "%.0f" }}', 91.5, "92"),
        ('{{ value | printf "%f" }}', 1.5, "1.500000"),
        ('{{ value | printf "%d" }}', 91.7, "92"),
        ('{{ value | printf "%s" }}', 91.5, "91.5"),
        ('{{ value | printf "%g" }}', 1e6, "1e+06"),
        ('{{ value | printf "%g" }}', 0.5, "0.5"),
        ('{{ value | printf "%.3g" }}', 3.14159, "3.14"),
        ('{{ value | printf "%.2f" }}', math.nan, "NaN"),
        ('{{ value | printf "%.2f" }}', math.inf, "+Inf"),
        ('{{ value | printf "%d" }}', -math.inf, "-Inf"),
        ('{{ $value | printf "%.1f%%" }}', 0.987 * 100, "98.7%"),
        ('{{ value | printf "temperature %.1f °C" }}', 81.44, "temperature 81.4 °C"),
        ('{{value|printf "%.1f"}}', 2.25, "2.2"),
    ],
)
def test_printf(template: str, value: float, text: str) -> None:
    assert render(template, LABELS, value) == text


def test_printf_on_labels() -> None:
    assert render('{{ labels.temp | printf "%.1f" }}', LABELS, None) == "81.5"
    assert render('{{ labels.gpu | printf "%d" }}', LABELS, None) == "3"
    assert render('{{ labels.model | printf "%s!" }}', LABELS, None) == "llama!"
    # A label that is not a number is printed as it is.
    assert render('{{ labels.model | printf "%.2f" }}', LABELS, None) == "llama"


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (0.0, "0"),
        (1.0, "1"),
        (999.0, "999"),
        (1234.0, "1.234k"),
        (1200.0, "1.2k"),
        (3.4e6, "3.4M"),
        (5.5e9, "5.5G"),
        (2e24, "2Y"),
        (0.056, "56m"),
        (0.5, "500m"),
        (2.5e-6, "2.5u"),
        (-1234.0, "-1.234k"),
        (-0.056, "-56m"),
        (math.nan, "NaN"),
        (math.inf, "+Inf"),
        (-math.inf, "-Inf"),
    ],
)
def test_humanize(value: float, text: str) -> None:
    assert humanize(value) == text
    assert render("{{ value | humanize }}", {}, value) == text
    assert render("{{ $value | humanize }}", {}, value) == text


def test_humanize_on_labels() -> None:
    assert render("{{ labels.bytes | humanize }}", {"bytes": "2048"}, None) == "2.048k"
    assert render("{{ labels.model | humanize }}", LABELS, None) == "llama"


# --- Unsupported parts -------------------------------------------------------------------------

UNSUPPORTED = [
    '{{ printf "%.2f" $value }}',
    "{{ $labels }}",
    "{{ .Labels.model }}",
    "{{ labels.model | upper }}",
    '{{ value | printf "%5.2f" }}',
    '{{ value | printf "%.2f %.2f" }}',
    '{{ value | printf "%x" }}',
    '{{ value | printf "100%" }}',
    "{{ value | humanize | humanize }}",
    "{{- value -}}",
    "{{ range $labels }}x{{ end }}",
    "{{ labels.model-name }}",
    "{{ labels['model'] }}",
    "{{ }}",
]


@pytest.mark.parametrize("template", UNSUPPORTED)
def test_unsupported_parts_are_left_as_written(template: str) -> None:
    rendered = render(template, LABELS, 1.0)
    assert "llama" not in rendered or "{{" in rendered
    for problem in validate(template):
        assert "unsupported template {{" in problem
    assert validate(template)


def test_unsupported_parts_are_left_exactly_as_written_among_supported_ones() -> None:
    template = 'Model {{ labels.model }}: {{ printf "%.2f" $value }} ({{ value }})'
    assert render(template, LABELS, 2.0) == 'Model llama: {{ printf "%.2f" $value }} (2)'


def test_validate_names_each_unsupported_part_and_its_position() -> None:
    template = 'a {{ labels.model }} b {{ .Value }} c {{ $value | humanize }} d {{ printf "%d" 1 }}'
    assert validate(template) == [
        "unsupported template {{ .Value }} at position 23: "
        'use {{ labels.NAME }}, {{ value }}, optionally with | printf "%.2f" or | humanize',
        'unsupported template {{ printf "%d" 1 }} at position 64: '
        'use {{ labels.NAME }}, {{ value }}, optionally with | printf "%.2f" or | humanize',
    ]


def test_validate_reports_an_unclosed_placeholder() -> None:
    assert validate("GPU {{ labels.gpu }} is {{ value") == ["'{{' at position 24 is never closed with '}}'"]
    assert render("GPU {{ labels.gpu }} is {{ value", LABELS, 1.0) == "GPU 3 is {{ value"


def test_supported_templates_validate_cleanly() -> None:
    assert (
        validate('{{ labels.a }} {{ $labels.b }} {{ value }} {{ $value | printf "%.2f" }} {{ value | humanize }}') == []
    )
    assert validate("no placeholders at all") == []


# --- Nothing is evaluated ------------------------------------------------------------------------

HOSTILE = [
    "{{ __import__('os').system('touch /tmp/pwned') }}",
    "{{ labels.__class__.__mro__ }}",
    "{{ ''.__class__.__mro__[1].__subclasses__() }}",
    "{{ value.__class__ }}",
    "{{ config }}",
    "{{ 7*7 }}",
    "{% for x in y %}{{ x }}{% endfor %}",
    "${7*7} #{7*7} <%= 7*7 %>",
    "{{ labels.model | attr('__class__') }}",
    '{{ value | printf "%(__class__)s" }}',
]


@pytest.mark.parametrize("template", HOSTILE)
def test_hostile_templates_render_literally(template: str) -> None:
    assert render(template, LABELS, 7.0) == template
    assert bool(validate(template)) == ("{{" in template)


@pytest.mark.parametrize("template", ["{{ labels.__class__ }}", "{{ labels.__dict__ }}", "{{ $labels.__init__ }}"])
def test_dunder_labels_are_just_missing_labels(template: str) -> None:
    assert render(template, LABELS, 7.0) == ""
    assert render(template, {"__class__": "x", "__dict__": "x", "__init__": "x"}, 7.0) == "x"


def test_label_values_are_inserted_as_text_never_rendered_again() -> None:
    labels = {"model": "{{ value }}", "evil": "{{ __import__('os') }}"}
    assert render("{{ labels.model }} {{ labels.evil }}", labels, 5.0) == "{{ value }} {{ __import__('os') }}"


@given(st.text(max_size=80), st.dictionaries(st.from_regex(r"[a-z_]{1,5}", fullmatch=True), st.text(max_size=10)))
def test_any_template_renders_and_validates_without_raising(template: str, labels: dict[str, str]) -> None:
    rendered = render(template, labels, 1.5)
    assert isinstance(rendered, str)
    assert isinstance(validate(template), list)
    if not validate(template):
        assert "{{" not in rendered or "{{" in "".join(labels.values())


# --- Spelling ------------------------------------------------------------------------------------


def test_translation_between_spellings_keeps_spacing_and_filters() -> None:
    ours = '{{labels.gpu}} at {{ value | printf "%.1f" }} on {{  labels.node }} {{ .Value }}'
    theirs = '{{$labels.gpu}} at {{ $value | printf "%.1f" }} on {{  $labels.node }} {{ .Value }}'
    assert to_prometheus(ours) == theirs
    assert from_prometheus(theirs) == ours
    assert to_prometheus(theirs) == theirs
    assert from_prometheus(ours) == ours


def test_translation_leaves_unsupported_parts_alone() -> None:
    text = '{{ printf "%.2f" $value }} {{ $labels }}'
    assert from_prometheus(text) == text
    assert to_prometheus(text) == text


@given(st.text(max_size=60))
def test_translation_round_trips(text: str) -> None:
    ours = from_prometheus(text)
    assert from_prometheus(to_prometheus(ours)) == ours
    assert render(ours, LABELS, 2.0) == render(to_prometheus(ours), LABELS, 2.0)
