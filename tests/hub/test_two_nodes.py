"""Two real `reppu serve` processes sharing PostgreSQL and Redis: a client on node A
receives what is published through node B, and resumes on B where it left A."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from collections.abc import AsyncIterator
from uuid import UUID

import httpx
import pytest

from tests.conftest import TEST_SECRET
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
