"""Durable jobs under load: 100,000 reminders falling due at once, run by two
workers in two OS processes that share one fresh database.

    python -m bench.jobs_bench           # the benchmark; prints its markdown
    python -m bench --only jobs          # the same, written to docs/benchmarks.md

Each worker is a `core.jobs.JobWorker` with its own pool (the application
role, under row-level security), on the system clock. Its handler does what a
real one does — opens a tenant transaction and records its effect
idempotently — here `INSERT INTO bench_effects ... ON CONFLICT DO NOTHING`,
and in the same statement appends a row to `bench_fires`, which is not
deduplicated: a job that ran twice shows there twice.

The jobs are queued through `core.jobs.enqueue` (four tenants, one statement
each, as a publish would) before the workers start; the workers then get a
"go" on stdin at the same moment. Timed: from "go" to the last fire's
`clock_timestamp()`.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import secrets
import sys
import time
import uuid
from datetime import timedelta
from typing import Any

import asyncpg

from bench.fanout_procs import (
    ADMIN,
    APP_ROLE,
    ROOT,
    SECRET,
    ActivitySampler,
    CpuMeter,
    autovacuum_setting,
    dsn_of,
    env_for,
)
from core import actions
from core.clock import SystemClock
from core.config import Settings
from core.db import Database, app_dsn, migrate
from core.jobs import CLAIM_BATCH, LEASE_S, Job, JobWorker, NewJob, Outcome, enqueue

JOBS = 100_000
TENANTS = 4
WORKERS = 2
CONCURRENCY = 8
#: Give up (and say so) if the jobs have not all fired by then.
DONE_TIMEOUT_S = 300.0

BENCH_TABLES = f"""
CREATE TABLE bench_effects (
    tenant_id uuid NOT NULL,
    job_id    bigint NOT NULL,
    PRIMARY KEY (tenant_id, job_id)
);
CREATE TABLE bench_fires (
    tenant_id uuid NOT NULL,
    job_id    bigint NOT NULL,
    worker    smallint NOT NULL,
    at        timestamptz NOT NULL DEFAULT clock_timestamp()
);
DO $$
DECLARE t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['bench_effects', 'bench_fires'] LOOP
        EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
        EXECUTE format('ALTER TABLE %I FORCE ROW LEVEL SECURITY', t);
        EXECUTE format('CREATE POLICY tenant_isolation ON %I '
                       'USING (tenant_id = (SELECT reppu_tenant())) '
                       'WITH CHECK (tenant_id = (SELECT reppu_tenant()))', t);
    END LOOP;
END $$;
GRANT SELECT, INSERT ON bench_effects, bench_fires TO {APP_ROLE};
"""

FIRE = (
    "WITH effect AS (INSERT INTO bench_effects (tenant_id, job_id) VALUES ($1, $2) "
    "ON CONFLICT DO NOTHING) "
    "INSERT INTO bench_fires (tenant_id, job_id, worker) VALUES ($1, $2, $3)"
)


# ---- a worker process ---------------------------------------------------------------------


async def _line() -> str:
    return await asyncio.to_thread(sys.stdin.readline)


async def worker_main(dsn: str, index: int, concurrency: int) -> None:
    """One worker: 'ready' once connected, runs on 'go', stops on 'stop' (or EOF)
    and prints its counters as one JSON line."""
    db = await Database.connect(dsn, min_size=concurrency + 2, max_size=concurrency + 2)

    async def fire(job: Job) -> Outcome:
        async with db.tenant(job.tenant_id) as conn:
            await conn.execute(FIRE, job.tenant_id, job.id, index)
        return None

    worker = JobWorker(db, SystemClock(), {"reminder": fire}, concurrency=concurrency)
    print("ready", flush=True)
    await _line()
    task = asyncio.create_task(worker.run())
    await _line()
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    await db.close()
    counters = {
        k: getattr(worker, k) for k in ("ran", "retried", "failed", "released", "superseded")
    }
    print(json.dumps(counters), flush=True)


# ---- the benchmark ------------------------------------------------------------------------


class Worker:
    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        self.proc = proc

    @classmethod
    async def start(cls, dsn: str, index: int) -> Worker:
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bench.jobs_bench",
            "--worker",
            str(index),
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            cwd=ROOT,
            env=env_for(dsn),  # DATABASE_URL: the password stays out of `ps`
        )
        w = cls(proc)
        if (await w.read(60)) != "ready":
            raise RuntimeError(f"worker {index} did not start")
        return w

    async def read(self, limit_s: float) -> str:
        assert self.proc.stdout is not None
        line = await asyncio.wait_for(self.proc.stdout.readline(), limit_s)
        return line.decode().strip()

    def say(self, word: str) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(word.encode() + b"\n")

    async def stop(self) -> dict[str, int]:
        if self.proc.returncode is not None:
            return {}
        self.say("stop")
        try:
            counters: dict[str, int] = json.loads(await self.read(30))
        finally:
            with contextlib.suppress(ProcessLookupError):
                self.proc.kill()
            await self.proc.wait()
        return counters


async def _admin(dsn: str, sql: str, *args: Any) -> Any:
    """Rows of one query as the admin role; DDL and VACUUM without arguments
    (the simple query protocol: several statements, no transaction)."""
    conn = await asyncpg.connect(dsn)
    try:
        if not args and not sql.lstrip().upper().startswith("SELECT"):
            await conn.execute(sql)
            return []
        return await conn.fetch(sql, *args)
    finally:
        await conn.close()


async def run(jobs: int = JOBS) -> str:
    settings = Settings.from_env({"REPPU_SECRET": SECRET, "REPPU_APP_ROLE": APP_ROLE})
    name = f"reppu_jobs_bench_{secrets.token_hex(3)}"
    await _admin(ADMIN, f"CREATE DATABASE {name}")
    admin = dsn_of(name)
    workers: list[Worker] = []
    try:
        await migrate(admin, settings)
        await _admin(admin, BENCH_TABLES)
        db = await Database.connect(app_dsn(admin, settings), min_size=1, max_size=2)
        try:
            tenants = [
                await actions.ensure_tenant(db, f"jobs-{i}", f"Kunta {i}", "municipality")
                for i in range(TENANTS)
            ]
            now = SystemClock().now()
            per = jobs // TENANTS
            batches = [
                [
                    NewJob(
                        kind="reminder",
                        key=f"reminder:{t}:{i}",
                        due_at=now - timedelta(milliseconds=i % 1000),
                        payload={"purpose": "reminder", "n": i},
                        message_id=uuid.uuid4(),
                        person_id=uuid.uuid4(),
                    )
                    for i in range(per)
                ]
                for t in range(TENANTS)
            ]
            started = time.perf_counter()
            for tenant, batch in zip(tenants, batches, strict=True):
                async with db.tenant(tenant) as conn:
                    assert await enqueue(conn, tenant, batch) == per
            enqueue_s = time.perf_counter() - started
        finally:
            await db.close()
        # This server runs with autovacuum off; analyse as autovacuum would
        # have after 100,000 inserts, as bench/fanout_procs.maintain explains.
        await _admin(admin, "VACUUM (ANALYZE) jobs")

        app = app_dsn(admin, settings)
        workers = list(await asyncio.gather(*(Worker.start(app, i) for i in range(WORKERS))))
        meter = CpuMeter({"workers": [w.proc.pid for w in workers]}, postgres_db=name)
        sampler = ActivitySampler(name)
        await meter.start()
        sampler.start()
        [[t0]] = await _admin(admin, "SELECT clock_timestamp()")
        for w in workers:
            w.say("go")
        deadline = time.monotonic() + DONE_TIMEOUT_S
        poll = await asyncpg.connect(admin)
        try:
            # the live jobs, through the claim's partial index: cheap, shrinking
            while time.monotonic() < deadline:
                if any(w.proc.returncode is not None for w in workers):
                    raise RuntimeError("a worker exited early (its stderr is above)")
                live = await poll.fetchval(
                    "SELECT count(*) FROM jobs WHERE state IN ('pending', 'running')"
                )
                if live == 0:
                    break
                await asyncio.sleep(0.5)
        finally:
            await poll.close()
        cores = await meter.stop()
        activity = await sampler.stop(top=6)
        counters = [await w.stop() for w in workers]
        workers = []
        [[last]] = await _admin(admin, "SELECT max(at) FROM bench_fires")
        [[effects]] = await _admin(admin, "SELECT count(*) FROM bench_effects")
        per_worker = dict(
            await _admin(admin, "SELECT worker, count(*) FROM bench_fires GROUP BY 1 ORDER BY 1")
        )
        [[twice]] = await _admin(
            admin,
            "SELECT count(*) FROM (SELECT 1 FROM bench_fires GROUP BY tenant_id, job_id "
            "HAVING count(*) > 1) d",
        )
        states = dict(await _admin(admin, "SELECT state, count(*) FROM jobs GROUP BY 1"))
        autovacuum = await autovacuum_setting()
    finally:
        for w in workers:
            with contextlib.suppress(Exception):
                w.proc.kill()
                await w.proc.wait()
        await _admin(ADMIN, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")

    elapsed = (last - t0).total_seconds() if last is not None else float("nan")
    result = {
        "jobs": jobs,
        "fired": effects,
        "seconds": elapsed,
        "jobs_per_s": jobs / elapsed,
        "fired_twice": twice,
        "per_worker": per_worker,
        "counters": counters,
        "states": states,
        "enqueue_s": enqueue_s,
        "cores": cores,
        "activity": activity,
    }
    return report(result, autovacuum)


def report(r: dict[str, Any], autovacuum: str) -> str:
    per = " / ".join(f"{r['per_worker'].get(i, 0):,}" for i in range(WORKERS))
    counters = "; ".join(
        f"worker {i}: " + ", ".join(f"{k} {v:,}" for k, v in c.items())
        for i, c in enumerate(r["counters"])
    )
    states = ", ".join(f"{k} {v:,}" for k, v in sorted(r["states"].items()))
    c = r["cores"]
    activity = "\n".join(
        f"| {w} | `{q.replace('|', '/')}` | {n:.2f} |" for w, q, n in r["activity"]
    )
    verdict = "" if r["fired_twice"] == 0 and r["fired"] == r["jobs"] else " — **NOT ALL ONCE**"
    return f"""## Durable jobs (`python3 dev.py bench --only jobs`)

{r["jobs"]:,} reminder jobs in {TENANTS} tenants, all due at once, run by {WORKERS} `JobWorker`s
in {WORKERS} OS processes, each with its own pool, concurrency {CONCURRENCY}, claiming
{CLAIM_BATCH} per round trip (`FOR UPDATE SKIP LOCKED`, lease {LEASE_S} s) from one fresh
database. Each run opens a tenant transaction and does one idempotent insert plus an
append-only fire record, so a job that ran twice would show. Jobs were queued before the
workers started (through `core.jobs.enqueue`, one statement per tenant); timed from the
workers' start signal to the last fire. Server autovacuum: {autovacuum} (the jobs table is
analysed once after the inserts, as autovacuum would).

| measure | value |
|---|---:|
| time until all had fired | {r["seconds"]:.1f} s |
| jobs/s | {r["jobs_per_s"]:,.0f} |
| fired / queued | {r["fired"]:,} / {r["jobs"]:,} |
| fired twice | **{r["fired_twice"]}**{verdict} |
| jobs per worker | {per} |
| enqueue, {r["jobs"]:,} rows in {TENANTS} statements | {r["enqueue_s"]:.1f} s ({r["jobs"] / r["enqueue_s"]:,.0f} rows/s) |
| cores used: workers / PostgreSQL / rest of the machine | {c.get("workers", 0):.2f} / {c.get("postgres", 0):.2f} / {c.get("other", 0):.2f} |

Final job states: {states}. Worker counters: {counters}.

What PostgreSQL's active backends were doing (sampled every {ActivitySampler.SAMPLE_S} s;
average number of backends):

| wait | statement | backends |
|---|---|---:|
{activity}
"""


def main() -> None:
    parser = argparse.ArgumentParser(prog="bench.jobs_bench")
    parser.add_argument("--worker", type=int, default=None, help=argparse.SUPPRESS)
    parser.add_argument("--concurrency", type=int, default=CONCURRENCY, help=argparse.SUPPRESS)
    parser.add_argument("--jobs", type=int, default=JOBS, help="how many jobs (default 100,000)")
    args = parser.parse_args()
    if args.worker is not None:
        asyncio.run(worker_main(os.environ["DATABASE_URL"], args.worker, args.concurrency))
    else:
        print(asyncio.run(run(args.jobs)))


if __name__ == "__main__":
    main()
