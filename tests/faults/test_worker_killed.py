"""A worker killed with SIGKILL in the middle of its task, then a new one started (as a process
supervisor would): mid-poll, mid-evaluation and mid-delivery.

A killed thread-pool worker never acknowledges its task (late acknowledgement), and nobody
rejects it (``reject_on_worker_lost`` concerns prefork children): the message stays in Redis's
``unacked`` hash until ``visibility_timeout`` has passed and a worker sweeps it back into its
queue, which kombu does when a worker starts and then every 100 s. Production keeps the hour
(``CELERY_VISIBILITY_TIMEOUT``); these tests set 1 s, so the new worker's start-up sweep hands
the killed task back at once.
"""

from __future__ import annotations

import itertools
import logging
import re
import time
from http.server import BaseHTTPRequestHandler

import pytest

from monitoring.polling import STALE_AFTER
from tests import servers
from tests.faults.loopback import Receiver, Ticker
from tests.faults.stack import Stack, wait_until
from tests.servers import free_port

pytestmark = pytest.mark.slow
logger = logging.getLogger(__name__)


def task_ids(log: str, task: str) -> list[str]:
    return re.findall(rf"Task {re.escape(task)}\[([0-9a-f-]+)\] received", log)


# --- (a) mid-poll -------------------------------------------------------------------------------

SLOW_S = 3.0
INTERVAL_S = 4
TIMEOUT_S = 4.0


def test_a_poller_killed_mid_poll_is_replaced_and_no_sample_is_duplicated(stack: Stack) -> None:
    """The killed poll's task comes back to the new poller (late acknowledgement), which drops it:
    it expires one interval after it was sent, and until its timeout plus STALE_AFTER have passed
    the killed poll's claim on the target would make it skip anyway. So that slot is lost, not
    re-run; nothing is stored twice or in part; polling resumes by itself once the claim is stale."""
    stack.env["CELERY_VISIBILITY_TIMEOUT"] = "1"
    scrapes: list[float] = []

    def slow(handler: BaseHTTPRequestHandler) -> None:
        scrapes.append(time.monotonic())
        time.sleep(SLOW_S)
        servers.send(handler, 200, b"fault_gauge 1\n")

    with servers.serve(slow) as base:
        stack.worker("poller", "polls")
        stack.world(
            ("target", {"name": "slow", "url": f"{base}/metrics", "interval_s": INTERVAL_S, "timeout_s": TIMEOUT_S})
        )
        stack.wait_ready("poller")
        dispatch = (1.0, lambda: stack.send_task("monitoring.dispatch_polls", queue="polls"))
        with Ticker([dispatch]):
            wait_until(lambda: stack.samples("up", model="slow"), "the first poll to be stored", 30)
            asked = len(scrapes)
            wait_until(lambda: len(scrapes) > asked, "the next poll to reach the target", 15, every_s=0.02)
            time.sleep(0.5)  # the poller's thread waits for the answer
            killed_slot = stack.scalar("SELECT polling_slot FROM monitoring_modelendpoint WHERE name = 'slow'")
            killed_task = task_ids(stack.text("poller"), "monitoring.poll_target")[-1]
            stack.kill("poller")
            killed_at = time.monotonic()
            stack.worker("poller-2", "polls")
            stack.wait_ready("poller-2")
            redelivered = wait_until(
                lambda: killed_task in stack.text("poller-2") and time.monotonic(),
                "the killed poll to be delivered again",
                30,
            )
            wait_until(
                lambda: [ts for ts, _ in stack.samples("up", model="slow") if ts > killed_slot],
                "polling to resume",
                TIMEOUT_S + STALE_AFTER.total_seconds() + 30,
            )
            stored = len(stack.samples("up", model="slow"))
            wait_until(lambda: len(stack.samples("up", model="slow")) > stored, "one more poll", 15)

    up = [ts for ts, _ in stack.samples("up", model="slow")]
    assert len(up) == len(set(up))
    assert all(b - a >= INTERVAL_S * 1000 for a, b in itertools.pairwise(up)), up
    assert stack.samples("fault_gauge", model="slow") == [(ts, 1.0) for ts in up]
    assert stack.redis.client().hlen("unacked") == 0, "a task was left unacknowledged"
    # The killed poll's slot is dropped (its task expired; see the docstring), never stored twice,
    # and its claim holds the target until the poll's timeout plus STALE_AFTER have passed.
    assert up.count(killed_slot) <= 1
    resumed = next(ts for ts in up if ts > killed_slot)
    assert resumed - killed_slot <= (TIMEOUT_S + STALE_AFTER.total_seconds() + INTERVAL_S + 2) * 1000, up
    logger.info(
        "redelivered %.1f s, resumed %.1f s after the kill", redelivered - killed_at, (resumed - killed_slot) / 1000
    )


# --- (b) mid-evaluation ---------------------------------------------------------------------------

RULES = 80


def test_an_evaluator_killed_mid_pass_makes_each_transition_exactly_once(stack: Stack) -> None:
    stack.env.update(CELERY_VISIBILITY_TIMEOUT="1", EVAL_CHUNK="1000")
    stack.worker("evaluator", "alerts")
    _, ids = stack.world(
        ("webhook_policy", {"url": f"http://127.0.0.1:{free_port()}/hook"}),
        ("rules", {"count": RULES, "metric": "fault_hot"}),
    )
    stack.wait_ready("evaluator")
    transitions = "SELECT count(*) FROM alerts_alerttransition"
    stack.send_task("alerts.evaluate_all", queue="alerts")
    wait_until(lambda: stack.scalar(transitions) >= RULES // 5, "the pass to be under way", 60, every_s=0.02)
    stack.kill("evaluator")
    at_kill = stack.scalar(transitions)
    if at_kill >= RULES:
        pytest.fail(f"the pass of {RULES} rules ended before the kill: give it more rules")

    stack.worker("evaluator-2", "alerts")
    stack.wait_ready("evaluator-2")
    wait_until(lambda: stack.scalar(transitions) >= RULES, "the pass to be finished by the new evaluator", 60)
    time.sleep(1.0)  # anything still running would show now

    per_alert = stack.sql("SELECT alert_id, count(*), min(to_state) FROM alerts_alerttransition GROUP BY alert_id")
    assert len(per_alert) == RULES
    assert {(count, state) for _, count, state in per_alert} == {(1, "firing")}
    assert stack.scalar("SELECT count(*) FROM alerts_incident") == RULES
    notifications = stack.sql("SELECT incident_id, event FROM alerts_notification")
    assert len(notifications) == len(set(notifications)) == RULES
    assert stack.scalar("SELECT count(*) FROM alerts_alertrule WHERE last_eval_ms IS NULL") == 0
    assert len(ids) == RULES and 0 < at_kill < RULES


# --- (c) mid-delivery ---------------------------------------------------------------------------------

LEASE_S = 5
FIRST_ANSWER_S = 5.0


def test_a_pager_killed_while_sending_leaves_the_page_to_be_sent_again_with_the_same_id(stack: Stack) -> None:
    stack.env.update(CELERY_VISIBILITY_TIMEOUT="1", NOTIFY_LEASE_S=str(LEASE_S))
    receiver = Receiver(free_port(), delay_s=lambda n: FIRST_ANSWER_S if n == 1 else 0.0)
    receiver.start()
    try:
        stack.worker("pager", "pages-critical")
        stack.wait_ready("pager")
        stack.world(
            ("webhook_policy", {"url": receiver.url}),
            ("rule", {"name": "Hot", "expression": "fault_temp", "above": 80, "group_by": ["node"]}),
            ("fire", {"metric": "fault_temp", "labels": [{"node": "n1"}], "value": 91}),
        )
        wait_until(receiver.got, "the page to reach the receiver", 30, every_s=0.02)
        stack.kill("pager")
        stack.worker("pager-2", "pages-critical")
        stack.wait_ready("pager-2")
        sweep = (1.0, lambda: stack.send_task("alerts.deliver_due", queue="pages-critical"))
        with Ticker([sweep]):
            wait_until(lambda: len(receiver.got()) >= 2, "the page to be sent again", LEASE_S + 30)
            delivered = "SELECT count(*) FROM alerts_notification WHERE status = 'delivered'"
            wait_until(lambda: stack.scalar(delivered) == 1, "the delivery to be recorded", 15)
            time.sleep(1.5)  # a third send would show now
    finally:
        receiver.stop()

    hits = receiver.got()
    ((uid, status, attempts),) = stack.sql("SELECT uid::text, status, attempts FROM alerts_notification")
    assert (status, attempts) == ("delivered", 1), "the killed attempt recorded nothing; the second is the one"
    assert [(h.event, h.delivery) for h in hits] == [("triggered", uid)] * 2
    assert hits[1].at - hits[0].at >= LEASE_S - 1, "sent again before the claim's lease expired"
    assert stack.scalar("SELECT count(*) FROM alerts_notificationattempt WHERE ok") == 1
    assert stack.scalar("SELECT count(*) FROM alerts_incidentevent WHERE kind = 'notified'") == 1
