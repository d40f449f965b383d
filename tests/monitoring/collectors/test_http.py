"""The HTTP JSON probe against real servers on loopback."""

from __future__ import annotations

import json

import pytest

from monitoring.collectors.base import ConfigError, TargetSpec
from monitoring.collectors.http import HttpConfig, HttpProbe, parse_json_path
from tests import servers

TS = 1_800_000_000_000


def spec(url: str, **config: object) -> TargetSpec:
    return TargetSpec(
        uid="u", name="ranker", kind="http", role="model", url=url, timeout_s=2.0, config=HttpConfig.from_dict(config)
    )


def values(scrape) -> dict[str, float]:
    return {s.name: s.value for s in scrape.samples}


def answer(document: object, code: int = 200):
    return lambda handler: servers.send(handler, code, json.dumps(document).encode(), "application/json")


def test_status_and_a_numeric_json_value_are_recorded() -> None:
    with servers.serve(answer({"data": [{"score": 0.93}], "status": "ok"})) as url:
        scrape = HttpProbe().collect(spec(url, json_path="$.data[0].score"), TS)
    assert scrape.up
    assert values(scrape) == {
        "probe_success": 1.0,
        "probe_duration_seconds": values(scrape)["probe_duration_seconds"],
        "probe_http_status_code": 200.0,
        "probe_json_value": 0.93,
    }


def test_an_unexpected_value_fails() -> None:
    with servers.serve(answer({"status": "degraded"})) as url:
        scrape = HttpProbe().collect(spec(url, json_path="$.status", expected_value="ok"), TS)
    assert scrape.error == "$.status is 'degraded', expected 'ok'"


def test_an_unexpected_status_fails() -> None:
    with servers.serve(answer({}, code=404)) as url:
        scrape = HttpProbe().collect(spec(url), TS)
    assert scrape.error == "HTTP 404, expected 200"
    assert values(scrape)["probe_http_status_code"] == 404.0


def test_a_post_body_is_sent_as_json() -> None:
    received = []

    def echo(handler) -> None:
        received.append((handler.command, servers.read_json(handler)))
        servers.send(handler, 200, b"{}", "application/json")

    with servers.serve(echo) as url:
        HttpProbe().collect(spec(url, method="POST", body={"inputs": [1, 2]}), TS)
    assert received == [("POST", {"inputs": [1, 2]})]


def test_a_missing_path_and_non_json_are_errors() -> None:
    with servers.serve(answer({"a": 1})) as url:
        assert "nothing at" in HttpProbe().collect(spec(url, json_path="$.b"), TS).error
    with servers.serve(servers.exposition("plain text")) as url:
        assert "not JSON" in HttpProbe().collect(spec(url, json_path="$.b"), TS).error


@pytest.mark.parametrize(
    ("path", "steps"),
    [
        ("$.a.b", ["a", "b"]),
        ("$.data[0].score", ["data", 0, "score"]),
        ('$["odd key"]', ["odd key"]),
        ("a.b", ["a", "b"]),
    ],
)
def test_json_paths(path: str, steps: list) -> None:
    assert parse_json_path(path) == steps


def test_bad_config_is_refused_naming_the_field() -> None:
    with pytest.raises(ConfigError, match="json_path"):
        HttpConfig.from_dict({"json_path": "$..a"})
    with pytest.raises(ConfigError, match="method"):
        HttpConfig.from_dict({"method": "BREW"})
