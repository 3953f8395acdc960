"""The delivery policy end to end (docs/delivery.md): a real server, the local
push service that checks VAPID and decrypts every payload, a real SMTP server
with STARTTLS, and a clock the test moves — `Delivery.run_due()` runs what
has fallen due, so no test waits for a timer.

Each test has its own app and clock (days after the session's), and first
cancels every job other tests left pending: the queue is shared by the
session's database."""

from __future__ import annotations

import email
import json
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.policy import default as default_policy
from typing import Any
from uuid import UUID

import asyncpg
import httpx
import pytest

from channels.email import EmailDeliverer, SmtpConfig
from channels.webpush import MAX_PAYLOAD_BYTES, encode_payload
from core.actions import tenant_id_for
from core.api import Services, create_app
from core.clock import FixedClock
from core.config import Settings
from core.db import Database
from hub.delivery import Delivery, render_push
from hub.model import MAX_SUBJECT_CHARS
from hub.module import HubModule
from hub.schedule import EMAIL_AFTER, MAX_SEND_ATTEMPTS, PUSH_AFTER, REMINDER_EMAIL_AFTER
from tests.channels.push_service import PushService, Subscriber
from tests.channels.smtp_server import CertAuthority, SmtpServer, make_test_ca, smtp_server
from tests.conftest import replace, serve
from tests.family import FAMILY
from tests.hub.helpers import headers, key

Ids = dict[str, UUID]
#: Tuesday 1 December 2026, 10:00 in Helsinki (EET, UTC+2)
MORNING = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)
#: the same day, 22:00 in Helsinki: inside the default quiet hours 21–07
NIGHT = datetime(2026, 12, 1, 20, 0, tzinfo=UTC)
SECRET_BODY = "Lauri Lapsi tarvitsee lääkkeen retkelle"


@pytest.fixture(scope="module")
def ca() -> CertAuthority:
    return make_test_ca()


@pytest.fixture(scope="module")
def smtp(ca: CertAuthority) -> Iterator[SmtpServer]:
    with smtp_server(tls_context=ca.server_context) as server:
        yield server


@pytest.fixture(scope="module")
async def pushsvc() -> AsyncIterator[PushService]:
    service = PushService()
    async with service.running():
        yield service


@dataclass
class World:
    client: httpx.AsyncClient
    clock: FixedClock
    delivery: Delivery
    push: PushService
    smtp: SmtpServer
    family: Ids

    async def run(self, advance: timedelta = timedelta(0)) -> int:
        self.clock.advance(advance)
        return await self.delivery.run_due()

    async def h(self, who: str) -> dict[str, str]:
        return await headers(self.client, who)

    async def subscribe(self, who: str, status: int = 201, **kw: Any) -> Subscriber:
        sub = self.push.subscribe(status, **kw)
        s = sub.subscription(self.push.origin)
        body = {"endpoint": s.endpoint, "keys": {"p256dh": s.keys.p256dh, "auth": s.keys.auth}}
        r = await self.client.post("/v1/push/subscriptions", json=body, headers=await self.h(who))
        assert r.status_code == 201, r.text
        return sub

    async def send(self, who: str, audience: dict[str, Any], **fields: Any) -> str:
        body = {
            "idempotency_key": key("deliv"),
            "subject": fields.pop("subject", "Retki torstaina"),
            "body": SECRET_BODY,
            "audience": audience,
            **fields,
        }
        r = await self.client.post("/v1/messages", json=body, headers=await self.h(who))
        assert r.status_code == 201, r.text
        return str(r.json()["id"])

    def mails(self, address: str, subject_part: str) -> list[EmailMessage]:
        out = []
        for got in self.smtp.recorder.for_address(address):
            msg = email.message_from_bytes(got.content, policy=default_policy)
            assert isinstance(msg, EmailMessage)
            if subject_part in str(msg["Subject"]):
                assert got.rcpt_tos == [address]  # one recipient per envelope
                out.append(msg)
        return out

    async def report(self, mid: str) -> dict[str, Any]:
        r = await self.client.get(f"/v1/messages/{mid}/report", headers=await self.h("t1"))
        assert r.status_code == 200, r.text
        data: dict[str, Any] = r.json()
        return data

    def person(self, name: str) -> str:
        return str(self.family[name])


def payloads(sub: Subscriber) -> list[dict[str, Any]]:
    return [json.loads(r.payload) for r in sub.received]


@asynccontextmanager
async def world(
    db: Database,
    settings: Settings,
    admin_dsn: str,
    family: Ids,
    pushsvc: PushService,
    smtp: SmtpServer,
    ca: CertAuthority,
    at: datetime,
) -> AsyncIterator[World]:
    admin = await asyncpg.connect(admin_dsn)
    try:
        await admin.execute("UPDATE jobs SET state = 'cancelled' WHERE state = 'pending'")
        await admin.execute("DELETE FROM push_subscriptions")
        await admin.execute("DELETE FROM preferences")
        await admin.execute("DELETE FROM presence")
        await admin.execute("DELETE FROM email_status")
    finally:
        await admin.close()
    clock = FixedClock(at)
    config = SmtpConfig.from_url(
        f"smtp://{smtp.host}:{smtp.port}", tls_context=ca.client_context, local_hostname="t"
    )
    mailers = {
        full: EmailDeliverer(config, "reppu@perhe.example", "Reppu", full_text=full)
        for full in (False, True)
    }
    app = create_app(
        Services(replace(settings, push_origins=(pushsvc.origin,)), db, clock),
        modules=[HubModule(run_worker=False, email=mailers)],
    )
    async with serve(app) as url, httpx.AsyncClient(base_url=url, timeout=30) as client:
        yield World(client, clock, app.state["delivery"], pushsvc, smtp, family)


@pytest.fixture
async def w(
    request: pytest.FixtureRequest,
    db: Database,
    settings: Settings,
    admin_dsn: str,
    family: Ids,
    pushsvc: PushService,
    smtp: SmtpServer,
    ca: CertAuthority,
) -> AsyncIterator[World]:
    """A world at MORNING, or at the time a test gives (indirect parametrize)."""
    at = getattr(request, "param", MORNING)
    async with world(db, settings, admin_dsn, family, pushsvc, smtp, ca, at) as x:
        yield x


async def test_the_ladder_push_then_email_reminders_and_ack(w: World) -> None:
    """The issue's walk-through: a guardian with a push subscription and an email
    address; a teacher's message that requires acknowledgement. Push after
    PUSH_AFTER while unread — decryptable, privacy-minimised; email after
    EMAIL_AFTER; reminders before the deadline only to those who have not
    acknowledged; nothing more once the guardian acknowledges; the sender's
    report shows each channel and the deadline brings a summary."""
    g1 = await w.subscribe("g1")
    gp = await w.subscribe("gp")
    g2 = await w.subscribe("g2")
    deadline = MORNING + timedelta(days=3)
    mid = await w.send(
        "t1",
        {"type": "group_guardians", "group": w.person("7b")},
        ack={"deadline": deadline.isoformat(), "quorum": "all_custodial"},
    )
    assert await w.run() == 0 and not g1.received  # live first: nothing yet
    await w.run(PUSH_AFTER - timedelta(seconds=1))
    assert not g1.received

    await w.run(timedelta(seconds=1))
    [note] = payloads(g1)
    assert note["title"] == "Uusi viesti: Perheen koulu" and note["kind"] == "message"
    assert note["text"] == ""  # the tenant has not allowed subjects
    assert mid in note["url"]
    raw = g1.received[0].payload.decode()
    assert "Retki" not in raw and "Lauri" not in raw and "lääke" not in raw
    assert g1.received[0].headers["urgency"] == "normal"
    assert int(g1.received[0].headers["ttl"]) > 0
    assert len(gp.received) == 1 and len(g2.received) == 1

    # gp reads on some device: the ladder stops for gp; g1 does not read
    r = await w.client.post(f"/v1/inbox/{mid}/read", headers=await w.h("gp"))
    assert r.status_code == 200
    await w.run(EMAIL_AFTER - PUSH_AFTER)
    [mail] = w.mails("gunnar@example.fi", "Retki torstaina")
    assert SECRET_BODY not in mail.as_string()  # subject-only by default
    assert mail["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert w.mails("paula@example.fi", "Retki torstaina") == []

    rep = await w.report(mid)
    g1_row = next(r for r in rep["recipients"] if r["person_id"] == w.person("g1"))
    assert {(c["channel"], c["state"]) for c in g1_row["channels"]} == {
        ("push", "pushed"),
        ("email", "emailed"),
    }
    assert rep["pushed"] == 3 and rep["emailed"] == 1

    # g2 acknowledges (l2 done); l1 waits for g1, lp for g1 and gp (every custodial one)
    r = await w.client.post(f"/v1/inbox/{mid}/ack", headers=await w.h("g2"))
    assert r.status_code == 200
    before = {"g1": len(g1.received), "gp": len(gp.received), "g2": len(g2.received)}
    w.clock.set(deadline - timedelta(hours=24))  # the first reminder
    await w.run()
    assert payloads(g1)[-1]["title"].startswith("Muistutus")
    assert len(g1.received) == before["g1"] + 1
    assert len(gp.received) == before["gp"] + 1  # read, but not acknowledged
    assert len(g2.received) == before["g2"]  # acknowledged: no reminder
    # g1 acknowledges: g1's email reminder, due REMINDER_EMAIL_AFTER later, is cancelled
    r = await w.client.post(f"/v1/inbox/{mid}/ack", headers=await w.h("g1"))
    assert r.status_code == 200
    await w.run(REMINDER_EMAIL_AFTER)
    assert w.mails("gunnar@example.fi", "Muistutus") == []
    assert len(w.mails("paula@example.fi", "Muistutus: Retki torstaina")) == 1
    # the 2-hour reminder: only gp is still wanted
    w.clock.set(deadline - timedelta(hours=2))
    await w.run()
    assert len(gp.received) == before["gp"] + 2
    assert len(g1.received) == before["g1"] + 1 and len(g2.received) == before["g2"]

    # at the deadline the sender gets a summary in the inbox: lp's guardians
    w.clock.set(deadline)
    await w.run()
    inbox = (await w.client.get("/v1/inbox?limit=500", headers=await w.h("t1"))).json()["items"]
    summary = [i for i in inbox if i["message"]["subject"] == "Kuittaukset: Retki torstaina"]
    assert len(summary) == 1
    body = summary[0]["message"]["body"]
    assert "Kuittaamatta (1)" in body and "Pia Suojattu (huoltajat)" in body
    assert "Lauri" not in body


async def test_read_on_any_device_stops_the_ladder(w: World) -> None:
    g1 = await w.subscribe("g1")
    mid = await w.send(
        "t1", {"type": "learner_guardians", "learner": w.person("l1")}, subject="Luettu heti"
    )
    await w.client.post(f"/v1/inbox/{mid}/read", headers=await w.h("g1"))
    await w.run(PUSH_AFTER)
    await w.run(EMAIL_AFTER)
    assert g1.received == []
    assert w.mails("gunnar@example.fi", "Luettu heti") == []


@pytest.mark.parametrize("w", [NIGHT], indirect=True)
async def test_quiet_hours_wait_unless_critical(w: World) -> None:
    """At 22:00 a normal message's push waits until 07:00; a critical one does not."""
    g1 = await w.subscribe("g1")
    await w.send("t1", {"type": "learner_guardians", "learner": w.person("l1")})
    await w.send(
        "t1",
        {"type": "learner_guardians", "learner": w.person("l1")},
        subject="Koulu suljettu",
        urgency="critical",
    )
    await w.run(PUSH_AFTER)
    [critical] = g1.received
    assert critical.headers["urgency"] == "high"
    await w.run(timedelta(hours=8))  # 06:02 local: still quiet
    assert len(g1.received) == 1
    w.clock.set(datetime(2026, 12, 2, 5, 0, tzinfo=UTC))  # 07:00 local
    await w.run()
    assert len(g1.received) == 2


async def test_gone_subscription_is_removed(w: World) -> None:
    """A 410 from the push service deletes the subscription; the report says so."""
    await w.subscribe("g1", status=410)
    mid = await w.send("t1", {"type": "learner_guardians", "learner": w.person("l1")})
    await w.run(PUSH_AFTER)
    subs = (await w.client.get("/v1/push/subscriptions", headers=await w.h("g1"))).json()
    assert subs == []
    rep = await w.report(mid)
    g1_row = next(r for r in rep["recipients"] if r["person_id"] == w.person("g1"))
    assert [(c["channel"], c["state"]) for c in g1_row["channels"]] == [
        ("push", "subscription_gone")
    ]


async def test_429_waits_retry_after_then_delivers(w: World) -> None:
    g1 = await w.subscribe("g1", status=429, retry_after="600")
    await w.send("t1", {"type": "learner_guardians", "learner": w.person("l1")})
    await w.run(PUSH_AFTER)
    assert len(g1.received) == 1
    g1.status = 201
    await w.run(timedelta(seconds=599))
    assert len(g1.received) == 1  # not before Retry-After
    await w.run(timedelta(seconds=200))
    assert len(g1.received) == 2


async def test_opt_out_and_digest(w: World) -> None:
    """g1 turns push off and takes announcements as a daily digest at 17:00: no
    instant push or mail for an announcement, one digest mail at 17:00 that
    lists it; a message still comes by email at once (push is off)."""
    prefs = {
        "push": False,
        "kinds": {"message": "instant", "announcement": "digest", "notification": "instant"},
        "digest_time": "17:00:00",
    }
    r = await w.client.put("/v1/me/preferences", json=prefs, headers=await w.h("g1"))
    assert r.status_code == 200, r.text
    g1 = w.push.subscribe()  # a device subscribed earlier stays subscribed but push is off
    sub = g1.subscription(w.push.origin)
    await w.client.post(
        "/v1/push/subscriptions",
        json={"endpoint": sub.endpoint, "keys": {"p256dh": sub.keys.p256dh, "auth": sub.keys.auth}},
        headers=await w.h("g1"),
    )
    await w.send(
        "t1",
        {"type": "learner_guardians", "learner": w.person("l1")},
        kind="announcement",
        subject="Valokuvaus maanantaina",
    )
    await w.send("t1", {"type": "learner_guardians", "learner": w.person("l1")}, subject="Kysymys")
    await w.run(EMAIL_AFTER)
    assert g1.received == []
    assert w.mails("gunnar@example.fi", "Valokuvaus") == []
    assert len(w.mails("gunnar@example.fi", "Kysymys")) == 1
    w.clock.set(datetime(2026, 12, 1, 15, 0, tzinfo=UTC))  # 17:00 local
    await w.run()
    [digest] = w.mails("gunnar@example.fi", "Reppu: 1 lukematonta")
    text = digest.get_body(("plain",))
    assert text is not None and "Valokuvaus maanantaina" in text.get_content()
    assert "Kysymys" not in text.get_content()  # messages are instant, not in the digest


async def test_5xx_retries_with_backoff_then_undelivered(w: World) -> None:
    """A push service answering 503 is tried MAX_SEND_ATTEMPTS times, then the
    report says undelivered."""
    g1 = await w.subscribe("g1", status=503)
    mid = await w.send("t1", {"type": "learner_guardians", "learner": w.person("l1")})
    await w.run(PUSH_AFTER)
    for _ in range(MAX_SEND_ATTEMPTS + 2):
        await w.run(timedelta(hours=2))  # past any backoff, and past the email step
    assert len(g1.received) == MAX_SEND_ATTEMPTS
    rep = await w.report(mid)
    g1_row = next(r for r in rep["recipients"] if r["person_id"] == w.person("g1"))
    states = {c["channel"]: c["state"] for c in g1_row["channels"]}
    assert states["push"] == "undelivered"


async def test_smtp_5xx_marks_the_address_bounced(w: World) -> None:
    """A 550 at RCPT: the report shows bounced and the address gets no more mail."""
    w.smtp.recorder.answer("gunnar@example.fi", "rcpt", "550 5.1.1 No such user")
    try:
        mid = await w.send(
            "t1", {"type": "learner_guardians", "learner": w.person("l1")}, subject="Pomppaa"
        )
        await w.run(EMAIL_AFTER)
        rep = await w.report(mid)
        g1_row = next(r for r in rep["recipients"] if r["person_id"] == w.person("g1"))
        assert [(c["channel"], c["state"]) for c in g1_row["channels"]] == [("email", "bounced")]
        tries = w.smtp.recorder.rcpt_commands.count("gunnar@example.fi")
        await w.send("t1", {"type": "learner_guardians", "learner": w.person("l1")})
        await w.run(EMAIL_AFTER)
        assert w.smtp.recorder.rcpt_commands.count("gunnar@example.fi") == tries
    finally:
        w.smtp.recorder.replies.clear()


@pytest.mark.parametrize("kind", ["message", "announcement", "notification"])
@pytest.mark.parametrize("reminder", [False, True])
@pytest.mark.parametrize("language", ["fi", "sv", "en"])
def test_push_payloads_fit_for_every_kind(kind: str, reminder: bool, language: Any) -> None:
    """Every kind of push, with the longest subject a tenant may allow (in
    4-byte characters) and a long school name, fits whole below the 4,096-byte
    push limit after encryption (RFC 8030 §7.2: a 413 cannot happen)."""
    from uuid import uuid4

    subject = "😀" * MAX_SUBJECT_CHARS
    for shown in (None, subject):
        n = render_push(
            kind=kind,
            reminder=reminder,
            language=language,
            org="Ä" * 200,
            subject=shown,
            url=f"https://reppu.example.fi/?message={uuid4()}",
            urgency="critical",
            message_id=uuid4(),
            ttl=timedelta(hours=24),
        )
        payload = encode_payload(n)
        assert payload is not None
        assert json.loads(payload)["text"] == (shown or "")  # nothing had to be cut
        assert len(payload) <= MAX_PAYLOAD_BYTES and len(payload) + 103 < 4096


async def test_active_in_a_web_client_gets_no_push_but_email(w: World) -> None:
    """Someone whose live session was seen within ACTIVE_WINDOW is not pushed
    (the web client shows it); the e-mail step still applies if unread."""
    g1 = await w.subscribe("g1")
    await w.send("t1", {"type": "learner_guardians", "learner": w.person("l1")}, subject="Paikalla")
    w.clock.advance(PUSH_AFTER - timedelta(seconds=10))
    await w.delivery.record_presence(tenant_id_for(FAMILY), [w.family["g1"]])
    await w.run(timedelta(seconds=10))
    assert g1.received == []
    await w.run(EMAIL_AFTER)
    assert len(w.mails("gunnar@example.fi", "Paikalla")) == 1


async def test_a_tenant_may_allow_subjects_in_push(w: World, admin_dsn: str) -> None:
    g1 = await w.subscribe("g1")
    admin = await asyncpg.connect(admin_dsn)
    try:
        await admin.execute("UPDATE tenants SET push_subjects = true WHERE slug = 'perhe'")
        await w.send(
            "t1", {"type": "learner_guardians", "learner": w.person("l1")}, subject="Näkyy"
        )
        await w.run(PUSH_AFTER)
    finally:
        await admin.execute("UPDATE tenants SET push_subjects = false WHERE slug = 'perhe'")
        await admin.close()
    [note] = payloads(g1)
    assert note["text"] == "Näkyy" and SECRET_BODY not in json.dumps(note)


async def test_smtp_4xx_is_retried(w: World) -> None:
    """A 451 at RCPT is temporary: the mail is tried again later and then arrives."""
    w.smtp.recorder.answer("gunnar@example.fi", "rcpt", "451 4.7.1 Try again later")
    try:
        mid = await w.send(
            "t1", {"type": "learner_guardians", "learner": w.person("l1")}, subject="Harmaalista"
        )
        await w.run(EMAIL_AFTER)
        assert w.mails("gunnar@example.fi", "Harmaalista") == []
        assert w.smtp.recorder.rcpt_commands.count("gunnar@example.fi") >= 1
    finally:
        w.smtp.recorder.replies.clear()
    await w.run(timedelta(hours=2))
    assert len(w.mails("gunnar@example.fi", "Harmaalista")) == 1
    rep = await w.report(mid)
    g1_row = next(r for r in rep["recipients"] if r["person_id"] == w.person("g1"))
    assert [(c["channel"], c["state"]) for c in g1_row["channels"]] == [("email", "emailed")]
