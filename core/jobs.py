"""Durable jobs in PostgreSQL: escalations, reminders, digests, channel sends.

The guarantees, in order of how much callers rely on them:

* **Queued with the caller's transaction.** `enqueue` inserts into `jobs` on
  the caller's connection, inside its tenant transaction (under row-level
  security): a transaction that rolls back leaves no job behind, one that
  commits leaves all of them (ARCHITECTURE.md invariant 3).
* **Idempotent by key.** A job with a `key` is queued once per
  (tenant, kind, key) — ever, also after it has run. `key=None`: no dedupe.
* **At least once.** A worker claims due jobs with `FOR UPDATE SKIP LOCKED`
  (any number of workers on any number of nodes) and a lease of `LEASE_S`.
  If it dies holding one, the lease expires and another worker runs the job
  again. Handlers must therefore be idempotent: look at the current state
  (read? acknowledged? already sent?) and record their effect before they
  return, so that a second run finds it and does nothing.
* **Not before due.** A job runs when the worker's injected clock reaches
  `due_at`; the database's own clock decides nothing (tests move a FixedClock).
* **Cancellable by domain.** `cancel` marks a message's (person's, kinds')
  pending and running jobs cancelled in the caller's transaction. A handler
  already running is not interrupted — it may still take effect — but
  whatever it returns is no longer recorded, so it is not retried.
* **Bounded.** A job runs at most `MAX_ATTEMPTS` times (a handler's `Retry`,
  a raise, a lease that expired: each claim counts), then it is 'failed'.
  A handler gets `lease_s / 2` seconds; a worker starts a claimed job only in
  the first quarter of its lease and hands the rest of its batch back, so a
  live worker's job is finished before its lease expires and is not run twice
  side by side.

The states: pending → running → done | cancelled | failed, or back to
pending (a retry, or a job handed back). Claiming and finishing cross
tenants, so they go through the SECURITY DEFINER functions of migration 0004
on a connection with no tenant set (`Database.global_tx`); handlers open
their own tenant transactions.

Logs name a job by kind and id and an error by its exception type: never a
payload, never an exception's text (which may quote a message or an address).
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any, Literal, TypeAlias
from uuid import UUID

import asyncpg
import msgspec

from core.clock import Clock
from core.db import Connection, Database

log = logging.getLogger("reppu.jobs")

#: A job claimed this many times is 'failed' instead of retried.
MAX_ATTEMPTS = 8
#: Seconds a claim lasts: after that, any worker may claim the job again.
LEASE_S = 60
#: Jobs claimed per round trip.
CLAIM_BATCH = 100
#: Seconds an idle worker waits before looking again (`wake()` cuts it short).
POLL_S = 1.0
#: Default backoff after a raise: BACKOFF_BASE_S doubling per attempt, capped.
BACKOFF_BASE_S = 5.0
BACKOFF_MAX_S = 3600.0
#: `last_error` is cut to this many characters.
MAX_ERROR_CHARS = 500


class NewJob(msgspec.Struct, frozen=True, kw_only=True):
    """A job to queue: `kind` picks the handler, `key` dedupes (per tenant and
    kind), `message_id`/`person_id` are what `cancel` finds it by."""

    kind: str
    due_at: datetime
    key: str | None = None
    payload: dict[str, Any] = msgspec.field(default_factory=dict)
    message_id: UUID | None = None
    person_id: UUID | None = None


class Job(msgspec.Struct, frozen=True, kw_only=True):
    """A claimed job as its handler sees it. `attempts` counts this run."""

    id: int
    tenant_id: UUID
    kind: str
    payload: dict[str, Any]
    message_id: UUID | None
    person_id: UUID | None
    due_at: datetime
    attempts: int


class Retry(msgspec.Struct, frozen=True):
    """Handler result: run again at `at` (counts toward MAX_ATTEMPTS)."""

    at: datetime
    error: str


class Cancel(msgspec.Struct, frozen=True):
    """Handler result: nothing to do any more (read, acknowledged, gone)."""

    reason: str = ""


#: A handler's result; None: done.
Outcome: TypeAlias = Retry | Cancel | None
Handler: TypeAlias = Callable[[Job], Awaitable[Outcome]]

_State: TypeAlias = Literal["done", "failed", "cancelled", "retry", "release"]
_encode = msgspec.json.Encoder().encode
_decode_payload = msgspec.json.Decoder(dict[str, Any]).decode


def exponential_backoff(
    attempts: int, base_s: float = BACKOFF_BASE_S, max_s: float = BACKOFF_MAX_S
) -> timedelta:
    """base_s · 2^(attempts−1), at most max_s, of which a random 50–100 %:
    jobs that failed together do not all return together."""
    ceiling = min(max_s, base_s * 2 ** max(0, min(attempts - 1, 30)))
    return timedelta(seconds=ceiling * random.uniform(0.5, 1.0))


def enqueue_sql(tenant: str, first: int, *, only_if: str = "") -> str:
    """The INSERT of `enqueue`, to be run on its own or as a data-modifying CTE
    of the caller's statement (the publish path queues its jobs in the same
    statement as its message and inbox rows: fewer round trips). `tenant` is
    the SQL of the tenant id (a parameter like "$1"); the jobs' six arrays are
    parameters `first` … `first + 5`, in the order of `enqueue_args`;
    `only_if`, when given, is an SQL condition without which nothing is queued."""
    a = [f"${first + i}" for i in range(6)]
    return (
        "INSERT INTO jobs (tenant_id, kind, key, payload, message_id, person_id, due_at) "
        f"SELECT {tenant}, u.kind, u.key, u.payload, u.message_id, u.person_id, u.due_at "
        f"FROM unnest({a[0]}::text[], {a[1]}::text[], {a[2]}::jsonb[], {a[3]}::uuid[], "
        f"            {a[4]}::uuid[], {a[5]}::timestamptz[]) "
        "AS u(kind, key, payload, message_id, person_id, due_at) "
        + (f"WHERE {only_if} " if only_if else "")
        + "ON CONFLICT (tenant_id, kind, key) DO NOTHING"
    )


def enqueue_args(jobs: Sequence[NewJob]) -> list[list[Any]]:
    """The six arrays `enqueue_sql` takes, checked (due times must be aware)."""
    for j in jobs:
        if j.due_at.tzinfo is None:
            raise ValueError(f"job {j.kind}: due_at must be timezone-aware")
    return [
        [j.kind for j in jobs],
        [j.key for j in jobs],
        [_encode(j.payload).decode() for j in jobs],
        [j.message_id for j in jobs],
        [j.person_id for j in jobs],
        [j.due_at for j in jobs],
    ]


async def enqueue(conn: Connection, tenant_id: UUID, jobs: Sequence[NewJob]) -> int:
    """Queue `jobs` in the caller's tenant transaction (`Database.tenant`), in
    one statement. A job whose (kind, key) is already queued — or was, or
    comes twice in `jobs` — is skipped. Returns how many were inserted."""
    if not jobs:
        return 0
    status = await conn.execute(enqueue_sql("$1", 2), tenant_id, *enqueue_args(jobs))
    return int(status.rsplit(" ", 1)[1])


async def cancel(
    conn: Connection,
    *,
    message_id: UUID,
    person_id: UUID | None = None,
    kinds: Sequence[str] | None = None,
) -> int:
    """Cancel the message's live jobs (only `person_id`'s, only `kinds`, when
    given) in the caller's tenant transaction. Running ones too: their
    handler is not stopped, but its outcome is then not recorded, so a
    cancelled job is never retried. Returns how many were cancelled."""
    # finished_at is a record only, never compared with the clock: the
    # database's now() (the caller's transaction start) is good enough.
    status = await conn.execute(
        "UPDATE jobs SET state = 'cancelled', locked_until = NULL, finished_at = now() "
        "WHERE message_id = $1 AND state IN ('pending', 'running') "
        "AND ($2::uuid IS NULL OR person_id = $2) AND ($3::text[] IS NULL OR kind = ANY($3))",
        message_id,
        person_id,
        None if kinds is None else list(kinds),
    )
    return int(status.rsplit(" ", 1)[1])


class _Finish(msgspec.Struct, frozen=True):
    """What to record for one claimed job (reppu_finish_jobs)."""

    id: int
    attempts: int
    state: _State
    due_at: datetime | None = None
    error: str | None = None


class JobWorker:
    """Claims due jobs of its handlers' kinds and runs them: `run_due()` once
    (tests, with a FixedClock), `run()` forever (a server's background task).
    Several workers with different handlers (the hub's delivery, the
    scheduling module's solver) share the table, each claiming only its kinds.

    Counters for metrics: `ran` (handler calls), `retried`, `failed`,
    `released` (claimed but handed back unstarted or interrupted), and
    `superseded` (outcomes not recorded: the job was cancelled meanwhile, or
    its lease expired and another worker claimed it)."""

    def __init__(
        self,
        db: Database,
        clock: Clock,
        handlers: Mapping[str, Handler],
        *,
        batch: int = CLAIM_BATCH,
        lease_s: int = LEASE_S,
        concurrency: int = 8,
        backoff: Callable[[int], timedelta] | None = None,
    ) -> None:
        if batch < 1 or concurrency < 1 or lease_s < 4:
            raise ValueError("batch and concurrency must be positive, lease_s at least 4")
        self.db = db
        self.clock = clock
        self.handlers = dict(handlers)
        self.batch = batch
        self.lease_s = lease_s
        self.concurrency = concurrency
        self.backoff = backoff or exponential_backoff
        #: a handler is cancelled after this long (then retried like a raise)
        self.handler_timeout_s = lease_s / 2
        #: a claimed job not started by then is handed back (see the module doc)
        self.start_within = timedelta(seconds=lease_s / 4)
        self.ran = 0
        self.retried = 0
        self.failed = 0
        self.released = 0
        self.superseded = 0
        self._wake = asyncio.Event()

    def wake(self) -> None:
        """Look for due jobs now rather than after POLL_S (call after commit)."""
        self._wake.set()

    async def run(self) -> None:
        """Run due jobs until cancelled. An error (the database unreachable) is
        logged and the worker tries again after POLL_S; claimed jobs whose
        outcome it could not record run again when their lease expires.
        Cancelling it records what the jobs in hand came to (those
        interrupted are handed back) before it ends."""
        while True:
            try:
                await self.run_due()
            except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
                log.warning("job worker: %s; trying again in %s s", type(exc).__name__, POLL_S)
            except Exception as exc:
                # a bug, not the database: still no reason to stop every job
                log.error("job worker: %s; trying again in %s s", type(exc).__name__, POLL_S)
            try:
                async with asyncio.timeout(POLL_S):
                    await self._wake.wait()
            except TimeoutError:
                pass

    async def run_due(self) -> int:
        """Claim and run the jobs due at `clock.now()`, batch after batch,
        until none are left; returns how many handlers ran."""
        ran = self.ran
        while True:
            # Cleared before the claim: a wake() for a job committed after
            # this point makes run() look again at once.
            self._wake.clear()
            claimed_at = self.clock.now()
            jobs = await self._claim(claimed_at)
            if not jobs:
                return self.ran - ran
            await self._run_batch(jobs, claimed_at)

    async def _claim(self, now: datetime) -> list[Job]:
        async with self.db.global_tx() as conn:
            # only the kinds this worker has handlers for: other modules'
            # workers share the table (migration 0007)
            rows = await conn.fetch(
                "SELECT * FROM reppu_claim_jobs_of($1, $2, $3, $4)",
                list(self.handlers),
                self.batch,
                now,
                self.lease_s,
            )
        return [
            Job(
                id=r["id"],
                tenant_id=r["tenant_id"],
                kind=r["kind"],
                payload=_decode_payload(r["payload"]),
                message_id=r["message_id"],
                person_id=r["person_id"],
                due_at=r["due_at"],
                attempts=r["attempts"],
            )
            for r in rows
        ]

    async def _run_batch(self, jobs: list[Job], claimed_at: datetime) -> None:
        """Run a claimed batch, `concurrency` handlers at a time, then record
        every outcome in one round trip."""
        done: dict[int, _Finish] = {}
        todo = iter(jobs)  # shared by the lanes: each takes the next job

        async def lane() -> None:
            for job in todo:
                if self.clock.now() - claimed_at >= self.start_within:
                    done[job.id] = _Finish(job.id, job.attempts, "release")
                    self.released += 1
                else:
                    done[job.id] = await self._run_one(job)

        def unfinished() -> list[_Finish]:
            for job in jobs:
                if job.id not in done:
                    done[job.id] = _Finish(job.id, job.attempts, "release")
                    self.released += 1
            return list(done.values())

        try:
            # a TaskGroup, not gather: when cancelled it waits for the lanes
            # to end, so `done` is final when it is read below
            async with asyncio.TaskGroup() as lanes:
                for _ in range(min(self.concurrency, len(jobs))):
                    lanes.create_task(lane())
        except BaseException:
            # Cancelled (run() is stopping), or a bug: hand back what has no
            # outcome — unstarted or interrupted — rather than leave it to
            # wait out its lease, and record the rest, whatever cancels us
            # again. A failure to record must not swallow the cancellation:
            # the leases expire and the jobs run again (at least once).
            try:
                await asyncio.shield(self._finish(unfinished()))
            except Exception as exc:
                log.warning("job worker: outcomes not recorded: %s", type(exc).__name__)
            raise
        await self._finish(unfinished())

    async def _run_one(self, job: Job) -> _Finish:
        handler = self.handlers.get(job.kind)
        if handler is None:
            log.error("job %s id=%d: no handler for this kind", job.kind, job.id)
            return self._failed(job, f"no handler for kind {job.kind!r}")
        if job.attempts > MAX_ATTEMPTS:
            # only leases that expired get here (a finished attempt decides
            # itself): a job whose worker keeps dying is not run once more
            log.error("job %s id=%d: lease expired too often", job.kind, job.id)
            return self._failed(job, "lease expired too often")
        try:
            async with asyncio.timeout(self.handler_timeout_s):
                outcome = await handler(job)
        except Exception as exc:
            # the type only: an exception's text may quote what it was sending
            error = type(exc).__name__
            self.ran += 1
            if job.attempts >= MAX_ATTEMPTS:
                log.error("job %s id=%d raised %s: failed", job.kind, job.id, error)
                return self._failed(job, error)
            log.warning(
                "job %s id=%d raised %s (attempt %d)", job.kind, job.id, error, job.attempts
            )
            return self._retry(job, self.clock.now() + self.backoff(job.attempts), error)
        self.ran += 1
        match outcome:
            case None:
                return _Finish(job.id, job.attempts, "done")
            case Retry(at=at, error=error):
                if job.attempts >= MAX_ATTEMPTS:
                    log.error("job %s id=%d: attempt %d, failed", job.kind, job.id, job.attempts)
                    return self._failed(job, error)
                return self._retry(job, at, error)
            case Cancel(reason=reason):
                note = reason[:MAX_ERROR_CHARS] or None
                return _Finish(job.id, job.attempts, "cancelled", error=note)
            case _:
                log.error("job %s id=%d: handler returned no Outcome", job.kind, job.id)
                return self._failed(job, f"handler returned {type(outcome).__name__}")

    def _retry(self, job: Job, at: datetime, error: str) -> _Finish:
        self.retried += 1
        return _Finish(job.id, job.attempts, "retry", at, error[:MAX_ERROR_CHARS])

    def _failed(self, job: Job, error: str) -> _Finish:
        self.failed += 1
        return _Finish(job.id, job.attempts, "failed", error=error[:MAX_ERROR_CHARS])

    async def _finish(self, outcomes: list[_Finish]) -> None:
        if not outcomes:
            return
        async with self.db.global_tx() as conn:
            updated = await conn.fetch(
                "SELECT * FROM reppu_finish_jobs($1, $2, $3, $4, $5, $6)",
                [f.id for f in outcomes],
                [f.attempts for f in outcomes],
                [f.state for f in outcomes],
                [f.due_at for f in outcomes],
                [f.error for f in outcomes],
                self.clock.now(),
            )
        self.superseded += len(outcomes) - len(updated)
