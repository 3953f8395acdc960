"""Settings: read once from the environment; bad values name the variable."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

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
        ("VAPID_PRIVATE_KEY", "not-a-key", "base64url 32-byte"),
        ("VAPID_PRIVATE_KEY", "A" * 44, "base64url 32-byte"),
        ("VAPID_PRIVATE_KEY", "-----BEGIN CERTIFICATE-----", "PEM private key"),
        ("VAPID_SUBJECT", "ops@example.fi", "mailto: or https:"),
        ("VAPID_SUBJECT", "mailto:", "mailto: or https:"),
        ("VAPID_SUBJECT", "https://", "mailto: or https:"),
        ("VAPID_SUBJECT", "http://example.fi", "mailto: or https:"),
        ("SMTP_URL", "http://mail.example.fi", "smtp or smtps"),
        ("SMTP_URL", "smtp://", "host"),
        ("SMTP_URL", "smtp://mail.example.fi/path", "host"),
        ("SMTP_URL", "smtp://mail.example.fi:smtp", "port"),
        ("REPPU_PUSH_ORIGINS", "127.0.0.1:8123", "origins"),
        ("REPPU_PUSH_ORIGINS", "https://push.example.fi/path", "origins"),
        ("REPPU_PUSH_ORIGINS", "ftp://push.example.fi", "origins"),
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


def test_delivery_defaults() -> None:
    """No VAPID key (the data directory's), a subject from the public host, no SMTP, no
    extra push origins."""
    s = Settings.from_env({**GOOD, "REPPU_PUBLIC_URL": "https://reppu.example.fi/app"})
    assert s.vapid_private_key is None and s.smtp_url is None and s.push_origins == ()
    assert s.vapid_subject == "mailto:reppu@reppu.example.fi"


def test_delivery_settings() -> None:
    """Valid VAPID keys (raw and PEM), subject, SMTP URL and push origins are kept."""
    from channels import vapid

    keys = vapid.generate()
    for key in (keys.private_raw, keys.private_pem.decode()):
        s = Settings.from_env({**GOOD, "VAPID_PRIVATE_KEY": key})
        assert s.vapid_private_key is not None
        assert vapid.parse(s.vapid_private_key).public_key == keys.public_key
    s = Settings.from_env(
        {
            **GOOD,
            "VAPID_SUBJECT": "https://reppu.example.fi/contact",
            "SMTP_URL": "smtps://user:pw@mail.example.fi:465",
            "REPPU_PUSH_ORIGINS": " http://127.0.0.1:8123 , https://Push.Example.fi/,"
            "http://127.0.0.1:8123",
        }
    )
    assert s.vapid_subject == "https://reppu.example.fi/contact"
    assert s.smtp_url == "smtps://user:pw@mail.example.fi:465"
    assert s.push_origins == ("http://127.0.0.1:8123", "https://push.example.fi")
    assert Settings.from_env({**GOOD, "VAPID_SUBJECT": "mailto:ops@x.fi"}).vapid_subject == (
        "mailto:ops@x.fi"
    )


def test_secrets_are_not_echoed() -> None:
    """A bad SMTP_URL hides its password; a bad VAPID_PRIVATE_KEY is not shown at all."""
    with pytest.raises(ConfigError) as info:
        Settings.from_env({**GOOD, "SMTP_URL": "smtp://u:hunter2@mail.example.fi/x"})
    assert "hunter2" not in str(info.value)
    with pytest.raises(ConfigError) as info:
        Settings.from_env({**GOOD, "VAPID_PRIVATE_KEY": "hunter2-secret"})
    assert "hunter2" not in str(info.value)


def test_cli_vapid_keys(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """`reppu vapid-keys` prints a new pair in the form VAPID_PRIVATE_KEY takes, with
    its public key, and writes nothing to the data directory."""
    from channels import vapid
    from core.cli import main

    monkeypatch.setenv("REPPU_DATA_DIR", str(tmp_path))
    pairs = []
    for _ in range(2):
        assert main(["vapid-keys"]) == 0
        lines = capsys.readouterr().out.splitlines()
        assert len(lines) == 2 and lines[0].startswith("VAPID_PRIVATE_KEY=")
        private = lines[0].partition("=")[2]
        public = lines[1].rpartition(" ")[2]
        assert Settings.from_env({**GOOD, "VAPID_PRIVATE_KEY": private}).vapid_private_key
        assert vapid.parse(private).public_key == public
        pairs.append((private, public))
    assert pairs[0] != pairs[1]
    assert list(tmp_path.iterdir()) == []
