"""A real SMTP server for channel tests: aiosmtpd on a free loopback port.

`SmtpServer` runs an aiosmtpd `Controller` (its own thread and event loop)
with STARTTLS from a throw-away test CA (trustme), optional AUTH, and a
`Recorder` handler that keeps every accepted envelope and can be told to answer
a given code at RCPT or DATA for one address.
"""

from __future__ import annotations

import socket
import ssl
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Literal

import trustme
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

Stage = Literal["rcpt", "data"]


@dataclass(frozen=True)
class Received:
    mail_from: str
    rcpt_tos: list[str]
    content: bytes


@dataclass
class Recorder:
    """aiosmtpd handler: records envelopes, answers scripted codes."""

    received: list[Received] = field(default_factory=list)
    #: every RCPT TO the server saw, accepted or not, per session
    rcpt_commands: list[str] = field(default_factory=list)
    #: (address, stage) -> reply line, e.g. "550 5.1.1 No such user"
    replies: dict[tuple[str, Stage], str] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def answer(self, address: str, stage: Stage, reply: str) -> None:
        with self.lock:
            self.replies[(address.lower(), stage)] = reply

    def for_address(self, address: str) -> list[Received]:
        with self.lock:
            return [r for r in self.received if address in r.rcpt_tos]

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        with self.lock:
            self.rcpt_commands.append(address)
            reply = self.replies.get((address.lower(), "rcpt"))
        if reply is not None:
            return reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        with self.lock:
            for address in envelope.rcpt_tos:
                reply = self.replies.get((address.lower(), "data"))
                if reply is not None:
                    return reply
            content = envelope.original_content or envelope.content or b""
            assert isinstance(content, bytes)
            self.received.append(
                Received(str(envelope.mail_from), list(envelope.rcpt_tos), content)
            )
        return "250 Message accepted for delivery"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass(frozen=True)
class CertAuthority:
    ca: trustme.CA
    server_context: ssl.SSLContext
    client_context: ssl.SSLContext


def make_test_ca() -> CertAuthority:
    """A CA, a certificate for 127.0.0.1, and contexts for both ends."""
    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1", "localhost")
    server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    cert.configure_cert(server)
    client = ssl.create_default_context()
    ca.configure_trust(client)
    return CertAuthority(ca, server, client)


@dataclass
class SmtpServer:
    host: str
    port: int
    recorder: Recorder


@contextmanager
def smtp_server(
    *, tls_context: ssl.SSLContext | None = None, auth: tuple[str, str] | None = None
) -> Iterator[SmtpServer]:
    """A running server; STARTTLS is offered only with `tls_context`, AUTH
    (required, over TLS) only with `auth`."""
    recorder = Recorder()
    port = free_port()
    kwargs: dict[str, Any] = {}
    if tls_context is not None:
        kwargs["tls_context"] = tls_context
    if auth is not None:
        user, password = auth

        def authenticator(
            server: SMTP, session: Session, envelope: Envelope, mechanism: str, data: Any
        ) -> AuthResult:
            ok = (
                isinstance(data, LoginPassword)
                and data.login.decode() == user
                and data.password.decode() == password
            )
            return AuthResult(success=ok, handled=False)

        kwargs.update(authenticator=authenticator, auth_required=True)
    controller = Controller(recorder, hostname="127.0.0.1", port=port, **kwargs)
    controller.start()
    try:
        yield SmtpServer("127.0.0.1", port, recorder)
    finally:
        controller.stop()
