"""Processes of the fan-out benchmark: hub nodes, the baseline server, the
load generator; databases; and what /proc says about them (RSS, CPU time).

Every process is started in its own session (process group) and stopped by
signalling that group: SIGTERM, then SIGKILL after STOP_TIMEOUT_S.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import resource
import secrets
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import asyncpg
import httpx

ROOT = Path(__file__).resolve().parent.parent
ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"
REDIS = "redis://127.0.0.1:6379/0"
SECRET = "bench-fanout-" + "s" * 40
#: A role of our own: the app role's password is derived from REPPU_SECRET and
#: roles are cluster-wide, so sharing `reppu_app` with tests that run with
#: another secret would break one side's logins.
APP_ROLE = "reppu_bench_app"
#: The token issuer: the same on every node, so a token from one works on all.
PUBLIC_URL = "http://127.0.0.1:8000"
STOP_TIMEOUT_S = 15.0
READY_TIMEOUT_S = 90.0
CLK_TCK = os.sysconf("SC_CLK_TCK")


def raise_nofile() -> int:
    """Raise this process's open-file limit to the hard limit (children inherit it)."""
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return hard


def env_for(db_dsn: str | None = None, redis: bool = False) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("REPPU_") and k not in ("DATABASE_URL", "REDIS_URL")
    }
    env.update(
        {
            "REPPU_SECRET": SECRET,
            "REPPU_APP_ROLE": APP_ROLE,
            "REPPU_DEV_LOGIN": "true",
            "REPPU_PUBLIC_URL": PUBLIC_URL,
            # tokens from the first hub scenario serve the later ones too
            "REPPU_TOKEN_TTL": "3600",
            "PYTHONPATH": str(ROOT),
        }
    )
    if db_dsn:
        env["DATABASE_URL"] = db_dsn
    if redis:
        env["REDIS_URL"] = REDIS
    return env


def reppu_cmd(*args: str) -> list[str]:
    script = Path(sys.executable).parent / "reppu"
    if script.exists():
        return [str(script), *args]
    return [sys.executable, "-c", "from core.cli import main; raise SystemExit(main())", *args]


# ---- databases -----------------------------------------------------------------------------


def dsn_of(name: str) -> str:
    return ADMIN.rsplit("/", 1)[0] + f"/{name}"


async def create_db(template: str | None = None) -> str:
    name = f"reppu_fanout_{secrets.token_hex(3)}"
    conn = await asyncpg.connect(ADMIN)
    try:
        extra = f" TEMPLATE {template}" if template else ""
        await conn.execute(f"CREATE DATABASE {name}{extra}")
    finally:
        await conn.close()
    return name


async def drop_db(name: str) -> None:
    conn = await asyncpg.connect(ADMIN)
    try:
        await conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
    finally:
        await conn.close()


async def maintain(db: str) -> None:
    """`VACUUM (ANALYZE)` the database, as autovacuum would have by then.

    This machine's PostgreSQL runs with `autovacuum = off` (a server-wide
    setting that is not ours to change). Plans made against unanalysed,
    just-filled tables can scan where an index serves (once, with foreign
    keys on `inbox`, the cached plan of the inbox -> messages check scanned
    the tenant's messages per inbox row). A production server vacuums and
    analyzes by itself, so the benchmark does it where autovacuum would have:
    after the seed, and before each measured level or rate test."""
    conn = await asyncpg.connect(dsn_of(db))
    try:
        await conn.execute("VACUUM (ANALYZE)")
    finally:
        await conn.close()


async def autovacuum_setting() -> str:
    conn = await asyncpg.connect(ADMIN)
    try:
        value: str = await conn.fetchval("SHOW autovacuum")
    finally:
        await conn.close()
    return value


def run_cli(db: str, *args: str) -> str:
    out = subprocess.run(
        reppu_cmd(*args),
        env=env_for(dsn_of(db)),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    if out.returncode != 0:
        raise RuntimeError(f"reppu {' '.join(args)} failed: {out.stderr[-2000:]}")
    return out.stdout


# ---- processes -----------------------------------------------------------------------------


class Proc:
    """A child process in its own process group, with output to a log file."""

    def __init__(self, name: str, cmd: list[str], env: dict[str, str], logdir: Path) -> None:
        self.name = name
        self.log = logdir / f"{name}.log"
        self._logf = self.log.open("wb")
        self.popen = subprocess.Popen(
            cmd,
            env=env,
            cwd=ROOT,
            stdin=subprocess.DEVNULL,
            stdout=self._logf,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    @property
    def pid(self) -> int:
        return self.popen.pid

    def alive(self) -> bool:
        return self.popen.poll() is None

    def tail(self, n: int = 2000) -> str:
        with contextlib.suppress(OSError):
            return self.log.read_bytes()[-n:].decode(errors="replace")
        return ""

    def stop(self) -> None:
        if self.popen.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.popen.pid, signal.SIGTERM)
            try:
                self.popen.wait(STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.popen.pid, signal.SIGKILL)
                self.popen.wait(5)
        self._logf.close()


def start_hub(
    name: str, db: str, port: int, logdir: Path, redis: bool = False, gc_setup: str | None = None
) -> Proc:
    """`reppu serve`; with `gc_setup` (a diagnostic, not the shipped
    configuration) that Python statement runs before `core.cli.main`."""
    args = ("serve", "--host", "127.0.0.1", "--port", str(port))
    if gc_setup is None:
        cmd = reppu_cmd(*args)
    else:
        cmd = [
            sys.executable,
            "-c",
            f"import gc; {gc_setup}; from core.cli import main; raise SystemExit(main())",
            *args,
        ]
    return Proc(name, cmd, env_for(dsn_of(db), redis), logdir)


def start_baseline(port: int, compression: str, logdir: Path) -> Proc:
    return Proc(
        "baseline",
        [
            sys.executable,
            "-m",
            "bench.fanout_baseline",
            "--port",
            str(port),
            "--compression",
            compression,
        ],
        env_for(),
        logdir,
    )


async def wait_http_ready(proc: Proc, base: str) -> None:
    deadline = time.monotonic() + READY_TIMEOUT_S
    async with httpx.AsyncClient(base_url=base, timeout=2) as client:
        while time.monotonic() < deadline:
            if not proc.alive():
                raise RuntimeError(f"{proc.name} exited:\n{proc.tail()}")
            with contextlib.suppress(httpx.HTTPError):
                if (await client.get("/ready")).status_code == 200:
                    return
            await asyncio.sleep(0.2)
    raise RuntimeError(f"{proc.name} not ready in {READY_TIMEOUT_S} s:\n{proc.tail()}")


async def wait_log_line(proc: Proc, text: str) -> None:
    deadline = time.monotonic() + READY_TIMEOUT_S
    while time.monotonic() < deadline:
        if text in proc.tail(10_000):
            return
        if not proc.alive():
            raise RuntimeError(f"{proc.name} exited:\n{proc.tail()}")
        await asyncio.sleep(0.1)
    raise RuntimeError(f"{proc.name} did not print {text!r}")


class LoadGen:
    """The load generator child (bench.fanout_loadgen), one JSON line each way."""

    def __init__(self, proc: asyncio.subprocess.Process, log: Path) -> None:
        self.proc = proc
        self.log = log

    @classmethod
    async def start(cls, compression: str, logdir: Path) -> LoadGen:
        log = logdir / "loadgen.log"
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bench.fanout_loadgen",
            "--compression",
            compression,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=log.open("ab"),
            cwd=ROOT,
            env=env_for(),
            limit=1 << 28,
            start_new_session=True,
        )
        gen = cls(proc, log)
        await gen._read(30)
        return gen

    @property
    def pid(self) -> int:
        return self.proc.pid

    async def _read(self, limit_s: float) -> dict[str, Any]:
        assert self.proc.stdout is not None
        line = await asyncio.wait_for(self.proc.stdout.readline(), limit_s)
        if not line:
            raise RuntimeError(f"load generator exited: {self.log.read_text()[-2000:]}")
        reply: dict[str, Any] = json.loads(line)
        return reply

    async def call(self, cmd: str, reply_timeout: float = 600, **kw: Any) -> dict[str, Any]:
        assert self.proc.stdin is not None
        self.proc.stdin.write(json.dumps({"cmd": cmd, **kw}).encode() + b"\n")
        await self.proc.stdin.drain()
        return await self._read(reply_timeout)

    async def stop(self) -> None:
        if self.proc.returncode is None:
            with contextlib.suppress(Exception):
                await self.call("close", reply_timeout=30)
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.proc.wait(), 10)
        if self.proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)
            await self.proc.wait()


# ---- /proc -----------------------------------------------------------------------------------


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def cpu_s(pid: int) -> float:
    """User + system CPU seconds of one process."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return 0.0
    rest = stat[stat.rfind(")") + 2 :].split()
    return (int(rest[11]) + int(rest[12])) / CLK_TCK


def pids_named(prefix: str) -> list[int]:
    """Processes whose command name starts with `prefix`."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError):
                if (entry / "comm").read_text().startswith(prefix):
                    found.append(int(entry.name))
    return found


def machine_busy_s() -> float:
    """CPU seconds all cores spent on anything but idle and I/O wait, since boot."""
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    return (sum(fields[:8]) - fields[3] - fields[4]) / CLK_TCK


async def backend_pids(db: str) -> list[int]:
    """PostgreSQL backends connected to database `db` (the nodes' pools)."""
    conn = await asyncpg.connect(ADMIN)
    try:
        rows = await conn.fetch("SELECT pid FROM pg_stat_activity WHERE datname = $1", db)
    finally:
        await conn.close()
    return [r["pid"] for r in rows]


class CpuMeter:
    """CPU seconds of named groups of processes between start() and stop(),
    and `other`: everything else the machine did meanwhile (PostgreSQL work
    for other databases, other people's processes), so that interference
    shows. `postgres_db`: count the backends of that database as `postgres`."""

    def __init__(self, groups: dict[str, list[int]], postgres_db: str | None = None) -> None:
        self.groups = dict(groups)
        self.db = postgres_db
        self._t0 = 0.0
        self._c0: dict[str, float] = {}
        self._pg0: dict[int, float] = {}

    def _now(self) -> dict[str, float]:
        out = {k: sum(cpu_s(p) for p in v) for k, v in self.groups.items()}
        usage = resource.getrusage(resource.RUSAGE_SELF)
        out["publisher"] = usage.ru_utime + usage.ru_stime
        out["machine"] = machine_busy_s()
        return out

    async def start(self) -> None:
        if self.db:
            self._pg0 = {p: cpu_s(p) for p in await backend_pids(self.db)}
        self._c0 = self._now()
        self._t0 = time.monotonic()

    async def stop(self) -> dict[str, float]:
        """Cores used by each group (CPU seconds per wall second)."""
        wall = max(1e-9, time.monotonic() - self._t0)
        c1 = self._now()
        cores = {k: (c1[k] - self._c0.get(k, 0.0)) / wall for k in c1}
        if self.db:
            pids = set(self._pg0) | set(await backend_pids(self.db))
            # a backend that exited meanwhile is lost; one that started is counted whole
            pg = sum(max(0.0, cpu_s(p) - self._pg0.get(p, 0.0)) for p in pids)
            cores["postgres"] = pg / wall
        machine = cores.pop("machine")
        cores["other"] = max(0.0, machine - sum(cores.values()))
        return cores


class ActivitySampler:
    """What the database's active backends are doing, sampled from
    pg_stat_activity every SAMPLE_S while running: (wait event or `on CPU`,
    the statement's first words) → samples."""

    SAMPLE_S = 0.1

    def __init__(self, db: str) -> None:
        self.db = db
        self.counts: dict[tuple[str, str], int] = {}
        self.samples = 0
        self._task: asyncio.Task[None] | None = None
        self._stop = asyncio.Event()

    async def _run(self) -> None:
        conn = await asyncpg.connect(ADMIN)
        try:
            while not self._stop.is_set():
                rows = await conn.fetch(
                    "SELECT coalesce(wait_event_type || ':' || wait_event, 'on CPU') AS w, "
                    "left(regexp_replace(query, '\\s+', ' ', 'g'), 64) AS q "
                    "FROM pg_stat_activity WHERE datname = $1 AND state = 'active' "
                    "AND pid <> pg_backend_pid()",
                    self.db,
                )
                self.samples += 1
                for r in rows:
                    key = (r["w"], r["q"].strip())
                    self.counts[key] = self.counts.get(key, 0) + 1
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stop.wait(), self.SAMPLE_S)
        finally:
            await conn.close()

    def start(self) -> None:
        self._task = asyncio.create_task(self._run())

    async def stop(self, top: int = 4) -> list[tuple[str, str, float]]:
        """The `top` (wait, statement, average number of backends) entries."""
        self._stop.set()
        if self._task is not None:
            await self._task
        n = max(1, self.samples)
        best = sorted(self.counts.items(), key=lambda kv: -kv[1])[:top]
        return [(w, q, c / n) for (w, q), c in best]
