"""A webhook receiver down for a long while, with real workers: every page reaches it exactly
once soon after it is back, and the outbox shows every attempt.

Scaled down by 50: the receiver is down for 12 s instead of ten minutes, and the backoff's cap
is 1.2 s instead of a minute (``NOTIFY_MAX_BACKOFF_S``), so a page is retried as often relative
to the outage as in production, and "within a minute of coming back" becomes "within 1.2 s" (plus
a moment for the pager). tests/alerts/test_delivery.py runs the real ten minutes in-process
under a controlled clock.
"""

from __future__ import annotations

import logging
import time

import pytest

from tests.faults.loopback import Receiver, Ticker
from tests.faults.stack import Stack, wait_until
from tests.servers import free_port

pytestmark = pytest.mark.slow
logger = logging.getLogger(__name__)

DOWN_S = 12.0
CAP_S = 1.2
PAGES = 3


def test_a_receiver_down_for_a_long_while_gets_every_page_once_when_it_is_back(stack: Stack) -> None:
    stack.env["NOTIFY_MAX_BACKOFF_S"] = str(CAP_S)
    receiver = Receiver(free_port())  # not listening yet: connections are refused
    stack.worker("pager", "pages-critical")
    stack.wait_ready("pager")
    sweep = (5.0, lambda: stack.send_task("alerts.deliver_due", queue="pages-critical"))  # beat's schedule
    try:
        with Ticker([sweep]):
            stack.world(
                ("webhook_policy", {"url": receiver.url}),
                ("rule", {"name": "Hot", "expression": "fault_temp", "above": 80, "group_by": ["page"]}),
                ("fire", {"metric": "fault_temp", "labels": [{"page": str(p)} for p in range(PAGES)], "value": 91}),
            )
            paged_at = time.monotonic()
            time.sleep(DOWN_S - (time.monotonic() - paged_at))
            receiver.start()
            back_at = time.monotonic()
            delivered = "SELECT count(*) FROM alerts_notification WHERE status = 'delivered'"
            wait_until(lambda: stack.scalar(delivered) == PAGES, "every page to be delivered", 30)
            time.sleep(CAP_S + 1)  # a repeat would show now
    finally:
        receiver.stop()

    hits = receiver.got()
    outbox = stack.sql("SELECT uid::text, incident_id, status, attempts, id FROM alerts_notification ORDER BY id")
    assert sorted(h.delivery for h in hits) == sorted(uid for uid, *_ in outbox), "a page missing or sent twice"
    assert len({h.incident for h in hits}) == PAGES and {h.event for h in hits} == {"triggered"}
    assert max(h.at for h in hits) - back_at < CAP_S + 3, stack.tail("pager")
    for uid, _, status, attempts, pk in outbox:
        log = stack.sql("SELECT ok, error FROM alerts_notificationattempt WHERE notification_id = %s ORDER BY at", pk)
        assert (status, len(log)) == ("delivered", attempts), uid
        assert attempts >= DOWN_S / CAP_S - 2, f"{uid}: only {attempts} attempts in {DOWN_S:g} s"
        assert [ok for ok, _ in log] == [False] * (attempts - 1) + [True]
        assert all(error for ok, error in log if not ok)
    logger.info(
        "receiver down %.0f s: %d pages delivered once each, %.1f s after it came back, after %s attempts",
        DOWN_S,
        len(hits),
        max(h.at for h in hits) - back_at,
        "/".join(str(attempts) for _, _, _, attempts, _ in outbox),
    )
