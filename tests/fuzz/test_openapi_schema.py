"""Schemathesis against the served OpenAPI schema: no 500s, and every answer is one the schema documents
(its status code, its content type and its body).

The schema is fetched from ``/api/v1/schema/`` through Django's WSGI application, and every request runs
in-process on the test's own database connection, each example inside a savepoint rolled back afterwards
(as in ``test_http_fuzz``), so that examples start from the same rows. One row of each kind is seeded and
half the generated ids are replaced by its id, so that the detail operations answer more than 404.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from django.utils import timezone
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from alerts import alertmanager, silences
from alerts.incident_api import ALERTMANAGER_EXAMPLE
from monitoring.models import GpuNode, ModelEndpoint
from monitoring.runs import start_run
from opsboard.accounts import services
from opsboard.accounts.models import User
from tests.alerts.incident_kit import SETUP, make_rule
from tests.fuzz.helpers import rolled_back
from tests.fuzz.profiles import fuzz

pytestmark = pytest.mark.django_db

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]

# Fetched at collection (the schema view is public and reads no rows): ``schemathesis.pytest.from_fixture``
# would fetch it per test, but 4.32 sets ``Function._nodeid``, which pytest 9 no longer has.
schema = schemathesis.openapi.from_wsgi("/api/v1/schema/", get_wsgi_application())

# Push bodies in OpenMetrics are text like the Prometheus format; schemathesis knows only text/plain.
schemathesis.serializer.alias("application/openmetrics-text", "text/plain")

# The id of the seeded row of each kind, by the path segment after /api/v1/ (filled per test).
SEEDED: dict[str, str] = {}


@schema.hook
def flatmap_path_parameters(context: schemathesis.HookContext, path_parameters: dict[str, Any] | None) -> Any:
    """The generated ``uid``, or the seeded row's."""
    kind = context.operation.path.removeprefix("/api/v1/").split("/")[0] if context.operation else ""
    if not path_parameters or "uid" not in path_parameters or kind not in SEEDED:
        return st.just(path_parameters)
    return st.sampled_from([path_parameters, {**path_parameters, "uid": SEEDED[kind]}])


@pytest.fixture(autouse=True)
def _keep_connection() -> Iterator[None]:
    """Django closes the connection around each request unless, as its own test client does, the
    handlers are detached: closing it would end the test's transaction."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        yield
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)


@pytest.fixture
def seeded(admin: User) -> Iterator[None]:
    """One row of each kind an operation takes by id."""
    url = "http://127.0.0.1:9/metrics"
    in_an_hour = timezone.now() + timedelta(hours=1)
    silence = {"matchers": 'job="fuzz"', "starts_at": timezone.now(), "ends_at": in_an_hour, "comment": "fuzz"}
    SEEDED.update(
        models=str(ModelEndpoint.objects.create(name="fuzz-model", url=url).uid),
        nodes=str(GpuNode.objects.create(name="fuzz-node", url=url).uid),
        rules=str(make_rule().uid),
        runs=str(start_run(name="fuzz", project="fuzz", config={}, by=SETUP).uid),
        incidents=str(alertmanager.receive(ALERTMANAGER_EXAMPLE).incidents[0]),
        silences=str(silences.create_silence(silence, by=SETUP).uid),
        tokens=str(services.create_token(user=admin, name="revocable", scopes=["read"], by=SETUP)[0].uid),
    )
    yield
    SEEDED.clear()


@schema.parametrize()
# One pytest parameter, so that pytest 9 gives each operation its own test id: without it
# schemathesis 4.32 names every item after the bare function.
@pytest.mark.parametrize("caller", ["admin-token"])
@fuzz(share=0.25)
def test_api_answers_as_documented(case: schemathesis.Case, caller: str, admin_token: str, seeded: None) -> None:
    with rolled_back():
        case.call_and_validate(headers={"Authorization": f"Bearer {admin_token}"}, checks=CHECKS)


# Requests that succeed, for the answers the generated ones seldom reach (a valid rule, target,
# silence or token is rarely drawn): their bodies must match the schema too.
URL = "http://127.0.0.1:9/metrics"
RULE = {"name": "fuzz-2", "expression": "up", "condition_kind": "threshold", "condition": {"op": "<", "value": 1}}
IN_A_DAY = {"starts_at": "2026-01-01T00:00:00Z", "ends_at": "2026-01-02T00:00:00Z"}
VALID: dict[tuple[str, str], dict[str, Any]] = {
    ("POST", "/api/v1/models"): {"body": {"name": "fuzz-model-2", "url": URL, "labels": {"team": "a"}}},
    ("PUT", "/api/v1/models/{uid}"): {"body": {"name": "fuzz-model-3", "url": URL, "headers": {"X-Key": "s"}}},
    ("POST", "/api/v1/nodes"): {"body": {"name": "fuzz-node-2", "url": URL}},
    ("POST", "/api/v1/rules"): {"body": RULE},
    ("PUT", "/api/v1/rules/{uid}"): {"body": {**RULE, "labels": {"team": "a"}, "group_by": ["job"]}},
    ("POST", "/api/v1/silences"): {"body": {"matchers": 'job="a"', **IN_A_DAY, "comment": "maintenance"}},
    ("POST", "/api/v1/tokens"): {"body": {"name": "ci", "user": "ada", "scopes": ["read", "ingest"]}},
    ("POST", "/api/v1/runs/{uid}/finish"): {"body": {"status": "failed"}},
    ("POST", "/api/v1/incidents/{uid}/notes"): {"body": {"comment": "looking"}},
    ("GET", "/api/v1/query_range"): {"query": {"query": "up", "start": "0", "end": "60", "step": "15"}},
}


@pytest.mark.parametrize(("method", "path"), list(VALID))
def test_successes_answer_as_documented(method: str, path: str, admin_token: str, seeded: None) -> None:
    kind = path.removeprefix("/api/v1/").split("/")[0]
    uid = {"uid": SEEDED[kind]} if "{uid}" in path else None
    media_type = "application/json" if "body" in VALID[method, path] else None
    case = schema[path][method].Case(path_parameters=uid, media_type=media_type, **VALID[method, path])
    response = case.call_and_validate(headers={"Authorization": f"Bearer {admin_token}"}, checks=CHECKS)
    assert response.status_code < 300, response.text
