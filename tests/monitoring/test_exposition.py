"""Exposition text → samples, with names as exposed and errors naming their line."""

from __future__ import annotations

import math

import pytest

from monitoring.exposition import ExpositionError, parse

TS = 1_800_000_000_000


def names(text: str, **kwargs: object) -> list[str]:
    return [s.name for s in parse(text, default_ts_ms=TS, **kwargs)]


def test_counter_names_are_kept_as_exposed() -> None:
    text = (
        "# TYPE DCGM_FI_DEV_ECC_SBE_VOL_TOTAL counter\nDCGM_FI_DEV_ECC_SBE_VOL_TOTAL 5\n"
        "# TYPE tgi_request_success counter\ntgi_request_success 3\n"
        "# TYPE http_requests_total counter\nhttp_requests_total 9\n"
    )
    assert names(text) == ["DCGM_FI_DEV_ECC_SBE_VOL_TOTAL", "tgi_request_success", "http_requests_total"]


def test_created_samples_are_dropped_and_histograms_kept() -> None:
    text = (
        '# TYPE lat histogram\nlat_bucket{le="1"} 1\nlat_bucket{le="+Inf"} 2\nlat_sum 1.5\nlat_count 2\n'
        "lat_created 1700000000\n# TYPE jobs counter\njobs_total 1\njobs_created 1700000000\n"
    )
    assert names(text) == ["lat_bucket", "lat_bucket", "lat_sum", "lat_count", "jobs_total"]


def test_timestamps_and_special_values() -> None:
    [nan, inf] = parse("loss NaN 1700000000123\nrate +Inf\n", default_ts_ms=TS)
    assert math.isnan(nan.value) and nan.ts_ms == 1_700_000_000_123
    assert inf.value == math.inf and inf.ts_ms == TS


def test_target_labels_win_and_exposed_ones_are_kept_as_exported() -> None:
    [s] = parse('x{job="app",pod="p1"} 1\n', default_ts_ms=TS, extra_labels={"job": "vllm", "model": "m"})
    assert dict(s.labels) == {"exported_job": "app", "job": "vllm", "model": "m", "pod": "p1"}


@pytest.mark.parametrize(
    ("text", "line"),
    [("ok 1\nbad{ 2\n", 2), ("ok 1\nx abc\n", 2), ("# TYPE x bogus\nx 1\n", 1)],
)
def test_errors_name_the_line(text: str, line: int) -> None:
    with pytest.raises(ExpositionError) as error:
        parse(text, default_ts_ms=TS)
    assert error.value.line == line
    assert str(error.value).startswith(f"line {line}:")
