"""Alerting: a full evaluation pass, fire latency on arrival, and fire latency beside Prometheus.

1. A full pass, in this process: 1,000 rules over 10,000 series (1,000 metric names x 10
   series, 15-second samples over the last 15 minutes). Most rules are ``threshold`` on
   ``avg_over_time(<metric>[2m])``, the rest ``absent``, ``not_finite``, ``anomaly`` (a
   10-minute baseline) and ``trend``; 4% fire. ``evaluate_many(all ids, now)`` runs twice
   and the second (warm) pass is reported: ``eval_pass_s``, ``eval_pass_fraction = eval_pass_s
   / EVAL_INTERVAL_S`` (goal < 0.2 on one worker), ``eval_pass_cpu_s`` (this process's CPU
   time in the pass; the database's is not counted), ``eval_pass_queries`` (statements through
   Django's cursors in a third, untimed pass: the COPY of each rule's samples is not among
   them), ``eval_rule_errors``, ``eval_firing_alerts``, ``eval_rules``, ``eval_series``.
2. Fire latency on arrival: daphne serves the app and an evaluator worker (the Procfile's:
   ``--queues alerts --pool threads --concurrency 4``) evaluates rules as their data arrives.
   For a ``for: 0`` rule ``bench_fire > 100``, a low value is pushed through
   ``POST /api/v1/push`` until the alert is resolved, then a high one; the time from the push's
   answer to ``AlertState`` being ``firing`` (the database polled every 5 ms from here) gives
   ``fire_median_ms`` and ``fire_p95_ms`` (goal: median <= 250 ms). 20 pushes, 5 with --quick.
3. Beside Prometheus (skipped with --quick or without a ``prometheus`` binary): a gauge
   ``flip_gauge`` served from here flips from 0 to 1 at random moments. Opsboard polls it
   every 15 s as a model endpoint (a poller worker, the dispatcher called here every second as
   beat does) and evaluates ``flip_gauge > 0.5`` (``for: 0``) on arrival; Prometheus scrapes it
   every 15 s and evaluates the same alerting rule every 15 s. Both are watched every 100 ms
   from here (the database; Prometheus's /api/v1/alerts). Prints
   ``opsboard_flip_to_firing_median_s``, ``prometheus_flip_to_firing_median_s``,
   ``fire_latency_ratio = Opsboard / Prometheus`` (goal <= 0.6) and
   ``prometheus_scrape_to_eval_s``: Prometheus's wait from its scrape to its next evaluation,
   fixed for a run by hashes of the target and the rule file, 0 to 15 s; its median is about
   7.5 s plus this, so the ratio moves with it from run to run. 5 flips (``--flips``).

Everything runs on a scratch database; the Celery queues live in an empty Redis database of
their own (claimed for the run), so that no other worker on the same Redis takes the tasks.
``--profile FILE`` writes a cProfile of one more warm pass, after the timed one.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/test .venv/bin/python bench/alerts.py [--quick]
"""

from __future__ import annotations

import argparse
import cProfile
import logging
import math
import os
import random
import re
import shutil
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from contextlib import ExitStack
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import _processes

# Redis keys and Celery queues of this run only (see _processes.claim_redis_database).
PREFIX = f"opsboard-bench-{os.getpid()}"
os.environ["OPSBOARD_REDIS_PREFIX"] = PREFIX
REDIS_URL, RELEASE_REDIS = _processes.claim_redis_database(os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"))
os.environ["REDIS_URL"] = REDIS_URL

import _django  # noqa: E402

_django.setup()

import httpx  # noqa: E402
from django.conf import settings  # noqa: E402
from django.db import connection  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402

from alerts.evaluation import evaluate_many  # noqa: E402
from alerts.models import AlertRule, AlertState  # noqa: E402
from alerts.rules import create_rule  # noqa: E402
from monitoring import polling, store, tasks  # noqa: E402
from monitoring.models import ModelEndpoint  # noqa: E402
from monitoring.samples import Sample, make_labels  # noqa: E402
from opsboard.accounts import roles  # noqa: E402
from opsboard.accounts.models import Role, User  # noqa: E402
from opsboard.accounts.services import create_token  # noqa: E402
from opsboard.audit.services import Actor  # noqa: E402

logger = logging.getLogger("bench")
BY = Actor.system("bench")
STEP_MS = 15_000
HISTORY_MS = 15 * 60_000
SERIES_PER_NAME = 10
FIRE_METRIC, FIRE_THRESHOLD = "bench_fire", 100.0
FLIP_METRIC = "flip_gauge"


# --- 1. A full evaluation pass -------------------------------------------------------------


def metric(index: int) -> str:
    return f"bench_m_{index:04d}"


def seed_series(names: int, now_ms: int) -> int:
    """``names`` x 10 series of 15-second samples ending at ``now_ms``; a few hot or broken."""
    rng = random.Random(11)
    labels = [make_labels({"job": "bench", "instance": f"node-{j}"}) for j in range(SERIES_PER_NAME)]
    levels = [[rng.uniform(10, 60) for _ in labels] for _ in range(names)]
    for index in range(names):
        if index % 100 in (1, 2):
            levels[index][0] = 95.0  # its threshold rule fires
    stamps = [now_ms - k * STEP_MS for k in reversed(range(HISTORY_MS // STEP_MS))]
    batch: list[Sample] = []
    written = 0
    for ts in stamps:
        for index in range(names):
            for j, label_set in enumerate(labels):
                value = levels[index][j] + rng.gauss(0, 2)
                if index % 100 == 7 and j == 0 and ts == stamps[-1]:
                    value = math.inf  # its not_finite rule fires
                batch.append(Sample(metric(index), label_set, ts, value))
        if len(batch) >= 20_000:
            written += store.write(batch).written
            batch = []
    written += store.write(batch).written if batch else 0
    return written


def rule_values(index: int) -> dict:
    """The mix: 80% threshold on a 2-minute average, 5% each absent, not_finite, anomaly, trend."""
    name, kind = metric(index), index % 20
    values: dict = {"name": f"bench rule {index:04d}", "for_s": 0, "severity": "warning"}
    if kind == 3:
        shard = "gone" if index % 100 == 3 else "node-0"  # one in five watches a series that is not there
        expression = f'{name}{{instance="{shard}"}}'
        return {**values, "expression": expression, "condition_kind": "absent", "condition": {"seconds": 120}}
    if kind == 7:
        return {**values, "expression": name, "condition_kind": "not_finite", "condition": {}}
    if kind == 11:
        condition = {"method": "zscore", "baseline_s": 600, "k": 5.0, "min_samples": 20}
        return {**values, "expression": name, "condition_kind": "anomaly", "condition": condition}
    if kind == 15:
        condition = {"mode": "slope", "window_s": 300, "rate": 1.0, "direction": "rising"}
        return {**values, "expression": name, "condition_kind": "trend", "condition": condition}
    return {
        **values,
        "expression": f"avg_over_time({name}[2m])",
        "condition_kind": "threshold",
        "condition": {"op": ">", "value": 80},
    }


def eval_pass(names: int, profile: str | None) -> None:
    now_ms = int(time.time() * 1000)
    samples = seed_series(names, now_ms)
    ids = [create_rule(rule_values(index), by=BY).pk for index in range(names)]  # after the data: no arrivals
    logger.info("%d samples, %d rules; evaluating", samples, len(ids))
    evaluate_many(ids, now_ms)  # cold: caches, plans, the first transitions
    cpu0, started = time.process_time(), time.perf_counter()
    evaluate_many(ids, now_ms)
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu0
    with CaptureQueriesContext(connection) as queries:
        evaluate_many(ids, now_ms)
    if profile:
        profiler = cProfile.Profile()
        profiler.runcall(evaluate_many, ids, now_ms)
        profiler.dump_stats(profile)
    errors = AlertRule.objects.filter(pk__in=ids).exclude(last_eval_error="")
    for rule in errors[:5]:
        logger.warning("rule %s failed: %s", rule.name, rule.last_eval_error)
    _django.figure("eval_rules", len(ids))
    _django.figure("eval_series", names * SERIES_PER_NAME)
    _django.figure("eval_pass_s", elapsed)
    _django.figure("eval_pass_fraction", elapsed / settings.EVAL_INTERVAL_S)
    _django.figure("eval_pass_cpu_s", cpu)
    _django.figure("eval_pass_queries", len(queries.captured_queries))
    _django.figure("eval_rule_errors", errors.count())
    _django.figure("eval_firing_alerts", AlertState.objects.filter(state=AlertState.FIRING, rule__in=ids).count())


# --- Shared by 2 and 3 -----------------------------------------------------------------------


def app_env() -> dict[str, str]:
    """What the app's processes need to run on the scratch database and this run's Redis."""
    return {
        "DATABASE_URL": _processes.database_url(),
        "REDIS_URL": REDIS_URL,
        "OPSBOARD_REDIS_PREFIX": PREFIX,
        "ALLOWED_HOSTS": "127.0.0.1",
        "DEBUG": "0",
    }


def wait_until(
    condition: Callable[[], bool],
    what: str,
    processes: _processes.Processes,
    *,
    timeout_s: float,
    every_s: float,
    idle: Callable[[], None] = lambda: None,
) -> float:
    """Poll ``condition`` until it holds; the monotonic time it was first seen to hold."""
    deadline = time.monotonic() + timeout_s
    checked = 0.0
    while True:
        if condition():
            return time.monotonic()
        now = time.monotonic()
        if now > deadline:
            raise SystemExit(f"timed out after {timeout_s:g} s waiting for {what}")
        if now - checked > 1.0:
            processes.check()
            checked = now
        idle()
        time.sleep(every_s)


def threshold_rule(name: str, expression: str, value: float) -> AlertRule:
    condition = {"op": ">", "value": value}
    return create_rule(
        {"name": name, "expression": expression, "condition_kind": "threshold", "condition": condition, "for_s": 0},
        by=BY,
    )


def firing(rule: AlertRule) -> bool:
    return AlertState.objects.filter(rule=rule, state=AlertState.FIRING).exists()


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, math.ceil(share * len(ordered)) - 1)]


# --- 2. Fire latency on arrival ----------------------------------------------------------------


def ingest_token() -> str:
    for slug in roles.LADDER:  # the data migration made them; make sure
        Role.objects.get_or_create(slug=slug, defaults={"name": slug.capitalize(), "description": slug})
    user = User(username="bench", email="bench@example.test", role_id=roles.VIEWER)
    user.set_unusable_password()
    user.save()
    return create_token(user=user, name="bench", scopes=["ingest"], by=BY)[1]


def fire_latencies(url: str, token: str, rule: AlertRule, pushes: int, processes: _processes.Processes) -> list[float]:
    """Milliseconds from the answer to a push over the threshold to the alert firing."""
    rng = random.Random(5)
    latencies = []
    with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=10) as client:

        def push(value: float) -> None:
            body = {"samples": [{"name": FIRE_METRIC, "labels": {"job": "bench"}, "value": value}]}
            client.post("/api/v1/push", json=body).raise_for_status()

        for attempt in range(pushes + 1):  # the first is a warm-up, not counted
            pushed_ms = int(time.time() * 1000)
            push(1.0)

            def quiet(pushed_ms: int = pushed_ms) -> bool:
                evaluated = AlertRule.objects.filter(pk=rule.pk, last_eval_ms__gte=pushed_ms).exists()
                return evaluated and not firing(rule)

            wait_until(quiet, "the low value to be evaluated", processes, timeout_s=30, every_s=0.01)
            time.sleep(rng.uniform(0.2, 0.5))
            push(FIRE_THRESHOLD * 2)
            answered = time.monotonic()
            fired = wait_until(lambda: firing(rule), "the alert to fire", processes, timeout_s=30, every_s=0.005)
            if attempt:
                latencies.append((fired - answered) * 1000)
    return latencies


# --- 3. Beside Prometheus ----------------------------------------------------------------------


class FlipTarget:
    """A /metrics endpoint with one gauge, served from a thread of this process."""

    def __init__(self) -> None:
        self.value = 0.0
        target = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                body = f"# HELP {FLIP_METRIC} Flips.\n# TYPE {FLIP_METRIC} gauge\n{FLIP_METRIC} {target.value}\n"
                data = body.encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/plain; version=0.0.4")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class Dispatcher:
    """Beat's ``dispatch-polls``: ``polling.dispatch_due`` once a second."""

    def __init__(self) -> None:
        self.last = 0.0

    def __call__(self) -> None:
        if time.monotonic() - self.last >= 1.0:
            self.last = time.monotonic()
            polling.dispatch_due(tasks.send_poll)


def start_prometheus(binary: str, target_port: int, workdir: Path, processes: _processes.Processes) -> str:
    (workdir / "rules.yml").write_text(
        "groups:\n  - name: bench\n    rules:\n      - alert: BenchFlip\n        expr: flip_gauge > 0.5\n"
    )
    (workdir / "prometheus.yml").write_text(
        "global:\n  scrape_interval: 15s\n  evaluation_interval: 15s\n"
        f"rule_files:\n  - {workdir / 'rules.yml'}\n"
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


def prometheus_firing(client: httpx.Client) -> bool:
    alerts = client.get("/api/v1/alerts").json()["data"]["alerts"]
    return any(a["labels"].get("alertname") == "BenchFlip" and a["state"] == "firing" for a in alerts)


def prometheus_has_series(client: httpx.Client) -> bool:
    return bool(client.get("/api/v1/query", params={"query": FLIP_METRIC}).json()["data"]["result"])


def prometheus_scrape_to_eval_s(client: httpx.Client) -> float:
    """Seconds from Prometheus's scrape of the target to its next rule evaluation (0 to 15):
    fixed for a run (both phases come from hashes), it is what Prometheus adds to the wait for
    the next scrape, so its flip-to-firing median is about 7.5 s plus this."""
    scraped = client.get("/api/v1/targets").json()["data"]["activeTargets"][0]["lastScrape"]
    evaluated = client.get("/api/v1/rules").json()["data"]["groups"][0]["lastEvaluation"]
    return (_epoch_s(evaluated) - _epoch_s(scraped)) % 15


def _epoch_s(stamp: str) -> float:
    """An RFC 3339 time with nanoseconds, as Prometheus writes it, in seconds since the epoch."""
    found = re.fullmatch(r"(.+T\d\d:\d\d:\d\d)(\.\d+)?(Z|[+-]\d\d:\d\d)", stamp)
    if found is None:
        raise ValueError(f"not an RFC 3339 time: {stamp!r}")
    zone = "+00:00" if found[3] == "Z" else found[3]
    return datetime.fromisoformat(found[1] + zone).timestamp() + float(found[2] or 0)


def flips(
    flip_count: int, binary: str, workdir: Path, processes: _processes.Processes, env: dict[str, str]
) -> tuple[list[float], list[float], float]:
    """Seconds from each flip to firing, for Opsboard and for Prometheus; and Prometheus's
    seconds from its scrape to its next evaluation."""
    rng = random.Random()
    target = FlipTarget()
    try:
        ModelEndpoint.objects.create(
            name="bench-flip",
            kind="prometheus",
            url=f"http://127.0.0.1:{target.port}/metrics",
            interval_s=15,
            timeout_s=5,
            queue="polls",
            config={"family": "none"},
        )
        rule = threshold_rule("bench flip", FLIP_METRIC, 0.5)
        processes.celery_worker("poller", "polls", 16, env)
        prometheus = start_prometheus(binary, target.port, workdir, processes)
        dispatch = Dispatcher()
        with httpx.Client(base_url=prometheus, timeout=5) as client:
            wait_until(
                lambda: (
                    prometheus_has_series(client)
                    and AlertRule.objects.filter(pk=rule.pk, last_eval_ms__isnull=False).exists()
                ),
                "both to have scraped and evaluated the gauge once",
                processes,
                timeout_s=90,
                every_s=0.1,
                idle=dispatch,
            )
            ours, theirs = [], []
            strata = rng.sample(range(flip_count), flip_count)
            for number in range(flip_count):
                # A pause of 2 to 17 s, one of flip_count equal strata each: the flips land at
                # random phases of both 15 s cycles, spread over the whole cycle.
                pause = 2 + 15 * (strata[number] + rng.random()) / flip_count
                until = time.monotonic() + pause
                while time.monotonic() < until:
                    dispatch()
                    time.sleep(0.1)
                target.value = 1.0
                flipped = time.monotonic()
                seen: dict[str, float] = {}

                def both_fired(seen: dict[str, float] = seen) -> bool:
                    now = time.monotonic()
                    if "opsboard" not in seen and firing(rule):
                        seen["opsboard"] = now
                    if "prometheus" not in seen and prometheus_firing(client):
                        seen["prometheus"] = now
                    return len(seen) == 2

                wait_until(both_fired, "both to fire", processes, timeout_s=120, every_s=0.1, idle=dispatch)
                ours.append(seen["opsboard"] - flipped)
                theirs.append(seen["prometheus"] - flipped)
                logger.info("flip %d: Opsboard %.1f s, Prometheus %.1f s", number + 1, ours[-1], theirs[-1])
                target.value = 0.0
                wait_until(
                    lambda: not firing(rule) and not prometheus_firing(client),
                    "both to resolve",
                    processes,
                    timeout_s=120,
                    every_s=0.1,
                    idle=dispatch,
                )
            gap = prometheus_scrape_to_eval_s(client)
    finally:
        target.close()
    return ours, theirs, gap


# --- Main ------------------------------------------------------------------------------------


def close_other_sessions() -> None:
    """Sessions a killed process left on the scratch database would keep it from being dropped."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
            [connection.settings_dict["NAME"]],
        )


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stderr)
    for noisy in ("httpx", "alerts.evaluation"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="100 rules over 1,000 series, 5 pushes, no Prometheus")
    parser.add_argument("--pushes", type=int, default=None, help="pushes over the threshold (20; 5 with --quick)")
    parser.add_argument("--flips", type=int, default=5, help="flips of the gauge beside Prometheus (5)")
    parser.add_argument("--profile", metavar="FILE", help="write a cProfile of one more warm pass to FILE")
    args = parser.parse_args()
    names = 100 if args.quick else 1000
    pushes = args.pushes or (5 if args.quick else 20)
    binary = shutil.which("prometheus")
    _processes.stop_on_sigterm()
    with ExitStack() as stack:
        stack.callback(RELEASE_REDIS)  # last: after the workers are stopped
        workdir = Path(stack.enter_context(tempfile.TemporaryDirectory()))
        stack.enter_context(_django.scratch_database())
        if connection.vendor != "postgresql":
            raise SystemExit("bench/alerts.py needs DATABASE_URL=postgres://…")
        stack.callback(close_other_sessions)  # runs after the processes below are stopped
        processes = stack.enter_context(_processes.Processes(workdir))

        eval_pass(names, args.profile)

        env = app_env()
        token = ingest_token()
        rule = threshold_rule("bench fire", FIRE_METRIC, FIRE_THRESHOLD)
        processes.celery_worker("evaluator", "alerts", 4, env)
        url = processes.daphne(_processes.free_port(), env)
        latencies = fire_latencies(url, token, rule, pushes, processes)
        _django.figure("fire_pushes", len(latencies))
        _django.figure("fire_median_ms", statistics.median(latencies), 1)
        _django.figure("fire_p95_ms", percentile(latencies, 0.95), 1)

        if args.quick or binary is None:
            logger.info("side by side with Prometheus: skipped (%s)", "--quick" if args.quick else "no prometheus")
            return
        ours, theirs, gap = flips(args.flips, binary, workdir, processes, env)
        _django.figure("flips", len(ours))
        _django.figure("opsboard_flip_to_firing_median_s", statistics.median(ours), 2)
        _django.figure("prometheus_flip_to_firing_median_s", statistics.median(theirs), 2)
        _django.figure("prometheus_scrape_to_eval_s", gap, 2)
        _django.figure("fire_latency_ratio", statistics.median(ours) / statistics.median(theirs), 2)


if __name__ == "__main__":
    main()
