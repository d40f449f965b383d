from __future__ import annotations

from pathlib import Path

import pytest

from opsboard.env import ConfigError, env_bool, env_float, env_int, env_list, env_str


@pytest.mark.parametrize("word", ["1", "true", "TRUE", "yes", "on"])
def test_true_words_are_true(word: str) -> None:
    assert env_bool("DEBUG", False, environ={"DEBUG": word}) is True


@pytest.mark.parametrize("word", ["0", "false", "No", "off"])
def test_false_words_are_false(word: str) -> None:
    assert env_bool("DEBUG", True, environ={"DEBUG": word}) is False


def test_a_typo_in_a_boolean_is_an_error_naming_the_variable() -> None:
    with pytest.raises(ConfigError, match="DEBUG='ture' is not a boolean"):
        env_bool("DEBUG", False, environ={"DEBUG": "ture"})


def test_unset_and_empty_take_the_default() -> None:
    assert env_bool("DEBUG", True, environ={}) is True
    assert env_str("X", "d", environ={"X": "  "}) == "d"
    assert env_list("HOSTS", ["a"], environ={}) == ["a"]


def test_numbers_are_checked() -> None:
    assert env_int("N", 1, environ={"N": "42"}) == 42
    with pytest.raises(ConfigError, match="N='4x' is not a whole number"):
        env_int("N", 1, environ={"N": "4x"})
    with pytest.raises(ConfigError, match="below the minimum of 1"):
        env_int("N", 1, minimum=1, environ={"N": "0"})
    with pytest.raises(ConfigError, match="not a finite number"):
        env_float("F", 1.0, environ={"F": "nan"})


def test_lists_split_on_commas() -> None:
    assert env_list("HOSTS", [], environ={"HOSTS": "a.example, b.example,,"}) == ["a.example", "b.example"]


def test_secrets_come_from_a_file(tmp_path: Path) -> None:
    secret = tmp_path / "secret"
    secret.write_text("s3cret\n")
    assert env_str("SECRET_KEY", environ={"SECRET_KEY_FILE": str(secret), "SECRET_KEY": "other"}) == "s3cret"


def test_an_unreadable_secret_file_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="SECRET_KEY_FILE: cannot read"):
        env_str("SECRET_KEY", environ={"SECRET_KEY_FILE": str(tmp_path / "missing")})
