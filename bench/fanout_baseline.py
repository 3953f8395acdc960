"""The fan-out baseline: the least a broadcast server can do, on the same
`websockets` library the hub's uvicorn speaks through.

    python -m bench.fanout_baseline --port P [--compression deflate|none]

`/live`: a client sends one hello frame and gets `{"type":"synced"}`; from then
on it is in the broadcast set. `/publish`: every text frame `{"marker": M}` is
broadcast at once, as a ~300-byte JSON frame carrying M, to every client with
`websockets.broadcast` (no queue, no sequence, no database, no per-recipient
frame), and answered with `ok` so the publisher can send the next one. A
client that closes leaves the set. Nothing else: no auth, no resume.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import signal
import uuid

from websockets.asyncio.server import ServerConnection, broadcast, serve

#: The broadcast frame is padded to about this many bytes.
FRAME_BYTES = 300


def frame(marker: str) -> str:
    head = {
        "type": "message",
        "seq": 1,
        "message": {
            "id": str(uuid.uuid4()),
            "kind": "notification",
            "subject": "Fan-out test",
            "body": marker,
        },
    }
    text = json.dumps(head, separators=(",", ":"))
    pad = max(0, FRAME_BYTES - len(text) - len(',"pad":""'))
    return text[:-1] + f',"pad":"{"x" * pad}"}}'


async def main(port: int, compression: str | None) -> None:
    clients: set[ServerConnection] = set()

    async def handler(ws: ServerConnection) -> None:
        path = ws.request.path if ws.request is not None else ""
        if path == "/publish":
            async for raw in ws:
                marker = json.loads(raw)["marker"]
                broadcast(clients, frame(marker))
                await ws.send("ok")
            return
        await ws.recv()  # the hello
        await ws.send('{"type":"synced","head":0}')
        clients.add(ws)
        try:
            await ws.wait_closed()
        finally:
            clients.discard(ws)

    stop = asyncio.get_running_loop().create_future()
    for sig in (signal.SIGTERM, signal.SIGINT):
        asyncio.get_running_loop().add_signal_handler(sig, stop.set_result, None)
    async with serve(
        handler,
        "127.0.0.1",
        port,
        compression=compression,
        ping_interval=None,
        max_queue=16,
        backlog=2048,
    ):
        print("ready", flush=True)
        await stop


if __name__ == "__main__":
    p = argparse.ArgumentParser()
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--compression", choices=["deflate", "none"], default="deflate")
    args = p.parse_args()
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    asyncio.run(main(args.port, None if args.compression == "none" else "deflate"))
