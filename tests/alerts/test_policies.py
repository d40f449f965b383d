"""The default escalation policy exists once, and making one is audited for what it was."""

from __future__ import annotations

import pytest

from alerts import policies
from alerts.models import EscalationPolicy
from opsboard.audit.models import AuditEvent

pytestmark = pytest.mark.django_db


def actions() -> list[str]:
    return list(AuditEvent.objects.filter(object_type="escalationpolicy").values_list("action", flat=True))


def test_without_any_policy_the_default_is_created_once() -> None:
    first = policies.ensure_default_policy()
    assert policies.ensure_default_policy() == first
    assert (first.name, first.is_default) == (policies.DEFAULT_NAME, True)
    assert actions() == ["escalationpolicy.create"]


def test_a_policy_already_named_default_is_made_the_default_not_created_again() -> None:
    named = EscalationPolicy.objects.create(name=policies.DEFAULT_NAME, is_default=False)
    assert policies.ensure_default_policy() == named
    assert EscalationPolicy.objects.get().is_default
    assert actions() == ["escalationpolicy.update"]
