"""The machine running the worker: host figures from psutil, GPU figures from NVML where a
driver exists, with the names of node_exporter and dcgm-exporter."""

from __future__ import annotations

import socket

from monitoring import gpumetrics, hostmetrics
from monitoring.collectors.base import Collector, Scrape, Stopwatch, TargetSpec, synthetic
from monitoring.samples import Sample, make_labels


class LocalHost(Collector):
    @classmethod
    def check_url(cls, url: str) -> str | None:
        return None  # the machine running the poller; no URL is used

    def collect(self, spec: TargetSpec, ts_ms: int) -> Scrape:
        watch = Stopwatch()
        hostname = socket.gethostname()
        labels = spec.target_labels(instance=hostname)
        readings = hostmetrics.collect(ts_ms) + gpumetrics.collect(ts_ms, hostname)
        samples = [Sample(s.name, make_labels({**dict(s.labels), **labels}), s.ts_ms, s.value) for s in readings]
        duration = watch.elapsed
        samples += [
            synthetic("up", labels, ts_ms, 1),
            synthetic("scrape_duration_seconds", labels, ts_ms, duration),
            synthetic("scrape_samples_scraped", labels, ts_ms, len(readings)),
        ]
        return Scrape(samples, True, "", duration)
