"""Timetable drafts and solves: the only place that changes their state.

A *draft* is a school's timetabling problem for a period (`model.Instance`),
imported from a FET file. A *solve* runs the CP-SAT solver on it in the
background:

* `start_solve` writes the solve row and the durable job `timetable.solve`
  in one transaction (nothing runs for a request that did not commit).
* The scheduling module's own job worker (`SOLVE_WORKERS` per node, so a node's
  cores are not all taken by solves) claims the job and runs `SolveRunner`:
  the solver in a thread, its progress — the best soft score so far — saved on
  the row and sent live to the person who started it through the hub
  (`Hub.signal`, kind `timetable.solve`), at most every `PROGRESS_INTERVAL_S`.
* `stop_solve` sets `stop_requested`; whichever node runs the solve sees it
  within `STOP_POLL_S` and stops the solver, which keeps its best timetable.
* At least once: if a node dies mid-solve, the job's lease (longer than the
  largest time limit) expires and another worker runs the solve again from
  the start. A solve already in a final state is not run again.

Only the principal and the secretary of the draft's school may create drafts,
start, watch and stop solves: timetables name teachers and groups and are
staff data until published.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import tempfile
import threading
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, Final
from uuid import UUID, uuid4

import msgspec

from core.auth import Principal
from core.clock import Clock
from core.db import Connection, Database
from core.errors import BadRequest, Conflict, Forbidden, NotFound
from core.jobs import Cancel, Job, NewJob, Outcome, enqueue
from scheduling.model import Instance, Timetable

log = logging.getLogger("reppu.scheduling")

#: the job kind that runs a solve
SOLVE_JOB: Final = "timetable.solve"
#: largest time limit a solve may ask for, in seconds
MAX_TIME_LIMIT_S: Final = 1800
#: CP-SAT workers a solve may ask for
MAX_WORKERS: Final = 4
#: solves one node runs at once (each takes `workers` cores)
SOLVE_WORKERS: Final = 1
#: the solve job's lease: longer than any solve, so a live node's solve is
#: never claimed twice (core.jobs gives a handler half its lease)
SOLVE_LEASE_S: Final = 2 * MAX_TIME_LIMIT_S + 120
#: progress is saved and signalled at most this often
PROGRESS_INTERVAL_S: Final = 1.0
#: a running solve looks at `stop_requested` this often
STOP_POLL_S: Final = 1.0
#: largest FET file accepted as a draft, in bytes
MAX_FET_BYTES: Final = 8 * 1024 * 1024
#: the roles that may schedule a school's timetable
SCHEDULER_ROLES: Final = ("principal", "secretary")

FINAL_STATES: Final = frozenset({"solved", "incomplete", "infeasible", "stopped", "failed"})


class DraftView(msgspec.Struct, frozen=True, kw_only=True):
    id: UUID
    school_id: UUID
    name: str
    activities: int
    teachers: int
    days: int
    hours: int
    #: constraint types of the source that the solver does not know (ignored)
    unsupported: list[tuple[str, int]]


class SolveView(msgspec.Struct, frozen=True, kw_only=True):
    id: UUID
    draft_id: UUID
    state: str
    seed: int
    workers: int
    time_limit_s: int
    stop_requested: bool
    progress: dict[str, Any] | None
    hard: int | None
    soft: float | None
    has_timetable: bool
    error: str | None
    #: the earlier solve this one re-solves from, and the lessons moved from it
    from_solve: UUID | None
    moved: int | None
    created_at: str
    started_at: str | None
    finished_at: str | None


class NewSolve(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    time_limit_s: int = 60
    seed: int = 0
    workers: int = 1
    #: a re-solve after a change: an earlier solve of the same school whose
    #: timetable is the current one; the lessons moved from it are minimised
    #: first (minimal change), then the soft score
    from_solve: UUID | None = None


def require_scheduler(who: Principal, school_id: UUID) -> UUID:
    person = who.require_person()
    if not any(f"{role}:{school_id}" in who.roles for role in SCHEDULER_ROLES):
        raise Forbidden(
            "only the school's principal or secretary schedules its timetable",
            code="not_scheduler",
        )
    return person


# ---- drafts ------------------------------------------------------------------------------


def read_fet_text(text: str) -> tuple[Instance, Timetable | None]:
    """A FET document (its text) → the model and its warm start, or BadRequest."""
    from scheduling.fet import read_fet

    if len(text.encode()) > MAX_FET_BYTES:
        raise BadRequest(f"a FET file of at most {MAX_FET_BYTES} bytes", code="fet_too_large")
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "upload.fet"
        path.write_text(text, encoding="utf-8")
        try:
            fet = read_fet(path)
        except (ValueError, KeyError, OSError) as exc:
            raise BadRequest(f"not a readable FET file: {exc}", code="invalid_fet") from exc
    return fet.instance, fet.warm_start


async def roster_instance(db: Database, who: Principal, school_id: UUID, name: str) -> Instance:
    """The school's timetabling problem built from its roster."""
    from scheduling.roster import instance_from_roster

    require_scheduler(who, school_id)
    async with db.tenant(who.tenant_id) as conn:
        return await instance_from_roster(conn, school_id, name=name)


async def create_draft(
    db: Database, clock: Clock, who: Principal, school_id: UUID, name: str, instance: Instance
) -> DraftView:
    person = require_scheduler(who, school_id)
    draft_id = uuid4()
    async with db.tenant(who.tenant_id) as conn:
        await conn.execute(
            "INSERT INTO timetable_drafts (id, tenant_id, school_id, name, instance,"
            " created_by, created_at) VALUES ($1, $2, $3, $4, $5::jsonb, $6, $7)",
            draft_id,
            who.tenant_id,
            school_id,
            name,
            msgspec.json.encode(instance).decode(),
            person,
            clock.now(),
        )
    return _draft_view(draft_id, school_id, name, instance)


def _draft_view(draft_id: UUID, school_id: UUID, name: str, instance: Instance) -> DraftView:
    return DraftView(
        id=draft_id,
        school_id=school_id,
        name=name,
        activities=len(instance.activities),
        teachers=len(instance.teachers),
        days=len(instance.days),
        hours=len(instance.hours),
        unsupported=[(u.type, u.count) for u in instance.unsupported],
    )


async def load_draft(conn: Connection, draft_id: UUID) -> tuple[UUID, str, Instance]:
    """A draft's school, name and problem (404 `draft_not_found`)."""
    row = await conn.fetchrow(
        "SELECT school_id, name, instance::text AS instance FROM timetable_drafts WHERE id = $1",
        draft_id,
    )
    if row is None:
        raise NotFound("no such timetable draft", code="draft_not_found")
    return row["school_id"], row["name"], msgspec.json.decode(row["instance"], type=Instance)


async def get_draft(db: Database, who: Principal, draft_id: UUID) -> DraftView:
    async with db.tenant(who.tenant_id) as conn:
        school_id, name, instance = await load_draft(conn, draft_id)
    require_scheduler(who, school_id)
    return _draft_view(draft_id, school_id, name, instance)


# ---- solves ------------------------------------------------------------------------------

_SOLVE_COLUMNS = (
    "s.id, s.draft_id, s.state, s.seed, s.workers, s.time_limit_s, s.stop_requested,"
    " s.progress::text AS progress, s.hard, s.soft, s.best IS NOT NULL AS has_timetable,"
    " s.error, s.created_at, s.started_at, s.finished_at, s.requested_by, d.school_id,"
    " s.from_solve, s.moved"
)


class SolveWithDraft(msgspec.Struct, frozen=True, kw_only=True):
    """A solve with its draft's problem and its best timetable (None: none yet)."""

    id: UUID
    draft_id: UUID
    school_id: UUID
    name: str
    requested_by: UUID
    instance: Instance
    best: Timetable | None
    hard: int | None


async def load_solve(conn: Connection, solve_id: UUID) -> SolveWithDraft:
    """A solve and its draft (404 `solve_not_found`)."""
    row = await conn.fetchrow(
        "SELECT s.id, s.draft_id, s.requested_by, s.best::text AS best, s.hard, d.school_id, "
        "d.name, d.instance::text AS instance FROM timetable_solves s "
        "JOIN timetable_drafts d ON d.id = s.draft_id WHERE s.id = $1",
        solve_id,
    )
    if row is None:
        raise NotFound("no such timetable solve", code="solve_not_found")
    return SolveWithDraft(
        id=row["id"],
        draft_id=row["draft_id"],
        school_id=row["school_id"],
        name=row["name"],
        requested_by=row["requested_by"],
        instance=msgspec.json.decode(row["instance"], type=Instance),
        best=None if row["best"] is None else msgspec.json.decode(row["best"], type=Timetable),
        hard=row["hard"],
    )


def _solve_view(row: Any) -> SolveView:
    def iso(v: Any) -> str | None:
        return None if v is None else str(v.isoformat())

    return SolveView(
        id=row["id"],
        draft_id=row["draft_id"],
        state=row["state"],
        seed=row["seed"],
        workers=row["workers"],
        time_limit_s=row["time_limit_s"],
        stop_requested=row["stop_requested"],
        progress=None if row["progress"] is None else msgspec.json.decode(row["progress"]),
        hard=row["hard"],
        soft=row["soft"],
        has_timetable=row["has_timetable"],
        error=row["error"],
        from_solve=row["from_solve"],
        moved=row["moved"],
        created_at=str(row["created_at"].isoformat()),
        started_at=iso(row["started_at"]),
        finished_at=iso(row["finished_at"]),
    )


async def _solve_row(conn: Connection, solve_id: UUID) -> Any:
    row = await conn.fetchrow(
        f"SELECT {_SOLVE_COLUMNS} FROM timetable_solves s"
        " JOIN timetable_drafts d ON d.id = s.draft_id WHERE s.id = $1",
        solve_id,
    )
    if row is None:
        raise NotFound("no such timetable solve", code="solve_not_found")
    return row


async def start_solve(
    db: Database, clock: Clock, who: Principal, draft_id: UUID, new: NewSolve
) -> SolveView:
    if not 1 <= new.time_limit_s <= MAX_TIME_LIMIT_S:
        raise BadRequest(f"time_limit_s must be 1…{MAX_TIME_LIMIT_S}", code="invalid_time_limit")
    if not 1 <= new.workers <= MAX_WORKERS:
        raise BadRequest(f"workers must be 1…{MAX_WORKERS}", code="invalid_workers")
    if not 0 <= new.seed < 2**31:
        raise BadRequest("seed must be 0…2^31-1", code="invalid_seed")
    solve_id = uuid4()
    now = clock.now()
    async with db.tenant(who.tenant_id) as conn:
        school_id, _, _ = await load_draft(conn, draft_id)
        person = require_scheduler(who, school_id)
        if new.from_solve is not None:
            base = await _solve_row(conn, new.from_solve)
            if base["school_id"] != school_id:
                raise Conflict(
                    "from_solve is a solve of another school", code="from_solve_other_school"
                )
            if not base["has_timetable"] or base["hard"] != 0:
                raise Conflict(
                    "from_solve has no timetable without hard violations",
                    code="from_solve_no_timetable",
                )
        await conn.execute(
            "INSERT INTO timetable_solves (id, tenant_id, draft_id, requested_by, state, seed,"
            " workers, time_limit_s, created_at, from_solve)"
            " VALUES ($1, $2, $3, $4, 'queued', $5, $6, $7, $8, $9)",
            solve_id,
            who.tenant_id,
            draft_id,
            person,
            new.seed,
            new.workers,
            new.time_limit_s,
            now,
            new.from_solve,
        )
        await enqueue(
            conn,
            who.tenant_id,
            [
                NewJob(
                    kind=SOLVE_JOB,
                    key=str(solve_id),
                    due_at=now,
                    person_id=person,
                    payload={"solve_id": str(solve_id)},
                )
            ],
        )
        return _solve_view(await _solve_row(conn, solve_id))


async def get_solve(db: Database, who: Principal, solve_id: UUID) -> SolveView:
    async with db.tenant(who.tenant_id) as conn:
        row = await _solve_row(conn, solve_id)
    require_scheduler(who, row["school_id"])
    return _solve_view(row)


async def stop_solve(db: Database, clock: Clock, who: Principal, solve_id: UUID) -> SolveView:
    """Ask a solve to stop, keeping its best timetable. Idempotent; a queued
    solve is stopped at once; a finished one is left as it is."""
    async with db.tenant(who.tenant_id) as conn:
        row = await _solve_row(conn, solve_id)
        require_scheduler(who, row["school_id"])
        await conn.execute(
            "UPDATE timetable_solves SET stop_requested = true,"
            " state = CASE WHEN state = 'queued' THEN 'stopped' ELSE state END,"
            " finished_at = CASE WHEN state = 'queued' THEN $2 ELSE finished_at END"
            " WHERE id = $1",
            solve_id,
            clock.now(),
        )
        return _solve_view(await _solve_row(conn, solve_id))


async def solve_timetable(db: Database, who: Principal, solve_id: UUID) -> Timetable:
    async with db.tenant(who.tenant_id) as conn:
        row = await _solve_row(conn, solve_id)
        require_scheduler(who, row["school_id"])
        best = await conn.fetchval(
            "SELECT best::text FROM timetable_solves WHERE id = $1", solve_id
        )
    if best is None:
        raise Conflict("this solve has no timetable (yet)", code="no_timetable")
    return msgspec.json.decode(best, type=Timetable)


# ---- running a solve ---------------------------------------------------------------------

Signal = Callable[[UUID, UUID, str, object], Awaitable[None]]


class SolveEnd(msgspec.Struct, frozen=True):
    """How a solve ended: its final state and what goes on its row."""

    state: str
    best: Timetable | None = None
    hard: int | None = None
    soft: float | None = None
    #: why it failed, or why no timetable exists (state "infeasible")
    error: str | None = None
    #: lessons moved from the timetable a re-solve started from
    moved: int | None = None

    def signal(self) -> dict[str, Any]:
        """The last live frame's data."""
        data: dict[str, Any] = {"state": self.state, "hard": self.hard, "soft": self.soft}
        if self.error is not None:
            data["error"] = self.error
        if self.moved is not None:
            data["moved"] = self.moved
        return data


class SolveRunner:
    """The `timetable.solve` job handler."""

    def __init__(self, db: Database, clock: Clock, signal: Signal) -> None:
        self.db = db
        self.clock = clock
        self.signal = signal

    async def __call__(self, job: Job) -> Outcome:
        solve_id = UUID(str(job.payload["solve_id"]))
        tenant = job.tenant_id
        async with self.db.tenant(tenant) as conn:
            row = await conn.fetchrow(
                "SELECT s.state, s.seed, s.workers, s.time_limit_s, s.requested_by, s.draft_id,"
                " s.from_solve, b.best::text AS current FROM timetable_solves s"
                " LEFT JOIN timetable_solves b ON b.id = s.from_solve WHERE s.id = $1"
                " FOR UPDATE OF s",
                solve_id,
            )
            if row is None or row["state"] in FINAL_STATES:
                return Cancel("solve gone or already finished")
            _, _, instance = await load_draft(conn, row["draft_id"])
            current = (
                None
                if row["current"] is None
                else msgspec.json.decode(row["current"], type=Timetable)
            )
            await conn.execute(
                "UPDATE timetable_solves SET state = 'running', started_at = $2 WHERE id = $1",
                solve_id,
                self.clock.now(),
            )
        person = row["requested_by"]
        if row["from_solve"] is not None and current is None:
            end = SolveEnd("failed", error="the solve to start from has no timetable any more")
            await self._finish(tenant, solve_id, end)
            await self._signal(tenant, person, solve_id, end.signal())
            return None
        await self._signal(tenant, person, solve_id, {"state": "running"})
        try:
            end = await self._run(
                tenant,
                person,
                solve_id,
                instance,
                row["seed"],
                row["workers"],
                row["time_limit_s"],
                current,
            )
        except Exception as exc:
            log.error("timetable solve %s failed: %s", solve_id, type(exc).__name__)
            await self._finish(tenant, solve_id, SolveEnd("failed", error=type(exc).__name__))
            await self._signal(tenant, person, solve_id, {"state": "failed"})
            return None
        await self._finish(tenant, solve_id, end)
        await self._signal(tenant, person, solve_id, end.signal())
        return None

    async def _run(
        self,
        tenant: UUID,
        person: UUID,
        solve_id: UUID,
        instance: Instance,
        seed: int,
        workers: int,
        time_limit_s: int,
        current: Timetable | None = None,
    ) -> SolveEnd:
        """Run the solver (from `current`, the timetable a re-solve starts
        from, with minimal change) and say how it ended."""
        from scheduling.checker import check
        from scheduling.solver import Progress, solve

        loop = asyncio.get_running_loop()
        stop = threading.Event()
        latest: list[Progress] = []
        changed = asyncio.Event()

        def on_progress(p: Progress) -> None:  # the solver's thread
            def hand_over() -> None:
                latest[:] = [p]
                changed.set()

            loop.call_soon_threadsafe(hand_over)

        async def report() -> None:
            last = 0.0
            while True:
                await changed.wait()
                await asyncio.sleep(max(0.0, last + PROGRESS_INTERVAL_S - time.monotonic()))
                changed.clear()
                last = time.monotonic()
                p = latest[0]
                data = msgspec.to_builtins(p)
                async with self.db.tenant(tenant) as conn:
                    await conn.execute(
                        "UPDATE timetable_solves SET progress = $2::jsonb WHERE id = $1",
                        solve_id,
                        msgspec.json.encode(data).decode(),
                    )
                await self._signal(tenant, person, solve_id, {"state": "running", **data})

        async def watch_stop() -> None:
            while not stop.is_set():
                await asyncio.sleep(STOP_POLL_S)
                async with self.db.tenant(tenant) as conn:
                    if await conn.fetchval(
                        "SELECT stop_requested FROM timetable_solves WHERE id = $1", solve_id
                    ):
                        stop.set()

        helpers = [asyncio.create_task(report()), asyncio.create_task(watch_stop())]
        try:
            result = await asyncio.to_thread(
                solve,
                instance,
                time_limit_s=float(time_limit_s),
                seed=seed,
                workers=workers,
                warm_start=current,
                minimal_change=current is not None,
                on_progress=on_progress,
                stop=stop,
            )
            stopped = stop.is_set()  # by stop_solve, before the solver ended itself
        finally:
            stop.set()
            for t in helpers:
                t.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await t
        if result.timetable is None:
            if result.status == "infeasible":  # proved: no timetable exists
                return SolveEnd("infeasible", error=result.message or "no timetable exists")
            return SolveEnd("stopped" if stopped else "incomplete")
        report_ = check(instance, result.timetable)
        if stopped:
            state = "stopped"
        else:
            state = "solved" if report_.complete and report_.hard == 0 else "incomplete"
        return SolveEnd(state, result.timetable, report_.hard, report_.soft, moved=result.moved)

    async def _finish(self, tenant: UUID, solve_id: UUID, end: SolveEnd) -> None:
        async with self.db.tenant(tenant) as conn:
            await conn.execute(
                "UPDATE timetable_solves SET state = $2, best = $3::jsonb, hard = $4, soft = $5,"
                " error = $6, finished_at = $7, moved = $8 WHERE id = $1",
                solve_id,
                end.state,
                None if end.best is None else msgspec.json.encode(end.best).decode(),
                end.hard,
                end.soft,
                end.error,
                self.clock.now(),
                end.moved,
            )

    async def _signal(
        self, tenant: UUID, person: UUID, solve_id: UUID, data: dict[str, Any]
    ) -> None:
        try:
            await self.signal(tenant, person, "timetable.solve", {"solve_id": solve_id, **data})
        except Exception as exc:  # progress is best effort; the row has it
            log.warning("timetable solve %s: signal failed: %s", solve_id, type(exc).__name__)
