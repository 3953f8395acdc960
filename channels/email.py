"""The e-mail channel: one notification mail to one address over SMTP.

Policy-free (ARCHITECTURE.md, invariant 8): `EmailDeliverer.deliver` opens one
connection to the configured relay, sends one envelope with exactly one
recipient, and returns a typed result. It never retries; the hub's durable jobs
do, using the result:

- 2xx for the whole transaction → `Delivered`;
- a 4xx reply (421, 450, 451, 452, …), a refused or dropped connection or a
  timeout → `TemporaryFailure`;
- a 5xx reply to RCPT or DATA → `PermanentFailure(gone=True, "bounced: <code>")`,
  the hub marks the address as bouncing;
- any other 5xx (535 authentication failed, 550 to MAIL FROM) is our relay
  configuration, not the address → `PermanentFailure(gone=False)`.

Delivery is at most once per call, but a call that times out after DATA may
still have been accepted by the relay, so a retried job can send a mail twice.

TLS is required: `smtp://` upgrades with STARTTLS and fails permanently with
`tls_unavailable`, before any MAIL command, when the relay does not offer it;
`smtps://` uses implicit TLS. Only `require_tls=False` (local development)
allows plaintext.

No header injection: every header is built with `email.headerregistry` and
`email.policy.SMTP` from values with control characters (CR, LF, NEL, U+2028…)
replaced by spaces, and addresses must be plain ASCII `local@domain` without
any character outside RFC 5322 atoms — a name, title or address can never add
a header or a recipient.
"""

from __future__ import annotations

import re
import ssl
import unicodedata
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.headerregistry import Address
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime, make_msgid
from typing import Literal
from urllib.parse import parse_qsl, unquote, urlsplit

import aiosmtplib
import msgspec

from channels.base import Delivered, PermanentFailure, Rendered, Result, TemporaryFailure
from channels.templates import Language, render_email

#: TCP connect + greeting (+ TLS handshake for smtps://)
CONNECT_TIMEOUT_S = 10.0
#: each SMTP command after connecting, including DATA with the whole message
SEND_TIMEOUT_S = 30.0
#: longer display names are cut (with "…"); the header is folded anyway
MAX_DISPLAY_NAME_CHARS = 80
#: longer subjects are cut (with "…")
MAX_SUBJECT_CHARS = 200
#: RFC 5321 §4.5.3.1.3 (path) minus the angle brackets
MAX_ADDRESS_CHARS = 254

TlsMode = Literal["starttls", "implicit", "off"]

# Deliberately narrower than RFC 5322: dot-atom local part and a hostname.
# No quoted local parts, no comments, no whitespace, no non-ASCII (SMTPUTF8).
_ADDRESS = re.compile(
    r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
    r"@(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)*"
    r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
)
# Characters that are never allowed inside an unsubscribe URL in a header.
_URL_FORBIDDEN = re.compile(r"[\s<>\"\\\x00-\x1f\x7f]")


class EmailDestination(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Where one notification mail goes."""

    address: str
    display_name: str = ""
    language: Language = "fi"
    #: an opaque-token URL made by the hub, e.g. https://reppu.example/unsubscribe/TOKEN;
    #: sent as List-Unsubscribe with RFC 8058 one-click POST
    unsubscribe_url: str


@dataclass(frozen=True, kw_only=True)
class SmtpConfig:
    """The relay, parsed once from SMTP_URL at start-up."""

    host: str
    port: int
    tls: TlsMode = "starttls"
    #: False only for local development: STARTTLS becomes opportunistic
    require_tls: bool = True
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    #: trust for the relay's certificate; None: the system's CA bundle
    tls_context: ssl.SSLContext | None = field(default=None, repr=False, compare=False)
    #: the EHLO name; None: the machine's FQDN
    local_hostname: str | None = None
    connect_timeout_s: float = CONNECT_TIMEOUT_S
    send_timeout_s: float = SEND_TIMEOUT_S

    @classmethod
    def from_url(
        cls,
        url: str,
        *,
        require_tls: bool = True,
        tls_context: ssl.SSLContext | None = None,
        local_hostname: str | None = None,
    ) -> SmtpConfig:
        """`smtp://user:pass@host:587` (STARTTLS), `smtps://host:465` (implicit
        TLS); `smtp://host:25?starttls=off` only with `require_tls=False`."""
        try:
            parts = urlsplit(url)
            port = parts.port
        except ValueError as e:
            raise ValueError(f"SMTP_URL is not a valid URL: {e}") from None
        if parts.scheme not in ("smtp", "smtps"):
            raise ValueError(f"SMTP_URL must start with smtp:// or smtps://, not {parts.scheme!r}")
        if not parts.hostname:
            raise ValueError("SMTP_URL has no host")
        if parts.path not in ("", "/") or parts.fragment:
            raise ValueError("SMTP_URL must not have a path or fragment")
        tls: TlsMode = "implicit" if parts.scheme == "smtps" else "starttls"
        for key, value in parse_qsl(parts.query, keep_blank_values=True):
            if key != "starttls" or value not in ("on", "off"):
                raise ValueError(f"SMTP_URL: unknown option {key}={value!r} (only starttls=on|off)")
            if value == "off":
                if parts.scheme == "smtps":
                    raise ValueError("SMTP_URL: starttls=off makes no sense with smtps://")
                if require_tls:
                    raise ValueError(
                        "SMTP_URL: starttls=off is refused because TLS is required "
                        "(plaintext SMTP is for local development only)"
                    )
                tls = "off"
        if (parts.password is None) != (parts.username is None):
            raise ValueError("SMTP_URL: give both a user and a password, or neither")
        return cls(
            host=parts.hostname,
            port=port or (465 if tls == "implicit" else 587),
            tls=tls,
            require_tls=require_tls,
            username=unquote(parts.username) if parts.username is not None else None,
            password=unquote(parts.password) if parts.password is not None else None,
            tls_context=tls_context,
            local_hostname=local_hostname,
        )


def header_text(value: str, limit: int) -> str:
    """`value` safe for a header: control and line/paragraph separator
    characters become spaces, runs of whitespace one space, at most `limit`
    characters."""
    cleaned = "".join(" " if unicodedata.category(c) in ("Cc", "Zl", "Zp") else c for c in value)
    cleaned = " ".join(cleaned.split())
    # An unquoted "=?utf-8?q?…?=" in a display name is written out as is and
    # decoded by the reader (RFC 2047 §5), so "=?…?=" spelling "Bcc: x@y" would
    # show — and parse — as another address; break every encoded-word opener.
    cleaned = cleaned.replace("=?", "= ?")
    if len(cleaned) > limit:
        cleaned = cleaned[: limit - 1].rstrip() + "…"
    return cleaned


def valid_address(address: str) -> bool:
    """Whether `address` is a plain ASCII local@domain we are willing to send to."""
    return len(address) <= MAX_ADDRESS_CHARS and _ADDRESS.fullmatch(address) is not None


def _check_unsubscribe_url(url: str) -> str:
    parts = urlsplit(url)
    if parts.scheme != "https" and not (parts.scheme == "http" and parts.hostname == "localhost"):
        raise ValueError(f"unsubscribe URL must be https: {url!r}")
    if _URL_FORBIDDEN.search(url) or not url.isascii():
        raise ValueError(f"unsubscribe URL has characters not allowed in a header: {url!r}")
    return url


class EmailDeliverer:
    """`Deliverer[EmailDestination]` over one SMTP relay; one connection per call."""

    def __init__(
        self, config: SmtpConfig, sender_address: str, sender_name: str, *, full_text: bool = False
    ) -> None:
        if not valid_address(sender_address):
            raise ValueError(f"invalid sender address {sender_address!r}")
        self.config = config
        self.sender = Address(
            display_name=header_text(sender_name, MAX_DISPLAY_NAME_CHARS),
            addr_spec=sender_address,
        )
        self.full_text = full_text

    def build_message(self, notification: Rendered, destination: EmailDestination) -> EmailMessage:
        """The complete message; the address must already be valid."""
        content = render_email(
            notification,
            destination.language,
            unsubscribe_url=destination.unsubscribe_url,
            full_text=self.full_text,
        )
        msg = EmailMessage(policy=SMTP)
        msg["From"] = self.sender
        msg["To"] = Address(
            display_name=header_text(destination.display_name, MAX_DISPLAY_NAME_CHARS),
            addr_spec=destination.address,
        )
        msg["Subject"] = header_text(content.subject, MAX_SUBJECT_CHARS)
        msg["Date"] = format_datetime(datetime.now(UTC))
        msg["Message-ID"] = make_msgid(domain=self.sender.domain)
        # RFC 3834: no vacation replies to a notification
        msg["Auto-Submitted"] = "auto-generated"
        # RFC 2369 + RFC 8058 one-click: the URL is the hub's, checked above
        msg["List-Unsubscribe"] = f"<{destination.unsubscribe_url}>"
        msg["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
        # quoted-printable keeps the body 7-bit, so no 8BITMIME is needed
        msg.set_content(content.text, cte="quoted-printable")
        msg.add_alternative(content.html, subtype="html", cte="quoted-printable")
        # after the body: set_content drops (and multipart moves) Content-* headers
        msg["Content-Language"] = destination.language
        return msg

    async def deliver(self, notification: Rendered, destination: EmailDestination) -> Result:
        """One attempt to hand the mail for `destination` to the relay."""
        _check_unsubscribe_url(destination.unsubscribe_url)
        if not valid_address(destination.address):
            return PermanentFailure(reason="invalid_address", gone=True)
        message = self.build_message(notification, destination).as_bytes()
        try:
            return await self._send(destination.address, message)
        except aiosmtplib.SMTPRecipientRefused as e:
            return _reply(e.code, "rcpt")
        except aiosmtplib.SMTPDataError as e:
            return _reply(e.code, "data")
        except aiosmtplib.SMTPResponseException as e:
            return _reply(e.code, "session")
        except ssl.SSLError as e:
            # the relay's certificate or handshake: an operator problem that
            # will be fixed, not the recipient's
            return TemporaryFailure(reason=f"tls_error: {e.reason or type(e).__name__}")
        except (TimeoutError, aiosmtplib.SMTPTimeoutError):
            return TemporaryFailure(reason="timeout")
        except (OSError, aiosmtplib.SMTPException) as e:
            # refused, reset or dropped connections, DNS failures
            return TemporaryFailure(reason=f"connection: {type(e).__name__}")

    async def _send(self, recipient: str, message: bytes) -> Result:
        cfg = self.config
        client = aiosmtplib.SMTP(
            hostname=cfg.host,
            port=cfg.port,
            use_tls=cfg.tls == "implicit",
            start_tls=False,  # decided below, after EHLO
            tls_context=cfg.tls_context,
            local_hostname=cfg.local_hostname,
            timeout=cfg.send_timeout_s,
        )
        await client.connect(timeout=cfg.connect_timeout_s)
        try:
            if cfg.tls == "starttls":
                await client.ehlo()
                if client.supports_extension("starttls"):
                    # starttls() sends a fresh EHLO over the encrypted channel
                    await client.starttls(tls_context=cfg.tls_context)
                elif cfg.require_tls:
                    return PermanentFailure(reason="tls_unavailable")
            if cfg.username is not None and cfg.password is not None:
                await client.login(cfg.username, cfg.password)
            # One envelope, one RCPT: never several guardians in one transaction.
            await client.mail(self.sender.addr_spec)
            await client.rcpt(recipient)
            await client.data(message)
        finally:
            await _quit(client)
        return Delivered()


def _reply(code: int, stage: Literal["rcpt", "data", "session"]) -> Result:
    if 400 <= code < 500:
        return TemporaryFailure(reason=f"smtp {code}")
    if 500 <= code < 600:
        if stage in ("rcpt", "data"):
            return PermanentFailure(reason=f"bounced: {code}", gone=True)
        return PermanentFailure(reason=f"smtp {code}")
    return TemporaryFailure(reason=f"smtp {code}")


async def _quit(client: aiosmtplib.SMTP) -> None:
    if not client.is_connected:
        return
    try:
        await client.quit(timeout=client.timeout)
    except (OSError, aiosmtplib.SMTPException):
        # the outcome is already decided; a relay that misbehaves on QUIT
        # only gets its connection closed
        client.close()
