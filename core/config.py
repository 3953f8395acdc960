"""One frozen, typed settings object, read once from the environment.

`Settings.from_env()` is the only place that reads `os.environ`; everything
else receives a `Settings`. An invalid value raises `ConfigError`, which names
the variable and what it expected, and `reppu` turns it into a one-line message
and exit status 2 before anything starts.
"""

from __future__ import annotations

import base64
import binascii
import os
import re
import secrets
from collections.abc import Mapping
from pathlib import Path
from typing import Final
from urllib.parse import urlsplit

import msgspec

#: Lifetime of an access token issued at login. Short on purpose: a stolen
#: token is useful for at most this long.
DEFAULT_TOKEN_TTL_S: Final = 15 * 60
#: Upper bound of `REPPU_TOKEN_TTL`; longer sessions refresh instead.
MAX_TOKEN_TTL_S: Final = 12 * 3600
#: Largest request body the HTTP API accepts (roster documents are the biggest).
DEFAULT_MAX_BODY_BYTES: Final = 32 * 1024 * 1024

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


class ConfigError(Exception):
    """A configuration variable has a value Reppu cannot use."""

    def __init__(self, variable: str, expected: str, got: str | None = None) -> None:
        self.variable = variable
        self.expected = expected
        shown = "" if got is None else f" (got {got!r})"
        super().__init__(f"{variable}: expected {expected}{shown}")


class Settings(msgspec.Struct, frozen=True, kw_only=True):
    """Everything Reppu is configured by. Built once at start-up."""

    #: Admin connection: used to migrate and to create the application role,
    #: never to serve requests. None: start the embedded PostgreSQL.
    database_url: str | None
    redis_url: str | None
    data_dir: Path
    secret: str
    #: True when REPPU_SECRET was not set and a random one was generated:
    #: tokens then do not survive a restart (fine for `reppu demo`).
    secret_generated: bool
    public_url: str
    dev_login: bool
    app_role: str = "reppu_app"
    token_ttl_s: int = DEFAULT_TOKEN_TTL_S
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
    pool_min: int = 1
    pool_max: int = 10
    log_level: str = "INFO"
    #: Origins a browser websocket may come from: the public URL's origin plus
    #: REPPU_ALLOWED_ORIGINS (comma-separated).
    allowed_origins: tuple[str, ...] = ()
    #: The VAPID private key (PEM or base64url raw scalar) when set; None: the
    #: key in the data directory, generated once (channels.vapid.load_or_create).
    vapid_private_key: str | None = None
    #: The contact push services see in the VAPID JWT (`sub`, RFC 8292 §2.1).
    vapid_subject: str = "mailto:reppu@localhost"
    #: The SMTP relay (smtp:// with STARTTLS or smtps://); None: no e-mail.
    smtp_url: str | None = None
    #: Push-service origins allowed besides the well-known push services
    #: (REPPU_PUSH_ORIGINS, comma-separated): the only way to allow http or
    #: another host, e.g. a local push service in tests.
    push_origins: tuple[str, ...] = ()
    #: The From address of notification mail (REPPU_MAIL_FROM; default
    #: reppu@ the public URL's host).
    mail_from: str = "reppu@localhost"

    @property
    def public_origin(self) -> str:
        parts = urlsplit(self.public_url)
        return f"{parts.scheme}://{parts.netloc}"

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ

        database_url = _optional_url(env, "DATABASE_URL", ("postgres", "postgresql"))
        redis_url = _optional_url(env, "REDIS_URL", ("redis", "rediss", "unix"))

        data_dir = Path(env.get("REPPU_DATA_DIR") or ".reppu").expanduser()
        if data_dir.exists() and not data_dir.is_dir():
            raise ConfigError("REPPU_DATA_DIR", "a directory", str(data_dir))

        raw_secret = env.get("REPPU_SECRET")
        if raw_secret is None or raw_secret == "":
            secret, generated = secrets.token_urlsafe(32), True
        elif len(raw_secret) < 32:
            raise ConfigError("REPPU_SECRET", "at least 32 characters", f"{len(raw_secret)} chars")
        else:
            secret, generated = raw_secret, False

        public_url = env.get("REPPU_PUBLIC_URL") or "http://localhost:8000"
        parts = urlsplit(public_url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ConfigError(
                "REPPU_PUBLIC_URL", "an http(s) URL like https://reppu.example.fi", public_url
            )

        app_role = env.get("REPPU_APP_ROLE") or "reppu_app"
        if not app_role.isidentifier() or app_role.lower() != app_role:
            raise ConfigError("REPPU_APP_ROLE", "a lower-case SQL identifier", app_role)

        log_level = (env.get("REPPU_LOG_LEVEL") or "INFO").upper()
        if log_level not in ("DEBUG", "INFO", "WARNING", "ERROR"):
            raise ConfigError("REPPU_LOG_LEVEL", "DEBUG, INFO, WARNING or ERROR", log_level)

        origins = [f"{parts.scheme}://{parts.netloc}"]
        for item in (env.get("REPPU_ALLOWED_ORIGINS") or "").split(","):
            item = item.strip().rstrip("/")
            if not item:
                continue
            o = urlsplit(item)
            if o.scheme not in ("http", "https") or not o.netloc or o.path or o.query:
                raise ConfigError(
                    "REPPU_ALLOWED_ORIGINS",
                    "comma-separated origins like https://app.example.fi",
                    item,
                )
            origins.append(item)

        vapid_private_key = env.get("VAPID_PRIVATE_KEY") or None
        if vapid_private_key is not None and not _vapid_key_shape(vapid_private_key):
            raise ConfigError(
                "VAPID_PRIVATE_KEY",
                "a PEM private key or the base64url 32-byte P-256 scalar (reppu vapid-keys)",
                f"{len(vapid_private_key)} chars",
            )
        vapid_subject = env.get("VAPID_SUBJECT") or f"mailto:reppu@{parts.hostname or 'localhost'}"
        if not _vapid_subject_ok(vapid_subject):
            raise ConfigError(
                "VAPID_SUBJECT", "a mailto: or https: URL like mailto:ops@example.fi", vapid_subject
            )

        mail_from = env.get("REPPU_MAIL_FROM") or f"reppu@{parts.hostname or 'localhost'}"
        if not re.fullmatch(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+", mail_from):
            raise ConfigError("REPPU_MAIL_FROM", "a plain address like reppu@example.fi", mail_from)

        smtp_url = _optional_url(env, "SMTP_URL", ("smtp", "smtps"))
        if smtp_url is not None:
            smtp = urlsplit(smtp_url)
            try:
                smtp.port  # noqa: B018 - raises on a bad port
            except ValueError:
                raise ConfigError("SMTP_URL", "a valid port", _redact(smtp_url)) from None
            if not smtp.hostname or smtp.path not in ("", "/"):
                raise ConfigError(
                    "SMTP_URL", "smtp://[user:pass@]host[:port] or smtps://…", _redact(smtp_url)
                )

        return cls(
            allowed_origins=tuple(dict.fromkeys(origins)),
            database_url=database_url,
            redis_url=redis_url,
            data_dir=data_dir,
            secret=secret,
            secret_generated=generated,
            public_url=public_url.rstrip("/"),
            dev_login=_bool(env, "REPPU_DEV_LOGIN", False),
            app_role=app_role,
            token_ttl_s=_int(env, "REPPU_TOKEN_TTL", DEFAULT_TOKEN_TTL_S, 60, MAX_TOKEN_TTL_S),
            max_body_bytes=_int(env, "REPPU_MAX_BODY_BYTES", DEFAULT_MAX_BODY_BYTES, 1024, 1024**3),
            pool_min=_int(env, "REPPU_DB_POOL_MIN", 1, 0, 100),
            pool_max=_int(env, "REPPU_DB_POOL_MAX", 10, 1, 500),
            log_level=log_level,
            vapid_private_key=vapid_private_key,
            vapid_subject=vapid_subject,
            smtp_url=smtp_url,
            mail_from=mail_from,
            push_origins=_origins(env, "REPPU_PUSH_ORIGINS", "http://127.0.0.1:8123"),
        )


def _origins(env: Mapping[str, str], name: str, example: str) -> tuple[str, ...]:
    """A comma-separated list of http(s) origins (no path), without duplicates."""
    found: list[str] = []
    for item in (env.get(name) or "").split(","):
        item = item.strip().rstrip("/")
        if not item:
            continue
        o = urlsplit(item)
        if o.scheme not in ("http", "https") or not o.hostname or o.path or o.query or o.fragment:
            raise ConfigError(name, f"comma-separated origins like {example}", item)
        found.append(f"{o.scheme}://{o.netloc.lower()}")
    return tuple(dict.fromkeys(found))


def _vapid_subject_ok(value: str) -> bool:
    """RFC 8292 §2.1: a mailto: address or an https: URL to reach the operator."""
    if value.startswith("mailto:"):
        local, at, domain = value.removeprefix("mailto:").partition("@")
        return bool(local and at and domain) and not any(c.isspace() for c in value)
    parts = urlsplit(value)
    return parts.scheme == "https" and bool(parts.hostname)


def _vapid_key_shape(value: str) -> bool:
    """PEM, or base64url of 32 bytes: what channels.vapid.parse accepts (which
    checks the key itself when the hub starts; core does not import channels)."""
    value = value.strip()
    if value.startswith("-----BEGIN"):
        return "PRIVATE KEY-----" in value
    try:
        raw = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
    except (binascii.Error, ValueError):
        return False
    return len(raw) == 32 and re.fullmatch(r"[A-Za-z0-9_-]+=*", value) is not None


def _optional_url(env: Mapping[str, str], name: str, schemes: tuple[str, ...]) -> str | None:
    value = env.get(name)
    if value is None or value == "":
        return None
    parts = urlsplit(value)
    if parts.scheme not in schemes:
        raise ConfigError(name, f"a URL with scheme {' or '.join(schemes)}", _redact(value))
    return value


def _redact(url: str) -> str:
    parts = urlsplit(url)
    if parts.password:
        return url.replace(f":{parts.password}@", ":***@")
    return url


def _bool(env: Mapping[str, str], name: str, default: bool) -> bool:
    value = env.get(name)
    if value is None:
        return default
    low = value.strip().lower()
    if low in _TRUE:
        return True
    if low in _FALSE:
        return False
    raise ConfigError(name, "true or false (1/0, yes/no, on/off)", value)


def _int(env: Mapping[str, str], name: str, default: int, lo: int, hi: int) -> int:
    value = env.get(name)
    if value is None or value == "":
        return default
    try:
        number = int(value)
    except ValueError:
        raise ConfigError(name, f"an integer between {lo} and {hi}", value) from None
    if not lo <= number <= hi:
        raise ConfigError(name, f"an integer between {lo} and {hi}", value)
    return number
