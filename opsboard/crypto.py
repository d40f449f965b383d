"""Secrets encrypted at rest: Fernet tokens under keys from the environment, with rotation.

An encrypted value is the text ``enc:v1:`` followed by a Fernet token (AES-128-CBC and
HMAC-SHA256, with its time of encryption), so that encrypted values are recognisable and
plain ones left from before encryption can be found and encrypted.

Keys come from ``OPSBOARD_ENCRYPTION_KEYS`` (or ``_FILE``): comma-separated Fernet keys,
newest first. The newest encrypts; every key decrypts. After them, always, comes a key
derived from ``SECRET_KEY`` (and one from each of ``SECRET_KEY_FALLBACKS``) with
HKDF-SHA256 (salt ``opsboard-encryption``, info ``opsboard secrets at rest v1``, 32
bytes): it encrypts when no key is set, so a bare checkout works, and it still opens what
it encrypted after a dedicated key is set, until ``manage.py rotate_encryption_keys``
re-encrypts everything under that key.

Models hold secrets in ``EncryptedJSONField`` (chosen top-level values of a JSON object)
or ``EncryptedTextField`` (the whole text): values are encrypted on the way to the
database and decrypted on the way back, so the code that reads them sees plain text. A
value that no key opens stays an ``enc:v1:`` token in memory (``is_encrypted`` is then
true): pages show it as "cannot be read with the current keys", and whatever needed it
fails with that error instead of crashing.
"""

from __future__ import annotations

import base64
import hashlib
from collections import Counter
from collections.abc import Callable, Iterable
from functools import lru_cache
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings
from django.db import models, transaction

from opsboard.env import ConfigError

PREFIX = "enc:v1:"
KEYS_VARIABLE = "OPSBOARD_ENCRYPTION_KEYS"
UNREADABLE = "cannot be read with the current keys"
_HKDF_SALT = b"opsboard-encryption"
_HKDF_INFO = b"opsboard secrets at rest v1"
_MAKE_KEY = "python -c 'from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())'"


class DecryptionError(ValueError):
    """A stored secret that no current key opens, or text that is not an encrypted value."""


# --- Keys -------------------------------------------------------------------------------


def generate_key() -> str:
    """A new random Fernet key, for ``OPSBOARD_ENCRYPTION_KEYS``."""
    return Fernet.generate_key().decode()


@lru_cache(maxsize=16)
def derive_key(secret: str) -> str:
    """The Fernet key derived from a Django secret key (HKDF-SHA256, see the module's docstring)."""
    hkdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=_HKDF_SALT, info=_HKDF_INFO)
    return base64.urlsafe_b64encode(hkdf.derive(secret.encode())).decode()


def configured_keys() -> list[str]:
    return list(getattr(settings, "OPSBOARD_ENCRYPTION_KEYS", None) or [])


def key_problems(keys: Iterable[str]) -> list[str]:
    """What is wrong with each malformed key, by its place in the list (never the key itself)."""
    problems = []
    for number, key in enumerate(keys, start=1):
        try:
            Fernet(key)
        except (ValueError, TypeError):
            problems.append(
                f"{KEYS_VARIABLE}: item {number} is not a Fernet key (32 bytes in URL-safe base64, "
                f"44 characters); make one with: {_MAKE_KEY}"
            )
    return problems


def _all_keys() -> tuple[str, ...]:
    secrets = [settings.SECRET_KEY, *getattr(settings, "SECRET_KEY_FALLBACKS", [])]
    return tuple(dict.fromkeys([*configured_keys(), *(derive_key(s) for s in secrets)]))


@lru_cache(maxsize=8)
def _fernets(keys: tuple[str, ...]) -> tuple[MultiFernet, Fernet]:
    problems = key_problems(keys)
    if problems:
        raise ConfigError(problems[0])
    fernets = [Fernet(key) for key in keys]
    return MultiFernet(fernets), fernets[0]


def _multi() -> MultiFernet:
    return _fernets(_all_keys())[0]


def _newest() -> Fernet:
    return _fernets(_all_keys())[1]


def key_fingerprint() -> str:
    """A short SHA-256 digest naming the newest key (it reveals nothing of the key)."""
    return hashlib.sha256(_all_keys()[0].encode()).hexdigest()[:12]


# --- Values -----------------------------------------------------------------------------


def is_encrypted(value: object) -> bool:
    """Whether ``value`` is an encrypted value; after loading, one that no key opened."""
    return isinstance(value, str) and value.startswith(PREFIX)


def encrypt(text: str) -> str:
    """``enc:v1:<Fernet token>`` of ``text`` under the newest key."""
    return PREFIX + _newest().encrypt(text.encode()).decode()


def decrypt(token: str) -> str:
    """The text inside ``token``; DecryptionError names the problem when none of the keys opens it."""
    raw = _token(token)
    try:
        return _multi().decrypt(raw).decode()
    except InvalidToken:
        raise DecryptionError(_unreadable_message()) from None


def is_current(token: str) -> bool:
    """Whether the newest key opens ``token`` (rotation leaves such values alone)."""
    try:
        _newest().decrypt(_token(token))
    except InvalidToken:
        return False
    return True


def rotate(token: str) -> str:
    """``token`` re-encrypted under the newest key."""
    try:
        return PREFIX + _multi().rotate(_token(token)).decode()
    except InvalidToken:
        raise DecryptionError(_unreadable_message()) from None


def unreadable_keys(values: dict[str, Any]) -> list[str]:
    """The keys of a loaded mapping whose values stayed tokens: no current key opened them."""
    return [key for key, value in values.items() if is_encrypted(value)]


def _token(value: str) -> bytes:
    if not is_encrypted(value):
        raise DecryptionError(f"not an encrypted value: it does not start with {PREFIX!r}")
    return value[len(PREFIX) :].encode()


def _unreadable_message() -> str:
    count = len(configured_keys())
    return (
        f"the secret {UNREADABLE}: none of the {count} key(s) in {KEYS_VARIABLE}, nor the key derived "
        "from SECRET_KEY, opens it (encrypted under a key no longer listed, or damaged)"
    )


def _open(value: Any) -> Any:
    """Plain text for a token a key opens; anything else as it is."""
    if not is_encrypted(value):
        return value
    try:
        return decrypt(value)
    except DecryptionError:
        return value


# --- Fields -----------------------------------------------------------------------------


class EncryptedField:
    """What rotation and the data migrations need of an encrypted column: how its raw value
    is read without decrypting it, and how to change each secret inside a raw value."""

    def raw_field(self) -> models.Field:
        raise NotImplementedError

    def map_secrets(self, raw: Any, change: Callable[[str], str]) -> Any:
        raise NotImplementedError


class EncryptedJSONField(EncryptedField, models.JSONField):
    """A JSON object whose string values under ``secret_keys`` (every top-level value when
    None) are stored encrypted. Rows hold tokens; model instances hold plain text."""

    non_db_attrs = (*models.JSONField.non_db_attrs, "secret_keys")

    def __init__(self, *args: Any, secret_keys: Iterable[str] | None = None, **kwargs: Any) -> None:
        self.secret_keys = None if secret_keys is None else tuple(secret_keys)
        super().__init__(*args, **kwargs)

    def deconstruct(self) -> Any:
        name, path, args, kwargs = super().deconstruct()
        if self.secret_keys is not None:
            kwargs["secret_keys"] = list(self.secret_keys)
        return name, path, args, kwargs

    def is_secret(self, key: str) -> bool:
        return self.secret_keys is None or key in self.secret_keys

    def map_secrets(self, raw: Any, change: Callable[[str], str]) -> Any:
        if not isinstance(raw, dict):
            return raw
        return {k: change(v) if self.is_secret(k) and isinstance(v, str) and v else v for k, v in raw.items()}

    def seal(self, value: Any) -> Any:
        """A copy of ``value`` with its plain secrets encrypted (tokens are kept as they are)."""
        return self.map_secrets(value, lambda v: v if is_encrypted(v) else encrypt(v))

    def get_prep_value(self, value: Any) -> Any:
        return super().get_prep_value(self.seal(value))

    def from_db_value(self, value: Any, expression: Any, connection: Any) -> Any:
        value = super().from_db_value(value, expression, connection)
        if isinstance(value, str):  # one key of the object, read with a key transform
            return _open(value)
        return self.map_secrets(value, _open)

    def value_to_string(self, obj: models.Model) -> Any:
        return self.seal(self.value_from_object(obj))  # dumpdata writes tokens, never plain secrets

    def raw_field(self) -> models.Field:
        return models.JSONField()


class EncryptedTextField(EncryptedField, models.TextField):
    """Text stored encrypted as a whole (a TOTP secret, say); empty text stays empty."""

    def get_prep_value(self, value: Any) -> Any:
        value = super().get_prep_value(value)
        return encrypt(value) if isinstance(value, str) and value and not is_encrypted(value) else value

    def from_db_value(self, value: Any, expression: Any, connection: Any) -> Any:
        return _open(value)

    def value_to_string(self, obj: models.Model) -> Any:
        return self.get_prep_value(self.value_from_object(obj))

    def map_secrets(self, raw: Any, change: Callable[[str], str]) -> Any:
        return change(raw) if isinstance(raw, str) and raw else raw

    def raw_field(self) -> models.Field:
        return models.TextField()


# --- Stored values: rotation and the data migrations ----------------------------------


def encrypted_columns() -> list[tuple[type[models.Model], EncryptedField]]:
    """Every (model, field) of the installed apps that stores encrypted values."""
    from django.apps import apps

    return [
        (model, field)
        for model in apps.get_models()
        for field in model._meta.concrete_fields
        if isinstance(field, EncryptedField)
    ]


def bring_current(model: type[models.Model], field_name: str, *, batch_size: int = 500) -> Counter[str]:
    """Every value of one column under the newest key: plain ones encrypted, older tokens
    re-encrypted, current ones left alone; tokens no key opens are left and counted."""
    return _rewrite(model, field_name, _bring_current, batch_size)


def decrypt_stored(model: type[models.Model], field_name: str, *, batch_size: int = 500) -> Counter[str]:
    """Every value of one column back to plain text (the reverse of the data migrations);
    DecryptionError when a value cannot be read, for nothing plain can be written for it."""
    return _rewrite(model, field_name, _to_plain, batch_size)


def _bring_current(value: str, counts: Counter[str]) -> str:
    if not is_encrypted(value):
        counts["encrypted"] += 1
        return encrypt(value)
    if is_current(value):
        counts["current"] += 1
        return value
    try:
        rotated = rotate(value)
    except DecryptionError:
        counts["unreadable"] += 1
        return value
    counts["re_encrypted"] += 1
    return rotated


def _to_plain(value: str, counts: Counter[str]) -> str:
    if not is_encrypted(value):
        return value
    counts["decrypted"] += 1
    return decrypt(value)


def _rewrite(
    model: type[models.Model], field_name: str, change: Callable[[str, Counter[str]], str], batch_size: int
) -> Counter[str]:
    """Apply ``change`` to each secret of the column, a batch of rows per transaction, each
    batch locked while it is rewritten so that no concurrent edit is overwritten."""
    field = model._meta.get_field(field_name)
    counts: Counter[str] = Counter()
    after = None
    while True:
        with transaction.atomic():
            batch = _raw_batch(model, field, after, batch_size)
            for pk, raw in batch:
                _rewrite_row(model, field, pk, raw, lambda value: change(value, counts), counts)
        if len(batch) < batch_size:
            return counts
        after = batch[-1][0]


def _raw_batch(model: type[models.Model], field: Any, after: Any, size: int) -> list[tuple[Any, Any]]:
    rows = model._base_manager.order_by("pk").select_for_update()
    if after is not None:
        rows = rows.filter(pk__gt=after)
    raw = models.ExpressionWrapper(models.F(field.attname), output_field=field.raw_field())
    return list(rows.annotate(stored_value=raw).values_list("pk", "stored_value")[:size])


def _rewrite_row(model: type[models.Model], field: Any, pk: Any, raw: Any, change: Any, counts: Counter[str]) -> None:
    counts["rows"] += 1
    new = field.map_secrets(raw, change)
    if new != raw:
        # Written as the plain field would, past the encrypting one: the value is final.
        value = models.Value(new, output_field=field.raw_field())
        model._base_manager.filter(pk=pk).update(**{field.attname: value})
        counts["rows_changed"] += 1
