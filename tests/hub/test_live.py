"""The live websocket /v1/live against a real server: tickets, origin, resume, several
devices, delivery reports, and every named bound with its close code."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import random
from collections.abc import AsyncIterator
from uuid import UUID

import httpx
import pytest
import websockets
from litestar import Litestar

from core import actions
from core.api import Services, create_app
from core.clock import FixedClock
from core.config import Settings
from core.db import Database
from hub import live as live_mod
from hub.frames import envelope, topic
from hub.module import HubModule
from tests.conftest import serve
from tests.family import FAMILY
from tests.hub.helpers import headers, send
from tests.hub.live_client import Live, connect, ticket

Ids = dict[str, UUID]


def gid(family: Ids, name: str) -> str:
    return str(family[name])


async def test_message_arrives_live(client: httpx.AsyncClient, family: Ids) -> None:
    """A connected guardian receives a message to their child's guardians at once, with
    the next seq, the content and the learner it is for."""
    g2 = await connect(client, "g2")
    r = await send(
        client,
        "t1",
        {"type": "learner_guardians", "learner": gid(family, "l2")},
        subject="Uimaan",
        body="Uimakassi mukaan",
    )
    frame = await g2.until("message", message__id=r.json()["id"])
    assert frame["message"]["body"] == "Uimakassi mukaan"
    assert frame["for_learners"] == [gid(family, "l2")]
    await g2.close()


async def test_resume_gets_exactly_what_was_missed(client: httpx.AsyncClient, family: Ids) -> None:
    """A client that reconnects with its last seq receives every later event once."""
    g2 = await connect(client, "g2")
    seen = g2.last_seq
    head = (await client.get("/v1/inbox?limit=1", headers=await headers(client, "g2"))).json()[
        "head"
    ]
    await g2.close()
    ids = []
    for i in range(3):
        r = await send(
            client,
            "t1",
            {"type": "learner_guardians", "learner": gid(family, "l2")},
            subject=f"Poissa {i}",
        )
        ids.append(r.json()["id"])
    again = await connect(client, "g2", last_seq=head)
    got = [f["message"]["id"] for f in again.frames if f["type"] == "message"]
    assert got == ids
    assert again.last_seq == head + 3 and seen <= head
    await again.close()


async def test_two_devices_see_each_others_reads(client: httpx.AsyncClient, family: Ids) -> None:
    """Phone and laptop both receive a message; a read on one reaches the other live."""
    phone = await connect(client, "g1")
    laptop = await connect(client, "g1")
    r = await send(
        client,
        "t1",
        {"type": "learner_guardians", "learner": gid(family, "l1")},
        ack={"quorum": "any"},
    )
    mid = r.json()["id"]
    await phone.until("message", message__id=mid)
    await laptop.until("message", message__id=mid)
    await phone.send({"type": "ack", "message_id": mid})
    for device in (phone, laptop):
        st = await device.until("state", message_id=mid)
        assert st["state"]["acked_at"] is not None and st["state"]["read_at"] is not None
    await phone.close()
    await laptop.close()


async def test_sender_watches_the_report_fill(client: httpx.AsyncClient, family: Ids) -> None:
    """The sender's socket gets report frames: delivered when a device got it, read, acked."""
    teacher = await connect(client, "t1")
    g2 = await connect(client, "g2")
    r = await send(
        client,
        "t1",
        {"type": "learner_guardians", "learner": gid(family, "l2")},
        ack={"quorum": "any"},
    )
    mid = r.json()["id"]
    await g2.until("message", message__id=mid)
    await teacher.until("report", message_id=mid, event="delivered", person_id=gid(family, "g2"))
    await g2.send({"type": "read", "message_id": mid})
    await teacher.until("report", message_id=mid, event="read")
    await g2.send({"type": "ack", "message_id": mid})
    await teacher.until("report", message_id=mid, event="acked")
    rep = (
        await client.get(f"/v1/messages/{mid}/report", headers=await headers(client, "t1"))
    ).json()
    assert rep["delivered"] == rep["read"] == rep["acked"] == 1
    await teacher.close()
    await g2.close()


async def _closed_with(ws: websockets.ClientConnection) -> int | None:
    try:
        async with asyncio.timeout(10):
            async for _ in ws:
                pass
    except websockets.ConnectionClosed:
        pass
    return ws.close_code


def ws_url(base: str) -> str:
    return base.replace("http://", "ws://") + "/v1/live"


async def test_ticket_is_single_use_and_checked(
    client: httpx.AsyncClient, server_url: str, family: Ids
) -> None:
    """A used, forged or missing ticket closes the socket with 4100."""
    t = await ticket(client, "g2")
    first = await websockets.connect(ws_url(server_url))
    await first.send(json.dumps({"type": "hello", "ticket": t}))
    assert json.loads(await first.recv())["type"] in ("message", "state", "synced")
    for bad in (t, t[:-4] + "AAAA", "nonsense"):
        ws = await websockets.connect(ws_url(server_url))
        await ws.send(json.dumps({"type": "hello", "ticket": bad}))
        assert await _closed_with(ws) == live_mod.CLOSE_UNAUTHORIZED, bad
    await first.close()


async def test_origin_must_be_allowed(server_url: str, settings: Settings) -> None:
    """A browser from another origin is refused at the handshake with 403."""
    with pytest.raises(websockets.InvalidStatus) as info:
        await websockets.connect(ws_url(server_url), origin="https://evil.example")  # type: ignore[arg-type]
    assert info.value.response.status_code == 403
    ws = await websockets.connect(ws_url(server_url), origin=settings.allowed_origins[0])  # type: ignore[arg-type]
    await ws.close()


@pytest.fixture(scope="module")
async def strict(
    db: Database, settings: Settings, clock: FixedClock, family: Ids
) -> AsyncIterator[tuple[str, Litestar]]:
    """A second server with tiny live limits, to reach each bound quickly."""
    limits = live_mod.LiveLimits(
        hello_timeout_s=0.3,
        send_queue_max=5,
        max_frame_bytes=2048,
        rate_per_s=5,
        rate_burst=10,
        ping_interval_s=0.3,
        pong_timeout_s=0.3,
    )
    app = create_app(Services(settings, db, clock), modules=[HubModule(limits=limits)])
    async with serve(app) as url:
        yield url, app


async def test_hello_timeout(strict: tuple[str, Litestar]) -> None:
    """No hello within the named time: close 4008."""
    ws = await websockets.connect(ws_url(strict[0]))
    assert await _closed_with(ws) == live_mod.CLOSE_HELLO_TIMEOUT


async def test_frame_too_big(client: httpx.AsyncClient, strict: tuple[str, Litestar]) -> None:
    """A client frame over the size limit: close 1009."""
    live = await connect(client, "g2", base_url=strict[0])
    await live.ws.send(json.dumps({"type": "ping", "pad": "x" * 4000}))
    assert await _closed_with(live.ws) == 1009


async def test_rate_limit(client: httpx.AsyncClient, strict: tuple[str, Litestar]) -> None:
    """Client frames beyond the token bucket: close 4029."""
    live = await connect(client, "g2", base_url=strict[0])
    for _ in range(30):
        await live.send({"type": "ping"})
    assert await _closed_with(live.ws) == live_mod.CLOSE_RATE_LIMITED


async def test_pong_timeout_and_keepalive(
    client: httpx.AsyncClient, strict: tuple[str, Litestar]
) -> None:
    """A client that answers pings stays; one that does not is closed with 4002."""
    alive = await connect(client, "g2", base_url=strict[0])
    for _ in range(3):
        await alive.until("ping")
        await alive.send({"type": "pong"})
    assert alive.ws.close_code is None
    await alive.close()
    silent = await connect(client, "g2", base_url=strict[0])
    assert await _closed_with(silent.ws) == live_mod.CLOSE_PONG_TIMEOUT


async def test_slow_consumer_is_closed_and_recovers(
    client: httpx.AsyncClient, db: Database, settings: Settings, clock: FixedClock, family: Ids
) -> None:
    """A client that stops reading: the server's writes back up (the kernel's buffers, then
    the transport's), frames queue for the session, and one more than the send queue holds
    closes it with 4009 — sent past the stalled transport, behind what was buffered. The
    client, reading again, gets that close; reconnecting with its last seq recovers every
    event from PostgreSQL."""
    app = create_app(
        Services(settings, db, clock),
        modules=[HubModule(limits=live_mod.LiveLimits(send_queue_max=5))],
    )
    async with serve(app) as url:
        live = await connect(client, "g2", base_url=url)
        start = live.last_seq
        ids = []
        for i in range(8):
            r = await send(
                client,
                "t1",
                {"type": "learner_guardians", "learner": gid(family, "l2")},
                subject=f"Täynnä {i}",
            )
            ids.append(r.json()["id"])
        # (those went through the other server's broker.) This client reads nothing
        # more for now: frames of 256 KiB that do not compress arrive on this server's
        # broker, more than the socket buffers, the transport's and the queue hold
        node: live_mod.LiveNode = app.state["live"]
        [session] = [s for s in node.sessions if s.person_id == family["g2"]]
        assert session.wire is not None  # uvicorn's websockets-sansio: the direct path
        tenant = actions.tenant_id_for(FAMILY)
        pad = base64.b64encode(os.urandom(192 * 1024)).decode()
        frames = [
            (
                topic(tenant, family["g2"]),
                envelope(start + 1 + i, b'{"type":"x","pad":"%s"}' % pad.encode()),
            )
            for i in range(400)
        ]
        sent = 0
        for item in frames:
            await node.broker.publish_many([item])
            sent += 1
            if session.overflow:
                break
            await asyncio.sleep(0)
        assert session.overflow, "the transport never paused"
        assert 20 < sent < 400
        assert await _closed_with(live.ws) == live_mod.CLOSE_SLOW_CONSUMER
        again = await connect(client, "g2", last_seq=start, base_url=url)
        got = [f["message"]["id"] for f in again.frames if f["type"] == "message"]
        assert got == ids
        await again.close()


async def test_random_disconnects_end_with_exactly_the_right_rows(
    client: httpx.AsyncClient, family: Ids
) -> None:
    """Clients that drop and resume at random moments while messages flow end with every
    event exactly once, in order (the Live client asserts seq = last + 1 on each frame)."""
    rng = random.Random(11)
    people = ["g1", "g2", "gi", "gp"]
    states: dict[str, Live] = {p: await connect(client, p) for p in people}
    stop = asyncio.Event()

    async def churn(person: str) -> None:
        while not stop.is_set():
            live = states[person]
            try:
                for _ in range(rng.randint(0, 3)):
                    await asyncio.wait_for(live.recv(), 0.05)
            except TimeoutError:
                pass
            await live.close()
            states[person] = await connect(client, person, last_seq=live.last_seq)

    churners = [asyncio.create_task(churn(p)) for p in people]
    for i in range(40):
        await send(
            client,
            "t1",
            {"type": "group_guardians", "group": gid(family, "7b")},
            subject=f"Viesti {i}",
        )
    stop.set()
    await asyncio.gather(*churners)
    for person, live in states.items():
        head = (
            await client.get("/v1/inbox?limit=1", headers=await headers(client, person))
        ).json()["head"]
        while live.last_seq < head:
            await live.recv()
        assert live.last_seq == head, person
        await live.close()


async def test_metrics_show_live_sessions(client: httpx.AsyncClient, family: Ids) -> None:
    """/metrics reports open live sessions and frames sent by this node."""
    live = await connect(client, "g2")
    body = (await client.get("/metrics")).text
    sessions = next(line for line in body.splitlines() if line.startswith("reppu_live_sessions "))
    assert float(sessions.split()[1]) >= 1
    assert "reppu_live_frames_sent " in body and "reppu_broker_published " in body
    await live.close()


async def test_frames_lost_while_redis_reconnects_are_refetched(
    client: httpx.AsyncClient,
    db: Database,
    settings: Settings,
    clock: FixedClock,
    family: Ids,
    redis_url: str,
) -> None:
    """A message published while the node's Redis subscription is down (so its frame is lost)
    still reaches the connected client once the broker has reconnected: the session refetches
    from PostgreSQL."""
    import redis.asyncio as aioredis

    from hub.broker_redis import RedisBroker

    broker = RedisBroker(redis_url, prefix=f"reppu-resync-{id(client)}:")
    app = create_app(Services(settings, db, clock), modules=[HubModule(broker=broker)])
    admin = aioredis.Redis.from_url(redis_url)
    async with serve(app) as url:
        async with httpx.AsyncClient(base_url=url, timeout=30) as local:
            g2 = await connect(local, "g2")
            [conn_id] = [
                c["id"]
                for c in await admin.client_list(_type="pubsub")
                if c["name"] == broker.pubsub_client_name
            ]
            teacher = await headers(local, "t1")
            body = {
                "idempotency_key": f"katkos-{id(broker)}",
                "subject": "Katkos",
                "body": "-",
                "audience": {"type": "learner_guardians", "learner": gid(family, "l2")},
            }
            assert await admin.client_kill_filter(_id=conn_id) == 1
            # published at once, before the broker's reconnect (≥ 50 ms) re-subscribes
            r = await local.post("/v1/messages", json=body, headers=teacher)
            frame = await g2.until("message", message__id=r.json()["id"])
            assert frame["message"]["subject"] == "Katkos"
            assert broker.stats.reconnects == 1
            await g2.close()
    await admin.aclose()
