"""The OpenAI-compatible probe against a real streaming server on loopback."""

from __future__ import annotations

import pytest

from monitoring.collectors.base import ConfigError, TargetSpec
from monitoring.collectors.openai import OpenAIConfig, OpenAIProbe
from tests import servers

TS = 1_800_000_000_000


def spec(url: str, **config: object) -> TargetSpec:
    return TargetSpec(
        uid="u",
        name="chat",
        kind="openai",
        role="model",
        url=url,
        timeout_s=5.0,
        config=OpenAIConfig.from_dict({"model": "llama", **config}),
        headers={"Authorization": "Bearer k"},
    )


def values(scrape) -> dict[str, float]:
    return {s.name: s.value for s in scrape.samples}


@pytest.mark.parametrize("path", ["/v1/chat/completions", "/v1/completions"])
def test_a_stream_gives_latency_first_token_and_throughput(path: str) -> None:
    handler = servers.openai_stream(["O", "K", ".", " Done"], first_token_delay_s=0.2)
    with servers.serve_recording(handler) as (url, requests):
        scrape = OpenAIProbe().collect(spec(url + path, expect="OK"), TS)
    assert scrape.up, scrape.error
    figures = values(scrape)
    assert figures["probe_success"] == 1.0
    assert figures["probe_http_status_code"] == 200.0
    assert figures["probe_output_tokens"] == 4.0
    assert 0.2 <= figures["probe_time_to_first_token_seconds"] < 1.0
    assert figures["probe_duration_seconds"] >= figures["probe_time_to_first_token_seconds"]
    assert figures["probe_output_tokens_per_second"] > 0
    sent_path, body = requests[0]
    assert sent_path == path and body["stream"] is True and body["model"] == "llama"
    assert ("messages" in body) == path.endswith("chat/completions")


def test_a_missing_expected_substring_fails_the_probe() -> None:
    with servers.serve_recording(servers.openai_stream(["nope"])) as (url, _):
        scrape = OpenAIProbe().collect(spec(url + "/v1/completions", expect="OK"), TS)
    assert not scrape.up
    assert "does not contain 'OK'" in scrape.error
    assert values(scrape)["probe_success"] == 0.0


def test_without_usage_tokens_are_counted_by_chunk() -> None:
    with servers.serve_recording(servers.openai_stream(["a", "b", "c"], usage=False)) as (url, _):
        scrape = OpenAIProbe().collect(spec(url + "/v1/completions"), TS)
    assert values(scrape)["probe_output_tokens"] == 3.0


def test_an_error_status_is_recorded() -> None:
    with servers.serve(servers.status(503, "overloaded")) as url:
        scrape = OpenAIProbe().collect(spec(url + "/v1/completions"), TS)
    assert scrape.error.startswith("HTTP 503")
    assert values(scrape)["probe_http_status_code"] == 503.0


def test_a_hanging_server_times_out() -> None:
    with servers.serve(servers.hanging(10)) as url:
        target = spec(url + "/v1/completions")
        scrape = OpenAIProbe().collect(TargetSpec(**{**target.__dict__, "timeout_s": 0.5}), TS)
    assert scrape.error == "no answer within 0.5 s"


def test_not_a_stream_is_an_error() -> None:
    with servers.serve(servers.exposition("data: {not json\n\n", "text/event-stream")) as url:
        scrape = OpenAIProbe().collect(spec(url + "/v1/completions"), TS)
    assert "not JSON" in scrape.error


def test_config_is_checked() -> None:
    with pytest.raises(ConfigError, match="max_tokens"):
        OpenAIConfig.from_dict({"max_tokens": 0})
    with pytest.raises(ConfigError, match="unknown setting"):
        OpenAIConfig.from_dict({"temperature": 1})
