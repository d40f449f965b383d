"""A NUL in a page's query string is a 400 naming the parameter, on every database."""

from __future__ import annotations

import pytest
from django.test import Client

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    "path",
    ["/incidents/?severity=%00", "/incidents/?model=a%00b", "/audit/?actor=%00", "/models/?q=%00", "/?x%00=1"],
)
def test_a_nul_in_a_query_parameter_is_refused_by_name(admin_client: Client, path: str) -> None:
    response = admin_client.get(path)
    assert response.status_code == 400
    assert "holds a NUL character" in response.content.decode()
    assert response["Content-Type"].startswith("text/plain")


def test_ordinary_filters_still_work(admin_client: Client) -> None:
    assert admin_client.get("/incidents/?severity=critical&model=a").status_code == 200


def test_the_api_answers_in_its_own_shape(admin_client: Client) -> None:
    response = admin_client.get("/api/v1/incidents?severity=%00")
    assert response.status_code == 400
    assert response["Content-Type"].startswith("application/json")
