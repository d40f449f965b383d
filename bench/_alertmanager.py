"""Prometheus and Alertmanager as commonly deployed, for benchmarks that page beside them.

Prometheus scrapes one target and evaluates one alerting rule (``for: 0``) every 15 s and
sends its alerts to an Alertmanager; Alertmanager groups them by ``group_by`` and, with its
default timers (group_wait 30 s, group_interval 5 min, repeat_interval 4 h), posts each group
to one webhook. Both run as subprocesses of a ``_processes.Processes``, on free loopback ports,
with their files in ``workdir``; Alertmanager's clustering is off (it would bind port 9094).
"""

from __future__ import annotations

import json
from pathlib import Path

import _processes


def start_alertmanager(
    binary: str, webhook_url: str, group_by: list[str], workdir: Path, processes: _processes.Processes
) -> str:
    """Alertmanager routing every alert to ``webhook_url``; its URL once it is ready."""
    config = workdir / "alertmanager.yml"
    config.write_text(
        "route:\n"
        "  receiver: bench\n"
        f"  group_by: {json.dumps(group_by)}\n"
        "  group_wait: 30s  # the defaults, written out\n"
        "  group_interval: 5m\n"
        "  repeat_interval: 4h\n"
        "receivers:\n"
        "  - name: bench\n"
        "    webhook_configs:\n"
        f"      - url: {json.dumps(webhook_url)}\n"
    )
    port = _processes.free_port()
    command = [
        binary,
        f"--config.file={config}",
        f"--storage.path={workdir / 'alertmanager'}",
        f"--web.listen-address=127.0.0.1:{port}",
        "--cluster.listen-address=",
    ]
    processes.start("alertmanager", command)
    url = f"http://127.0.0.1:{port}"
    processes.wait_http("alertmanager", f"{url}/-/ready")
    return url


def start_prometheus(
    binary: str,
    target_port: int,
    alertmanager_url: str,
    alert: tuple[str, str],
    workdir: Path,
    processes: _processes.Processes,
) -> str:
    """Prometheus scraping ``127.0.0.1:target_port`` and evaluating ``alert`` (name,
    expression) every 15 s, alerting to ``alertmanager_url``; its URL once it is ready."""
    name, expression = alert
    rules = workdir / "rules.yml"
    rules.write_text(
        f"groups:\n  - name: bench\n    rules:\n      - alert: {name}\n        expr: {json.dumps(expression)}\n"
    )
    alertmanager = alertmanager_url.removeprefix("http://")
    (workdir / "prometheus.yml").write_text(
        "global:\n  scrape_interval: 15s\n  evaluation_interval: 15s\n"
        f"rule_files:\n  - {rules}\n"
        f"alerting:\n  alertmanagers:\n    - static_configs:\n        - targets: ['{alertmanager}']\n"
        "scrape_configs:\n  - job_name: flip\n    static_configs:\n"
        f"      - targets: ['127.0.0.1:{target_port}']\n"
    )
    port = _processes.free_port()
    command = [
        binary,
        f"--config.file={workdir / 'prometheus.yml'}",
        f"--storage.tsdb.path={workdir / 'tsdb'}",
        f"--web.listen-address=127.0.0.1:{port}",
    ]
    processes.start("prometheus", command)
    url = f"http://127.0.0.1:{port}"
    processes.wait_http("prometheus", f"{url}/-/ready")
    return url
