"""The fan-out load generator: one process, driven by JSON lines on stdin,
answering one JSON line on stdout per command.

    python -m bench.fanout_loadgen [--compression deflate|none]

Commands (`cmd`):

* `login` {base, usernames}: dev-login each username → {tokens: [...]}.
* `connect` {clients: [{http, ws, token}], concurrency}: for each, a live
  ticket (when `token` is set; the hub) and a websocket, the hello frame, and
  reading until `synced` → {ok, failed, errors, seconds}.
* `expect` {burst, frames}: count frames carrying the marker `@@burst|…@@`
  from now on; `set_expected` {frames}: the number, when known only later; `wait` {within_s}: until `frames` of them arrived or timeout →
  {received, first_recv, last_recv, latencies (ms), per_client_max, dupes}.
* `rate` {base, pairs: [{token, group}], tag, rate, seconds}: an open-loop
  stream of POST /v1/messages (each a teacher to one class's guardians) at
  `rate` per second; latency from each request's due time → quantiles.
* `stats`: open / closed connections and close codes. `close_clients`: close
  every websocket. `close`: that, then exit.

Every client answers the hub's `{"type":"ping"}` with a pong (else the hub
closes it after PONG_TIMEOUT_S). Receive time is `time.time()` on return from
`recv()`; the publisher stamps `time.time()` into the frame, on the same
machine, so the difference is publish-to-receive latency including the time
the frame waited for this process to read it.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import json
import re
import resource
import sys
import time
from array import array
from typing import Any

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from bench.fanout_http import HttpPool

MARK = re.compile(rb"@@(\w+)\|(\d+)\|([0-9.]+)@@")
PING = b'{"type":"ping"'
SYNCED = b'{"type":"synced"'
#: Seconds for one client to get its ticket, connect and be synced.
CONNECT_TIMEOUT_S = 60.0
#: Seconds to wait for the requests of a rate step still in flight at its end.
RATE_DRAIN_S = 90.0


def quantiles(values: list[float] | array[float]) -> dict[str, float]:
    if not values:
        return {"n": 0}
    s = sorted(values)
    n = len(s)

    def q(p: float) -> float:
        return s[min(n - 1, int(p * n))]

    return {"n": n, "p50": q(0.5), "p90": q(0.9), "p99": q(0.99), "max": s[-1]}


class Gen:
    def __init__(self, compression: str | None) -> None:
        self.compression = compression
        self.clients: list[ClientConnection] = []
        self.closed: collections.Counter[str] = collections.Counter()
        self.pools: dict[str, HttpPool] = {}
        self.burst = b""
        self.expected = 0
        self.received = 0
        self.first_recv = 0.0
        self.last_recv = 0.0
        self.lat = array("d")
        self.per_client: collections.Counter[int] = collections.Counter()
        self.done = asyncio.Event()
        self.readers: list[asyncio.Task[None]] = []

    def pool(self, base: str, size: int = 64) -> HttpPool:
        if base not in self.pools:
            host, _, port = base.removeprefix("http://").partition(":")
            self.pools[base] = HttpPool(host, int(port), size)
        return self.pools[base]

    # -- clients --

    async def reader(self, ws: ClientConnection, idx: int) -> None:
        try:
            while True:
                raw = await ws.recv(decode=False)
                if raw.startswith(PING):
                    await ws.send('{"type":"pong"}')
                    continue
                # a frame may carry several markers (a timetable notice holds
                # every change of a person's day): the armed burst's counts
                m = next((x for x in MARK.finditer(raw) if x.group(1) == self.burst), None)
                if m is None:
                    continue
                now = time.time()
                self.lat.append((now - float(m.group(3))) * 1000.0)
                self.per_client[idx] += 1
                if self.received == 0:
                    self.first_recv = now
                self.received += 1
                self.last_recv = now
                if self.received >= self.expected:
                    self.done.set()
        except ConnectionClosed as exc:
            rcvd = exc.rcvd
            self.closed[str(rcvd.code) if rcvd else "no-close-frame"] += 1
        except Exception as exc:
            self.closed[type(exc).__name__] += 1

    async def open_one(self, spec: dict[str, Any]) -> None:
        async with asyncio.timeout(CONNECT_TIMEOUT_S):
            ticket = None
            if spec.get("token"):
                status, body = await self.pool(spec["http"]).request(
                    "POST", "/v1/live/ticket", None, spec["token"]
                )
                if status != 200:
                    raise RuntimeError(f"ticket {status}")
                ticket = body["ticket"]
            ws = await connect(
                spec["ws"],
                compression=self.compression,
                ping_interval=None,
                max_size=1 << 22,
                open_timeout=CONNECT_TIMEOUT_S,
                close_timeout=2,
            )
            try:
                await ws.send(json.dumps({"type": "hello", "ticket": ticket or "", "last_seq": 0}))
                while True:
                    raw = await ws.recv(decode=False)
                    if raw.startswith(SYNCED):
                        break
            except BaseException:
                await ws.close()
                raise
        idx = len(self.clients)
        self.clients.append(ws)
        self.readers.append(asyncio.create_task(self.reader(ws, idx)))

    async def cmd_connect(self, clients: list[dict[str, Any]], concurrency: int) -> dict[str, Any]:
        started = time.perf_counter()
        errors: collections.Counter[str] = collections.Counter()
        queue = collections.deque(clients)

        async def worker() -> None:
            while queue:
                spec = queue.popleft()
                try:
                    await self.open_one(spec)
                except Exception as exc:
                    errors[f"{type(exc).__name__}: {str(exc)[:80]}"] += 1

        await asyncio.gather(*(worker() for _ in range(concurrency)))
        return {
            "ok": len(clients) - sum(errors.values()),
            "failed": sum(errors.values()),
            "errors": dict(errors.most_common(5)),
            "seconds": time.perf_counter() - started,
            "open": len(self.clients),
        }

    async def cmd_login(self, base: str, usernames: list[str]) -> dict[str, Any]:
        pool = self.pool(base)
        tokens: list[str | None] = [None] * len(usernames)
        queue = collections.deque(enumerate(usernames))
        failed: collections.Counter[int] = collections.Counter()

        async def worker() -> None:
            while queue:
                i, name = queue.popleft()
                status, body = await pool.request("POST", "/v1/auth/dev-login", {"username": name})
                if status == 200:
                    tokens[i] = body["token"]
                else:
                    failed[status] += 1

        await asyncio.gather(*(worker() for _ in range(16)))
        return {"tokens": tokens, "failed": dict(failed)}

    def cmd_expect(self, burst: str, frames: int, keep: bool = False) -> dict[str, Any]:
        """Arm counting for `burst`; `keep`: add to the previous latencies."""
        self.burst = burst.encode()
        self.expected = frames
        self.received = 0
        self.first_recv = self.last_recv = 0.0
        if not keep:
            self.lat = array("d")
        self.per_client.clear()
        self.done = asyncio.Event()
        return {"armed": burst}

    def cmd_set_expected(self, frames: int) -> dict[str, Any]:
        """Say how many frames the armed burst will have, once it is known (a
        timetable change's response says how many were notified)."""
        self.expected = frames
        if self.received >= frames:
            self.done.set()
        return {"expected": frames}

    async def cmd_wait(self, within_s: float) -> dict[str, Any]:
        try:
            await asyncio.wait_for(self.done.wait(), within_s)
        except TimeoutError:
            pass
        counts = collections.Counter(self.per_client.values())
        return {
            "received": self.received,
            "expected": self.expected,
            "first_recv": self.first_recv,
            "last_recv": self.last_recv,
            "latency": quantiles(self.lat),
            "clients_by_frames": {str(k): v for k, v in sorted(counts.items())},
        }

    def cmd_stats(self) -> dict[str, Any]:
        still = sum(1 for t in self.readers if not t.done())
        return {"clients": len(self.clients), "open": still, "closed": dict(self.closed)}

    async def cmd_close(self) -> dict[str, Any]:
        await asyncio.gather(*(ws.close() for ws in self.clients), return_exceptions=True)
        for t in self.readers:
            t.cancel()
        await asyncio.gather(*self.readers, return_exceptions=True)
        self.clients.clear()
        self.readers.clear()
        return {"closed": True}

    # -- sustained HTTP rate --

    async def cmd_rate(
        self, base: str, pairs: list[dict[str, Any]], tag: str, rate: float, seconds: float
    ) -> dict[str, Any]:
        pool = self.pool(base, size=256)
        await pool.warm(max(0, 32 - len(pool._idle)))
        total = int(rate * seconds)
        raws = []
        for i in range(total):
            pair = pairs[i % len(pairs)]
            body = {
                "idempotency_key": f"{tag}-{i}",
                "audience": {"type": "group_guardians", "group": pair["group"]},
                "subject": "Huomenna retkelle",
                "body": f"Muistakaa eväät ja sadevaatteet. ({tag} {i})",
            }
            raws.append(pool.build("POST", "/v1/messages", body, pair["token"]))
        lat: list[float] = []
        statuses: collections.Counter[str] = collections.Counter()
        recipients = 0
        loop = asyncio.get_running_loop()
        last_done = 0.0

        async def one(raw: bytes, due: float) -> None:
            nonlocal recipients, last_done
            try:
                status, body = await pool.send(raw)
            except Exception as exc:
                statuses[type(exc).__name__] += 1
                return
            last_done = loop.time()
            lat.append((last_done - due) * 1000.0)
            statuses[str(status)] += 1
            if status == 201:
                recipients += json.loads(body)["recipients"]

        t0 = loop.time() + 0.05
        tasks = []
        for i, raw in enumerate(raws):
            due = t0 + i / rate
            delay = due - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(one(raw, due)))
        # wait for every request, so the next rate starts on an idle server
        _, pending = await asyncio.wait(tasks, timeout=RATE_DRAIN_S)
        for t in pending:
            t.cancel()
        ok = statuses.get("201", 0)
        return {
            "sent": total,
            "ok": ok,
            "statuses": dict(statuses),
            "unfinished": len(pending),
            "achieved_per_s": ok / max(1e-9, last_done - t0),
            "latency": quantiles(lat),
            "recipients_avg": recipients / ok if ok else 0,
        }


async def main(compression: str | None) -> None:
    gen = Gen(compression)
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader(limit=1 << 28)
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)

    def reply(obj: dict[str, Any]) -> None:
        sys.stdout.write(json.dumps(obj) + "\n")
        sys.stdout.flush()

    reply({"ready": True})
    while line := await reader.readline():
        req = json.loads(line)
        cmd = req.pop("cmd")
        if cmd == "login":
            reply(await gen.cmd_login(**req))
        elif cmd == "connect":
            reply(await gen.cmd_connect(**req))
        elif cmd == "expect":
            reply(gen.cmd_expect(**req))
        elif cmd == "set_expected":
            reply(gen.cmd_set_expected(**req))
        elif cmd == "wait":
            reply(await gen.cmd_wait(**req))
        elif cmd == "rate":
            reply(await gen.cmd_rate(**req))
        elif cmd == "stats":
            reply(gen.cmd_stats())
        elif cmd == "close_clients":
            reply(await gen.cmd_close())
        elif cmd == "close":
            reply(await gen.cmd_close())
            break
        else:
            reply({"error": f"unknown command {cmd}"})
    for pool in gen.pools.values():
        pool.close()


if __name__ == "__main__":
    p = argparse.ArgumentParser()
    p.add_argument("--compression", choices=["deflate", "none"], default="deflate")
    args = p.parse_args()
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    asyncio.run(main(None if args.compression == "none" else "deflate"))
