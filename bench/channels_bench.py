"""Channel adapters' throughput: Web Push sends/s and e-mails/s from one
adapter instance each, against local services that do the receiving side's
real work.

    python -m bench.channels_bench       # the benchmark; prints its markdown
    python -m bench --only channels      # the same, written to docs/benchmarks.md

Web Push: one `WebPushDeliverer` (one aiohttp session) sends `PUSHES`
privacy-minimised notifications, round-robin to `SUBSCRIPTIONS` distinct
subscriptions, at each concurrency level (`asyncio.gather` under a semaphore).
The push service is the tests' `PushService` (it verifies every VAPID JWT and
decrypts every aes128gcm body as a browser would), run in a child process —
`python -m bench.channels_bench --push-service` — so that its work does not
share the sender's event loop. The child prints one JSON line (its origin and
the subscriptions' endpoints and keys), then answers each "count" line on
stdin with how many payloads it decrypted (and refused) since the last count,
and exits when stdin closes.

E-mail: one `EmailDeliverer` sends `MAILS` notification mails, one SMTP
connection with STARTTLS per mail (as the adapter does), to the tests' aiosmtpd
server, which runs in a thread of this process (its own event loop).

Every result must be `Delivered` and every payload/envelope must have arrived
exactly once, else the benchmark fails.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import os
import platform
import sys
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from channels import vapid
from channels.base import Delivered, Rendered, Result
from channels.email import EmailDeliverer, EmailDestination, SmtpConfig
from channels.webpush import PushKeys, PushSubscription, WebPushDeliverer

ROOT = Path(__file__).resolve().parent.parent

PUSHES = 2_000
SUBSCRIPTIONS = 500
PUSH_CONCURRENCY = (1, 16, 64)
MAILS = 300
MAIL_CONCURRENCY = (1, 10)
#: untimed sends first: imports, connection pools, TLS and crypto caches
WARMUP = 32
SUBJECT = "mailto:ops@reppu.example"
SENDER = "reppu@kuusikko.example"
#: the child's JSON line with 500 subscriptions is ~90 KB, above asyncio's 64 KiB
READ_LIMIT = 4 * 1024 * 1024


def push_notification(i: int) -> Rendered:
    """What a guardian's browser is told about a new message when the tenant
    does not allow message bodies in pushes: no text, only where to look."""
    return Rendered(
        title="Uusi viesti: Kuusikon koulu",
        text="",
        url=f"/messages/{100_000 + i}",
        kind="message",
        urgency="normal",
        topic=f"thread-{i % 97}",
    )


def mail_notification(i: int) -> Rendered:
    return Rendered(
        title="Uusi viesti: Kuusikon koulu",
        text="",
        url=f"https://reppu.example/messages/{100_000 + i}",
        kind="message",
    )


def mail_destination(i: int) -> EmailDestination:
    return EmailDestination(
        address=f"huoltaja{i}@koti.example",
        display_name="Maija Meikäläinen",
        language="fi",
        unsubscribe_url=f"https://reppu.example/unsubscribe/tok{i:06d}",
    )


# ---- the push service child ---------------------------------------------------------------


async def _line() -> str:
    return await asyncio.to_thread(sys.stdin.readline)


async def push_service_main(subscriptions: int) -> None:
    from tests.channels.push_service import PushService

    # uvicorn's start/stop lines on stderr are noise here; warnings still show
    logging.getLogger("uvicorn.error").setLevel(logging.WARNING)
    service = PushService()
    subs = [service.subscribe() for _ in range(subscriptions)]
    async with service.running() as origin:
        listed = []
        for sub in subs:
            s = sub.subscription(origin)
            listed.append({"endpoint": s.endpoint, "p256dh": s.keys.p256dh, "auth": s.keys.auth})
        print(json.dumps({"origin": origin, "subscriptions": listed}), flush=True)
        refused_before = 0
        cpu_before = time.process_time()
        while (await _line()).strip() == "count":
            received = 0
            for sub in subs:
                received += len(sub.received)
                sub.received.clear()
            cpu = time.process_time()
            print(
                json.dumps(
                    {
                        "received": received,
                        "refused": service.refused[refused_before:][:5],
                        "refused_count": len(service.refused) - refused_before,
                        "cpu_s": cpu - cpu_before,
                    }
                ),
                flush=True,
            )
            refused_before = len(service.refused)
            cpu_before = cpu


class PushServiceProcess:
    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        self.proc = proc

    @classmethod
    async def start(cls, subscriptions: int) -> tuple[PushServiceProcess, list[PushSubscription]]:
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bench.channels_bench",
            "--push-service",
            "--subscriptions",
            str(subscriptions),
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            cwd=ROOT,
            limit=READ_LIMIT,
        )
        child = cls(proc)
        try:
            hello = await child.read(60)
        except BaseException:
            await child.close()
            raise
        subs = [
            PushSubscription(
                endpoint=s["endpoint"], keys=PushKeys(p256dh=s["p256dh"], auth=s["auth"])
            )
            for s in hello["subscriptions"]
        ]
        return child, subs

    async def read(self, limit_s: float) -> dict[str, Any]:
        assert self.proc.stdout is not None
        line = await asyncio.wait_for(self.proc.stdout.readline(), limit_s)
        if not line:
            raise RuntimeError("the push service process exited (its stderr is above)")
        answer: dict[str, Any] = json.loads(line)
        return answer

    async def count(self) -> dict[str, Any]:
        """What it decrypted and refused since the last count, and its CPU time."""
        assert self.proc.stdin is not None
        self.proc.stdin.write(b"count\n")
        await self.proc.stdin.drain()
        return await self.read(30)

    async def close(self) -> None:
        if self.proc.stdin is not None:
            with contextlib.suppress(OSError):
                self.proc.stdin.close()
        try:
            await asyncio.wait_for(self.proc.wait(), 15)
        except TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                self.proc.kill()
            await self.proc.wait()


# ---- measuring ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Level:
    concurrency: int
    sent: int
    seconds: float
    #: per-send latency (inside `deliver`, not waiting for the semaphore), sorted
    latencies: list[float]
    #: CPU seconds of this process during the level
    cpu_s: float
    #: CPU seconds of the push service process (Web Push only)
    peer_cpu_s: float | None = None

    @property
    def per_s(self) -> float:
        return self.sent / self.seconds

    def percentile(self, q: float) -> float:
        """Nearest-rank percentile, in milliseconds."""
        rank = max(1, min(len(self.latencies), round(q / 100 * len(self.latencies) + 0.5)))
        return self.latencies[rank - 1] * 1000


async def timed_sends(
    count: int, concurrency: int, send: Callable[[int], Awaitable[Result]]
) -> tuple[float, list[float], float]:
    """Run send(0..count-1) with at most `concurrency` in flight; checks every
    result is Delivered. Returns wall seconds, sorted latencies, CPU seconds."""
    gate = asyncio.Semaphore(concurrency)
    latencies = [0.0] * count
    results: list[Result | None] = [None] * count

    async def one(i: int) -> None:
        async with gate:
            t0 = time.perf_counter()
            results[i] = await send(i)
            latencies[i] = time.perf_counter() - t0

    cpu0 = time.process_time()
    started = time.perf_counter()
    await asyncio.gather(*(one(i) for i in range(count)))
    seconds = time.perf_counter() - started
    cpu = time.process_time() - cpu0
    failed = [r for r in results if not isinstance(r, Delivered)]
    if failed:
        raise RuntimeError(f"{len(failed)} of {count} sends not Delivered, e.g. {failed[:3]}")
    return seconds, sorted(latencies), cpu


async def bench_push(
    pushes: int = PUSHES, subscriptions: int = SUBSCRIPTIONS
) -> tuple[list[Level], int]:
    """The levels, and the number of payloads the push service decrypted in all
    (warm-up included)."""
    child, subs = await PushServiceProcess.start(subscriptions)
    decrypted = 0
    levels: list[Level] = []
    try:
        if len(subs) != subscriptions:
            raise RuntimeError(f"push service made {len(subs)} subscriptions, not {subscriptions}")
        async with WebPushDeliverer(vapid.generate(), SUBJECT) as deliverer:

            def send(i: int) -> Awaitable[Result]:
                return deliverer.deliver(push_notification(i), subs[i % len(subs)])

            for k, concurrency in enumerate((16, *PUSH_CONCURRENCY)):
                warm = k == 0
                n = WARMUP if warm else pushes
                seconds, latencies, cpu = await timed_sends(n, concurrency, send)
                got = await child.count()
                decrypted += got["received"]
                if got["received"] != n or got["refused_count"]:
                    raise RuntimeError(
                        f"push service decrypted {got['received']} of {n} payloads "
                        f"(refused {got['refused_count']}: {got['refused']})"
                    )
                if not warm:
                    levels.append(
                        Level(concurrency, n, seconds, latencies, cpu, peer_cpu_s=got["cpu_s"])
                    )
    finally:
        await child.close()
    return levels, decrypted


async def bench_email(mails: int = MAILS) -> tuple[list[Level], int]:
    """The levels, and the number of envelopes the server recorded in all."""
    from tests.channels.smtp_server import make_test_ca, smtp_server

    ca = make_test_ca()
    levels: list[Level] = []
    with smtp_server(tls_context=ca.server_context) as server:
        config = SmtpConfig.from_url(
            f"smtp://{server.host}:{server.port}",
            tls_context=ca.client_context,
            local_hostname="reppu.test",
        )
        deliverer = EmailDeliverer(config, SENDER, "Reppu – Kuusikon koulu")
        offset = 0
        for k, concurrency in enumerate((MAIL_CONCURRENCY[0], *MAIL_CONCURRENCY)):
            warm = k == 0
            n = WARMUP // 4 if warm else mails
            base = offset

            def send(i: int, base: int = base) -> Awaitable[Result]:
                return deliverer.deliver(mail_notification(i), mail_destination(base + i))

            seconds, latencies, cpu = await timed_sends(n, concurrency, send)
            offset += n
            with server.recorder.lock:
                got = [r.rcpt_tos for r in server.recorder.received[base:]]
            expected = [[mail_destination(base + i).address] for i in range(n)]
            if sorted(got) != sorted(expected):
                raise RuntimeError(
                    f"SMTP server recorded {len(got)} envelopes for {n} mails "
                    "(or not exactly one to each address)"
                )
            if not warm:
                levels.append(Level(concurrency, n, seconds, latencies, cpu))
        with server.recorder.lock:
            recorded = len(server.recorder.received)
    return levels, recorded


async def run(pushes: int = PUSHES, mails: int = MAILS) -> str:
    started = time.perf_counter()
    push_levels, decrypted = await bench_push(pushes)
    mail_levels, recorded = await bench_email(mails)
    return report(push_levels, decrypted, mail_levels, recorded, time.perf_counter() - started)


# ---- the report ---------------------------------------------------------------------------


def _rows(levels: Sequence[Level], unit: str, peer: bool) -> str:
    head = f"| concurrency | {unit} | {unit}/s | p50 | p99 | CPU per send, sender"
    head += (
        " / push service | cores busy, both processes |" if peer else " and server | cores busy |"
    )
    lines = [head, "|---:|---:|---:|---:|---:|---:|---:|"]
    for lv in levels:
        cpu = f"{lv.cpu_s / lv.sent * 1000:.2f} ms"
        busy = lv.cpu_s
        if peer and lv.peer_cpu_s is not None:
            cpu += f" / {lv.peer_cpu_s / lv.sent * 1000:.2f} ms"
            busy += lv.peer_cpu_s
        lines.append(
            f"| {lv.concurrency} | {lv.sent:,} | {lv.per_s:,.0f} | "
            f"{lv.percentile(50):.1f} ms | {lv.percentile(99):.1f} ms | {cpu} | "
            f"{busy / lv.seconds:.2f} |"
        )
    return "\n".join(lines)


def report(
    push: Sequence[Level],
    decrypted: int,
    mail: Sequence[Level],
    recorded: int,
    total_s: float,
) -> str:
    pushes = push[0].sent if push else 0
    mails = mail[0].sent if mail else 0
    loop = type(asyncio.get_running_loop()).__module__.split(".")[0]
    cores = os.cpu_count() or 1
    return f"""## Channel adapters (`python3 dev.py bench --only channels`)

One adapter instance per channel sends as fast as the receiving side allows, at each
concurrency level (`asyncio.gather` under a semaphore; {WARMUP} untimed sends first).
Latency is one `deliver()` call, timed with `perf_counter` from when it got its slot;
throughput is sends over the level's wall time. Every result was `Delivered` and every
payload or envelope arrived exactly once (checked; the run fails otherwise). The event
loop is {loop}'s, Python {platform.python_version()}.

### Web Push

{pushes:,} pushes per level to {SUBSCRIPTIONS} distinct subscriptions, through one
`WebPushDeliverer` (one aiohttp session, so connections are reused). Each push is what a
guardian gets when message bodies are not allowed in pushes — title "Uusi viesti: Kuusikon
koulu", empty text, a URL, kind `message`, urgency `normal`, a topic — so each send signs a
VAPID JWT (ES256) and encrypts with a fresh ECDH key (aes128gcm). The push service is the
tests' RFC 8030 stand-in in a separate process: it verifies every JWT and decrypts every
payload with the subscription's keys, as a browser would ({decrypted:,} decrypted in all,
warm-up included). **Both processes share this machine's {cores} cores**, so the numbers
include the receiving side's crypto; against a remote push service the sender would have
the CPU to itself but pay real network round trips. CPU per send is each process's CPU
time over the level divided by the pushes; "cores busy" is both processes' CPU time over
the level's wall time — near {cores} means the machine, not the adapter, was the limit.

{_rows(push, "pushes", peer=True)}

### E-mail

{mails:,} notification mails per level (Finnish template, text and HTML, one recipient
each), through one `EmailDeliverer`: as in production, one SMTP connection per mail with
EHLO, STARTTLS (TLS handshake with a test CA's certificate), EHLO, MAIL, RCPT, DATA, QUIT.
The server is aiosmtpd in a thread of the same process, with its own event loop, sharing
the GIL and the {cores} cores with the sender ({recorded:,} envelopes recorded in all,
warm-up included); CPU per mail is both ends together, and "cores busy" near 1 means the
one process's GIL was the limit. A real relay adds network round trips to every one of
those steps, so relay latency, not this CPU, will bound mails/s.

{_rows(mail, "mails", peer=False)}

Numbers are from one run of {total_s:.0f} s on this {cores}-core machine, not a capacity
claim for other hardware.
"""


def main() -> None:
    parser = argparse.ArgumentParser(prog="bench.channels_bench")
    parser.add_argument("--push-service", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--subscriptions", type=int, default=SUBSCRIPTIONS, help=argparse.SUPPRESS)
    parser.add_argument("--pushes", type=int, default=PUSHES, help="pushes per level")
    parser.add_argument("--mails", type=int, default=MAILS, help="mails per level")
    args = parser.parse_args()
    if args.push_service:
        asyncio.run(push_service_main(args.subscriptions))
    else:
        print(asyncio.run(run(args.pushes, args.mails)))


if __name__ == "__main__":
    main()
