"""Settings come from the environment; defaults make a bare checkout run."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from django.conf import settings

ROOT = Path(__file__).resolve().parent.parent
PRINT_SETTINGS = (
    "import django; django.setup(); from django.conf import settings as s; "
    "db = s.DATABASES['default']; print(s.SECRET_KEY); print(db['ENGINE']); print(db['NAME']); print(s.DEBUG)"
)


def run_settings(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "SECRET_KEY", "DEBUG"}}
    return subprocess.run(
        [sys.executable, "-c", PRINT_SETTINGS],
        env={**base, "DJANGO_SETTINGS_MODULE": "opsboard.settings", **env},
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_secret_key_is_generated_once_and_kept_private(tmp_path: Path) -> None:
    first = run_settings({"OPSBOARD_VAR_DIR": str(tmp_path)})
    second = run_settings({"OPSBOARD_VAR_DIR": str(tmp_path)})
    assert first.returncode == 0, first.stderr
    key = first.stdout.splitlines()[0]
    assert len(key) >= 50
    assert second.stdout.splitlines()[0] == key
    assert (tmp_path / "secret_key").stat().st_mode & 0o777 == 0o600


def test_embedded_default_is_sqlite_under_var_and_debug_off(tmp_path: Path) -> None:
    result = run_settings({"OPSBOARD_VAR_DIR": str(tmp_path)})
    _, engine, name, debug = result.stdout.splitlines()
    assert engine == "django.db.backends.sqlite3"
    assert name == str(tmp_path / "opsboard.sqlite3")
    assert debug == "False"


def test_database_url_selects_postgresql(tmp_path: Path) -> None:
    result = run_settings({"OPSBOARD_VAR_DIR": str(tmp_path), "DATABASE_URL": "postgres://u@db.example:5433/ops"})
    assert result.stdout.splitlines()[1:3] == ["django.db.backends.postgresql", "ops"]


def test_a_malformed_variable_stops_the_process_naming_it(tmp_path: Path) -> None:
    result = run_settings({"OPSBOARD_VAR_DIR": str(tmp_path), "DEBUG": "ture"})
    assert result.returncode != 0
    assert "DEBUG='ture' is not a boolean" in result.stderr


def test_channel_layer_keeps_idle_sockets_open() -> None:
    host = settings.CHANNEL_LAYERS["default"]["CONFIG"]["hosts"][0]
    assert host["socket_timeout"] is None
