"""Collectors, one module per kind. The dicts below map each target kind to its collector;
the targets' kind choices are derived from them."""

from __future__ import annotations

from monitoring.collectors.base import Collector, ConfigError, Scrape, TargetSpec
from monitoring.collectors.http import HttpProbe
from monitoring.collectors.local import LocalHost
from monitoring.collectors.openai import OpenAIProbe
from monitoring.collectors.prometheus import PrometheusScrape
from monitoring.collectors.torchscript import TorchModelProbe

MODEL_COLLECTORS: dict[str, type[Collector]] = {
    "prometheus": PrometheusScrape,
    "openai": OpenAIProbe,
    "http": HttpProbe,
    "torchscript": TorchModelProbe,
}

NODE_COLLECTORS: dict[str, type[Collector]] = {
    "agent": PrometheusScrape,
    "dcgm-exporter": PrometheusScrape,
    "node-exporter": PrometheusScrape,
    "local": LocalHost,
}

__all__ = ["MODEL_COLLECTORS", "NODE_COLLECTORS", "Collector", "ConfigError", "Scrape", "TargetSpec"]
