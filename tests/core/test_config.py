"""Settings: read once from the environment; bad values name the variable."""

from __future__ import annotations

import subprocess
import sys

import pytest

from core.config import ConfigError, Settings

GOOD = {"REPPU_SECRET": "s" * 40}


def test_defaults() -> None:
    """With nothing set: embedded database, in-memory broker, generated secret."""
    s = Settings.from_env({})
    assert s.database_url is None and s.redis_url is None
    assert s.secret_generated and len(s.secret) >= 32
    assert s.public_origin == "http://localhost:8000" and not s.dev_login


def test_settings_are_frozen() -> None:
    """The settings object cannot be changed after start-up."""
    s = Settings.from_env(GOOD)
    with pytest.raises(AttributeError):
        s.dev_login = True  # type: ignore[misc]


@pytest.mark.parametrize(
    ("variable", "value", "expected"),
    [
        ("DATABASE_URL", "mysql://x", "postgres"),
        ("REDIS_URL", "http://x", "redis"),
        ("REPPU_SECRET", "short", "at least 32"),
        ("REPPU_PUBLIC_URL", "reppu.example.fi", "http(s) URL"),
        ("REPPU_DEV_LOGIN", "maybe", "true or false"),
        ("REPPU_TOKEN_TTL", "ten", "integer"),
        ("REPPU_TOKEN_TTL", "5", "between 60"),
        ("REPPU_APP_ROLE", "Robert'); DROP", "identifier"),
        ("REPPU_LOG_LEVEL", "LOUD", "DEBUG"),
    ],
)
def test_invalid_values_name_the_variable(variable: str, value: str, expected: str) -> None:
    """Each invalid value raises ConfigError naming the variable and what it expected."""
    with pytest.raises(ConfigError) as info:
        Settings.from_env({**GOOD, variable: value})
    assert info.value.variable == variable
    assert str(info.value).startswith(f"{variable}: expected")
    assert expected in str(info.value)


def test_password_is_not_echoed() -> None:
    """A bad DATABASE_URL is reported without its password."""
    with pytest.raises(ConfigError) as info:
        Settings.from_env({"DATABASE_URL": "mysql://u:hunter2@h/db"})
    assert "hunter2" not in str(info.value)


def test_cli_stops_on_bad_config() -> None:
    """`reppu migrate` with a bad variable exits 2 with a one-line message naming it."""
    out = subprocess.run(
        [sys.executable, "-c", "from core.cli import main; raise SystemExit(main(['migrate']))"],
        env={"REPPU_TOKEN_TTL": "forever", "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        check=False,
    )
    assert out.returncode == 2
    assert "REPPU_TOKEN_TTL: expected an integer" in out.stderr
