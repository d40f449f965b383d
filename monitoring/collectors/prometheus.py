"""Scrape a Prometheus /metrics endpoint, as Prometheus does.

Adds the target's labels, writes ``up``, ``scrape_duration_seconds`` and
``scrape_samples_scraped`` like Prometheus, and for model servers adds the normalised
``opsboard_llm_*`` series of the server's family (vLLM, TGI, Triton, TorchServe).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from monitoring import exposition, llm
from monitoring.collectors.base import (
    Collector,
    ConfigError,
    Scrape,
    Stopwatch,
    TargetSpec,
    config_from_dict,
    synthetic,
)
from monitoring.samples import Sample
from opsboard.outbound import OutboundError, request

ACCEPT = "application/openmetrics-text;version=1.0.0;q=0.5,text/plain;version=0.0.4;q=0.4,*/*;q=0.1"
MAX_BODY_BYTES = 20 * 1024 * 1024


@dataclass(frozen=True)
class PrometheusConfig:
    """``family``: the LLM server family for normalised metrics; "auto" detects it, "none" skips."""

    family: str = "auto"

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> PrometheusConfig:
        config = config_from_dict(cls, data)
        choices = ("auto", "none", *llm.FAMILIES)
        if config.family not in choices:
            raise ConfigError("family", f"{config.family!r} is not one of {', '.join(choices)}")
        return config


class PrometheusScrape(Collector):
    Config = PrometheusConfig

    def collect(self, spec: TargetSpec, ts_ms: int) -> Scrape:
        watch = Stopwatch()
        labels = spec.target_labels()
        samples: list[Sample] = []
        error = ""
        try:
            samples = self._scrape(spec, ts_ms, labels)
        except (OutboundError, exposition.ExpositionError, ScrapeError) as exc:
            error = str(exc)
        duration = watch.elapsed
        up = not error
        meta = [
            synthetic("up", labels, ts_ms, 1 if up else 0),
            synthetic("scrape_duration_seconds", labels, ts_ms, duration),
            synthetic("scrape_samples_scraped", labels, ts_ms, len(samples)),
        ]
        return Scrape(samples + meta if up else meta, up, error, duration)

    def _scrape(self, spec: TargetSpec, ts_ms: int, labels: dict[str, str]) -> list[Sample]:
        response = request(
            "GET",
            spec.url,
            headers={"Accept": ACCEPT, **spec.headers},
            timeout_s=spec.timeout_s,
            max_bytes=MAX_BODY_BYTES,
        )
        if response.status != 200:
            raise ScrapeError(f"HTTP {response.status} from {spec.url}")
        content_type = response.headers.get("content-type", "")
        samples = exposition.parse(
            response.text,
            default_ts_ms=ts_ms,
            openmetrics=exposition.is_openmetrics(content_type),
            extra_labels=labels,
        )
        if len(samples) > spec.series_limit:
            raise ScrapeError(f"the target exposes {len(samples)} series; its limit is {spec.series_limit}")
        return samples + self._normalised(spec, samples)

    def _normalised(self, spec: TargetSpec, samples: list[Sample]) -> list[Sample]:
        family = getattr(spec.config, "family", "none")
        if spec.role != "model" or family == "none":
            return []
        return llm.normalise(samples, None if family == "auto" else family)


class ScrapeError(Exception):
    """The target answered, but not with something to store."""
