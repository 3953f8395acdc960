"""The e-mail adapter against a real SMTP server (aiosmtpd) with STARTTLS."""

from __future__ import annotations

import asyncio
import email
import ssl
from collections.abc import Iterator
from email.message import EmailMessage
from email.policy import default as default_policy
from itertools import count

import pytest

from channels.base import Delivered, PermanentFailure, Rendered, TemporaryFailure
from channels.email import EmailDeliverer, EmailDestination, SmtpConfig
from tests.channels.smtp_server import (
    CertAuthority,
    SmtpServer,
    free_port,
    make_test_ca,
    smtp_server,
)

SENDER = "reppu@kuusikko.example"
SECRET_BODY = "Huomenna retki Nuuksioon, eväät mukaan."
_ids = count()


def unique(prefix: str = "huoltaja") -> str:
    return f"{prefix}{next(_ids)}@koti.example"


def note(title: str = "Retkitiedote", text: str = SECRET_BODY) -> Rendered:
    return Rendered(title=title, text=text, url="https://reppu.example/m/123", kind="message")


def dest(
    address: str, *, name: str = "Maija Meikäläinen", language: str = "fi"
) -> EmailDestination:
    return EmailDestination(
        address=address,
        display_name=name,
        language=language,  # type: ignore[arg-type]
        unsubscribe_url="https://reppu.example/unsubscribe/tok3n",
    )


def parse(raw: bytes) -> EmailMessage:
    msg = email.message_from_bytes(raw, policy=default_policy)
    assert isinstance(msg, EmailMessage)
    return msg


def plain_body(msg: EmailMessage) -> str:
    part = msg.get_body(("plain",))
    assert part is not None
    return str(part.get_content()).replace("\r\n", "\n")


def html_body(msg: EmailMessage) -> str:
    part = msg.get_body(("html",))
    assert part is not None
    return str(part.get_content())


@pytest.fixture(scope="module")
def ca() -> CertAuthority:
    return make_test_ca()


@pytest.fixture(scope="module")
def tls_server(ca: CertAuthority) -> Iterator[SmtpServer]:
    with smtp_server(tls_context=ca.server_context) as server:
        yield server


@pytest.fixture(scope="module")
def auth_server(ca: CertAuthority) -> Iterator[SmtpServer]:
    with smtp_server(tls_context=ca.server_context, auth=("reppu", "s3cret")) as server:
        yield server


@pytest.fixture(scope="module")
def plain_server() -> Iterator[SmtpServer]:
    with smtp_server() as server:
        yield server


def config(
    server: SmtpServer, ca: CertAuthority, *, auth: str = "", **options: object
) -> SmtpConfig:
    return SmtpConfig.from_url(
        f"smtp://{auth}{server.host}:{server.port}",
        tls_context=ca.client_context,
        local_hostname="reppu.test",
        **options,  # type: ignore[arg-type]
    )


@pytest.fixture(scope="module")
def deliverer(tls_server: SmtpServer, ca: CertAuthority) -> EmailDeliverer:
    return EmailDeliverer(config(tls_server, ca), SENDER, "Reppu – Kuusikon koulu")


async def test_delivered_over_starttls(deliverer: EmailDeliverer, tls_server: SmtpServer) -> None:
    """A mail goes over STARTTLS and arrives with To, Subject and unsubscribe headers."""
    to = unique()
    assert await deliverer.deliver(note(), dest(to)) == Delivered()
    [got] = tls_server.recorder.for_address(to)
    assert got.mail_from == SENDER and got.rcpt_tos == [to]
    msg = parse(got.content)
    assert msg["To"].addresses[0].addr_spec == to
    assert msg["To"].addresses[0].display_name == "Maija Meikäläinen"
    assert msg["Subject"] == "Uusi viesti Reppussa: Retkitiedote"
    assert msg["List-Unsubscribe"] == "<https://reppu.example/unsubscribe/tok3n>"
    assert msg["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert msg["Auto-Submitted"] == "auto-generated"
    assert msg["Content-Language"] == "fi"
    assert msg["Message-ID"].endswith("@kuusikko.example>")
    assert msg["Date"] is not None
    assert msg["From"].addresses[0].addr_spec == SENDER


@pytest.mark.parametrize(
    ("language", "subject", "line"),
    [
        ("fi", "Uusi viesti Reppussa: Retkitiedote", "Sinulle on uusi viesti Reppussa."),
        ("sv", "Nytt meddelande i Reppu: Retkitiedote", "Du har ett nytt meddelande i Reppu."),
        ("en", "New message in Reppu: Retkitiedote", "You have a new message in Reppu."),
    ],
)
async def test_template_per_language(
    deliverer: EmailDeliverer, tls_server: SmtpServer, language: str, subject: str, line: str
) -> None:
    """The subject and body follow the destination's language, with the link."""
    to = unique()
    assert await deliverer.deliver(note(), dest(to, language=language)) == Delivered()
    msg = parse(tls_server.recorder.for_address(to)[0].content)
    assert msg["Subject"] == subject
    assert msg["Content-Language"] == language
    assert line in plain_body(msg)
    assert "https://reppu.example/m/123" in plain_body(msg)
    assert 'href="https://reppu.example/m/123"' in html_body(msg)
    assert f'lang="{language}"' in html_body(msg)


async def test_default_mail_has_no_message_text(
    deliverer: EmailDeliverer, tls_server: SmtpServer
) -> None:
    """By default only the subject and a link are sent, never the message text."""
    to = unique()
    await deliverer.deliver(note(), dest(to))
    msg = parse(tls_server.recorder.for_address(to)[0].content)
    assert SECRET_BODY not in plain_body(msg)
    assert SECRET_BODY not in html_body(msg)


async def test_full_text_option_includes_text_escaped(
    tls_server: SmtpServer, ca: CertAuthority
) -> None:
    """With full_text the body carries the notification text, HTML-escaped."""
    deliverer = EmailDeliverer(config(tls_server, ca), SENDER, "Reppu", full_text=True)
    to = unique()
    text = SECRET_BODY + "\n<script>alert(1)</script>"
    assert await deliverer.deliver(note(text=text), dest(to)) == Delivered()
    msg = parse(tls_server.recorder.for_address(to)[0].content)
    assert text in plain_body(msg)
    assert SECRET_BODY in html_body(msg)
    assert "<script>" not in html_body(msg)
    assert "&lt;script&gt;" in html_body(msg)


async def test_no_starttls_is_refused(plain_server: SmtpServer, ca: CertAuthority) -> None:
    """A relay without STARTTLS gets nothing when TLS is required."""
    deliverer = EmailDeliverer(config(plain_server, ca), SENDER, "Reppu")
    to = unique()
    assert await deliverer.deliver(note(), dest(to)) == PermanentFailure(reason="tls_unavailable")
    assert plain_server.recorder.for_address(to) == []
    assert to not in plain_server.recorder.rcpt_commands


async def test_plaintext_allowed_when_tls_not_required(
    plain_server: SmtpServer, ca: CertAuthority
) -> None:
    """With require_tls=False the mail goes in plaintext, also with starttls=off."""
    for suffix in ("", "?starttls=off"):
        cfg = SmtpConfig.from_url(
            f"smtp://{plain_server.host}:{plain_server.port}{suffix}",
            require_tls=False,
            local_hostname="reppu.test",
        )
        to = unique()
        result = await EmailDeliverer(cfg, SENDER, "Reppu").deliver(note(), dest(to))
        assert result == Delivered()
        assert len(plain_server.recorder.for_address(to)) == 1


@pytest.mark.parametrize(("stage", "code"), [("rcpt", 450), ("rcpt", 451), ("data", 452)])
async def test_4xx_is_temporary(
    deliverer: EmailDeliverer, tls_server: SmtpServer, stage: str, code: int
) -> None:
    """A 4xx reply at RCPT or DATA is a temporary failure."""
    to = unique()
    tls_server.recorder.answer(to, stage, f"{code} 4.2.0 Try again later")  # type: ignore[arg-type]
    result = await deliverer.deliver(note(), dest(to))
    assert result == TemporaryFailure(reason=f"smtp {code}")


@pytest.mark.parametrize(("stage", "code"), [("rcpt", 550), ("data", 552)])
async def test_5xx_is_bounced_and_gone(
    deliverer: EmailDeliverer, tls_server: SmtpServer, stage: str, code: int
) -> None:
    """A 5xx reply at RCPT or DATA bounces: permanent, destination gone."""
    to = unique()
    tls_server.recorder.answer(to, stage, f"{code} 5.1.1 Mailbox unavailable")  # type: ignore[arg-type]
    result = await deliverer.deliver(note(), dest(to))
    assert result == PermanentFailure(reason=f"bounced: {code}", gone=True)
    assert tls_server.recorder.for_address(to) == []


async def test_connection_refused_is_temporary(ca: CertAuthority) -> None:
    """Nothing listening on the port is a temporary failure."""
    cfg = SmtpConfig.from_url(f"smtp://127.0.0.1:{free_port()}", tls_context=ca.client_context)
    result = await EmailDeliverer(cfg, SENDER, "Reppu").deliver(note(), dest(unique()))
    assert isinstance(result, TemporaryFailure)
    assert result.reason.startswith("connection")


async def test_silent_server_times_out_temporary() -> None:
    """A relay that accepts TCP but never greets is a temporary timeout."""
    server = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        cfg = SmtpConfig(host="127.0.0.1", port=port, connect_timeout_s=0.05)
        result = await EmailDeliverer(cfg, SENDER, "Reppu").deliver(note(), dest(unique()))
        assert result == TemporaryFailure(reason="timeout")
    finally:
        server.close()


async def test_untrusted_certificate_is_not_sent_to(tls_server: SmtpServer) -> None:
    """A relay certificate from an unknown CA fails TLS; nothing is sent."""
    cfg = SmtpConfig.from_url(
        f"smtp://{tls_server.host}:{tls_server.port}",
        tls_context=ssl.create_default_context(),
        local_hostname="reppu.test",
    )
    to = unique()
    result = await EmailDeliverer(cfg, SENDER, "Reppu").deliver(note(), dest(to))
    assert isinstance(result, TemporaryFailure) and result.reason.startswith("tls_error")
    assert to not in tls_server.recorder.rcpt_commands


async def test_auth_success_and_failure(auth_server: SmtpServer, ca: CertAuthority) -> None:
    """Correct credentials deliver; a 535 is permanent but the address is not gone."""
    to = unique()
    good = EmailDeliverer(config(auth_server, ca, auth="reppu:s3cret@"), SENDER, "Reppu")
    assert await good.deliver(note(), dest(to)) == Delivered()
    assert len(auth_server.recorder.for_address(to)) == 1
    bad = EmailDeliverer(config(auth_server, ca, auth="reppu:wrong@"), SENDER, "Reppu")
    assert await bad.deliver(note(), dest(unique())) == PermanentFailure(reason="smtp 535")


HOSTILE = [
    "Evil\r\nBcc: victim@example.org",
    "Evil\nCc: victim@example.org",
    "Evil\rTo: victim@example.org",
    'Eve "the boss" <victim@example.org>, victim2@example.org',
    "Åsa Öberg-Äijälä\u2028X-Injected: yes\u0085Bcc: victim@example.org",
    "Ä" * 500 + "\r\n\r\nbody injection",
    "=?utf-8?q?Bcc=3A_victim=40example=2Eorg?=",
    "=?utf-8?b?dmljdGltQGV4YW1wbGUub3Jn?= <victim@example.org>",
]


@pytest.mark.parametrize("hostile", HOSTILE)
async def test_hostile_names_and_titles_cannot_inject(
    tls_server: SmtpServer, ca: CertAuthority, hostile: str
) -> None:
    """CR/LF, quotes, <, commas, encoded words and long åäö add no header or recipient."""
    deliverer = EmailDeliverer(config(tls_server, ca), SENDER, hostile)
    to = unique()
    result = await deliverer.deliver(note(title=hostile), dest(to, name=hostile))
    assert result == Delivered()
    [got] = tls_server.recorder.for_address(to)
    assert got.rcpt_tos == [to]
    assert tls_server.recorder.rcpt_commands.count(to) == 1
    assert b"victim@example.org" not in got.rcpt_tos[0].encode()
    msg = parse(got.content)
    assert not msg.defects
    assert sorted(msg.keys()) == sorted(
        [
            "From",
            "To",
            "Subject",
            "Date",
            "Message-ID",
            "Auto-Submitted",
            "Content-Language",
            "List-Unsubscribe",
            "List-Unsubscribe-Post",
            "MIME-Version",
            "Content-Type",
        ]
    )
    assert msg.get_all("Bcc") is None and msg.get_all("Cc") is None
    [to_header] = msg.get_all("To") or []
    assert [a.addr_spec for a in to_header.addresses] == [to]
    [from_header] = msg.get_all("From") or []
    assert [a.addr_spec for a in from_header.addresses] == [SENDER]
    assert "\n" not in msg["Subject"] and "\r" not in msg["Subject"]
    assert msg["Subject"].startswith("Uusi viesti Reppussa: ")


@pytest.mark.parametrize(
    "address",
    [
        "victim@example.org\r\nBcc: other@example.org",
        "a@example.org, b@example.org",
        "Name <a@example.org>",
        "ä@example.org",
        "a@example.org>",
        "no-at-sign",
    ],
)
async def test_hostile_address_is_rejected_before_sending(
    deliverer: EmailDeliverer, tls_server: SmtpServer, address: str
) -> None:
    """An address that is not one plain local@domain is never sent to."""
    before = len(tls_server.recorder.rcpt_commands)
    result = await deliverer.deliver(note(), dest(address))
    assert result == PermanentFailure(reason="invalid_address", gone=True)
    assert len(tls_server.recorder.rcpt_commands) == before


async def test_one_envelope_per_recipient(
    deliverer: EmailDeliverer, tls_server: SmtpServer
) -> None:
    """Three guardians get three envelopes, each with one RCPT and only their own To."""
    addresses = [unique("perhe") for _ in range(3)]
    results = await asyncio.gather(*(deliverer.deliver(note(), dest(a)) for a in addresses))
    assert results == [Delivered()] * 3
    for address in addresses:
        [got] = tls_server.recorder.for_address(address)
        assert got.rcpt_tos == [address]
        assert [a.addr_spec for a in parse(got.content)["To"].addresses] == [address]
        assert tls_server.recorder.rcpt_commands.count(address) == 1


@pytest.mark.parametrize(
    ("url", "require_tls", "expected"),
    [
        ("smtp://u:p%40ss@mail.example:2525", True, ("mail.example", 2525, "starttls", "p@ss")),
        ("smtp://mail.example", True, ("mail.example", 587, "starttls", None)),
        ("smtps://mail.example", True, ("mail.example", 465, "implicit", None)),
        ("smtp://mail.example:25?starttls=off", False, ("mail.example", 25, "off", None)),
    ],
)
def test_smtp_url_parsing(url: str, require_tls: bool, expected: tuple[object, ...]) -> None:
    """SMTP_URL gives host, default port, TLS mode and decoded credentials."""
    cfg = SmtpConfig.from_url(url, require_tls=require_tls)
    assert (cfg.host, cfg.port, cfg.tls, cfg.password) == expected
    assert "p@ss" not in repr(cfg)


@pytest.mark.parametrize(
    "url",
    [
        "http://mail.example",
        "smtp://",
        "smtp://mail.example:notaport",
        "smtp://mail.example?starttls=off",
        "smtp://mail.example?tls=no",
        "smtp://user@mail.example",
        "smtps://mail.example?starttls=off",
    ],
)
def test_bad_smtp_url_names_the_variable(url: str) -> None:
    """A bad SMTP_URL, or starttls=off while TLS is required, is a ValueError naming SMTP_URL."""
    with pytest.raises(ValueError, match="SMTP_URL"):
        SmtpConfig.from_url(url)


async def test_unsubscribe_url_must_be_safe(deliverer: EmailDeliverer) -> None:
    """An unsubscribe URL that could break the header is a programming error."""
    bad = EmailDestination(
        address=unique(), unsubscribe_url="https://reppu.example/u/x>\r\nBcc: v@example.org"
    )
    with pytest.raises(ValueError, match="unsubscribe"):
        await deliverer.deliver(note(), bad)
