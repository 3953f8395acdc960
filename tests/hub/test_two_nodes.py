"""Two real `reppu serve` processes sharing PostgreSQL and Redis: a client on node A
receives what is published through node B, and resumes on B where it left A."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from collections.abc import AsyncIterator, Sequence
from uuid import UUID

import httpx
import pytest

from core import actions
from core.api import Services, create_app
from core.clock import FixedClock
from core.config import Settings
from core.db import Database
from hub import fanout as fanout_mod
from hub.broker_redis import RedisBroker
from hub.frames import batch_topic, decode_batch, open_envelope, topic
from hub.module import HubModule
from tests.conftest import TEST_SECRET, serve
from tests.family import FAMILY
from tests.hub.helpers import send
from tests.hub.live_client import connect
from tests.integration.test_processes import REPPU, START_TIMEOUT_S, free_port

Ids = dict[str, UUID]


async def _ready(url: str, proc: subprocess.Popen[bytes]) -> None:
    async with httpx.AsyncClient() as c, asyncio.timeout(START_TIMEOUT_S):
        while True:
            assert proc.poll() is None, "node exited"
            try:
                if (await c.get(f"{url}/ready")).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            await asyncio.sleep(0.1)  # polling another process's start; nothing to await


@pytest.fixture
async def nodes(admin_dsn: str, redis_url: str) -> AsyncIterator[list[str]]:
    """Two nodes on different ports, same database, same Redis."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("REPPU_", "DATABASE_"))}
    env |= {
        "DATABASE_URL": admin_dsn,
        "REDIS_URL": redis_url,
        "REPPU_SECRET": TEST_SECRET,
        "REPPU_DEV_LOGIN": "true",
    }
    procs, urls = [], []
    try:
        for _ in range(2):
            port = free_port()
            procs.append(
                subprocess.Popen(  # noqa: ASYNC220 - starting is instant; nothing blocks
                    [*REPPU, "serve", "--port", str(port)],
                    env=env,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.PIPE,
                )
            )
            urls.append(f"http://127.0.0.1:{port}")
        for url, proc in zip(urls, procs, strict=True):
            await _ready(url, proc)
        yield urls
    finally:
        for proc in procs:
            proc.send_signal(signal.SIGTERM)
        for proc in procs:
            try:
                proc.wait(timeout=START_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                proc.kill()
        assert [p.returncode for p in procs] == [0, 0]


async def test_published_on_b_arrives_on_a_and_resumes_on_b(nodes: list[str], family: Ids) -> None:
    """A guardian connected to node A gets a teacher's message sent through node B at once;
    after a publish while offline, reconnecting to node B delivers exactly the missed one."""
    a, b = nodes
    async with (
        httpx.AsyncClient(base_url=a, timeout=30) as ca,
        httpx.AsyncClient(base_url=b, timeout=30) as cb,
    ):
        on_a = await connect(ca, "g2")
        r = await send(
            cb,
            "t1",
            {"type": "learner_guardians", "learner": str(family["l2"])},
            subject="Kahden solmun viesti",
        )
        assert r.status_code == 201, r.text
        frame = await on_a.until("message", message__id=r.json()["id"])
        assert frame["message"]["subject"] == "Kahden solmun viesti"
        last = on_a.last_seq
        await on_a.close()

        missed = await send(
            ca,
            "t1",
            {"type": "learner_guardians", "learner": str(family["l2"])},
            subject="Poissa ollessa",
        )
        on_b = await connect(cb, "g2", last_seq=last)
        got = [f["message"]["id"] for f in on_b.frames if f["type"] == "message"]
        assert got == [missed.json()["id"]]

        # and the other way round, live: published on A, received on B
        r = await send(
            ca,
            "t1",
            {"type": "learner_guardians", "learner": str(family["l2"])},
            subject="Takaisin",
        )
        await on_b.until("message", message__id=r.json()["id"])
        await on_b.close()


def test_reppu_module_is_registered() -> None:
    """`reppu serve` finds the hub through the reppu.modules entry point."""
    out = subprocess.run(
        [
            sys.executable,
            "-c",
            "from core.api import load_modules; print([m.name for m in load_modules()])",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    assert "hub" in out.stdout


async def test_a_large_message_goes_between_nodes_as_one_batch(
    client: httpx.AsyncClient,
    db: Database,
    settings: Settings,
    clock: FixedClock,
    family: Ids,
    redis_url: str,
    redis_prefix: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Above BATCH_MIN recipients (0 here), a message crosses the nodes as one payload on
    the tenant's batch topic, not one per recipient; each node builds its own sessions'
    frames from it: every guardian of 7B gets exactly their copy, marked with their own
    children, on whichever node they are, and a learner of 7B nothing."""
    monkeypatch.setattr(fanout_mod, "BATCH_MIN", 0)
    apps = [
        create_app(
            Services(settings, db, clock),
            modules=[HubModule(broker=RedisBroker(redis_url, redis_prefix))],
        )
        for _ in range(2)
    ]
    async with serve(apps[0]) as a, serve(apps[1]) as b:
        on = {p: await connect(client, p, base_url=a) for p in ("g1", "g2")}
        on |= {p: await connect(client, p, base_url=b) for p in ("gi", "gp", "l1")}
        broker_b = apps[1].state["live"].broker
        sent: list[tuple[str, bytes]] = []
        publish_many = broker_b.publish_many

        async def recording(items: Sequence[tuple[str, bytes]]) -> None:
            sent.extend(items)
            await publish_many(items)

        monkeypatch.setattr(broker_b, "publish_many", recording)
        async with httpx.AsyncClient(base_url=b, timeout=30) as cb:
            r = await send(
                cb,
                "t1",
                {"type": "group_guardians", "group": str(family["7b"])},
                kind="announcement",
            )
            assert r.status_code == 201, r.text
            mid = r.json()["id"]
            children = {"g1": ["l1", "lp"], "g2": ["l2"], "gi": ["l1"], "gp": ["lp"]}
            for person, kids in children.items():
                frame = await on[person].until("message", message__id=mid)
                assert sorted(frame["for_learners"]) == sorted(str(family[k]) for k in kids)
            tenant = actions.tenant_id_for(FAMILY)
            # one batch carried it, and no copy of it went to a person's own
            # topic (other frames may go there meanwhile: delivery reports of
            # earlier tests' messages replayed to these sessions, due jobs)
            batches = [
                payload
                for t, payload in sent
                if t == batch_topic(tenant) and decode_batch(payload)[0] == UUID(mid)
            ]
            assert len(batches) == 1
            people = {topic(tenant, person) for person in family.values()}
            assert not any(
                t in people and open_envelope(payload)[1] == UUID(mid) for t, payload in sent
            )
            # the learner's next message is one meant for them: the batch gave them nothing
            mine = await send(cb, "t1", {"type": "person", "id": str(family["l1"])})
            frame = await on["l1"].until("message")
            assert frame["message"]["id"] == mine.json()["id"]
        for live in on.values():
            await live.close()
