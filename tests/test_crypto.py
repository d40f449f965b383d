"""opsboard.crypto: values encrypted under keys from the environment, readable after a
rotation, refused with a message that names the problem, and the checks that warn."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from django.test import override_settings

from opsboard import checks, crypto
from opsboard.env import ConfigError

ROOT = Path(__file__).resolve().parent.parent
OLD, NEW, STRANGER = Fernet.generate_key().decode(), Fernet.generate_key().decode(), Fernet.generate_key().decode()


def fernet_opens(key: str, value: str) -> str:
    """What a bare Fernet with ``key`` alone reads from ``value``."""
    return Fernet(key).decrypt(value.removeprefix(crypto.PREFIX).encode()).decode()


@override_settings(OPSBOARD_ENCRYPTION_KEYS=[NEW])
def test_a_value_round_trips_and_is_recognisable_as_encrypted() -> None:
    token = crypto.encrypt("https://hooks.slack.com/services/T0/B0/xyz")
    assert token.startswith("enc:v1:") and crypto.is_encrypted(token)
    assert "hooks.slack.com" not in token
    assert crypto.decrypt(token) == "https://hooks.slack.com/services/T0/B0/xyz"
    assert crypto.encrypt("same") != crypto.encrypt("same")  # a fresh IV each time
    assert fernet_opens(NEW, token) == "https://hooks.slack.com/services/T0/B0/xyz"
    assert not crypto.is_encrypted("https://example.test") and not crypto.is_encrypted(None)


def test_a_value_under_a_key_no_longer_listed_is_refused_with_the_reason() -> None:
    with override_settings(OPSBOARD_ENCRYPTION_KEYS=[STRANGER]):
        token = crypto.encrypt("s3cret")
    with override_settings(OPSBOARD_ENCRYPTION_KEYS=[NEW]), pytest.raises(crypto.DecryptionError) as refused:
        crypto.decrypt(token)
    message = str(refused.value)
    assert "cannot be read with the current keys" in message
    assert "OPSBOARD_ENCRYPTION_KEYS" in message and "SECRET_KEY" in message


@override_settings(OPSBOARD_ENCRYPTION_KEYS=[NEW])
def test_text_that_is_not_a_token_or_is_damaged_is_refused() -> None:
    with pytest.raises(crypto.DecryptionError, match="not an encrypted value"):
        crypto.decrypt("plain text")
    token = crypto.encrypt("s3cret")
    with pytest.raises(crypto.DecryptionError, match="cannot be read with the current keys"):
        crypto.decrypt(token[:-4] + "AAAA")


def test_a_malformed_key_is_a_configuration_error_naming_its_place_not_its_value() -> None:
    with override_settings(OPSBOARD_ENCRYPTION_KEYS=[NEW, "hunter2-not-a-key"]), pytest.raises(ConfigError) as bad:
        crypto.encrypt("x")
    assert "OPSBOARD_ENCRYPTION_KEYS: item 2 is not a Fernet key" in str(bad.value)
    assert "hunter2" not in str(bad.value)


def test_rotation_with_two_keys_keeps_old_values_readable_and_moves_them_to_the_new_key() -> None:
    with override_settings(OPSBOARD_ENCRYPTION_KEYS=[OLD]):
        token = crypto.encrypt("s3cret")
    with override_settings(OPSBOARD_ENCRYPTION_KEYS=[NEW, OLD]):
        assert crypto.decrypt(token) == "s3cret"
        assert not crypto.is_current(token)
        rotated = crypto.rotate(token)
        assert crypto.is_current(rotated) and crypto.decrypt(rotated) == "s3cret"
        assert crypto.encrypt("fresh") and crypto.is_current(crypto.encrypt("fresh"))
    assert fernet_opens(NEW, rotated) == "s3cret"
    with override_settings(OPSBOARD_ENCRYPTION_KEYS=[NEW]):
        assert crypto.decrypt(rotated) == "s3cret"
        with pytest.raises(crypto.DecryptionError):
            crypto.decrypt(token)


@override_settings(OPSBOARD_ENCRYPTION_KEYS=[], SECRET_KEY="a-secret-key-for-this-test-only-0123456789abcdef")
def test_without_keys_the_key_is_derived_from_secret_key_and_still_opens_after_a_key_is_set() -> None:
    derived = crypto.derive_key("a-secret-key-for-this-test-only-0123456789abcdef")
    token = crypto.encrypt("s3cret")
    assert fernet_opens(derived, token) == "s3cret"
    assert crypto.derive_key("another secret key") != derived
    with override_settings(OPSBOARD_ENCRYPTION_KEYS=[NEW]):
        assert crypto.decrypt(token) == "s3cret"  # so setting a key needs only a rotation
        assert not crypto.is_current(token)
        assert fernet_opens(NEW, crypto.rotate(token)) == "s3cret"


def test_secret_key_fallbacks_open_what_an_old_secret_key_encrypted() -> None:
    with override_settings(OPSBOARD_ENCRYPTION_KEYS=[], SECRET_KEY="old-secret-key-0123456789-abcdefghijklmnop"):
        token = crypto.encrypt("s3cret")
    renewed = {"SECRET_KEY": "new-secret-key-0123456789-abcdefghijklmnop", "OPSBOARD_ENCRYPTION_KEYS": []}
    with override_settings(**renewed), pytest.raises(crypto.DecryptionError):
        crypto.decrypt(token)
    with override_settings(**renewed, SECRET_KEY_FALLBACKS=["old-secret-key-0123456789-abcdefghijklmnop"]):
        assert crypto.decrypt(token) == "s3cret"


def check_ids(**overrides: object) -> list[str]:
    with override_settings(**overrides):
        return [message.id for message in checks.check_encryption_keys()]


def test_the_checks_warn_in_production_without_a_key_and_refuse_a_malformed_one() -> None:
    assert check_ids(DEBUG=False, OPSBOARD_ENCRYPTION_KEYS=[]) == ["opsboard.W002"]
    assert check_ids(DEBUG=True, OPSBOARD_ENCRYPTION_KEYS=[]) == []
    assert check_ids(DEBUG=False, OPSBOARD_ENCRYPTION_KEYS=[NEW]) == []
    assert check_ids(DEBUG=False, OPSBOARD_ENCRYPTION_KEYS=["short"]) == ["opsboard.E003"]


def test_a_text_field_encrypts_on_the_way_in_and_decrypts_on_the_way_out() -> None:
    field = crypto.EncryptedTextField()
    with override_settings(OPSBOARD_ENCRYPTION_KEYS=[NEW]):
        stored = field.get_prep_value("JBSWY3DPEHPK3PXP")
        assert crypto.is_encrypted(stored) and field.get_prep_value(stored) == stored
        assert field.from_db_value(stored, None, None) == "JBSWY3DPEHPK3PXP"
        assert field.get_prep_value("") == "" and field.from_db_value(None, None, None) is None
    with override_settings(OPSBOARD_ENCRYPTION_KEYS=[OLD]):
        assert field.from_db_value(stored, None, None) == stored  # unreadable: kept as it is, not a crash


def test_a_json_field_encrypts_only_the_chosen_keys() -> None:
    field = crypto.EncryptedJSONField(secret_keys=["url", "secret"])
    with override_settings(OPSBOARD_ENCRYPTION_KEYS=[NEW]):
        sealed = field.seal({"url": "https://x.test/h", "secret": "", "addresses": ["a@b.test"], "n": 3})
        assert crypto.is_encrypted(sealed["url"]) and sealed["secret"] == ""
        assert (sealed["addresses"], sealed["n"]) == (["a@b.test"], 3)
        assert field.map_secrets(sealed, crypto.decrypt)["url"] == "https://x.test/h"
    assert crypto.EncryptedJSONField().is_secret("Authorization")  # no keys named: every value


def test_the_keys_may_come_from_a_file(tmp_path: Path) -> None:
    keys = tmp_path / "keys"
    keys.write_text(f"{NEW},{OLD}\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("OPSBOARD_ENCRYPTION_KEYS")}
    env.update(OPSBOARD_VAR_DIR=str(tmp_path), OPSBOARD_ENCRYPTION_KEYS_FILE=str(keys))
    code = "import django; django.setup(); from django.conf import settings; print(settings.OPSBOARD_ENCRYPTION_KEYS)"
    result = subprocess.run(
        [sys.executable, "-c", code],
        env={**env, "DJANGO_SETTINGS_MODULE": "opsboard.settings"},
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == repr([NEW, OLD])
