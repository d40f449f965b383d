"""Paging: a push to the page at a webhook, the resolve page, no page lost or duplicated
under a failing receiver, and flip-to-page beside Prometheus + Alertmanager.

The app runs as in the Procfile: daphne serves it, an ``evaluator`` worker (``--queues alerts
--pool threads --concurrency 4``) evaluates rules as their data arrives, and one ``pager``
worker (``--queues pages-critical,pages --pool threads --concurrency 4``) delivers (the
Procfile's pager takes only pages-critical and its general worker takes pages; these pages are
warnings, so they go to pages, and one worker on both queues serves them). A thread does beat's
share: ``alerts.deliver_due`` (the retries' safety net) every 5 s and, for part 4, the poll
dispatcher every second. The escalation and evaluation passes of beat do not run (every page
here comes from evaluation on arrival, and every incident resolves before its next step).
Webhook receivers are HTTP servers in threads of this process, noting when each request
arrived (``time.monotonic()``), so every latency below is measured on one clock.

1. Page latency: a rule ``bench_page > 100`` (``for: 0``) pages a webhook channel through the
   default escalation policy. A push over the threshold (``POST /api/v1/push`` with an ingest
   token) opens a new incident each time (``reopen_window_s`` 0); the time from *sending* the
   push to the receiver getting its ``triggered`` message gives ``page_median_ms`` and
   ``page_p95_ms`` (goal: median <= 500 ms). 20 pages (5 with --quick) after a warm-up page.
   ``push_median_ms`` is the push's own round trip, the part of that spent before the answer.
2. Resolve page: after each page, a low value is pushed; ``resolve_page_median_ms`` is from
   sending it to the receiver getting the ``resolved`` message of that incident (goal <= 1,000
   ms; Alertmanager sends a resolve only after a group interval, 5 minutes by default).
3. Nothing lost or duplicated: a second receiver answers 503 to the first 3 attempts of each
   delivery (by ``X-Opsboard-Delivery``). One push sends N series (label ``page``) over a rule
   grouped by ``page``: N incidents at once; once their pages landed, one push resolves them
   all. ``pages_lost``: pages whose ``triggered`` message got no 2xx answer within 60 s of the
   push; ``resolves_lost`` likewise for ``resolved``; ``pages_duplicated``: 2xx answers beyond
   the first for one delivery id, plus accepted delivery ids beyond the first for one
   (incident, event, recipient) (goal: both 0). ``retry_median_s``: from a delivery's first
   attempt to its accepted one (backoff 1 + 2 + 4 s, less jitter); ``flaky_first_attempt_median_s``
   and ``flaky_page_median_s``: from the push to a page's first attempt and to its accepted one.
   N is 20 (5 with --quick).
4. Beside Prometheus + Alertmanager (skipped with --quick or without the ``prometheus`` and
   ``prometheus-alertmanager`` binaries): a gauge ``flip_gauge{flip="<n>"}`` served from here
   flips from 0 to 1, with a new ``flip`` label each time, at phases of the wall clock's 15 s
   cycle spread evenly from a random start (see bench/alerts.py part 3). Prometheus scrapes
   and evaluates ``flip_gauge > 0.5`` every 15 s and alerts an Alertmanager (default
   group_wait 30 s, group_interval 5 min, repeat_interval 4 h) that posts to a receiver here.
   At the same time Opsboard polls the gauge every 15 s (a ``prometheus`` model endpoint, a
   poller worker) and pages a webhook channel for the same rule.

   As in bench/alerts.py part 3, each side watches K copies of the gauge (8, ``--copies``),
   all flipping at the same instant: Prometheus as K scrape jobs with one rule group each, so
   the K copies draw K of its hash-chosen scrape-to-evaluation offsets (0 to 15 s, fixed per
   copy for the run) instead of one; Opsboard as K model endpoints whose first polls are spread
   evenly over 15 s. Alertmanager groups by ``[alertname, job, flip]`` and the Opsboard rule by
   ``[job, flip]``, so every copy of every flip is its own group and its own incident: K pages
   per side per flip, each after its own group_wait on Alertmanager's side. From the flip to
   each page: ``opsboard_flip_to_page_median_s``, ``alertmanager_flip_to_page_median_s``
   (medians over flips x copies, ``flip_samples``) and ``page_latency_ratio`` = Opsboard /
   Alertmanager (goal <= 0.25). Averaged over the offsets, theirs is about 45 s (half a scrape,
   half an evaluation, group_wait) and ours about 7.5 s (half a poll) plus the poll and the
   page; ``prometheus_scrape_to_eval_s`` (the copies' mean offset), ``..._min_s``,
   ``..._median_s`` and ``..._max_s`` show which offsets the run drew.
   ``opsboard_scrape_to_page_median_s`` and ``prometheus_scrape_to_page_median_s`` are from the
   first scrape of a copy that read the flip (noted by the gauge, by path and user agent) to
   that copy's page: the part that is not the phase of the 15 s poll or scrape.
   4 flips (``--flips``), about 1.5 minutes each: every copy must page on both sides, then
   resolve, before the next.

Everything runs on a scratch database and a Redis database of the run's own (see
bench/alerts.py, whose helpers this reuses).

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/test .venv/bin/python bench/paging.py [--quick] [--flips N]
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import logging
import random
import shutil
import statistics
import sys
import tempfile
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import ModuleType
from typing import Any

import _processes


def _load_alerts_bench() -> ModuleType:
    """bench/alerts.py, loaded by its path: as ``alerts`` it would shadow the alerts app.
    Loading it claims the run's Redis database and sets Django up, as running it does."""
    spec = importlib.util.spec_from_file_location("bench_alerts", Path(__file__).with_name("alerts.py"))
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


bench_alerts = _load_alerts_bench()

import _alertmanager  # noqa: E402
import _django  # noqa: E402
import httpx  # noqa: E402
from django.db import connection  # noqa: E402

from alerts import tasks as alert_tasks  # noqa: E402
from alerts.models import (  # noqa: E402
    AlertRule,
    AlertState,
    EscalationPolicy,
    EscalationStep,
    Notification,
    NotificationChannel,
)
from alerts.rules import create_rule  # noqa: E402

logger = logging.getLogger("bench")
PAGE_METRIC, FLAKY_METRIC, FLIP_METRIC = "bench_page", "bench_flaky", "flip_gauge"
THRESHOLD = 100.0
FAIL_FIRST = 3  # attempts of each delivery the flaky receiver refuses
DEADLINE_S = 60.0  # a page not accepted within this of its push is lost
FLIP_TIMEOUT_S = 180.0


# --- Webhook receivers ---------------------------------------------------------------------


@dataclass(frozen=True)
class Arrival:
    at: float  # time.monotonic() once the request was read
    path: str
    delivery: str  # X-Opsboard-Delivery; empty from Alertmanager
    status: int  # what we answered
    body: dict[str, Any] = field(default_factory=dict)

    @property
    def accepted(self) -> bool:
        return 200 <= self.status < 300

    @property
    def event(self) -> str:
        return self.body.get("event", "")

    @property
    def incident(self) -> dict[str, Any]:
        return self.body.get("incident") or {}


class Receivers:
    """Webhook receivers on one port, served from threads of this process; each path is one
    receiver. ``failing[path] = n``: the first n attempts of each delivery there get 503."""

    def __init__(self, failing: dict[str, int]) -> None:
        self.failing = failing
        self.lock = threading.Lock()
        self.arrivals: list[Arrival] = []
        self.attempts: Counter[tuple[str, str]] = Counter()
        receivers = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                data = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                status = receivers.take(self.path, self.headers.get("X-Opsboard-Delivery", ""), data)
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def take(self, path: str, delivery: str, data: bytes) -> int:
        at = time.monotonic()
        try:
            body = json.loads(data)
        except ValueError:
            body = {}
        with self.lock:
            self.attempts[path, delivery] += 1
            refused = bool(delivery) and self.attempts[path, delivery] <= self.failing.get(path, 0)
            status = 503 if refused else 200
            self.arrivals.append(Arrival(at, path, delivery, status, body if isinstance(body, dict) else {}))
        return status

    def at(self, path: str) -> list[Arrival]:
        with self.lock:
            return [a for a in self.arrivals if a.path == path]

    def first(self, path: str, match: Callable[[Arrival], bool]) -> Arrival | None:
        return next((a for a in self.at(path) if a.accepted and match(a)), None)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def wait_for_page(
    receivers: Receivers, path: str, match: Callable[[Arrival], bool], what: str, processes: _processes.Processes
) -> Arrival:
    bench_alerts.wait_until(
        lambda: receivers.first(path, match) is not None, what, processes, timeout_s=30, every_s=0.005
    )
    return receivers.first(path, match)


def settle(condition: Callable[[], bool], processes: _processes.Processes, timeout_s: float) -> bool:
    """Whether ``condition`` came to hold within ``timeout_s`` (no error when it did not)."""
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            return False
        processes.check()
        time.sleep(0.05)
    return True


# --- Beat's share, in a thread ----------------------------------------------------------------


class Beat:
    """``alerts.deliver_due`` every 5 s and, once ``polls`` is set, the poll dispatcher every
    second: what celery beat would send for this bench."""

    def __init__(self) -> None:
        self.polls = False
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self.run, name="beat", daemon=True)

    def start(self) -> None:
        self.thread.start()

    def run(self) -> None:
        dispatch = bench_alerts.Dispatcher()
        due_at = time.monotonic() + 5.0
        try:
            while not self.stopping.wait(0.1):
                try:
                    if self.polls:
                        dispatch()
                    if time.monotonic() >= due_at:
                        due_at += 5.0
                        alert_tasks.deliver_due()
                except Exception:  # a hiccup of the database or Redis: beat goes on too
                    logger.exception("beat")
        finally:
            connection.close()  # this thread's own

    def close(self) -> None:
        self.stopping.set()
        if self.thread.is_alive():
            self.thread.join(timeout=30)


# --- Set-up -------------------------------------------------------------------------------------


def webhook_policy(name: str, url: str, *, default: bool = False) -> EscalationPolicy:
    """A policy of one step paging one webhook channel."""
    channel = NotificationChannel.objects.create(name=name, kind="webhook", config={"url": url, "secret": ""})
    policy = EscalationPolicy.objects.create(name=name, is_default=default)
    EscalationStep.objects.create(policy=policy, position=0, wait_minutes=5, channel=channel)
    return policy


def paging_rule(name: str, metric: str, value: float, policy: EscalationPolicy, group_by: list[str]) -> AlertRule:
    """``metric > value``, ``for: 0``; a new incident every time it fires (no reopening)."""
    values = {
        "name": name,
        "expression": metric,
        "condition_kind": "threshold",
        "condition": {"op": ">", "value": value},
        "for_s": 0,
        "group_by": group_by,
        "reopen_window_s": 0,
        "policy_id": policy.pk,
    }
    return create_rule(values, by=bench_alerts.BY)


def evaluated_since(rule: AlertRule, ms: int) -> bool:
    return AlertRule.objects.filter(pk=rule.pk, last_eval_ms__gte=ms).exists()


class Pusher:
    """``POST /api/v1/push`` with an ingest token."""

    def __init__(self, url: str, token: str) -> None:
        self.client = httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=10)

    def __call__(self, metric: str, values: dict[str, float], label: str = "") -> None:
        """One sample per entry of ``values``: labelled ``{label: key}`` when ``label`` is given."""
        samples = [
            {"name": metric, "labels": {"job": "bench", **({label: key} if label else {})}, "value": value}
            for key, value in values.items()
        ]
        self.client.post("/api/v1/push", json={"samples": samples}).raise_for_status()

    def close(self) -> None:
        self.client.close()


# --- 1 and 2. Page and resolve latency ---------------------------------------------------------


@dataclass
class Latencies:
    page_ms: list[float] = field(default_factory=list)
    push_ms: list[float] = field(default_factory=list)
    resolve_ms: list[float] = field(default_factory=list)


def page_latencies(
    push: Pusher, receivers: Receivers, rule: AlertRule, pages: int, processes: _processes.Processes
) -> Latencies:
    rng = random.Random(5)
    result = Latencies()
    pushed_ms = int(time.time() * 1000)
    push(PAGE_METRIC, {"": 1.0})
    bench_alerts.wait_until(
        lambda: evaluated_since(rule, pushed_ms),
        "the first value to be evaluated",
        processes,
        timeout_s=30,
        every_s=0.01,
    )
    paged: set[str] = set()
    for attempt in range(pages + 1):  # the first is a warm-up, not counted
        time.sleep(rng.uniform(0.2, 0.5))
        sent = time.monotonic()
        push(PAGE_METRIC, {"": THRESHOLD * 2})
        answered = time.monotonic()
        page = wait_for_page(
            receivers,
            "/page",
            lambda a: a.event == "triggered" and a.incident.get("code") not in paged,
            "the triggered message",
            processes,
        )
        code = page.incident["code"]
        paged.add(code)
        time.sleep(rng.uniform(0.2, 0.5))
        low_sent = time.monotonic()
        push(PAGE_METRIC, {"": 1.0})
        resolved = wait_for_page(
            receivers,
            "/page",
            lambda a, code=code: a.event == "resolved" and a.incident.get("code") == code,
            f"the resolved message of {code}",
            processes,
        )
        if attempt:
            result.page_ms.append((page.at - sent) * 1000)
            result.push_ms.append((answered - sent) * 1000)
            result.resolve_ms.append((resolved.at - low_sent) * 1000)
    return result


# --- 3. Nothing lost or duplicated --------------------------------------------------------------


def flaky_pages(
    push: Pusher, receivers: Receivers, rule: AlertRule, count: int, processes: _processes.Processes
) -> dict[str, float]:
    """N pages at once to a receiver that refuses the first attempts of each delivery."""
    pages = [str(i) for i in range(count)]
    pushed_ms = int(time.time() * 1000)
    push(FLAKY_METRIC, dict.fromkeys(pages, 1.0), "page")
    bench_alerts.wait_until(
        lambda: evaluated_since(rule, pushed_ms),
        "the low values to be evaluated",
        processes,
        timeout_s=30,
        every_s=0.01,
    )

    def accepted(event: str) -> dict[str, Arrival]:
        """By page label: the first accepted message of ``event``."""
        found: dict[str, Arrival] = {}
        for a in receivers.at("/flaky"):
            if a.accepted and a.event == event:
                found.setdefault(a.incident.get("labels", {}).get("page", ""), a)
        return found

    sent = time.monotonic()
    push(FLAKY_METRIC, dict.fromkeys(pages, THRESHOLD * 2), "page")
    settle(lambda: accepted("triggered").keys() >= set(pages), processes, DEADLINE_S)
    triggered = {page: a for page, a in accepted("triggered").items() if a.at - sent <= DEADLINE_S}
    low_sent = time.monotonic()
    push(FLAKY_METRIC, dict.fromkeys(pages, 1.0), "page")
    settle(lambda: accepted("resolved").keys() >= triggered.keys(), processes, DEADLINE_S)
    resolved = {page: a for page, a in accepted("resolved").items() if a.at - low_sent <= DEADLINE_S}
    outbox = Notification.objects.filter(incident__rule=rule, status__in=[Notification.PENDING, Notification.SENDING])
    settle(lambda: not outbox.exists(), processes, DEADLINE_S)
    time.sleep(2.0)  # a late duplicate would arrive now
    return {
        "flaky_pages": count,
        "pages_lost": len(set(pages) - triggered.keys()),
        "resolves_lost": len(set(pages) - resolved.keys()),
        "pages_duplicated": duplicates(receivers.at("/flaky")),
        "retry_median_s": statistics.median(retry_times(receivers.at("/flaky"), "triggered") or [float("nan")]),
        "flaky_page_median_s": statistics.median([a.at - sent for a in triggered.values()] or [float("nan")]),
        "flaky_first_attempt_median_s": statistics.median(
            first_attempts(receivers.at("/flaky"), "triggered", sent) or [float("nan")]
        ),
        "outbox_failed": Notification.objects.filter(incident__rule=rule, status=Notification.FAILED).count(),
    }


def duplicates(arrivals: list[Arrival]) -> int:
    """Accepted requests beyond the first per delivery id, and accepted delivery ids beyond the
    first per (incident, event, recipient)."""
    accepted = [a for a in arrivals if a.accepted]
    per_delivery = Counter(a.delivery for a in accepted)
    per_message: dict[tuple, set[str]] = defaultdict(set)
    for a in accepted:
        per_message[a.incident.get("code"), a.event, a.body.get("recipient")].add(a.delivery)
    return sum(n - 1 for n in per_delivery.values()) + sum(len(ids) - 1 for ids in per_message.values())


def first_attempts(arrivals: list[Arrival], event: str, since: float) -> list[float]:
    """Seconds from ``since`` to each delivery's first attempt."""
    first: dict[str, float] = {}
    for a in arrivals:
        if a.event == event:
            first.setdefault(a.delivery, a.at - since)
    return list(first.values())


def retry_times(arrivals: list[Arrival], event: str) -> list[float]:
    """Seconds from each delivery's first attempt to its first accepted one."""
    first: dict[str, float] = {}
    landed: dict[str, float] = {}
    for a in arrivals:
        if a.event == event:
            first.setdefault(a.delivery, a.at)
            if a.accepted:
                landed.setdefault(a.delivery, a.at)
    return [landed[d] - first[d] for d in landed]


# --- 4. Beside Prometheus + Alertmanager -------------------------------------------------------


class FlipGauge:
    """/metrics with ``flip_gauge{flip="<n>"}``, served from a thread at every path (each copy
    at ``_alertmanager.metrics_path(job)``); all copies flip together, and each flip up carries
    a new ``flip`` label, so it is a new Alertmanager group and a new Opsboard incident per
    copy. ``scraped[(scraper, job, flip)]``: when Opsboard or Prometheus first read a copy's 1."""

    def __init__(self) -> None:
        self.state = ("0", 0.0)  # one attribute, so that no scrape sees half a change
        self.scraped: dict[tuple[str, str, str], float] = {}
        gauge = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                flip, value = gauge.state
                if value:
                    scraper = "opsboard" if self.headers.get("User-Agent", "").startswith("Opsboard") else "prometheus"
                    job = self.path.strip("/").split("/")[0]
                    gauge.scraped.setdefault((scraper, job, flip), time.monotonic())
                body = f'# TYPE {FLIP_METRIC} gauge\n{FLIP_METRIC}{{flip="{flip}"}} {value}\n'.encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/plain; version=0.0.4")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def prometheus_alerts(client: httpx.Client, flip: str) -> list[dict]:
    alerts = client.get("/api/v1/alerts").json()["data"]["alerts"]
    return [a for a in alerts if a["labels"].get("flip") == flip]


def alertmanager_pages(receivers: Receivers, flip: str) -> dict[str, float]:
    """By job: when the receiver got Alertmanager's first firing message for ``flip``."""
    found: dict[str, float] = {}
    for a in receivers.at("/alertmanager"):
        if a.accepted and a.body.get("status") == "firing":
            for alert in a.body.get("alerts") or []:
                labels = alert.get("labels") or {}
                if alert.get("status") == "firing" and labels.get("flip") == flip:
                    found.setdefault(labels.get("job", ""), a.at)
    return found


def opsboard_pages(receivers: Receivers, event: str, flip: str) -> dict[str, float]:
    """By job: when the receiver got Opsboard's first ``event`` message for ``flip``."""
    found: dict[str, float] = {}
    for a in receivers.at("/flip"):
        labels = a.incident.get("labels") or {}
        if a.accepted and a.event == event and labels.get("flip") == flip:
            found.setdefault(labels.get("job", ""), a.at)
    return found


@dataclass
class Side:
    """What part 4 needs: the binaries, the receivers, where to run, and how many copies."""

    prometheus: str
    alertmanager: str
    receivers: Receivers
    workdir: Path
    processes: _processes.Processes
    env: dict[str, str]
    beat: Beat
    copies: int


def beside_alertmanager(side: Side, flips: int) -> FlipTimes:
    """Seconds from each flip to each copy's page, for Opsboard and for Prometheus + Alertmanager."""
    gauge = FlipGauge()
    jobs = _alertmanager.copy_jobs(side.copies)
    try:
        bench_alerts.flip_endpoints(gauge.port, jobs)
        policy = webhook_policy("bench-flip", f"{side.receivers.url}/flip")
        rule = paging_rule("bench flip", FLIP_METRIC, 0.5, policy, ["job", "flip"])  # an incident per copy
        side.processes.celery_worker("poller", "polls", 16, side.env)
        am = _alertmanager.start_alertmanager(
            side.alertmanager,
            f"{side.receivers.url}/alertmanager",
            ["alertname", "job", "flip"],  # a group per copy and flip
            side.workdir,
            side.processes,
        )
        alert = ("BenchFlip", FLIP_METRIC, "> 0.5")
        prometheus = _alertmanager.start_prometheus(
            side.prometheus, gauge.port, jobs, alert, side.workdir, side.processes, am
        )
        side.beat.polls = True
        with httpx.Client(base_url=prometheus, timeout=5) as client:
            bench_alerts.wait_until(
                lambda: (
                    bench_alerts.polled_all(jobs) and _alertmanager.scraped_and_evaluated(client, FLIP_METRIC, jobs)
                ),
                "both to have scraped every copy once",
                side.processes,
                timeout_s=90,
                every_s=0.1,
            )
            times = flip_many(side, gauge, client, rule, flips)
            times.offsets = _alertmanager.scrape_to_eval_offsets(client)
            return times
    finally:
        side.beat.polls = False
        gauge.close()


@dataclass
class FlipTimes:
    """Seconds from each flip to each copy's page, and from the first scrape of the copy that
    saw it to the page; by job, Prometheus's seconds from its scrape to its next evaluation."""

    ours: list[float] = field(default_factory=list)
    theirs: list[float] = field(default_factory=list)
    ours_after_scrape: list[float] = field(default_factory=list)
    theirs_after_scrape: list[float] = field(default_factory=list)
    offsets: dict[str, float] = field(default_factory=dict)


def flip_many(side: Side, gauge: FlipGauge, client: httpx.Client, rule: AlertRule, flips: int) -> FlipTimes:
    jobs = _alertmanager.copy_jobs(side.copies)
    times = FlipTimes()
    for number, phase in enumerate(bench_alerts.flip_phases(flips), 1):
        time.sleep(bench_alerts.until_phase(phase))
        flip = str(number)
        gauge.state = (flip, 1.0)
        flipped = time.monotonic()
        bench_alerts.wait_until(
            lambda flip=flip: (
                len(opsboard_pages(side.receivers, "triggered", flip))
                == len(alertmanager_pages(side.receivers, flip))
                == len(jobs)
            ),
            "every copy to page on both",
            side.processes,
            timeout_s=FLIP_TIMEOUT_S,
            every_s=0.1,
        )
        ours, theirs = opsboard_pages(side.receivers, "triggered", flip), alertmanager_pages(side.receivers, flip)
        for job in jobs:
            times.ours.append(ours[job] - flipped)
            times.theirs.append(theirs[job] - flipped)
            times.ours_after_scrape.append(ours[job] - gauge.scraped["opsboard", job, flip])
            times.theirs_after_scrape.append(theirs[job] - gauge.scraped["prometheus", job, flip])
        logger.info(
            "flip %d: Opsboard %s s; Alertmanager %s s",
            number,
            bench_alerts.seconds_text(times.ours[-len(jobs) :]),
            bench_alerts.seconds_text(times.theirs[-len(jobs) :]),
        )
        gauge.state = (flip, 0.0)
        bench_alerts.wait_until(
            lambda flip=flip: (
                len(opsboard_pages(side.receivers, "resolved", flip)) == len(jobs)
                and not prometheus_alerts(client, flip)
                and not AlertState.objects.filter(rule=rule, state=AlertState.FIRING).exists()
            ),
            "every copy to resolve on both",
            side.processes,
            timeout_s=FLIP_TIMEOUT_S,
            every_s=0.2,
        )
    return times


# --- Main ---------------------------------------------------------------------------------------


def print_figures(figures: dict[str, float]) -> None:
    for name, value in figures.items():
        _django.figure(name, value, 2 if name.endswith("_s") else 1)


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stderr)
    for noisy in ("httpx", "alerts.evaluation"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="5 pages, 5 flaky pages, no Prometheus/Alertmanager")
    parser.add_argument("--pages", type=int, default=None, help="pages timed (20; 5 with --quick)")
    parser.add_argument("--flaky-pages", type=int, default=None, help="pages to the failing receiver (20; 5)")
    parser.add_argument("--flips", type=int, default=4, help="flips beside Alertmanager, ~1.5 min each (4)")
    parser.add_argument("--copies", type=int, default=8, help="copies of the gauge and its rule on each side (8)")
    args = parser.parse_args()
    pages = args.pages or (5 if args.quick else 20)
    flaky = args.flaky_pages or (5 if args.quick else 20)
    binaries = shutil.which("prometheus"), shutil.which("prometheus-alertmanager") or shutil.which("alertmanager")
    _processes.stop_on_sigterm()
    with ExitStack() as stack:
        stack.callback(bench_alerts.RELEASE_REDIS)
        workdir = Path(stack.enter_context(tempfile.TemporaryDirectory()))
        stack.enter_context(_django.scratch_database())
        if connection.vendor != "postgresql":
            raise SystemExit("bench/paging.py needs DATABASE_URL=postgres://…")
        stack.callback(bench_alerts.close_other_sessions)  # runs after the processes below are stopped
        processes = stack.enter_context(_processes.Processes(workdir))
        receivers = Receivers({"/flaky": FAIL_FIRST})
        stack.callback(receivers.close)
        beat = Beat()
        stack.callback(beat.close)

        env = bench_alerts.app_env()
        token = bench_alerts.ingest_token()
        page_rule = paging_rule(
            "bench page",
            PAGE_METRIC,
            THRESHOLD,
            webhook_policy("bench-page", f"{receivers.url}/page", default=True),
            [],
        )
        flaky_rule = paging_rule(
            "bench flaky", FLAKY_METRIC, THRESHOLD, webhook_policy("bench-flaky", f"{receivers.url}/flaky"), ["page"]
        )
        processes.celery_worker("evaluator", "alerts", 4, env)
        processes.celery_worker("pager", "pages-critical,pages", 4, env)
        push = Pusher(processes.daphne(_processes.free_port(), env), token)
        stack.callback(push.close)
        beat.start()

        timed = page_latencies(push, receivers, page_rule, pages, processes)
        _django.figure("pages", len(timed.page_ms))
        _django.figure("page_median_ms", statistics.median(timed.page_ms), 1)
        _django.figure("page_p95_ms", bench_alerts.percentile(timed.page_ms, 0.95), 1)
        _django.figure("push_median_ms", statistics.median(timed.push_ms), 1)
        _django.figure("resolve_page_median_ms", statistics.median(timed.resolve_ms), 1)
        _django.figure("resolve_page_p95_ms", bench_alerts.percentile(timed.resolve_ms, 0.95), 1)

        print_figures(flaky_pages(push, receivers, flaky_rule, flaky, processes))

        if args.quick or None in binaries:
            why = "--quick" if args.quick else "no prometheus or prometheus-alertmanager binary"
            logger.info("beside Prometheus + Alertmanager: skipped (%s)", why)
            return
        side = Side(binaries[0], binaries[1], receivers, workdir, processes, env, beat, args.copies)
        times = beside_alertmanager(side, args.flips)
        ours, theirs = statistics.median(times.ours), statistics.median(times.theirs)
        offsets = list(times.offsets.values())
        _django.figure("flips", args.flips)
        _django.figure("flip_copies", args.copies)
        _django.figure("flip_samples", len(times.ours))
        _django.figure("opsboard_flip_to_page_median_s", ours, 2)
        _django.figure("alertmanager_flip_to_page_median_s", theirs, 2)
        _django.figure("page_latency_ratio", ours / theirs, 2)
        _django.figure("opsboard_scrape_to_page_median_s", statistics.median(times.ours_after_scrape), 2)
        _django.figure("prometheus_scrape_to_page_median_s", statistics.median(times.theirs_after_scrape), 2)
        _django.figure("prometheus_scrape_to_eval_s", statistics.mean(offsets), 2)
        _django.figure("prometheus_scrape_to_eval_min_s", min(offsets), 2)
        _django.figure("prometheus_scrape_to_eval_median_s", statistics.median(offsets), 2)
        _django.figure("prometheus_scrape_to_eval_max_s", max(offsets), 2)


if __name__ == "__main__":
    main()
