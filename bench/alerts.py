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
   ``flip_gauge`` served from here flips from 0 to 1, and back once both sides fired.
   Opsboard polls it every 15 s as a model endpoint (a poller worker, the dispatcher called
   here every second as beat does) and evaluates ``flip_gauge > 0.5`` (``for: 0``) on
   arrival; Prometheus scrapes it every 15 s and evaluates the same alerting rule every 15 s.
   Both are watched every 100 ms from here (the database; Prometheus's /api/v1/alerts).

   Each side watches K copies of the gauge (8, ``--copies``), all flipping at the same
   instant, so that each flip gives K measurements per side and the figures estimate each
   system's average behaviour rather than one draw of its timers. Prometheus scrapes each
   copy as its own job and evaluates the rule in one group per job: a scrape loop and a rule
   group start at offsets within the 15 s cycle chosen by hashes (of the target; of the
   group's name and file), so the wait from a copy's scrape to its group's next evaluation is
   fixed for a run, 0 to 15 s, and differs between copies. With one copy, a run measured one
   draw of it (a run whose wait was 4.45 s gave a ratio of 0.77, others 0.44 to 0.48). On
   Opsboard's side the copies are K model endpoints whose first polls are spread evenly
   over 15 s, as endpoints added at different moments would be, and one rule whose alerts
   are per series, so per copy (Opsboard evaluates on arrival: no second timer). The flips
   land at phases of the wall clock's 15 s cycle spread evenly from a random start
   (``flip_phases``): both systems tie their cycles to that clock, so over the flips every
   copy meets the flip at evenly spread points of its cycle. Without that, each wait before a
   flip starts where the last copy resolved, and the flips of a run could bunch in one part
   of the cycle.

   Prints ``flips`` (3, ``--flips``; about a minute each), ``flip_copies``, ``flip_samples``
   (flips x copies, per side), ``opsboard_flip_to_firing_median_s`` and
   ``prometheus_flip_to_firing_median_s`` (medians over all samples), ``fire_latency_ratio =
   Opsboard / Prometheus`` (goal <= 0.6), and the scrape-to-evaluation waits of this run's
   copies: ``prometheus_scrape_to_eval_s`` (their mean; Prometheus's mean flip-to-firing is
   about 7.5 s plus this, 15 s for a spread as even as Opsboard's), ``..._min_s``,
   ``..._median_s`` and ``..._max_s``. Opsboard's mean is about 7.5 s (half its poll) plus
   the poll and evaluation, so the expected ratio is near 0.5. What a run cannot average
   away is its draw of Prometheus's offsets: the mean of 8 has a standard deviation near
   15 / sqrt(12 x 8) = 1.5 s, which moves the ratio by about 0.05 either way; more copies
   narrow it.

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
import shutil
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import _alertmanager
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
from django.utils import timezone  # noqa: E402

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
POLL_INTERVAL_S = 15  # Opsboard's, as Prometheus's scrape and evaluation intervals


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
    """A /metrics endpoint with one gauge, served from a thread of this process at every path
    (each copy has its own, ``_alertmanager.metrics_path(job)``); all copies flip together."""

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


def flip_endpoints(port: int, jobs: list[str]) -> None:
    """One model endpoint per copy (named as its job), polled every 15 s, with first polls
    spread evenly over the next 15 s, as endpoints added at different moments would be: a flip
    then finds each copy at a different point of its poll cycle."""
    first = timezone.now() + timedelta(seconds=random.uniform(1, 1 + POLL_INTERVAL_S / len(jobs)))
    for index, job in enumerate(jobs):
        ModelEndpoint.objects.create(
            name=job,
            kind="prometheus",
            url=f"http://127.0.0.1:{port}{_alertmanager.metrics_path(job)}",
            interval_s=POLL_INTERVAL_S,
            timeout_s=5,
            queue="polls",
            config={"family": "none"},
            next_poll_at=first + timedelta(seconds=POLL_INTERVAL_S * index / len(jobs)),
        )


def polled_all(jobs: list[str]) -> bool:
    return ModelEndpoint.objects.filter(name__in=jobs, last_slot_done__isnull=False).count() == len(jobs)


def firing_jobs(rule: AlertRule) -> set[str]:
    """The jobs (copies) whose alert of ``rule`` is firing."""
    states = AlertState.objects.filter(rule=rule, state=AlertState.FIRING).values_list("labels", flat=True)
    return {labels.get("job", "") for labels in states}


@dataclass
class FlipResult:
    """Seconds from each flip to firing, per copy, for Opsboard and Prometheus; and by job,
    Prometheus's seconds from its scrape to its next evaluation."""

    ours: list[float] = field(default_factory=list)
    theirs: list[float] = field(default_factory=list)
    offsets: dict[str, float] = field(default_factory=dict)


def flips(
    flip_count: int, copies: int, binary: str, workdir: Path, processes: _processes.Processes, env: dict[str, str]
) -> FlipResult:
    target = FlipTarget()
    jobs = _alertmanager.copy_jobs(copies)
    try:
        flip_endpoints(target.port, jobs)
        rule = threshold_rule("bench flip", FLIP_METRIC, 0.5)  # one rule: one alert per copy
        processes.celery_worker("poller", "polls", 16, env)
        alert = ("BenchFlip", FLIP_METRIC, "> 0.5")
        prometheus = _alertmanager.start_prometheus(binary, target.port, jobs, alert, workdir, processes)
        dispatch = Dispatcher()
        with httpx.Client(base_url=prometheus, timeout=5) as client:
            wait_until(
                lambda: polled_all(jobs) and _alertmanager.scraped_and_evaluated(client, FLIP_METRIC, jobs),
                "both to have scraped every copy once",
                processes,
                timeout_s=90,
                every_s=0.1,
                idle=dispatch,
            )
            result = FlipResult()
            for number, phase in enumerate(flip_phases(flip_count), 1):
                until = time.monotonic() + until_phase(phase)
                while time.monotonic() < until:
                    dispatch()
                    time.sleep(0.1)
                ours, theirs = flip_once(target, rule, client, jobs, processes, dispatch)
                result.ours += ours
                result.theirs += theirs
                logger.info("flip %d: Opsboard %s s; Prometheus %s s", number, seconds_text(ours), seconds_text(theirs))
            result.offsets = _alertmanager.scrape_to_eval_offsets(client)
    finally:
        target.close()
    return result


def flip_phases(count: int) -> list[float]:
    """Where in the 15 s cycle of the wall clock each flip lands: ``count`` evenly spaced
    phases from a random start, in random order. Prometheus ties its scrapes and evaluations
    to that clock (each at its hash's offset), and the endpoints' first polls tie Opsboard's,
    so over the flips each copy on either side meets the flip at evenly spread points of its
    cycle, not wherever the waits before the flips happened to leave it."""
    rng = random.Random()
    start = rng.uniform(0, POLL_INTERVAL_S / count)
    phases = [start + POLL_INTERVAL_S * index / count for index in range(count)]
    rng.shuffle(phases)
    return phases


def until_phase(phase: float, at_least_s: float = 2.0) -> float:
    """Seconds from now, at least ``at_least_s``, to the wall clock's next ``phase`` of its 15 s cycle."""
    return at_least_s + (phase - time.time() - at_least_s) % POLL_INTERVAL_S


def flip_once(
    target: FlipTarget,
    rule: AlertRule,
    client: httpx.Client,
    jobs: list[str],
    processes: _processes.Processes,
    dispatch: Dispatcher,
) -> tuple[list[float], list[float]]:
    """Flip every copy to 1; once each copy fired on both sides, back to 0 until all resolved.
    Seconds from the flip to each copy firing: Opsboard's, Prometheus's."""
    target.value = 1.0
    flipped = time.monotonic()
    ours: dict[str, float] = {}
    theirs: dict[str, float] = {}

    def all_fired() -> bool:
        now = time.monotonic()
        for job in firing_jobs(rule):
            ours.setdefault(job, now - flipped)
        for job in _alertmanager.firing_jobs(client, "BenchFlip"):
            theirs.setdefault(job, now - flipped)
        return len(ours) == len(theirs) == len(jobs)

    wait_until(all_fired, "every copy to fire on both", processes, timeout_s=120, every_s=0.1, idle=dispatch)
    target.value = 0.0
    wait_until(
        lambda: not firing_jobs(rule) and not _alertmanager.firing_jobs(client, "BenchFlip"),
        "every copy to resolve on both",
        processes,
        timeout_s=120,
        every_s=0.1,
        idle=dispatch,
    )
    return list(ours.values()), list(theirs.values())


def seconds_text(values: list[float]) -> str:
    return " ".join(f"{value:.1f}" for value in sorted(values))


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
    parser.add_argument("--flips", type=int, default=3, help="flips of the gauge beside Prometheus (3)")
    parser.add_argument("--copies", type=int, default=8, help="copies of the gauge and its rule on each side (8)")
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
        result = flips(args.flips, args.copies, binary, workdir, processes, env)
        ours, theirs = statistics.median(result.ours), statistics.median(result.theirs)
        offsets = list(result.offsets.values())
        _django.figure("flips", args.flips)
        _django.figure("flip_copies", args.copies)
        _django.figure("flip_samples", len(result.ours))
        _django.figure("opsboard_flip_to_firing_median_s", ours, 2)
        _django.figure("prometheus_flip_to_firing_median_s", theirs, 2)
        _django.figure("prometheus_scrape_to_eval_s", statistics.mean(offsets), 2)
        _django.figure("prometheus_scrape_to_eval_min_s", min(offsets), 2)
        _django.figure("prometheus_scrape_to_eval_median_s", statistics.median(offsets), 2)
        _django.figure("prometheus_scrape_to_eval_max_s", max(offsets), 2)
        _django.figure("fire_latency_ratio", ours / theirs, 2)


if __name__ == "__main__":
    main()
