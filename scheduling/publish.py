"""Publishing a solved timetable: it becomes the school's valid timetable for
a date range, and the school hears of it.

Only a timetable built from the school's roster can be published: its
teachers are persons and its students sets are groups (scheduling.roster names
them by id), so each placed activity becomes weekly lessons of real groups
taught by real teachers. An activity for several groups gives one lesson row
per group. Publishing supersedes every published timetable of the school whose
range overlaps the new one, in the same transaction; after commit, the whole
school (learners, their guardians by the hub's rules, staff) gets one
notification that the new timetable is available.
"""

from __future__ import annotations

import contextlib
from datetime import date, datetime, time
from typing import Annotated, Any, Final
from uuid import UUID, uuid4

import msgspec

from core.auth import Principal
from core.clock import Clock
from core.db import Connection, Database
from core.errors import BadRequest, Conflict
from hub.actions import NOTIFY_BACKSTOP, notify_later
from hub.model import ModuleEvent, WholeSchool
from scheduling.actions import load_solve, require_scheduler
from scheduling.model import Instance, Timetable

#: the longest a published timetable may be valid, in days (a school year)
MAX_VALID_DAYS: Final = 400
SOURCE: Final = "timetable"


class NewPublication(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """POST /v1/timetable/solves/{id}/publish"""

    name: Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
    starts: date
    ends: date


class TimetableView(msgspec.Struct, frozen=True, kw_only=True):
    id: UUID
    school_id: UUID
    name: str
    starts: date
    ends: date
    lessons: int
    published_at: datetime
    superseded: list[UUID]


def _uuid(text: str) -> UUID | None:
    with contextlib.suppress(ValueError):
        return UUID(text)
    return None


def _clock(text: str | None) -> time | None:
    if not text:
        return None
    with contextlib.suppress(ValueError):
        return time.fromisoformat(text)
    return None


def lesson_rows(instance: Instance, timetable: Timetable) -> list[dict[str, Any]]:
    """The weekly lessons of a roster timetable (rows for timetable_lessons).
    Raises Conflict when the instance is not one of the roster's."""
    placed = timetable.by_activity()
    rows: list[dict[str, Any]] = []
    for a in instance.activities:
        p = placed.get(a.id)
        if p is None:
            raise Conflict("the timetable does not place every lesson", code="timetable_incomplete")
        teachers = [_uuid(t) for t in a.teachers]
        groups = [_uuid(s) for s in a.students]
        last = p.hour + a.duration - 1
        starts = _clock(instance.hours[p.hour].start)
        ends = _clock(instance.hours[last].end) if last < len(instance.hours) else None
        if None in teachers or None in groups or starts is None or ends is None:
            raise Conflict(
                "only a timetable built from the school's roster can be published",
                code="not_a_roster_timetable",
            )
        for group in groups or [None]:
            rows.append(
                {
                    "weekday": p.day + 1,
                    "starts": starts,
                    "ends": ends,
                    "subject": a.subject,
                    "group_id": group,
                    "teacher_ids": teachers,
                    "room": p.room,
                    "activity_id": a.id,
                }
            )
    return rows


async def write_timetable(
    conn: Connection,
    tenant_id: UUID,
    school_id: UUID,
    name: str,
    starts: date,
    ends: date,
    rows: list[dict[str, Any]],
    *,
    solve_id: UUID | None,
    published_by: UUID | None,
    now: datetime,
) -> TimetableView:
    """Insert the timetable and its lessons, superseding overlapping ones (in the
    caller's tenant transaction)."""
    if ends < starts:
        raise BadRequest("the timetable ends before it starts", code="invalid_range")
    if (ends - starts).days > MAX_VALID_DAYS:
        raise BadRequest(
            f"a timetable is valid for at most {MAX_VALID_DAYS} days", code="range_too_long"
        )
    # one publication of a school at a time: the school's row is the lock
    await conn.execute("SELECT 1 FROM schools WHERE id = $1 FOR UPDATE", school_id)
    superseded = await conn.fetch(
        "UPDATE timetables SET superseded_at = $4 WHERE school_id = $1 AND superseded_at IS NULL "
        "AND starts <= $3 AND ends >= $2 RETURNING id",
        school_id,
        starts,
        ends,
        now,
    )
    tt_id = uuid4()
    await conn.execute(
        "INSERT INTO timetables (id, tenant_id, school_id, name, starts, ends, solve_id, "
        "published_by, published_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        tt_id,
        tenant_id,
        school_id,
        name,
        starts,
        ends,
        solve_id,
        published_by,
        now,
    )
    # COPY is not allowed under row-level security: one INSERT from arrays
    await conn.execute(
        """
        INSERT INTO timetable_lessons (id, tenant_id, timetable_id, weekday, starts, ends,
                                       subject, group_id, teacher_ids, room, activity_id)
        SELECT gen_random_uuid(), $1, $2, r.weekday, r.starts, r.ends, r.subject, r.group_id,
               ARRAY(SELECT jsonb_array_elements_text(r.teachers)::uuid), r.room, r.activity_id
        FROM unnest($3::smallint[], $4::time[], $5::time[], $6::text[], $7::uuid[], $8::jsonb[],
                    $9::text[], $10::int[])
             AS r (weekday, starts, ends, subject, group_id, teachers, room, activity_id)
        """,
        tenant_id,
        tt_id,
        [r["weekday"] for r in rows],
        [r["starts"] for r in rows],
        [r["ends"] for r in rows],
        [r["subject"] for r in rows],
        [r["group_id"] for r in rows],
        [msgspec.json.encode(r["teacher_ids"]).decode() for r in rows],
        [r["room"] for r in rows],
        [r["activity_id"] for r in rows],
    )
    view = TimetableView(
        id=tt_id,
        school_id=school_id,
        name=name,
        starts=starts,
        ends=ends,
        lessons=len(rows),
        published_at=now,
        superseded=[r["id"] for r in superseded],
    )
    # the notification's durable half: the hub's outbox sends it again later in
    # case the process dies between the commit and the caller's own send
    await notify_later(conn, tenant_id, [published_event(view)], now + NOTIFY_BACKSTOP)
    return view


def published_event(view: TimetableView) -> ModuleEvent:
    return ModuleEvent(
        idempotency_key=f"published:{view.id}",
        source=SOURCE,
        audience=WholeSchool(school=view.school_id),
        subject=f"Uusi lukujärjestys: {view.name}",
        body=(
            f"Lukujärjestys {view.name} on voimassa {view.starts:%d.%m.%Y}–{view.ends:%d.%m.%Y}. "
            "Näet oman lukujärjestyksesi Repussa."
        ),
    )


async def publish_solve(
    db: Database, clock: Clock, hub: Any, who: Principal, solve_id: UUID, new: NewPublication
) -> TimetableView:
    """Publish a solve's timetable (the school's principal or secretary)."""
    async with db.tenant(who.tenant_id) as conn:
        solve = await load_solve(conn, solve_id)
        person = require_scheduler(who, solve.school_id)
        if solve.best is None or solve.hard != 0:
            raise Conflict(
                "the solve has no complete timetable without hard violations",
                code="timetable_incomplete",
            )
        view = await write_timetable(
            conn,
            who.tenant_id,
            solve.school_id,
            new.name,
            new.starts,
            new.ends,
            lesson_rows(solve.instance, solve.best),
            solve_id=solve_id,
            published_by=person,
            now=clock.now(),
        )
    await hub.notify(who.tenant_id, published_event(view))
    return view
