"""Publishing, idempotency, inbox state, replies, delivery reports, module events and
the per-recipient sequence under racing publishers."""

from __future__ import annotations

import asyncio
import random
from typing import Any
from uuid import UUID

import asyncpg
import httpx
import pytest

from core import actions
from core.auth import TokenIssuer
from core.clock import FixedClock
from core.config import Settings
from core.db import Database
from tests.family import FAMILY
from tests.hub.helpers import headers, key, recipients, send

Ids = dict[str, UUID]


def gid(family: Ids, name: str) -> str:
    return str(family[name])


async def test_same_key_same_message_different_content_conflicts(
    client: httpx.AsyncClient, family: Ids
) -> None:
    """The same idempotency key returns the same message; with other content it is 409."""
    h = await headers(client, "t1")
    body = {
        "idempotency_key": key(),
        "subject": "S",
        "body": "B",
        "audience": {"type": "group_learners", "group": gid(family, "7b")},
    }
    first = await client.post("/v1/messages", json=body, headers=h)
    again = await client.post("/v1/messages", json=body, headers=h)
    assert first.status_code == again.status_code == 201
    assert first.json()["id"] == again.json()["id"]
    assert first.json()["created"] and not again.json()["created"]
    changed = await client.post("/v1/messages", json={**body, "body": "other"}, headers=h)
    assert changed.status_code == 409 and changed.json()["code"] == "idempotency_conflict"


async def test_a_retry_gets_its_message_even_when_it_would_now_be_refused(
    client: httpx.AsyncClient, admin_dsn: str, family: Ids
) -> None:
    """A repeated key is found as the message is inserted, so the normal path does not
    look it up first; a refusal does. A teacher who has left the group since (the
    message itself would now be 403) retrying the same request gets the message that
    was sent, and a new key is refused."""
    h = await headers(client, "t1")
    body = {
        "idempotency_key": key("retry"),
        "subject": "S",
        "body": "B",
        "audience": {"type": "group_guardians", "group": gid(family, "7b")},
    }
    first = await client.post("/v1/messages", json=body, headers=h)
    assert first.status_code == 201 and first.json()["created"]
    admin = await asyncpg.connect(admin_dsn)
    try:
        gone = await admin.fetch(
            "DELETE FROM group_teachers WHERE group_id = $1 AND teacher_id = $2 RETURNING *",
            family["7b"],
            family["t1"],
        )
        assert gone
        try:
            again = await client.post("/v1/messages", json=body, headers=h)
            assert again.status_code == 201, again.text
            assert again.json()["id"] == first.json()["id"] and not again.json()["created"]
            changed = await client.post("/v1/messages", json={**body, "body": "?"}, headers=h)
            assert changed.status_code == 409, changed.text
            fresh = await client.post(
                "/v1/messages", json={**body, "idempotency_key": key("retry")}, headers=h
            )
            assert fresh.status_code == 403
            assert fresh.json()["code"] == "recipient_not_allowed"
        finally:
            cols = list(gone[0].keys())
            await admin.executemany(
                f"INSERT INTO group_teachers ({', '.join(cols)}) "
                f"VALUES ({', '.join(f'${i + 1}' for i in range(len(cols)))})",
                [tuple(r.values()) for r in gone],
            )
    finally:
        await admin.close()


async def test_same_key_raced_yields_one_message(
    client: httpx.AsyncClient, db: Database, family: Ids
) -> None:
    """Ten concurrent posts with one key create one message and one inbox row each."""
    h = await headers(client, "t1")
    body = {
        "idempotency_key": key("race"),
        "subject": "S",
        "body": "B",
        "audience": {"type": "group_learners", "group": gid(family, "7b")},
    }
    results = await asyncio.gather(
        *(client.post("/v1/messages", json=body, headers=h) for _ in range(10))
    )
    assert {r.status_code for r in results} == {201}
    assert len({r.json()["id"] for r in results}) == 1
    assert sum(r.json()["created"] for r in results) == 1
    assert set(await recipients(db, results[0].json()["id"])) == {"l1", "l2", "lp"}


async def test_body_limit_and_bad_fields(client: httpx.AsyncClient, family: Ids) -> None:
    """A body over MAX_BODY_CHARS, an empty subject or an unknown field is a 400 with a code."""
    from hub.model import MAX_BODY_CHARS

    audience = {"type": "group_learners", "group": gid(family, "7b")}
    for extra in ({"body": "x" * (MAX_BODY_CHARS + 1)}, {"subject": ""}, {"colour": "red"}):
        r = await send(client, "t1", audience, **extra)
        assert r.status_code == 400 and r.json()["code"] == "invalid_request", extra


async def test_inbox_read_ack_archive_and_counts(client: httpx.AsyncClient, family: Ids) -> None:
    """Read, acknowledge and archive are idempotent and move the counts."""
    r = await send(
        client,
        "t1",
        {"type": "learner_guardians", "learner": gid(family, "l2")},
        ack={"quorum": "any"},
    )
    mid = r.json()["id"]
    h = await headers(client, "g2")
    before = (await client.get("/v1/inbox/counts", headers=h)).json()
    page = (await client.get("/v1/inbox", headers=h)).json()
    assert page["head"] >= page["items"][-1]["seq"]
    assert any(i["message"]["id"] == mid and i["message"]["requires_ack"] for i in page["items"])
    for _ in range(2):
        st = (await client.post(f"/v1/inbox/{mid}/read", headers=h)).json()
        assert st["read_at"] is not None and st["acked_at"] is None
    after_read = (await client.get("/v1/inbox/counts", headers=h)).json()
    assert after_read["unread"] == before["unread"] - 1
    st = (await client.post(f"/v1/inbox/{mid}/ack", headers=h)).json()
    assert st["acked_at"] is not None
    after_ack = (await client.get("/v1/inbox/counts", headers=h)).json()
    assert after_ack["awaiting_ack"] == before["awaiting_ack"] - 1
    await client.post(f"/v1/inbox/{mid}/archive", headers=h)
    active = (await client.get("/v1/inbox", headers=h)).json()["items"]
    archived = (await client.get("/v1/inbox?archived=true", headers=h)).json()["items"]
    assert mid not in {i["message"]["id"] for i in active}
    assert mid in {i["message"]["id"] for i in archived}


async def test_state_errors(client: httpx.AsyncClient, family: Ids) -> None:
    """Acknowledging what needs no acknowledgement is 400; another's message is 404."""
    r = await send(client, "t1", {"type": "learner_guardians", "learner": gid(family, "l2")})
    mid = r.json()["id"]
    r = await client.post(f"/v1/inbox/{mid}/ack", headers=await headers(client, "g2"))
    assert r.status_code == 400 and r.json()["code"] == "no_ack_requested"
    r = await client.post(f"/v1/inbox/{mid}/read", headers=await headers(client, "g1"))
    assert r.status_code == 404


async def test_report_and_quorum_per_learner(client: httpx.AsyncClient, family: Ids) -> None:
    """The sender's report shows each recipient's state and, for an every-custodial-guardian
    quorum, which learners are acknowledged; other people get 404."""
    r = await send(
        client,
        "t1",
        {"type": "group_guardians", "group": gid(family, "7b")},
        ack={"quorum": "all_custodial"},
    )
    mid = r.json()["id"]
    await client.post(f"/v1/inbox/{mid}/ack", headers=await headers(client, "g1"))
    await client.post(f"/v1/inbox/{mid}/ack", headers=await headers(client, "g2"))
    rep = (
        await client.get(f"/v1/messages/{mid}/report", headers=await headers(client, "t1"))
    ).json()
    assert rep["total"] == 4 and rep["acked"] == 2 and rep["read"] == 2
    by_learner = {x["learner_id"]: x["acknowledged"] for x in rep["learners"]}
    # l1: custodial g1 acked (gi has information right only); lp: gp has not; l2: g2 acked
    assert by_learner == {
        gid(family, "l1"): True,
        gid(family, "l2"): True,
        gid(family, "lp"): False,
    }
    assert "@example.fi" not in str(rep) and "Salainen" not in str(rep)
    await client.post(f"/v1/inbox/{mid}/ack", headers=await headers(client, "gp"))
    rep = (
        await client.get(f"/v1/messages/{mid}/report", headers=await headers(client, "sec"))
    ).json()
    assert all(x["acknowledged"] for x in rep["learners"])
    for other in ("g1", "t2"):
        r = await client.get(f"/v1/messages/{mid}/report", headers=await headers(client, other))
        assert r.status_code == 404, other


async def test_replies_follow_the_thread_policy(
    client: httpx.AsyncClient, db: Database, family: Ids
) -> None:
    """'sender': a guardian's reply reaches the teacher only; 'everyone': all participants;
    'nobody' and announcements take no replies; outsiders get 404."""
    audience = {"type": "group_guardians", "group": gid(family, "7b")}
    mid = (await send(client, "t1", audience, reply_policy="sender")).json()["id"]
    g1 = await headers(client, "g1")
    r = await client.post(
        f"/v1/messages/{mid}/replies", json={"idempotency_key": key(), "body": "Kiitos"}, headers=g1
    )
    assert r.status_code == 201, r.text
    assert set(await recipients(db, r.json()["id"])) == {"t1"}

    mid = (await send(client, "t1", audience, reply_policy="everyone")).json()["id"]
    r = await client.post(
        f"/v1/messages/{mid}/replies",
        json={"idempotency_key": key(), "body": "Hei kaikki"},
        headers=g1,
    )
    assert set(await recipients(db, r.json()["id"])) == {"t1", "gi", "g2", "gp"}

    for fields in ({"reply_policy": "nobody"}, {"kind": "announcement"}):
        mid = (await send(client, "t1", audience, **fields)).json()["id"]
        r = await client.post(
            f"/v1/messages/{mid}/replies", json={"idempotency_key": key(), "body": "?"}, headers=g1
        )
        assert r.status_code == 403 and r.json()["code"] == "replies_closed"
    r = await client.post(
        f"/v1/messages/{mid}/replies",
        json={"idempotency_key": key(), "body": "?"},
        headers=await headers(client, "ga"),
    )
    assert r.status_code == 404


@pytest.fixture(scope="module")
def service(settings: Settings, clock: FixedClock, family: Ids) -> dict[str, str]:
    token = TokenIssuer(settings, clock).issue_service(
        actions.tenant_id_for(FAMILY), "planning", ["events:publish"]
    )
    return {"Authorization": f"Bearer {token}"}


async def test_module_event_becomes_a_notification(
    client: httpx.AsyncClient, db: Database, family: Ids, service: dict[str, str]
) -> None:
    """POST /v1/events with a service token puts a notification in the same inbox path,
    idempotent by key; a person's token cannot."""
    event = {
        "idempotency_key": "lesson-123",
        "source": "scheduling",
        "audience": {"type": "group_guardians", "group": gid(family, "7b")},
        "subject": "Tunti peruttu",
        "about": [gid(family, "l1")],
    }
    r = await client.post("/v1/events", json=event, headers=service)
    assert r.status_code == 201, r.text
    again = await client.post("/v1/events", json=event, headers=service)
    assert again.json()["id"] == r.json()["id"] and not again.json()["created"]
    assert set(await recipients(db, r.json()["id"])) == {"g1", "gi", "g2", "gp"}
    inbox = (await client.get("/v1/inbox?limit=500", headers=await headers(client, "gi"))).json()
    item = next(i for i in inbox["items"] if i["message"]["id"] == r.json()["id"])
    assert item["message"]["kind"] == "notification"
    assert item["message"]["sender_name"] == "scheduling"
    r = await client.post("/v1/events", json=event, headers=await headers(client, "t1"))
    assert r.status_code == 403 and r.json()["code"] == "scope_required"


async def test_racing_publishers_give_gap_free_sequences_in_commit_order(
    client: httpx.AsyncClient, db: Database, family: Ids, service: dict[str, str]
) -> None:
    """200 publishes racing over overlapping audiences: every recipient's seqs (arrivals and
    state changes together) are 1..n without gaps, and any two recipients see their common
    messages in the same order."""
    audiences: list[dict[str, Any]] = [
        {"type": "group_guardians", "group": gid(family, "7b")},
        {"type": "learner_guardians", "learner": gid(family, "l1")},
        {"type": "learner_guardians", "learner": gid(family, "lp")},
        {"type": "group_learners", "group": gid(family, "7b")},
        {
            "type": "union",
            "of": [
                {"type": "group_teachers", "group": gid(family, "7b")},
                {"type": "learner_guardians", "learner": gid(family, "l2")},
            ],
        },
    ]
    rng = random.Random(3)

    async def one(i: int) -> None:
        event = {
            "idempotency_key": f"race-{i}",
            "source": "racer",
            "audience": rng.choice(audiences),
            "subject": f"#{i}",
        }
        r = await client.post("/v1/events", json=event, headers=service)
        assert r.status_code == 201, r.text

    await asyncio.gather(*(one(i) for i in range(200)))
    async with db.tenant(actions.tenant_id_for(FAMILY)) as conn:
        rows = await conn.fetch(
            "SELECT person_id, seq, message_id, 'message' AS type FROM inbox UNION ALL "
            "SELECT person_id, seq, message_id, type FROM inbox_events ORDER BY person_id, seq"
        )
        heads = {
            r["person_id"]: r["last_seq"]
            for r in await conn.fetch("SELECT person_id, last_seq FROM inbox_heads")
        }
    by_person: dict[UUID, list[Any]] = {}
    for r in rows:
        by_person.setdefault(r["person_id"], []).append(r)
    for person, events in by_person.items():
        assert [e["seq"] for e in events] == list(range(1, len(events) + 1)), person
        assert heads[person] == len(events)
    orders = {
        p: [e["message_id"] for e in ev if e["type"] == "message"] for p, ev in by_person.items()
    }
    people = list(orders)
    for a in people:
        for b in people:
            common = set(orders[a]) & set(orders[b])
            assert [m for m in orders[a] if m in common] == [m for m in orders[b] if m in common]


async def test_thread_and_sent(client: httpx.AsyncClient, family: Ids) -> None:
    """A thread shows its messages to its participants only; the sender lists what they sent."""
    mid = (
        await send(
            client,
            "t1",
            {"type": "learner_guardians", "learner": gid(family, "l2")},
            subject="Ketju",
        )
    ).json()["id"]
    g2 = await headers(client, "g2")
    reply = await client.post(
        f"/v1/messages/{mid}/replies",
        json={"idempotency_key": key(), "body": "Vastaus"},
        headers=g2,
    )
    assert reply.status_code == 201
    thread = (await client.get(f"/v1/threads/{mid}", headers=g2)).json()
    assert [i["message"]["body"] for i in thread["items"]][-2:] == ["Hei!", "Vastaus"]
    assert thread["items"][-1]["state"] is None  # my own reply: no inbox state
    assert thread["truncated"] is False
    r = await client.get(f"/v1/threads/{mid}", headers=await headers(client, "g1"))
    assert r.status_code == 404
    sent = (
        await client.get("/v1/messages/sent?limit=5", headers=await headers(client, "t1"))
    ).json()
    assert sent[0]["message"]["id"] == mid and sent[0]["recipients"] == 1


async def test_nothing_reaches_the_broker_when_commit_fails(
    client: httpx.AsyncClient, admin_dsn: str, family: Ids
) -> None:
    """A publish whose transaction fails at COMMIT (after the inbox rows were written) sends
    no frame to a connected recipient and leaves no rows (invariant 3)."""
    import asyncpg

    from tests.hub.live_client import connect

    conn = await asyncpg.connect(admin_dsn)
    await conn.execute("""
        CREATE OR REPLACE FUNCTION test_fail_at_commit() RETURNS trigger LANGUAGE plpgsql AS
        $$ BEGIN RAISE EXCEPTION 'refused at commit'; END $$;
        CREATE CONSTRAINT TRIGGER test_fail_at_commit AFTER INSERT ON messages
            DEFERRABLE INITIALLY DEFERRED FOR EACH ROW
            WHEN (NEW.subject = 'fail-at-commit') EXECUTE FUNCTION test_fail_at_commit();
    """)
    try:
        g2 = await connect(client, "g2")
        before = g2.last_seq
        r = await send(
            client,
            "t1",
            {"type": "learner_guardians", "learner": gid(family, "l2")},
            subject="fail-at-commit",
        )
        assert r.status_code == 500 and r.json()["code"] == "internal_error"
        ok = await send(
            client,
            "t1",
            {"type": "learner_guardians", "learner": gid(family, "l2")},
            subject="after",
        )
        frame = await g2.until("message")
        assert frame["message"]["id"] == ok.json()["id"]  # the failed one never arrived
        assert frame["seq"] == before + 1  # and took no seq
        await g2.close()
    finally:
        await conn.execute("DROP TRIGGER test_fail_at_commit ON messages")
        await conn.close()


async def test_in_process_notify(app: object, server_url: str, db: Database, family: Ids) -> None:
    """A module in the same process publishes through hub.notify into the same inbox path."""
    from hub.model import LearnerGuardians, ModuleEvent

    hub = app.state["hub"]  # type: ignore[attr-defined]
    event = ModuleEvent(
        idempotency_key="inproc-1",
        source="planning",
        audience=LearnerGuardians(learner=family["l2"]),
        subject="Retki",
    )
    published = await hub.notify(actions.tenant_id_for(FAMILY), event)
    assert published.created and published.recipients == 1
    assert set(await recipients(db, published.id)) == {"g2"}


async def test_delivered_at_is_kept_for_messages_with_a_report(
    app: object, client: httpx.AsyncClient, db: Database, family: Ids
) -> None:
    """A frame that reached a device marks the inbox row delivered (the sender's report
    shows it) — for a person's message. A module's notification has no report, so its
    rows are not written again for it."""
    from hub.model import LearnerGuardians, ModuleEvent

    hub = app.state["hub"]  # type: ignore[attr-defined]
    tenant = actions.tenant_id_for(FAMILY)
    sent = await send(client, "t1", {"type": "learner_guardians", "learner": gid(family, "l2")})
    notice = await hub.notify(
        tenant,
        ModuleEvent(
            idempotency_key=key("delivered"),
            source="planning",
            audience=LearnerGuardians(learner=family["l2"]),
            subject="Retki",
        ),
    )
    ids = {"message": UUID(sent.json()["id"]), "notice": notice.id}
    await hub.delivered(tenant, [(family["g2"], mid) for mid in ids.values()])
    async with db.tenant(tenant) as conn:
        at = {
            name: await conn.fetchval(
                "SELECT delivered_at FROM inbox WHERE message_id = $1 AND person_id = $2",
                mid,
                family["g2"],
            )
            for name, mid in ids.items()
        }
    assert at["message"] is not None and at["notice"] is None
    report = await client.get(
        f"/v1/messages/{ids['message']}/report", headers=await headers(client, "t1")
    )
    assert report.json()["delivered"] == 1
