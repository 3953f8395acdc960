"""Live fan-out: announcements to thousands of connected websocket clients,
through the hub and through a minimal `websockets` broadcast server, side by
side with the same load generator; plus sustained group messages over HTTP.

    python -m bench --only fanout [--clients 1000,5000,10000]

Scenarios (each with a fresh database copied from one seeded city template):

* baseline — `bench.fanout_baseline`: `websockets.broadcast` of a ~300-byte
  frame to every client, triggered over a control websocket;
* hub, memory broker, one node — `reppu serve`; clients are real demo persons,
  each with its own token and live ticket; the publisher POSTs /v1/events to
  a union of whole schools whose recipients include every connected client;
* hub, Redis broker, two nodes — two `reppu serve` on one PostgreSQL and one
  Redis, clients alternating between them, events published through node 1.

For each number of clients N (connected incrementally: the first N persons of
the schools in name order): RSS per idle connection, the latency of single
announcements (each delivered to all N before the next), and a burst of K
announcements posted at once (frames per second; latency including queueing).
Then, on the memory node, a py-spy profile of one more burst and open-loop
rates of POST /v1/messages from many teachers to their class's guardians.
Last, diagnostics at one level with one setting changed (the collector's
thresholds; no permessage-deflate), which size costs seen in the profile.

All processes share this machine's cores; the result text says how many.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any
from uuid import UUID

import asyncpg
import httpx
from websockets.asyncio.client import connect

from bench import fanout_report as report
from bench.fanout_procs import (
    APP_ROLE,
    SECRET,
    ActivitySampler,
    CpuMeter,
    LoadGen,
    Proc,
    autovacuum_setting,
    create_db,
    drop_db,
    dsn_of,
    maintain,
    pids_named,
    raise_nofile,
    rss_kib,
    run_cli,
    start_baseline,
    start_hub,
    wait_http_ready,
    wait_log_line,
)

DEFAULT_CLIENTS = (1000, 5000, 10000)
#: Announcements per burst, bursts per level (the median one is reported: one
#: burst at 1,000 clients lasts ~0.3 s, and single runs of it varied by a
#: third), and single announcements timed per level.
BURST = 10
BURSTS = 3
SINGLES = 5
#: Seconds to wait for one single announcement / one burst to be delivered.
SINGLE_TIMEOUT_S = 30.0
BURST_TIMEOUT_S = 120.0
#: Seconds idle before reading RSS.
SETTLE_S = 2.0
CONNECT_CONCURRENCY = 64
#: Group message rates tried (per second), each for RATE_SECONDS, upwards
#: until one misses p99 <= RATE_P99_MS (or an error, or < 95 % achieved).
RATES = (100, 200, 250, 300, 400, 550, 750, 1000)
RATE_SECONDS = 10.0
RATE_P99_MS = 100.0
RATE_PAIRS = 300
PROFILE_RATE_HZ = 100
BASE_PORT = 18700
#: `profile` and `rates` run on the memory node, so they need `memory`.
#: `gcdiag` and `nodeflate` are diagnostics at one level; `gcdiag` is not run
#: by default any more: `reppu serve` sets those collector thresholds itself
#: (core.cli.GC_THRESHOLDS), so it repeated the memory run.
ALL_SCENARIOS = ("baseline", "memory", "redis", "profile", "rates", "gcdiag", "nodeflate")
DEFAULT_SCENARIOS = ("baseline", "memory", "redis", "profile", "rates", "nodeflate")


def profile_level(levels: list[int]) -> int:
    """The level profiled: the one of the latency target if run, else the largest."""
    return report.P99_TARGET_CLIENTS if report.P99_TARGET_CLIENTS in levels else levels[-1]


@dataclass
class Population:
    tenant_id: UUID
    schools: list[UUID]
    #: connectable persons in order: (username, person id, index of their school)
    people: list[tuple[str, UUID, int]]
    #: (teacher username, class id, recipients) for group messages
    pairs: list[tuple[str, UUID, int]]

    def schools_for(self, n: int) -> list[UUID]:
        """The fewest leading schools whose recipients include the first n persons."""
        return self.schools[: self.people[n - 1][2] + 1]


@dataclass
class Level:
    clients: int
    connect: dict[str, Any]
    rss_kib_per_conn: float
    rows_per_announcement: float = 0.0
    #: median duration of the single announcements' POST (baseline: trigger → ok)
    post_ms: float = 0.0
    single: dict[str, Any] = field(default_factory=dict)
    burst: dict[str, Any] = field(default_factory=dict)
    burst_wall_s: float = 0.0
    #: frames/s of each burst at this level (the reported one is their median)
    burst_runs: list[float] = field(default_factory=list)
    frames_per_s: float = 0.0
    cores: dict[str, float] = field(default_factory=dict)
    closed: dict[str, int] = field(default_factory=dict)


@dataclass
class Scenario:
    name: str
    levels: list[Level] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


async def select_population(db_name: str, max_n: int) -> Population:
    """The persons to connect, through the hub's own audience resolution."""
    from core.clock import SystemClock, today_in_helsinki
    from core.config import Settings
    from core.db import Database, app_dsn
    from hub.audience import resolve
    from hub.model import GroupGuardians, WholeSchool

    settings = Settings.from_env({"REPPU_SECRET": SECRET, "REPPU_APP_ROLE": APP_ROLE})
    admin = await asyncpg.connect(dsn_of(db_name))
    try:
        tid = await admin.fetchval("SELECT id FROM tenants WHERE slug = 'kuusikko'")
        schools = [
            r["id"]
            for r in await admin.fetch(
                "SELECT id FROM schools WHERE tenant_id = $1 ORDER BY name", tid
            )
        ]
        login = {
            r["person_id"]: r["subject"]
            for r in await admin.fetch(
                "SELECT person_id, subject FROM logins WHERE tenant_id = $1 AND provider = 'reppu'",
                tid,
            )
        }
        classes = await admin.fetch(
            "SELECT g.id, gt.teacher_id FROM groups g JOIN group_teachers gt ON gt.group_id = g.id "
            "WHERE g.tenant_id = $1 AND g.kind = 'class' ORDER BY g.name, gt.teacher_id",
            tid,
        )
    finally:
        await admin.close()
    today: date = today_in_helsinki(SystemClock())
    db = await Database.connect(app_dsn(dsn_of(db_name), settings), min_size=1, max_size=1)
    people: list[tuple[str, UUID, int]] = []
    pairs: list[tuple[str, UUID, int]] = []
    try:
        async with db.tenant(tid) as conn:
            seen: set[UUID] = set()
            for i, sid in enumerate(schools):
                if len(people) >= max_n:
                    break
                recs = await resolve(
                    conn, WholeSchool(school=sid), needs_custody=False, today=today
                )
                for pid in sorted(recs, key=str):
                    if pid not in seen and pid in login:
                        seen.add(pid)
                        people.append((login[pid], pid, i))
            teachers: set[UUID] = set()
            for row in classes:
                if len(pairs) >= RATE_PAIRS:
                    break
                if row["teacher_id"] in teachers or row["teacher_id"] not in login:
                    continue
                recs = await resolve(
                    conn, GroupGuardians(group=row["id"]), needs_custody=False, today=today
                )
                recs.pop(row["teacher_id"], None)
                if 25 <= len(recs) <= 35:
                    teachers.add(row["teacher_id"])
                    pairs.append((login[row["teacher_id"]], row["id"], len(recs)))
    finally:
        await db.close()
    if len(people) < max_n:
        raise RuntimeError(f"only {len(people)} connectable persons for {max_n} clients")
    return Population(tid, schools, people[:max_n], pairs)


# ---- publishers ----------------------------------------------------------------------------


def marker(burst: str, i: int) -> str:
    return f"@@{burst}|{i}|{time.time():.6f}@@"


class HubPublisher:
    def __init__(self, base: str, token: str) -> None:
        self.client = httpx.AsyncClient(
            base_url=base, timeout=60, headers={"authorization": f"Bearer {token}"}
        )
        self.audience: dict[str, Any] = {}
        self.rows: list[int] = []
        self.post_ms: list[float] = []
        self.errors: list[str] = []

    def target(self, schools: list[UUID]) -> None:
        self.audience = {
            "type": "union",
            "of": [{"type": "school", "school": str(s)} for s in schools],
        }

    async def publish(self, burst: str, i: int) -> None:
        mark = marker(burst, i)
        started = time.perf_counter()
        r = await self.client.post(
            "/v1/events",
            json={
                "idempotency_key": f"{burst}-{i}",
                "source": "bench",
                "audience": self.audience,
                "subject": "Tiedote: koulukuljetukset",
                "body": f"{mark} Huomenna koulukuljetukset kulkevat normaalisti.",
            },
        )
        self.post_ms.append((time.perf_counter() - started) * 1000)
        if r.status_code == 201:
            self.rows.append(r.json()["recipients"])
        else:
            self.errors.append(f"{r.status_code} {r.text[:200]}")

    async def burst(self, burst: str, k: int) -> None:
        """k announcements at once (the pool of the node decides how many run in parallel)."""
        await asyncio.gather(*(self.publish(burst, i) for i in range(k)))

    async def close(self) -> None:
        await self.client.aclose()


class BaselinePublisher:
    def __init__(self, url: str) -> None:
        self.url = url
        self.ws: Any = None
        self.rows: list[int] = []
        self.post_ms: list[float] = []
        self.errors: list[str] = []

    def target(self, schools: list[UUID]) -> None:
        pass

    async def publish(self, burst: str, i: int) -> None:
        await self.burst(burst, 1, first=i)

    async def burst(self, burst: str, k: int, first: int = 0) -> None:
        """k triggers written at once, then their k answers read."""
        if self.ws is None:
            self.ws = await connect(self.url, compression=None)
        started = time.perf_counter()
        for i in range(first, first + k):
            await self.ws.send(f'{{"marker":"{marker(burst, i)}"}}')
        for _ in range(k):
            await self.ws.recv()
        self.post_ms.append((time.perf_counter() - started) * 1000)

    async def close(self) -> None:
        if self.ws is not None:
            await self.ws.close()


# ---- one scenario --------------------------------------------------------------------------


async def run_levels(
    sc: Scenario,
    gen: LoadGen,
    pub: HubPublisher | BaselinePublisher,
    pop: Population,
    specs: list[dict[str, Any]],
    servers: list[Proc],
    cpu_groups: dict[str, list[int]],
    db_name: str | None,
    levels: list[int],
    tag: str,
    after_burst: Any = None,
) -> None:
    rss0 = sum(rss_kib(p.pid) for p in servers)
    have = 0
    for n in levels:
        res = await gen.call("connect", clients=specs[have:n], concurrency=CONNECT_CONCURRENCY)
        have = n
        if db_name is not None:
            await maintain(db_name)
        await asyncio.sleep(SETTLE_S)
        rss = sum(rss_kib(p.pid) for p in servers)
        lv = Level(n, res, (rss - rss0) / n)
        sc.levels.append(lv)
        if res["failed"]:
            sc.notes.append(f"{n} clients: {res['failed']} failed to connect: {res['errors']}")
        pub.target(pop.schools_for(n))
        pub.rows.clear()
        pub.post_ms.clear()
        for j in range(SINGLES):
            await gen.call("expect", burst=f"{tag}n{n}s{j}", frames=n, keep=j > 0)
            await pub.publish(f"{tag}n{n}s{j}", 0)
            lv.single = await gen.call("wait", within_s=SINGLE_TIMEOUT_S)
        lv.post_ms = sorted(pub.post_ms)[len(pub.post_ms) // 2]
        runs: list[tuple[float, float, dict[str, Any]]] = []
        meter = CpuMeter(cpu_groups, db_name)
        await meter.start()
        for b in range(BURSTS):
            burst = f"{tag}n{n}b{b}"
            await gen.call("expect", burst=burst, frames=n * BURST)
            t0 = time.time()
            await pub.burst(burst, BURST)
            got = await gen.call("wait", within_s=BURST_TIMEOUT_S)
            wall = (got["last_recv"] or time.time()) - t0
            runs.append((got["received"] / max(1e-9, wall), wall, got))
        lv.cores = await meter.stop()
        lv.frames_per_s, lv.burst_wall_s, lv.burst = sorted(runs, key=lambda r: r[0])[BURSTS // 2]
        lv.burst_runs = [r[0] for r in runs]
        # every burst must have arrived whole, not just the median one
        lv.burst = {
            **lv.burst,
            "received_all": sum(r[2]["received"] for r in runs),
            "expected_all": sum(r[2].get("expected", 0) for r in runs),
        }
        lv.rows_per_announcement = sum(pub.rows) / len(pub.rows) if pub.rows else 0.0
        lv.closed = (await gen.call("stats"))["closed"]
        if pub.errors:
            sc.notes.append(f"{n} clients: publish errors {pub.errors[:3]}")
            pub.errors.clear()
        if after_burst is not None and n == profile_level(levels):
            await after_burst(n)


async def baseline(
    pop: Population, levels: list[int], compression: str, logdir: Path, port: int
) -> Scenario:
    sc = Scenario("baseline" if compression == "deflate" else "baseline, no compression")
    server = start_baseline(port, compression, logdir)
    gen = None
    pub = BaselinePublisher(f"ws://127.0.0.1:{port}/publish")
    try:
        await wait_log_line(server, "ready")
        gen = await LoadGen.start(compression, logdir)
        specs = [{"ws": f"ws://127.0.0.1:{port}/live"} for _ in range(levels[-1])]
        await run_levels(
            sc,
            gen,
            pub,
            pop,
            specs,
            [server],
            {"server": [server.pid], "loadgen": [gen.pid]},
            None,
            levels,
            f"base{compression[0]}",
        )
    finally:
        await pub.close()
        if gen is not None:
            await gen.stop()
        server.stop()
    return sc


@dataclass
class HubRun:
    scenario: Scenario
    profile: dict[str, Any] | None = None
    rates: list[dict[str, Any]] = field(default_factory=list)
    tokens: list[str] = field(default_factory=list)


async def hub(
    pop: Population,
    levels: list[int],
    compression: str,
    logdir: Path,
    template: str,
    service_token: str,
    ports: list[int],
    tokens: list[str] | None,
    *,
    name: str | None = None,
    gc_setup: str | None = None,
    profile_it: bool = False,
    rates: bool = False,
) -> HubRun:
    """One hub scenario: len(ports) nodes (Redis when more than one)."""
    redis = len(ports) > 1
    default = "hub, Redis broker, two nodes" if redis else "hub, memory broker, one node"
    run = HubRun(Scenario(name or default))
    tag = f"{'redis' if redis else 'mem'}{'gc' if gc_setup else ''}{compression[0]}"
    db = await create_db(template)
    nodes: list[Proc] = []
    gen = None
    pub = HubPublisher(f"http://127.0.0.1:{ports[0]}", service_token)
    try:
        for i, port in enumerate(ports):
            nodes.append(start_hub(f"hub-{tag}-{i}", db, port, logdir, redis, gc_setup))
        for node, port in zip(nodes, ports, strict=True):
            await wait_http_ready(node, f"http://127.0.0.1:{port}")
        gen = await LoadGen.start(compression, logdir)
        if tokens is None:
            names = [u for u, _, _ in pop.people] + [u for u, _, _ in pop.pairs]
            got = await gen.call("login", base=f"http://127.0.0.1:{ports[0]}", usernames=names)
            if got["failed"]:
                raise RuntimeError(f"dev logins failed: {got['failed']}")
            tokens = got["tokens"]
        run.tokens = tokens
        specs = [
            {
                "http": f"http://127.0.0.1:{ports[i % len(ports)]}",
                "ws": f"ws://127.0.0.1:{ports[i % len(ports)]}/v1/live",
                "token": tokens[i],
            }
            for i in range(levels[-1])
        ]
        groups: dict[str, list[int]] = {
            "server": [n.pid for n in nodes],
            "loadgen": [gen.pid],
        }
        if redis:
            groups["redis"] = pids_named("redis-server")

        async def profile(n: int) -> None:
            run.profile = await profile_burst(nodes[0], gen, pub, n, logdir)

        await run_levels(
            run.scenario,
            gen,
            pub,
            pop,
            specs,
            nodes,
            groups,
            db,
            levels,
            tag,
            profile if profile_it else None,
        )
        if rates:
            run.rates = await group_rates(
                gen, pop, tokens[len(pop.people) :], ports[0], nodes[0], db
            )
    finally:
        await pub.close()
        if gen is not None:
            await gen.stop()
        for node in nodes:
            node.stop()
        await drop_db(db)
    return run


async def profile_burst(
    node: Proc, gen: LoadGen, pub: HubPublisher, n: int, logdir: Path
) -> dict[str, Any] | None:
    """py-spy on the node during one more burst (not one of the measured ones)."""
    pyspy = shutil.which(
        "py-spy", path=os.pathsep.join([os.path.dirname(sys.executable), os.defpath])
    )
    if pyspy is None:
        return None
    out = logdir / "profile.txt"
    burst = f"prof{n}"
    await gen.call("expect", burst=burst, frames=n * BURST)
    spy = await asyncio.create_subprocess_exec(
        pyspy,
        "record",
        "--pid",
        str(node.pid),
        "--rate",
        str(PROFILE_RATE_HZ),
        "--native",
        "--format",
        "raw",
        "--output",
        str(out),
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        await asyncio.sleep(0.5)
        t0 = time.monotonic()
        await pub.burst(burst, BURST)
        done = await gen.call("wait", within_s=BURST_TIMEOUT_S)
        wall = time.monotonic() - t0
    finally:
        with contextlib.suppress(ProcessLookupError):
            spy.send_signal(2)  # SIGINT: py-spy writes its output and exits
        try:
            await asyncio.wait_for(spy.wait(), 30)
        except TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(spy.pid, 9)
            await spy.wait()
    if not out.exists():
        return None
    return report.summarise_profile(out.read_text(), wall, PROFILE_RATE_HZ, done, n)


async def group_rates(
    gen: LoadGen,
    pop: Population,
    teacher_tokens: list[str],
    port: int,
    server: Proc,
    db_name: str,
) -> list[dict[str, Any]]:
    """Open-loop POST /v1/messages at rising (or falling) rates; websocket clients closed."""
    await gen.call("close_clients")
    pairs = [
        {"token": t, "group": str(g)}
        for t, (_, g, _) in zip(teacher_tokens, pop.pairs, strict=True)
    ]
    results: list[dict[str, Any]] = []

    async def step(rate: int) -> bool:
        meter = CpuMeter({"server": [server.pid], "loadgen": [gen.pid]}, db_name)
        await meter.start()
        activity = ActivitySampler(db_name)
        activity.start()
        started = time.monotonic()
        res = await gen.call(
            "rate",
            base=f"http://127.0.0.1:{port}",
            pairs=pairs,
            tag=f"rate{rate}",
            rate=rate,
            seconds=RATE_SECONDS,
            reply_timeout=RATE_SECONDS + 120,
        )
        res["activity"] = await activity.stop()
        res["cores"] = await meter.stop()
        res["wall_s"] = time.monotonic() - started
        res["target"] = rate
        lat = res["latency"]
        res["pass"] = (
            res["ok"] == res["sent"]
            and lat.get("p99", 1e9) <= RATE_P99_MS
            and res["achieved_per_s"] >= 0.95 * rate
        )
        results.append(res)
        await asyncio.sleep(2.0)
        return bool(res["pass"])

    # upwards, so that no step runs after an overloaded one (an overloaded
    # node was seen to stay slow for the next steps even after it drained)
    for rate in RATES:
        if not await step(rate):
            break
    return results


# ---- the whole benchmark -------------------------------------------------------------------


@dataclass
class Results:
    pop: Population
    levels: list[int]
    compression: str
    nofile: int
    logdir: Path
    base: Scenario | None = None
    mem: HubRun | None = None
    red: HubRun | None = None
    #: one-level runs that explain the main ones (other settings; not targets)
    diags: list[Scenario] = field(default_factory=list)
    elapsed_s: float = 0.0
    #: the server's `autovacuum` setting
    autovacuum: str = ""


#: The diagnostic run's collector setting: a larger first generation and
#: far fewer full collections (CPython's defaults are 700, 10, 10).
GC_DIAG = "gc.set_threshold(100_000, 50, 1000)"


async def run(
    clients: tuple[int, ...] = DEFAULT_CLIENTS,
    compression: str = "deflate",
    scenarios: tuple[str, ...] = DEFAULT_SCENARIOS,
) -> str:
    levels = sorted(set(clients))
    res = Results(
        pop=Population(UUID(int=0), [], [], []),
        levels=levels,
        compression=compression,
        nofile=raise_nofile(),
        logdir=Path(tempfile.mkdtemp(prefix="reppu-fanout-")),
    )
    started = time.monotonic()
    template = await create_db()
    try:
        run_cli(template, "seed", "--size", "city")
        await maintain(template)
        res.autovacuum = await autovacuum_setting()
        token = run_cli(
            template,
            "token",
            "--tenant",
            "kuusikko",
            "--name",
            "bench",
            "--scope",
            "events:publish",
        ).strip()
        pop = res.pop = await select_population(template, levels[-1])
        logdir = res.logdir
        if "baseline" in scenarios:
            res.base = await baseline(pop, levels, compression, logdir, BASE_PORT)
        tokens = None
        if "memory" in scenarios:
            res.mem = await hub(
                pop,
                levels,
                compression,
                logdir,
                template,
                token,
                [BASE_PORT + 1],
                None,
                profile_it="profile" in scenarios,
                rates="rates" in scenarios,
            )
            tokens = res.mem.tokens
        if "redis" in scenarios:
            res.red = await hub(
                pop,
                levels,
                compression,
                logdir,
                template,
                token,
                [BASE_PORT + 2, BASE_PORT + 3],
                tokens,
            )
            tokens = tokens or res.red.tokens
        # diagnostics at one level (the middle one): what the collector and
        # compression cost; they explain the numbers above and are not targets
        diag = [levels[len(levels) // 2]]
        if "gcdiag" in scenarios:
            run = await hub(
                pop,
                diag,
                compression,
                logdir,
                template,
                token,
                [BASE_PORT + 4],
                tokens,
                name=f"hub, memory broker, one node, `{GC_DIAG}`",
                gc_setup=GC_DIAG,
            )
            tokens = tokens or run.tokens
            res.diags.append(run.scenario)
        if "nodeflate" in scenarios and compression == "deflate":
            res.diags.append(await baseline(pop, diag, "none", logdir, BASE_PORT + 5))
            run = await hub(
                pop,
                diag,
                "none",
                logdir,
                template,
                token,
                [BASE_PORT + 6],
                tokens,
                name="hub, memory broker, one node, no compression",
            )
            res.diags.append(run.scenario)
    finally:
        await drop_db(template)
    res.elapsed_s = time.monotonic() - started
    print(f"fan-out logs: {res.logdir}", file=sys.stderr)
    return report.render(res)


def main(argv: list[str] | None = None) -> None:
    import argparse

    p = argparse.ArgumentParser(prog="bench.fanout")
    p.add_argument("--clients", default=",".join(map(str, DEFAULT_CLIENTS)))
    p.add_argument("--compression", choices=["deflate", "none"], default="deflate")
    p.add_argument("--scenarios", default=",".join(DEFAULT_SCENARIOS))
    args = p.parse_args(argv)
    print(
        asyncio.run(
            run(
                tuple(int(x) for x in args.clients.split(",")),
                args.compression,
                tuple(args.scenarios.split(",")),
            )
        )
    )


if __name__ == "__main__":
    main()
