"""Production settings: ``check --deploy`` is clean, and a real server sends the headers.

Both run in subprocesses, because the settings module reads the environment once, at import.
"""

from __future__ import annotations

import base64
import os
import secrets
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from django.conf import settings

from tests.servers import free_port

ROOT = Path(__file__).resolve().parents[2]
HOST = "ops.example.com"


def production_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    """The README's production settings behind a TLS proxy; DATABASE_URL is never connected to."""
    env = {key: value for key, value in os.environ.items() if not key.startswith(("DJANGO_", "SECURE_"))}
    return {
        **env,
        "OPSBOARD_HTTPS": "1",
        "DEBUG": "0",
        "SECRET_KEY": secrets.token_urlsafe(50),
        "OPSBOARD_ENCRYPTION_KEYS": base64.urlsafe_b64encode(os.urandom(32)).decode(),  # a Fernet key
        "ALLOWED_HOSTS": HOST,
        "CSRF_TRUSTED_ORIGINS": f"https://{HOST}",
        "DATABASE_URL": "postgres://opsboard@127.0.0.1:5432/opsboard",
        "REDIS_URL": settings.REDIS_URL,
        "OPSBOARD_VAR_DIR": str(tmp_path),
        "OPSBOARD_REDIS_PREFIX": "opsboard-test",
        **extra,
    }


def check_deploy(env: dict[str, str]) -> subprocess.CompletedProcess:
    command = [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"]
    return subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)


def test_check_deploy_passes_under_production_settings(tmp_path: Path) -> None:
    result = check_deploy(production_env(tmp_path))
    assert result.returncode == 0, result.stdout + result.stderr


def test_check_deploy_passes_with_preload_opted_into(tmp_path: Path) -> None:
    result = check_deploy(production_env(tmp_path, SECURE_HSTS_PRELOAD="1"))
    assert result.returncode == 0, result.stdout + result.stderr


def test_check_deploy_fails_without_https(tmp_path: Path) -> None:
    """The same check refuses the settings of a plain-HTTP install: it is not a rubber stamp."""
    result = check_deploy(production_env(tmp_path, OPSBOARD_HTTPS="0"))
    assert result.returncode != 0
    for check_id in ("security.W004", "security.W008", "security.W012", "security.W016"):
        assert check_id in result.stderr


@pytest.fixture
def production_server(tmp_path: Path) -> Iterator[str]:
    """daphne with the production settings; answers only once it answers."""
    port = free_port()
    env = production_env(tmp_path, SECURE_HSTS_SECONDS="600", SECURE_HSTS_PRELOAD="1")
    command = [sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port), "opsboard.asgi:application"]
    log = (tmp_path / "daphne.log").open("wb")
    process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_until_up(url, process, tmp_path / "daphne.log")
        yield url
    finally:
        process.terminate()
        process.wait(timeout=10)
        log.close()


def _wait_until_up(url: str, process: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"daphne exited:\n{log.read_text(errors='replace')[-3000:]}")
        try:
            httpx.get(f"{url}/login/", headers={"Host": HOST}, timeout=2)
            return
        except httpx.HTTPError:
            time.sleep(0.1)
    pytest.fail("daphne did not answer within 30 s")


def test_plain_http_is_redirected_to_https(production_server: str) -> None:
    response = httpx.get(f"{production_server}/login/", headers={"Host": HOST})
    assert response.status_code == 301
    assert response.headers["location"] == f"https://{HOST}/login/"


def test_a_response_through_the_tls_proxy_carries_every_header(production_server: str) -> None:
    response = httpx.get(f"{production_server}/login/", headers={"Host": HOST, "X-Forwarded-Proto": "https"})
    assert response.status_code == 200
    headers = response.headers
    assert headers["strict-transport-security"] == "max-age=600; includeSubDomains; preload"
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["referrer-policy"] == "same-origin"
    assert headers["cross-origin-opener-policy"] == "same-origin"
    assert headers["x-frame-options"] == "DENY"
    policy = dict(part.strip().split(" ", 1) for part in headers["content-security-policy"].split(";"))
    assert policy["script-src"] == "'self'"
    assert policy["connect-src"] == f"'self' ws://{HOST} wss://{HOST}"
    assert policy["frame-ancestors"] == "'none'"
    cookie = next(c for c in headers.get_list("set-cookie") if c.startswith("csrftoken="))
    assert "Secure" in cookie and "SameSite=Lax" in cookie
