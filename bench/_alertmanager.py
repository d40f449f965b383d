"""Prometheus and Alertmanager as commonly deployed, for benchmarks that alert or page beside them.

Prometheus scrapes and evaluates every 15 s with an alerting rule at ``for: 0``, and may send
its alerts to an Alertmanager; Alertmanager groups them by ``group_by`` and, with its default
timers (group_wait 30 s, group_interval 5 min, repeat_interval 4 h), posts each group to one
webhook. Both run as subprocesses of a ``_processes.Processes``, on free loopback ports, with
their files in ``workdir``; Alertmanager's clustering is off (it would bind port 9094).

Prometheus gets several copies of one target, each its own scrape job, and of one rule, each
its own rule group on its own job. The reason: Prometheus starts each scrape loop at an offset
within the interval chosen by a hash of the target, and each rule group at one chosen by a hash
of the group's name and file, so for one target and one group the wait from a scrape to the
next evaluation is fixed for the run, anywhere from 0 to 15 s. One copy thus measures one draw
of that offset; with K copies the benchmarks see K draws and can report Prometheus's average
behaviour, and ``scrape_to_eval_offsets`` says which draws a run got. Nothing else changes: every
job and group keeps the common 15 s interval.
"""

from __future__ import annotations

import json
import re
from datetime import datetime
from pathlib import Path

import _processes
import httpx

INTERVAL_S = 15


def copy_jobs(copies: int) -> list[str]:
    """The job names of ``copies`` copies of the flipping target, on Opsboard's side as well."""
    return [f"flip-{index}" for index in range(copies)]


def metrics_path(job: str) -> str:
    """Where the benchmarks' gauge servers serve the copy ``job``."""
    return f"/{job}/metrics"


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
    jobs: list[str],
    alert: tuple[str, str, str],
    workdir: Path,
    processes: _processes.Processes,
    alertmanager_url: str | None = None,
) -> str:
    """Prometheus scraping one job per entry of ``jobs`` (``127.0.0.1:target_port`` at
    ``metrics_path(job)``) and evaluating, in one rule group per job, the alert ``(name,
    metric, condition)`` on that job's series, all every 15 s; alerting to
    ``alertmanager_url`` when given. Its URL once it is ready."""
    name, metric, condition = alert
    groups = "".join(
        f"  - name: {job}\n    rules:\n      - alert: {name}\n"
        f"        expr: {json.dumps(f'{metric}{{job={json.dumps(job)}}} {condition}')}\n"
        for job in jobs
    )
    rules = workdir / "rules.yml"
    rules.write_text(f"groups:\n{groups}")
    scrapes = "".join(
        f"  - job_name: {job}\n    metrics_path: {metrics_path(job)}\n"
        f"    static_configs:\n      - targets: ['127.0.0.1:{target_port}']\n"
        for job in jobs
    )
    alerting = ""
    if alertmanager_url:
        alertmanager = alertmanager_url.removeprefix("http://")
        alerting = f"alerting:\n  alertmanagers:\n    - static_configs:\n        - targets: ['{alertmanager}']\n"
    (workdir / "prometheus.yml").write_text(
        f"global:\n  scrape_interval: {INTERVAL_S}s\n  evaluation_interval: {INTERVAL_S}s\n"
        f"rule_files:\n  - {rules}\n{alerting}scrape_configs:\n{scrapes}"
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


def scraped_and_evaluated(client: httpx.Client, metric: str, jobs: list[str]) -> bool:
    """Whether Prometheus has scraped ``metric`` from every job and evaluated every group once."""
    result = client.get("/api/v1/query", params={"query": metric}).json()["data"]["result"]
    groups = client.get("/api/v1/rules").json()["data"]["groups"]
    evaluated = {g["name"] for g in groups if not g["lastEvaluation"].startswith("0001-")}
    return {r["metric"].get("job") for r in result} >= set(jobs) and evaluated >= set(jobs)


def firing_jobs(client: httpx.Client, alertname: str) -> set[str]:
    """The jobs whose copy of the alert ``alertname`` is firing."""
    alerts = client.get("/api/v1/alerts").json()["data"]["alerts"]
    return {
        a["labels"].get("job", "")
        for a in alerts
        if a["labels"].get("alertname") == alertname and a["state"] == "firing"
    }


def scrape_to_eval_offsets(client: httpx.Client) -> dict[str, float]:
    """By job: seconds from Prometheus's scrape of that job to the next evaluation of the rule
    group of the same name (0 to 15). Fixed for a run (both phases come from hashes), it is
    what Prometheus adds to the wait for the next scrape: a copy's mean flip-to-firing is
    about 7.5 s plus this."""
    targets = client.get("/api/v1/targets").json()["data"]["activeTargets"]
    scraped = {t["labels"]["job"]: _epoch_s(t["lastScrape"]) for t in targets}
    groups = client.get("/api/v1/rules").json()["data"]["groups"]
    evaluated = {g["name"]: _epoch_s(g["lastEvaluation"]) for g in groups}
    return {job: (evaluated[job] - at) % INTERVAL_S for job, at in scraped.items() if job in evaluated}


def _epoch_s(stamp: str) -> float:
    """An RFC 3339 time with nanoseconds, as Prometheus writes it, in seconds since the epoch."""
    found = re.fullmatch(r"(.+T\d\d:\d\d:\d\d)(\.\d+)?(Z|[+-]\d\d:\d\d)", stamp)
    if found is None:
        raise ValueError(f"not an RFC 3339 time: {stamp!r}")
    zone = "+00:00" if found[3] == "Z" else found[3]
    return datetime.fromisoformat(found[1] + zone).timestamp() + float(found[2] or 0)
