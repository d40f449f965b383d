"""The Content-Security-Policy header, without a browser (tests/e2e/test_csp.py runs the pages
under it in Chromium)."""

from __future__ import annotations

import base64
import hashlib
import re

import pytest
from django.conf import settings
from django.test import Client
from django.urls import reverse

from opsboard.staticfinders import PLOTLY_DIR


def policy_of(response: object) -> dict[str, list[str]]:
    header = response["Content-Security-Policy"]  # type: ignore[index]
    return {part.split()[0]: part.split()[1:] for part in header.split(";") if part.strip()}


def test_every_directive_the_site_relies_on(db: None) -> None:
    policy = policy_of(Client().get(reverse("login")))
    assert policy["default-src"] == ["'self'"]
    assert policy["script-src"] == ["'self'"]
    assert policy["img-src"] == ["'self'", "data:"]
    assert policy["object-src"] == ["'none'"]
    assert policy["frame-ancestors"] == ["'none'"]
    assert policy["base-uri"] == ["'self'"]
    assert policy["form-action"] == ["'self'"]
    assert "'unsafe-inline'" not in policy["style-src"]
    assert not any("unsafe" in source for sources in policy.values() for source in sources)


def test_sockets_of_the_requested_host_are_named(db: None) -> None:
    policy = policy_of(Client().get(reverse("login"), HTTP_HOST="localhost:8123"))
    assert policy["connect-src"] == ["'self'", "ws://localhost:8123", "wss://localhost:8123"]


def test_a_refused_host_gets_the_policy_without_socket_origins(db: None) -> None:
    response = Client().get(reverse("login"), HTTP_HOST="evil.example")
    assert response.status_code == 400
    assert policy_of(response)["connect-src"] == ["'self'"]


def test_the_docs_alone_replace_style_src_and_allow_a_blob_worker(db: None) -> None:
    docs = policy_of(Client().get(reverse("api:docs")))
    assert docs["style-src"] == ["'self'", "'unsafe-inline'"]  # hashes would disable 'unsafe-inline'
    assert docs["worker-src"] == ["'self'", "blob:"]
    assert docs["script-src"] == ["'self'"]
    assert "worker-src" not in policy_of(Client().get(reverse("api:schema")))


def sha256_source(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode()).digest()).decode() + "'"


def test_the_style_hashes_match_the_bundled_plotly() -> None:
    """plotly.js adds an empty <style> (filled through the CSSOM) and MapLibre's stylesheet as
    a fixed string; a new plotly.js changes the latter, and its hash must follow."""
    bundle = (PLOTLY_DIR / "plotly.min.js").read_text()
    literal = re.search(r"""e\.textContent='(\.maplibregl-map\{[^']*)'""", bundle)
    assert literal is not None, "MapLibre's stylesheet is no longer where it was in plotly.min.js"
    assert bundle.count('document.createElement("style")') == 2
    assert [sha256_source(""), sha256_source(literal.group(1))] == settings.PLOTLY_STYLE_HASHES


@pytest.mark.parametrize("path", ["/static/js/charts.js", "/static/css/opsboard.css"])
def test_static_files_are_served_under_the_policy(path: str, db: None) -> None:
    response = Client().get(path)
    assert response.status_code == 200
    assert response["X-Content-Type-Options"] == "nosniff"
    assert policy_of(response)["script-src"] == ["'self'"]
