"""Durable jobs (core/jobs.py) on a real PostgreSQL, with a FixedClock.

The module has a database of its own: other tests' workers (the hub's
delivery jobs) must not claim these jobs, nor these workers theirs."""

from __future__ import annotations

import asyncio
import collections
import logging
import secrets
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit, urlunsplit
from uuid import UUID

import asyncpg
import msgspec
import pytest

from core import actions
from core.clock import FixedClock
from core.config import Settings
from core.db import Database, app_dsn, migrate
from core.jobs import (
    LEASE_S,
    MAX_ATTEMPTS,
    Cancel,
    Job,
    JobWorker,
    NewJob,
    Outcome,
    Retry,
    cancel,
    enqueue,
    exponential_backoff,
)
from tests.conftest import TEST_NOW, with_database


@pytest.fixture(scope="module")
async def jobs_admin(server_dsn: str, settings: Settings) -> AsyncIterator[str]:
    name = f"reppu_jobs_{secrets.token_hex(4)}"
    conn = await asyncpg.connect(server_dsn)
    await conn.execute(f"CREATE DATABASE {name}")
    await conn.close()
    dsn = with_database(server_dsn, name)
    await migrate(dsn, settings)
    try:
        yield dsn
    finally:
        conn = await asyncpg.connect(server_dsn)
        await conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        await conn.close()


async def connect(admin: str, settings: Settings) -> Database:
    return await Database.connect(app_dsn(admin, settings), min_size=1, max_size=10)


@pytest.fixture(scope="module")
async def jdb(jobs_admin: str, settings: Settings) -> AsyncIterator[Database]:
    db = await connect(jobs_admin, settings)
    try:
        yield db
    finally:
        await db.close()


@pytest.fixture(scope="module")
async def tenants(jdb: Database) -> tuple[UUID, UUID]:
    a = await actions.ensure_tenant(jdb, "jobs-a", "Kunta A", "municipality")
    b = await actions.ensure_tenant(jdb, "jobs-b", "Kunta B", "municipality")
    return a, b


@pytest.fixture(autouse=True)
async def empty_queue(jobs_admin: str) -> None:
    conn = await asyncpg.connect(jobs_admin)
    try:
        await conn.execute("DELETE FROM jobs")
    finally:
        await conn.close()


@pytest.fixture
def fixed() -> FixedClock:
    return FixedClock(TEST_NOW)


class Recorder:
    """A handler that records each job it runs and returns what it is told."""

    def __init__(self, *outcomes: Outcome) -> None:
        self.runs: list[Job] = []
        self.outcomes = list(outcomes)

    async def __call__(self, job: Job) -> Outcome:
        self.runs.append(job)
        return self.outcomes.pop(0) if self.outcomes else None

    @property
    def ids(self) -> list[int]:
        return [j.id for j in self.runs]


async def queue(db: Database, tenant: UUID, *jobs: NewJob) -> int:
    async with db.tenant(tenant) as conn:
        return await enqueue(conn, tenant, jobs)


async def rows(db: Database, tenant: UUID) -> dict[str | None, asyncpg.Record]:
    """The tenant's jobs by key."""
    async with db.tenant(tenant) as conn:
        found = await conn.fetch("SELECT * FROM jobs ORDER BY id")
    return {r["key"]: r for r in found}


def job(key: str | None, *, due: timedelta = timedelta(0), kind: str = "k", **kw: Any) -> NewJob:
    return NewJob(kind=kind, key=key, due_at=TEST_NOW + due, **kw)


async def test_due_jobs_run_once_and_not_before(
    jdb: Database, tenants: tuple[UUID, UUID], fixed: FixedClock
) -> None:
    """A job runs when the clock reaches due_at, not before, and once."""
    a, _ = tenants
    mid, pid = uuid.uuid4(), uuid.uuid4()
    payload = {"channel": "push", "n": [1, 2], "deep": {"x": None}}
    await queue(
        jdb,
        a,
        job("now", due=-timedelta(seconds=1), payload=payload, message_id=mid, person_id=pid),
        job("later", due=timedelta(minutes=10)),
        job("later2", due=timedelta(minutes=10)),
    )
    rec = Recorder()
    worker = JobWorker(jdb, fixed, {"k": rec})
    assert await worker.run_due() == 1
    first = rec.runs[0]
    assert (first.tenant_id, first.payload, first.message_id, first.person_id) == (
        a,
        payload,
        mid,
        pid,
    )
    assert first.attempts == 1
    fixed.advance(timedelta(minutes=10) - timedelta(microseconds=1))
    assert await worker.run_due() == 0
    fixed.advance(timedelta(microseconds=1))
    assert await worker.run_due() == 2
    assert await worker.run_due() == 0
    assert len(set(rec.ids)) == len(rec.ids) == 3
    states = await rows(jdb, a)
    assert {k: r["state"] for k, r in states.items()} == dict.fromkeys(
        ("now", "later", "later2"), "done"
    )
    assert states["later"]["finished_at"] == fixed.now()
    assert worker.ran == 3 and worker.retried == worker.failed == 0


async def test_a_key_queues_once_per_tenant_and_kind(
    jdb: Database, tenants: tuple[UUID, UUID], fixed: FixedClock
) -> None:
    """Same (kind, key) twice — in one call, in another transaction, after it ran — is one
    job; no key never dedupes; another kind or tenant is another job."""
    a, b = tenants
    assert await queue(jdb, a, job("k1"), job("k1"), job(None), job(None)) == 3
    assert await queue(jdb, a, job("k1")) == 0
    assert await queue(jdb, a, job("k1", kind="other")) == 1
    assert await queue(jdb, b, job("k1")) == 1
    await JobWorker(jdb, fixed, {"k": Recorder(), "other": Recorder()}).run_due()
    assert await queue(jdb, a, job("k1")) == 0
    assert await queue(jdb, a) == 0


async def test_rolled_back_transaction_queues_nothing(
    jdb: Database, tenants: tuple[UUID, UUID], fixed: FixedClock
) -> None:
    """Jobs queued in a transaction that rolls back do not exist (invariant 3)."""
    a, _ = tenants

    class Boom(Exception):
        pass

    with pytest.raises(Boom):
        async with jdb.tenant(a) as conn:
            assert await enqueue(conn, a, [job("x"), job("y")]) == 2
            raise Boom
    rec = Recorder()
    assert await JobWorker(jdb, fixed, {"k": rec}).run_due() == 0
    assert await rows(jdb, a) == {}


async def test_naive_due_at_is_refused(jdb: Database, tenants: tuple[UUID, UUID]) -> None:
    """A due_at without a time zone is an error, not a guess."""
    a, _ = tenants
    with pytest.raises(ValueError, match="timezone"):
        await queue(jdb, a, NewJob(kind="k", due_at=TEST_NOW.replace(tzinfo=None)))


async def test_cancel_by_message_person_and_kinds(
    jdb: Database, tenants: tuple[UUID, UUID], fixed: FixedClock
) -> None:
    """cancel() picks the message's jobs, narrowed by person and kinds; others still run."""
    a, _ = tenants
    m, other = uuid.uuid4(), uuid.uuid4()
    p1, p2 = uuid.uuid4(), uuid.uuid4()
    await queue(
        jdb,
        a,
        *(
            job(f"{k}-{n}", kind=k, message_id=m, person_id=p)
            for k in ("push", "remind")
            for n, p in (("p1", p1), ("p2", p2))
        ),
        job("summary", kind="push", message_id=m),
        job("other", kind="push", message_id=other, person_id=p1),
    )
    async with jdb.tenant(a) as conn:
        assert await cancel(conn, message_id=m, person_id=p1, kinds=["push"]) == 1
        assert await cancel(conn, message_id=m, person_id=p2) == 2
        assert await cancel(conn, message_id=m, kinds=["nothing"]) == 0
        assert await cancel(conn, message_id=m) == 2  # remind-p1 and summary
        assert await cancel(conn, message_id=m) == 0
    rec = Recorder()
    assert await JobWorker(jdb, fixed, {"push": rec, "remind": rec}).run_due() == 1
    assert [j.message_id for j in rec.runs] == [other]
    states = await rows(jdb, a)
    assert {k for k, r in states.items() if r["state"] == "cancelled"} == {
        "push-p1",
        "push-p2",
        "remind-p1",
        "remind-p2",
        "summary",
    }


async def test_a_job_cancelled_while_running_is_not_retried(
    jdb: Database, tenants: tuple[UUID, UUID], fixed: FixedClock
) -> None:
    """Cancelling a running job stands: the handler's Retry is not recorded."""
    a, _ = tenants
    m = uuid.uuid4()
    await queue(jdb, a, job("x", message_id=m))

    async def handler(j: Job) -> Outcome:
        async with jdb.tenant(j.tenant_id) as conn:  # e.g. the guardian read it meanwhile
            assert await cancel(conn, message_id=m) == 1
        return Retry(fixed.now(), "temporary")

    worker = JobWorker(jdb, fixed, {"k": handler})
    assert await worker.run_due() == 1
    assert worker.superseded == 1
    assert (await rows(jdb, a))["x"]["state"] == "cancelled"


async def test_handler_cancel_result(
    jdb: Database, tenants: tuple[UUID, UUID], fixed: FixedClock
) -> None:
    """A handler's Cancel ends the job as 'cancelled' with its reason."""
    a, _ = tenants
    await queue(jdb, a, job("x"))
    assert await JobWorker(jdb, fixed, {"k": Recorder(Cancel("read"))}).run_due() == 1
    row = (await rows(jdb, a))["x"]
    assert (row["state"], row["last_error"]) == ("cancelled", "read")


async def test_retry_reschedules(
    jdb: Database, tenants: tuple[UUID, UUID], fixed: FixedClock
) -> None:
    """Retry puts the job back, due at `at`, with its error; it runs again then."""
    a, _ = tenants
    await queue(jdb, a, job("x"))
    rec = Recorder(Retry(TEST_NOW + timedelta(minutes=5), "busy"))
    worker = JobWorker(jdb, fixed, {"k": rec})
    assert await worker.run_due() == 1
    row = (await rows(jdb, a))["x"]
    assert (row["state"], row["due_at"], row["last_error"], row["attempts"]) == (
        "pending",
        TEST_NOW + timedelta(minutes=5),
        "busy",
        1,
    )
    assert row["locked_until"] is None and row["finished_at"] is None
    fixed.advance(timedelta(minutes=4))
    assert await worker.run_due() == 0
    fixed.advance(timedelta(minutes=1))
    assert await worker.run_due() == 1
    row = (await rows(jdb, a))["x"]
    assert (row["state"], row["attempts"]) == ("done", 2)
    assert [j.attempts for j in rec.runs] == [1, 2]
    assert worker.retried == 1


async def test_retrying_forever_fails_at_max_attempts(
    jdb: Database, tenants: tuple[UUID, UUID], fixed: FixedClock
) -> None:
    """Retry results count toward MAX_ATTEMPTS: the last one makes the job 'failed'."""
    a, _ = tenants
    await queue(jdb, a, job("x"))

    async def again(j: Job) -> Outcome:
        return Retry(fixed.now(), f"try {j.attempts}")

    worker = JobWorker(jdb, fixed, {"k": again})
    assert await worker.run_due() == MAX_ATTEMPTS
    row = (await rows(jdb, a))["x"]
    assert (row["state"], row["attempts"], row["last_error"]) == (
        "failed",
        MAX_ATTEMPTS,
        f"try {MAX_ATTEMPTS}",
    )
    assert (worker.retried, worker.failed) == (MAX_ATTEMPTS - 1, 1)


async def test_raising_handler_backs_off_then_fails(
    jdb: Database, tenants: tuple[UUID, UUID], fixed: FixedClock, caplog: pytest.LogCaptureFixture
) -> None:
    """A raise is retried after backoff(attempts) until MAX_ATTEMPTS, then 'failed'; the
    logs and last_error name the exception type, never its text."""
    a, _ = tenants
    await queue(jdb, a, job("x"))

    async def boom(j: Job) -> Outcome:
        raise ValueError("Dear guardian, the body of a message")

    worker = JobWorker(jdb, fixed, {"k": boom}, backoff=lambda n: timedelta(minutes=n))
    with caplog.at_level(logging.WARNING, logger="reppu.jobs"):
        for attempt in range(1, MAX_ATTEMPTS):
            assert await worker.run_due() == 1
            row = (await rows(jdb, a))["x"]
            assert (row["state"], row["attempts"], row["last_error"]) == (
                "pending",
                attempt,
                "ValueError",
            )
            assert row["due_at"] == fixed.now() + timedelta(minutes=attempt)
            fixed.advance(timedelta(minutes=attempt) - timedelta(seconds=1))
            assert await worker.run_due() == 0
            fixed.advance(timedelta(seconds=1))
        assert await worker.run_due() == 1
    row = (await rows(jdb, a))["x"]
    assert (row["state"], row["attempts"], row["finished_at"]) == (
        "failed",
        MAX_ATTEMPTS,
        fixed.now(),
    )
    assert (worker.ran, worker.retried, worker.failed) == (MAX_ATTEMPTS, MAX_ATTEMPTS - 1, 1)
    assert len(caplog.records) == MAX_ATTEMPTS
    assert all("ValueError" in r.getMessage() for r in caplog.records)
    assert not any("guardian" in r.getMessage() for r in caplog.records)
    assert all(r.exc_info is None for r in caplog.records)


def test_default_backoff_is_exponential_with_jitter() -> None:
    """The default backoff doubles per attempt, jittered down to half, capped at an hour."""
    for n, ceiling in ((1, 5), (2, 10), (4, 40), (30, 3600)):
        seen = {exponential_backoff(n).total_seconds() for _ in range(50)}
        assert all(ceiling / 2 <= s <= ceiling for s in seen), (n, seen)
        assert len(seen) > 1


async def test_workers_claim_only_their_kinds(
    jdb: Database, tenants: tuple[UUID, UUID], fixed: FixedClock
) -> None:
    """Workers with different handlers share the table: each claims only its
    own kinds, and a job of another kind stays pending for its worker."""
    a, _ = tenants
    await queue(jdb, a, job("x", kind="nobody"), job("y", kind="k"))
    mine, theirs = Recorder(), Recorder()
    worker = JobWorker(jdb, fixed, {"k": mine})
    assert await worker.run_due() == 1
    state = await rows(jdb, a)
    assert state["x"]["state"] == "pending" and state["x"]["attempts"] == 0
    assert state["y"]["state"] == "done" and worker.failed == 0
    other = JobWorker(jdb, fixed, {"nobody": theirs})
    assert await other.run_due() == 1
    assert (await rows(jdb, a))["x"]["state"] == "done"
    assert len(mine.runs) == 1 and len(theirs.runs) == 1


async def crash_claim(db: Database, fixed: FixedClock) -> list[asyncpg.Record]:
    """Claim due jobs as a worker that then dies without finishing them."""
    async with db.global_tx() as conn:
        return await conn.fetch(
            "SELECT * FROM reppu_claim_jobs_of($1, 100, $2, $3)", ["k"], fixed.now(), LEASE_S
        )


async def test_an_expired_lease_is_claimed_again(
    jdb: Database, tenants: tuple[UUID, UUID], fixed: FixedClock
) -> None:
    """A crashed worker's job waits out the lease, then runs (at least once); the crashed
    claim's late finish then changes nothing."""
    a, _ = tenants
    await queue(jdb, a, job("x"))
    [claimed] = await crash_claim(jdb, fixed)
    rec = Recorder()
    worker = JobWorker(jdb, fixed, {"k": rec})
    assert await worker.run_due() == 0
    fixed.advance(timedelta(seconds=LEASE_S))
    assert await worker.run_due() == 0  # locked_until < now: not yet at the instant itself
    fixed.advance(timedelta(microseconds=1))
    assert await worker.run_due() == 1
    assert rec.runs[0].attempts == 2
    async with jdb.global_tx() as conn:
        late = await conn.fetchval(
            "SELECT reppu_finish_job($1, 1, 'retry', $2, 'late', $2)", claimed["id"], fixed.now()
        )
    assert late is False
    row = (await rows(jdb, a))["x"]
    assert (row["state"], row["attempts"], row["last_error"]) == ("done", 2, None)


async def test_a_late_finish_cannot_end_another_claim(
    jdb: Database, tenants: tuple[UUID, UUID], fixed: FixedClock
) -> None:
    """While a second claim runs, the first (expired) claim's finish is fenced off."""
    a, _ = tenants
    await queue(jdb, a, job("x"))
    [first] = await crash_claim(jdb, fixed)
    fixed.advance(timedelta(seconds=LEASE_S + 1))
    [second] = await crash_claim(jdb, fixed)
    assert (first["attempts"], second["attempts"]) == (1, 2)
    async with jdb.global_tx() as conn:
        finish = "SELECT reppu_finish_job($1, $2, 'done', NULL, NULL, $3)"
        assert await conn.fetchval(finish, first["id"], 1, fixed.now()) is False
        assert (await rows(jdb, a))["x"]["state"] == "running"
        assert await conn.fetchval(finish, first["id"], 2, fixed.now()) is True
    assert (await rows(jdb, a))["x"]["state"] == "done"


async def test_a_job_whose_worker_keeps_dying_fails(
    jdb: Database, tenants: tuple[UUID, UUID], fixed: FixedClock
) -> None:
    """Expired leases count as attempts: after MAX_ATTEMPTS the job fails without a run."""
    a, _ = tenants
    await queue(jdb, a, job("x"))
    for _ in range(MAX_ATTEMPTS):
        assert len(await crash_claim(jdb, fixed)) == 1
        fixed.advance(timedelta(seconds=LEASE_S + 1))
    rec = Recorder()
    assert await JobWorker(jdb, fixed, {"k": rec}).run_due() == 0
    assert rec.runs == []
    row = (await rows(jdb, a))["x"]
    assert (row["state"], row["attempts"]) == ("failed", MAX_ATTEMPTS + 1)


async def test_jobs_not_started_early_in_the_lease_are_handed_back(
    jdb: Database, tenants: tuple[UUID, UUID], fixed: FixedClock
) -> None:
    """A worker that falls behind hands the rest of its batch back, uncounted, rather
    than start jobs whose lease may expire under them."""
    a, _ = tenants
    await queue(jdb, a, *(job(f"j{i}") for i in range(10)))
    rec = Recorder()

    async def slow_first(j: Job) -> Outcome:
        if not rec.runs:
            fixed.advance(timedelta(seconds=LEASE_S / 4))
        return await rec(j)

    worker = JobWorker(jdb, fixed, {"k": slow_first}, batch=10, concurrency=1)
    assert await worker.run_due() == 10
    assert worker.released == 9
    assert sorted(rec.ids) == sorted(set(rec.ids))
    assert [j.attempts for j in rec.runs] == [1] * 10
    assert {r["state"] for r in (await rows(jdb, a)).values()} == {"done"}


async def test_two_workers_run_2000_jobs_exactly_once(
    jobs_admin: str, settings: Settings, tenants: tuple[UUID, UUID], fixed: FixedClock
) -> None:
    """Two workers with their own pools share 2,000 due jobs: each runs exactly once."""
    a, b = tenants
    db1, db2 = await connect(jobs_admin, settings), await connect(jobs_admin, settings)
    try:
        for tenant in (a, b):
            await queue(
                db1,
                tenant,
                *(job(f"{tenant}-{i}", due=-timedelta(seconds=i % 7)) for i in range(1000)),
            )
        fired: collections.Counter[int] = collections.Counter()

        async def handler(j: Job) -> Outcome:
            fired[j.id] += 1
            await asyncio.sleep(0)  # let the other worker's claims interleave
            return None

        w1 = JobWorker(db1, fixed, {"k": handler}, batch=50)
        w2 = JobWorker(db2, fixed, {"k": handler}, batch=50)
        n1, n2 = await asyncio.gather(w1.run_due(), w2.run_due())
    finally:
        await db1.close()
        await db2.close()
    assert n1 + n2 == 2000 and n1 > 0 and n2 > 0
    assert len(fired) == 2000 and set(fired.values()) == {1}
    for tenant in (a, b):
        assert {r["state"] for r in (await rows_admin(jobs_admin, tenant))} == {"done"}


async def rows_admin(admin: str, tenant: UUID) -> list[asyncpg.Record]:
    conn = await asyncpg.connect(admin)
    try:
        return await conn.fetch("SELECT * FROM jobs WHERE tenant_id = $1", tenant)
    finally:
        await conn.close()


async def test_the_app_role_sees_only_its_tenants_jobs(
    jdb: Database, tenants: tuple[UUID, UUID]
) -> None:
    """RLS on jobs: a tenant transaction sees and changes only its own jobs; no tenant,
    none; a job for another tenant cannot be written; jobs cannot be deleted."""
    a, b = tenants
    m = uuid.uuid4()
    await queue(jdb, a, job("a1", message_id=m), job("a2"))
    await queue(jdb, b, job("b1", message_id=m))
    async with jdb.tenant(a) as conn:
        assert {r["tenant_id"] for r in await conn.fetch("SELECT tenant_id FROM jobs")} == {a}
    async with jdb.global_tx() as conn:
        assert await conn.fetchval("SELECT count(*) FROM jobs") == 0
    with pytest.raises(asyncpg.InsufficientPrivilegeError):
        async with jdb.tenant(a) as conn:
            await enqueue(conn, b, [job("intruder")])
    with pytest.raises(asyncpg.InsufficientPrivilegeError):
        async with jdb.tenant(a) as conn:
            await conn.execute("DELETE FROM jobs")
    async with jdb.tenant(b) as conn:
        assert await cancel(conn, message_id=m) == 1
    assert (await rows(jdb, a))["a1"]["state"] == "pending"


async def test_jobs_survive_a_restart(
    jobs_admin: str, settings: Settings, tenants: tuple[UUID, UUID], fixed: FixedClock
) -> None:
    """Jobs queued by one process are run by a new pool and worker after a restart."""
    a, _ = tenants
    before = await connect(jobs_admin, settings)
    try:
        await queue(before, a, job("x", due=timedelta(hours=1)))
        assert await JobWorker(before, fixed, {"k": Recorder()}).run_due() == 0
    finally:
        await before.close()
    fixed.advance(timedelta(hours=1))
    after = await connect(jobs_admin, settings)
    try:
        rec = Recorder()
        assert await JobWorker(after, fixed, {"k": rec}).run_due() == 1
        assert rec.runs[0].tenant_id == a
    finally:
        await after.close()


async def test_run_wakes_on_demand_and_stops_handing_back_what_it_holds(
    jdb: Database, tenants: tuple[UUID, UUID], fixed: FixedClock
) -> None:
    """run(): wake() starts a due job at once; cancelling the task records what it
    finished and hands an interrupted job back, uncounted."""
    a, _ = tenants
    ran, started, never = asyncio.Event(), asyncio.Event(), asyncio.Event()

    async def quick(j: Job) -> Outcome:
        ran.set()
        return None

    async def stuck(j: Job) -> Outcome:
        started.set()
        await never.wait()
        return None

    worker = JobWorker(jdb, fixed, {"quick": quick, "stuck": stuck})
    task = asyncio.create_task(worker.run())
    try:
        await queue(jdb, a, job("q", kind="quick"))
        worker.wake()
        async with asyncio.timeout(10):  # a bound for a broken build, not a wait
            await ran.wait()
        await queue(jdb, a, job("s", kind="stuck"))
        worker.wake()
        async with asyncio.timeout(10):
            await started.wait()
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    states = await rows(jdb, a)
    assert (states["q"]["state"], states["q"]["attempts"]) == ("done", 1)
    assert (states["s"]["state"], states["s"]["attempts"]) == ("pending", 0)
    assert worker.released == 1


async def test_workers_claim_under_a_non_superuser_owner(
    server_dsn: str, settings: Settings, fixed: FixedClock
) -> None:
    """With an owner that is not superuser (row-level security binds it too, as on a
    managed PostgreSQL), the claim and finish functions still see every tenant's jobs."""
    owner = f"reppu_jobs_owner_{secrets.token_hex(3)}"
    name = f"reppu_jobs_owned_{secrets.token_hex(3)}"
    conn = await asyncpg.connect(server_dsn)
    await conn.execute(f"CREATE ROLE {owner} LOGIN CREATEROLE NOSUPERUSER NOBYPASSRLS")
    await conn.execute(f"CREATE DATABASE {name} OWNER {owner}")
    await conn.close()
    parts = urlsplit(with_database(server_dsn, name))
    host = parts.netloc.rpartition("@")[2]
    owned = urlunsplit((parts.scheme, f"{owner}@{host}", parts.path, parts.query, ""))
    s = msgspec.structs.replace(settings, app_role=f"{owner}_app")
    try:
        await migrate(owned, s)
        db = await Database.connect(app_dsn(owned, s), min_size=1, max_size=2)
        try:
            a = await actions.ensure_tenant(db, "owned-a", "A", "municipality")
            b = await actions.ensure_tenant(db, "owned-b", "B", "municipality")
            await queue(db, a, job("x"))
            await queue(db, b, job("y"), job("z"))
            rec = Recorder(Retry(TEST_NOW, "again"))
            assert await JobWorker(db, fixed, {"k": rec}).run_due() == 4
            assert {j.tenant_id for j in rec.runs} == {a, b}
            assert {r["state"] for r in (await rows(db, b)).values()} == {"done"}
        finally:
            await db.close()
    finally:
        conn = await asyncpg.connect(server_dsn)
        await conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        await conn.execute(f"DROP ROLE IF EXISTS {owner}_app")
        await conn.execute(f"DROP ROLE IF EXISTS {owner}")
        await conn.close()
