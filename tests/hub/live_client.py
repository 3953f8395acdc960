"""A small live-protocol client for the tests: real websockets over TCP."""

from __future__ import annotations

import json
from typing import Any

import httpx
import websockets
from websockets.asyncio.client import ClientConnection

from tests.hub.helpers import headers

RECV_TIMEOUT_S = 10


class Live:
    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws
        self.last_seq = 0
        self.frames: list[dict[str, Any]] = []

    async def recv(self) -> dict[str, Any]:
        import asyncio

        frame: dict[str, Any] = json.loads(await asyncio.wait_for(self.ws.recv(), RECV_TIMEOUT_S))
        self.frames.append(frame)
        if frame.get("seq"):
            assert frame["seq"] == self.last_seq + 1, (frame["seq"], self.last_seq)
            self.last_seq = frame["seq"]
        return frame

    async def until(self, kind: str, **match: Any) -> dict[str, Any]:
        while True:
            frame = await self.recv()
            if frame["type"] == kind and all(_get(frame, k) == v for k, v in match.items()):
                return frame

    async def send(self, frame: dict[str, Any]) -> None:
        await self.ws.send(json.dumps(frame))

    async def close(self) -> None:
        await self.ws.close()


def _get(frame: dict[str, Any], path: str) -> Any:
    value: Any = frame
    for part in path.split("__"):
        value = value[part]
    return value


async def ticket(client: httpx.AsyncClient, who: str) -> str:
    r = await client.post("/v1/live/ticket", headers=await headers(client, who))
    assert r.status_code == 200, r.text
    return str(r.json()["ticket"])


async def connect(
    client: httpx.AsyncClient, who: str, last_seq: int = 0, base_url: str | None = None
) -> Live:
    """Open /v1/live as `who` (perhe tenant), say hello, read up to `synced`."""
    url = (base_url or str(client.base_url)).replace("http://", "ws://") + "/v1/live"
    # the ticket first: the hello must follow the handshake within the server's
    # hello timeout (0.3 s in the strict tests), whatever logging in costs
    first = await ticket(client, who)
    ws = await websockets.connect(url, max_size=2**22)
    live = Live(ws)
    live.last_seq = last_seq
    await live.send({"type": "hello", "ticket": first, "last_seq": last_seq})
    await live.until("synced")
    return live
