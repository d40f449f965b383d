"""The Admin's Users page, and the rule that the last active Admin cannot lock everyone out."""

from __future__ import annotations

import threading

import pytest
from django.db import close_old_connections, connection
from django.urls import reverse

from opsboard.accounts import roles, services
from opsboard.accounts.models import User
from opsboard.audit.models import AuditEvent
from opsboard.audit.services import Actor
from tests.conftest import PASSWORD, client_for, make_user


def test_users_page_lists_role_and_last_sign_in(admin_client, cast) -> None:
    response = admin_client.get(reverse("accounts:users"))
    assert response.status_code == 200
    page = response.content.decode()
    for user in cast.values():
        assert user.username in page
    assert "never" in page


def test_admin_creates_a_user_with_a_role(admin_client, admin) -> None:
    response = admin_client.post(
        reverse("accounts:user_create"),
        {
            "username": "newbie",
            "email": "n@example.test",
            "role": roles.RESPONDER,
            "password1": PASSWORD,
            "password2": PASSWORD,
        },
    )
    assert response.status_code == 302
    user = User.objects.get(username="newbie")
    assert user.role_id == roles.RESPONDER
    assert user.check_password(PASSWORD)
    event = AuditEvent.objects.get(action="user.create", object_id=str(user.uid))
    assert event.actor == admin
    assert event.changes["after"]["role"] == roles.RESPONDER


def test_creating_a_user_with_a_weak_password_names_the_field(admin_client, cast) -> None:
    response = admin_client.post(
        reverse("accounts:user_create"),
        {"username": "weak", "role": roles.VIEWER, "password1": "123", "password2": "123"},
    )
    assert response.status_code == 400
    assert "too short" in response.content.decode()
    assert not User.objects.filter(username="weak").exists()


def test_role_change_is_audited_with_before_and_after(admin_client, viewer, admin) -> None:
    response = admin_client.post(reverse("accounts:user_role", args=[viewer.uid]), {"role": roles.EDITOR})
    assert response.status_code == 302
    viewer.refresh_from_db()
    assert viewer.role_id == roles.EDITOR
    event = AuditEvent.objects.get(action="user.role_change")
    assert event.changes == {"before": {"role": roles.VIEWER}, "after": {"role": roles.EDITOR}}
    assert event.actor_ip == "127.0.0.1"


def test_deactivated_user_cannot_sign_in_and_reactivation_restores(admin_client, viewer) -> None:
    admin_client.post(reverse("accounts:user_active", args=[viewer.uid]), {"active": "0"})
    assert client_for(None).login(username=viewer.username, password=PASSWORD) is False
    admin_client.post(reverse("accounts:user_active", args=[viewer.uid]), {"active": "1"})
    assert client_for(None).login(username=viewer.username, password=PASSWORD) is True
    actions = list(AuditEvent.objects.order_by("id").values_list("action", flat=True))
    assert actions[-2:] == ["user.deactivate", "user.reactivate"]


def test_a_deactivated_users_session_ends_at_once(admin_client, viewer) -> None:
    session = client_for(viewer)
    assert session.get(reverse("overview")).status_code == 200
    admin_client.post(reverse("accounts:user_active", args=[viewer.uid]), {"active": "0"})
    assert session.get(reverse("overview")).status_code == 302


def test_last_admin_cannot_be_demoted(admin_client, admin) -> None:
    response = admin_client.post(reverse("accounts:user_role", args=[admin.uid]), {"role": roles.EDITOR})
    assert response.status_code == 409
    assert "last active Admin" in response.content.decode()
    admin.refresh_from_db()
    assert admin.role_id == roles.ADMIN
    assert not AuditEvent.objects.filter(action="user.role_change").exists()


def test_last_admin_cannot_be_deactivated(admin_client, admin) -> None:
    response = admin_client.post(reverse("accounts:user_active", args=[admin.uid]), {"active": "0"})
    assert response.status_code == 409
    admin.refresh_from_db()
    assert admin.is_active


def test_an_inactive_admin_does_not_count(admin, db) -> None:
    spare = make_user("spare", roles.ADMIN)
    services.set_active(spare, False, by=Actor.system("test"))
    with pytest.raises(services.LastAdminError):
        services.change_role(admin, roles.VIEWER, by=Actor.system("test"))


def test_an_admin_may_step_down_when_another_remains(admin, db) -> None:
    make_user("second", roles.ADMIN)
    services.change_role(admin, roles.VIEWER, by=Actor.for_user(admin))
    admin.refresh_from_db()
    assert admin.role_id == roles.VIEWER


@pytest.mark.django_db(transaction=True)
def test_two_admins_demoting_each_other_at_once_leave_one_admin() -> None:
    if connection.vendor != "postgresql":
        pytest.skip("row locks need PostgreSQL; SQLite serialises writers anyway")
    first, second = make_user("first", roles.ADMIN), make_user("second", roles.ADMIN)
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def demote(target: User, by: User) -> None:
        barrier.wait()
        try:
            services.change_role(target, roles.VIEWER, by=Actor.for_user(by))
            outcomes.append("demoted")
        except services.LastAdminError:
            outcomes.append("refused")
        finally:
            close_old_connections()
            connection.close()

    threads = [threading.Thread(target=demote, args=pair) for pair in ((first, second), (second, first))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["demoted", "refused"]
    assert User.objects.filter(role_id=roles.ADMIN, is_active=True).count() == 1


def test_admin_sets_a_new_password_shown_once(admin_client, viewer) -> None:
    response = admin_client.post(reverse("accounts:user_password_reset", args=[viewer.uid]))
    assert response.status_code == 200
    password = response.context["secret"]
    viewer.refresh_from_db()
    assert viewer.check_password(password)
    assert password not in str(AuditEvent.objects.get(action="user.password_reset").changes)


def test_user_changes_own_password(viewer) -> None:
    client = client_for(viewer)
    new = "a much longer passphrase 2"
    response = client.post(
        reverse("accounts:password"),
        {"old_password": PASSWORD, "new_password1": new, "new_password2": new},
    )
    assert response.status_code == 302
    viewer.refresh_from_db()
    assert viewer.check_password(new)
    assert client.get(reverse("overview")).status_code == 200  # still signed in
    assert AuditEvent.objects.filter(action="user.password_change", actor=viewer).exists()


def test_outsider_may_change_own_password_but_see_nothing(outsider) -> None:
    client = client_for(outsider)
    assert client.get(reverse("accounts:password")).status_code == 200
    assert client.get(reverse("overview")).status_code == 403
