"""Changes to a published timetable, teachers' absences and substitutions: the
only place that writes them.

A change is made by the school's principal or secretary (`SCHEDULER_ROLES`),
for a date of the school's valid timetable:

* `cancel`, `move` (new time and/or room), `substitute` (another teacher, may
  also move the room) — of one lesson on that date;
* `extra` — an extra lesson for a group; `programme` — a theme or exam day for a
  group or the whole school.

Several changes are made at once (`make_changes`, at most
`MAX_CHANGES_PER_REQUEST`): one transaction writes them all and enqueues, per
date, the durable job `timetable.notices`; after commit the notices of each
date are refreshed at once (`scheduling.notices.refresh`), so the affected get
one notice per day however many changes it took. Undoing a change
(`undo_change`) refreshes its date the same way.

Absences (`mark_absent`) change nothing by themselves: the secretary then asks
for substitutes (`proposals`) and confirms one per lesson (a `substitute`
change that names the absence). Proposals are the school's teachers who are
free in that slot (no lesson of theirs overlaps it that day, not absent
themselves) and not over `MAX_LESSONS_PER_DAY`, ranked by qualification
(teaches that subject), then fairness (fewest substitutions so far in the
timetable's period), then that day's load.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime, time, timedelta
from typing import Annotated, Any, Final
from uuid import UUID, uuid4

import msgspec

from core.auth import Principal
from core.clock import Clock
from core.db import Connection, Database
from core.errors import BadRequest, Conflict, NotFound
from core.jobs import NewJob, enqueue
from scheduling import daily
from scheduling.actions import require_scheduler
from scheduling.daily import ChangeKind, DayLesson
from scheduling.notices import NOTICES_JOB

#: most changes one request makes
MAX_CHANGES_PER_REQUEST: Final = 100
#: a substitute is not proposed beyond this many lessons that day
MAX_LESSONS_PER_DAY: Final = 7
#: most proposals listed per lesson
MAX_PROPOSALS: Final = 10
#: the longest absence marked at once, in days
MAX_ABSENCE_DAYS: Final = 120
#: the durable notices job runs this long after a change: by then the request's
#: own refresh has normally done the work, and the job finds nothing to do
NOTICES_BACKSTOP: Final = timedelta(seconds=30)

Text = Annotated[str, msgspec.Meta(min_length=1, max_length=200)]


class NewChange(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    date: date
    kind: ChangeKind
    lesson_id: UUID | None = None
    starts: time | None = None
    ends: time | None = None
    room: Annotated[str, msgspec.Meta(min_length=1, max_length=50)] | None = None
    substitute_id: UUID | None = None
    subject: Text | None = None
    group_id: UUID | None = None
    teacher_ids: Annotated[list[UUID], msgspec.Meta(max_length=10)] = []
    title: Text | None = None
    note: Text | None = None


class NewChanges(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """POST /v1/timetable/changes"""

    school_id: UUID
    changes: Annotated[
        list[NewChange], msgspec.Meta(min_length=1, max_length=MAX_CHANGES_PER_REQUEST)
    ]


class ChangeView(msgspec.Struct, frozen=True, kw_only=True):
    id: UUID
    date: date
    kind: ChangeKind
    lesson_id: UUID | None
    undone: bool


class Made(msgspec.Struct, frozen=True, kw_only=True):
    changes: list[ChangeView]
    #: per date: how many people now hold a notice for it, and how many
    #: notices were sent or withdrawn by this request
    notices: dict[str, dict[str, int]]


class NewAbsence(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    school_id: UUID
    teacher_id: UUID
    starts: date
    ends: date
    note: Text | None = None


class TeacherView(msgspec.Struct, frozen=True, kw_only=True):
    id: UUID
    name: str


class Proposal(msgspec.Struct, frozen=True, kw_only=True):
    teacher_id: UUID
    name: str
    qualified: bool
    substitutions: int
    lessons_that_day: int


class AbsentLesson(msgspec.Struct, frozen=True, kw_only=True):
    lesson: DayLesson
    group_name: str | None
    #: the substitution already confirmed (None: not yet)
    substitute_id: UUID | None
    proposals: list[Proposal]


class AbsenceView(msgspec.Struct, frozen=True, kw_only=True):
    id: UUID
    school_id: UUID
    teacher_id: UUID
    starts: date
    ends: date
    note: str | None
    lessons: list[AbsentLesson]


class Confirm(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """POST /v1/timetable/absences/{id}/substitutes"""

    lesson_id: UUID
    date: date
    substitute_id: UUID
    room: Annotated[str, msgspec.Meta(min_length=1, max_length=50)] | None = None


# ---- checks -------------------------------------------------------------------------------


async def _is_teacher(conn: Connection, person: UUID, school_id: UUID) -> bool:
    value: bool = await conn.fetchval(
        "SELECT EXISTS (SELECT 1 FROM person_roles WHERE person_id = $1 AND school_id = $2 "
        "AND role IN ('teacher', 'principal'))",
        person,
        school_id,
    )
    return value


def _overlaps(a: DayLesson, starts: time, ends: time) -> bool:
    return a.starts < ends and starts < a.ends


async def _busy(
    conn: Connection,
    school_id: UUID,
    on: date,
    teacher: UUID,
    starts: time,
    ends: time,
    *,
    ignore: UUID | None = None,
) -> DayLesson | None:
    for x in await daily.day_lessons(conn, school_id, on):
        if x.status == "cancelled" or (x.lesson_id == ignore and ignore is not None):
            continue
        if teacher in x.teacher_ids and _overlaps(x, starts, ends):
            return x
    return None


async def _check(conn: Connection, school_id: UUID, c: NewChange) -> None:
    """A change that cannot be made is refused with the reason (nothing is written)."""
    if c.starts is not None and c.ends is not None and c.ends <= c.starts:
        raise BadRequest("a lesson ends after it starts", code="invalid_time")
    if (c.starts is None) != (c.ends is None):
        raise BadRequest("give both starts and ends, or neither", code="invalid_time")
    if c.kind in ("extra", "programme"):
        if c.lesson_id is not None:
            raise BadRequest(f"a {c.kind} change names no lesson", code="invalid_change")
        if c.kind == "extra" and (c.subject is None or c.group_id is None or c.starts is None):
            raise BadRequest(
                "an extra lesson needs subject, group_id, starts and ends", code="invalid_change"
            )
        if c.kind == "programme" and c.title is None:
            raise BadRequest("a programme day needs a title", code="invalid_change")
        if c.group_id is not None and not await conn.fetchval(
            "SELECT EXISTS (SELECT 1 FROM groups WHERE id = $1 AND school_id = $2)",
            c.group_id,
            school_id,
        ):
            raise NotFound("no such group at this school", code="group_not_found")
        if await daily.valid_timetable(conn, school_id, c.date) is None:
            raise Conflict("no published timetable on that date", code="no_timetable")
        for t in c.teacher_ids:
            if not await _is_teacher(conn, t, school_id):
                raise BadRequest("not a teacher of this school", code="not_a_teacher")
        return
    if c.lesson_id is None:
        raise BadRequest(f"a {c.kind} change names its lesson", code="invalid_change")
    timetable = await daily.valid_timetable(conn, school_id, c.date)
    weekday = await conn.fetchval(
        "SELECT weekday FROM timetable_lessons WHERE id = $1 AND timetable_id = $2",
        c.lesson_id,
        timetable,
    )
    if weekday != c.date.isoweekday():
        raise NotFound("that lesson is not on that date", code="lesson_not_on_date")
    if c.kind == "move" and c.starts is None and c.room is None:
        raise BadRequest("a move gives a new time or room", code="invalid_change")
    if c.kind == "substitute":
        if c.substitute_id is None:
            raise BadRequest("a substitution names the substitute", code="invalid_change")
        if not await _is_teacher(conn, c.substitute_id, school_id):
            raise BadRequest("the substitute is not a teacher here", code="not_a_teacher")
        lesson = next(
            x
            for x in await daily.day_lessons(conn, school_id, c.date)
            if x.lesson_id == c.lesson_id
        )
        start = c.starts or (lesson.original.starts if lesson.original else lesson.starts)
        end = c.ends or (lesson.original.ends if lesson.original else lesson.ends)
        clash = await _busy(
            conn, school_id, c.date, c.substitute_id, start, end, ignore=c.lesson_id
        )
        if clash is not None:
            raise Conflict(
                "the substitute teaches another lesson then",
                code="substitute_busy",
                details={"subject": clash.subject, "starts": str(clash.starts)},
            )


# ---- making and undoing changes -----------------------------------------------------------


async def _insert(
    conn: Connection,
    tenant_id: UUID,
    school_id: UUID,
    c: NewChange,
    by: UUID,
    now: datetime,
    absence_id: UUID | None = None,
) -> ChangeView:
    change_id = uuid4()
    await conn.execute(
        "INSERT INTO timetable_changes (id, tenant_id, school_id, on_date, lesson_id, kind, "
        "starts, ends, room, substitute_id, subject, group_id, teacher_ids, title, note, "
        "absence_id, created_by, created_at) "
        "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18)",
        change_id,
        tenant_id,
        school_id,
        c.date,
        c.lesson_id,
        c.kind,
        c.starts,
        c.ends,
        c.room,
        c.substitute_id,
        c.subject,
        c.group_id,
        c.teacher_ids,
        c.title,
        c.note,
        absence_id,
        by,
        now,
    )
    return ChangeView(id=change_id, date=c.date, kind=c.kind, lesson_id=c.lesson_id, undone=False)


async def _enqueue_notices(
    conn: Connection, tenant_id: UUID, school_id: UUID, dates: set[date], now: datetime
) -> None:
    """The durable half of the notices: a job per date (the request refreshes at
    once after commit; the job does it again if that was lost)."""
    for on in sorted(dates):
        await enqueue(
            conn,
            tenant_id,
            [
                NewJob(
                    kind=NOTICES_JOB,
                    due_at=now + NOTICES_BACKSTOP,
                    payload={"school_id": str(school_id), "date": on.isoformat()},
                )
            ],
        )


class Changes:
    """Changes, absences and substitutions; notices through the hub."""

    def __init__(self, db: Database, clock: Clock, hub: Any) -> None:
        self.db = db
        self.clock = clock
        self.hub = hub

    async def make_changes(self, who: Principal, new: NewChanges) -> Made:
        by = require_scheduler(who, new.school_id)
        now = self.clock.now()
        async with self.db.tenant(who.tenant_id) as conn:
            made = []
            for c in new.changes:
                await _check(conn, new.school_id, c)
                made.append(await _insert(conn, who.tenant_id, new.school_id, c, by, now))
            dates = {c.date for c in new.changes}
            await _enqueue_notices(conn, who.tenant_id, new.school_id, dates, now)
        return Made(changes=made, notices=await self._refresh(who.tenant_id, new.school_id, dates))

    async def undo_change(self, who: Principal, change_id: UUID) -> Made:
        now = self.clock.now()
        async with self.db.tenant(who.tenant_id) as conn:
            row = await conn.fetchrow(
                "SELECT school_id, on_date, kind, lesson_id FROM timetable_changes WHERE id = $1",
                change_id,
            )
            if row is None:
                raise NotFound("no such change", code="change_not_found")
            by = require_scheduler(who, row["school_id"])
            await conn.execute(
                "UPDATE timetable_changes SET undone_at = $2, undone_by = $3 "
                "WHERE id = $1 AND undone_at IS NULL",
                change_id,
                now,
                by,
            )
            await _enqueue_notices(conn, who.tenant_id, row["school_id"], {row["on_date"]}, now)
        view = ChangeView(
            id=change_id,
            date=row["on_date"],
            kind=row["kind"],
            lesson_id=row["lesson_id"],
            undone=True,
        )
        notices = await self._refresh(who.tenant_id, row["school_id"], {row["on_date"]})
        return Made(changes=[view], notices=notices)

    async def _refresh(
        self, tenant_id: UUID, school_id: UUID, dates: set[date]
    ) -> dict[str, dict[str, int]]:
        from scheduling.notices import refresh

        out: dict[str, dict[str, int]] = {}
        for on in sorted(dates):
            r = await refresh(self.db, self.hub, self.clock, tenant_id, school_id, on)
            out[on.isoformat()] = {
                "affected": r.affected,
                "notified": r.notified,
                "withdrawn": r.withdrawn,
                "unchanged": r.unchanged,
            }
        return out

    async def day(self, who: Principal, school_id: UUID, on: date) -> list[DayLesson]:
        """The school's day, changes applied (the scheduler's view)."""
        require_scheduler(who, school_id)
        async with self.db.tenant(who.tenant_id) as conn:
            return await daily.day_lessons(conn, school_id, on)

    async def changes_of_day(self, who: Principal, school_id: UUID, on: date) -> list[daily.Change]:
        require_scheduler(who, school_id)
        async with self.db.tenant(who.tenant_id) as conn:
            rows = await conn.fetch(
                f"SELECT {daily.CHANGE_COLUMNS} FROM timetable_changes "
                "WHERE school_id = $1 AND on_date = $2 ORDER BY seq",
                school_id,
                on,
            )
        return [daily.change_of(r) for r in rows]

    # ---- absences and substitutes ---------------------------------------------------------

    async def teachers(self, who: Principal, school_id: UUID) -> list[TeacherView]:
        """The school's teachers, for marking one absent (the scheduler's list)."""
        require_scheduler(who, school_id)
        async with self.db.tenant(who.tenant_id) as conn:
            rows = await conn.fetch(
                "SELECT p.id, p.given_name || ' ' || p.family_name AS name FROM persons p "
                "WHERE p.id IN (SELECT person_id FROM person_roles WHERE school_id = $1 "
                "AND role = 'teacher') ORDER BY p.family_name, p.given_name, p.id",
                school_id,
            )
        return [TeacherView(id=r["id"], name=r["name"]) for r in rows]

    async def mark_absent(self, who: Principal, new: NewAbsence) -> AbsenceView:
        by = require_scheduler(who, new.school_id)
        if new.ends < new.starts:
            raise BadRequest("the absence ends before it starts", code="invalid_range")
        if (new.ends - new.starts).days >= MAX_ABSENCE_DAYS:
            raise BadRequest(
                f"an absence is marked for at most {MAX_ABSENCE_DAYS} days", code="range_too_long"
            )
        absence_id = uuid4()
        async with self.db.tenant(who.tenant_id) as conn:
            if not await _is_teacher(conn, new.teacher_id, new.school_id):
                raise BadRequest("not a teacher of this school", code="not_a_teacher")
            await conn.execute(
                "INSERT INTO teacher_absences (id, tenant_id, school_id, teacher_id, starts, ends, "
                "note, created_by, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
                absence_id,
                who.tenant_id,
                new.school_id,
                new.teacher_id,
                new.starts,
                new.ends,
                new.note,
                by,
                self.clock.now(),
            )
        return await self.absence(who, absence_id)

    async def absence(self, who: Principal, absence_id: UUID) -> AbsenceView:
        """The absence, its lessons and, for those not yet covered, ranked substitutes."""
        async with self.db.tenant(who.tenant_id) as conn:
            row = await conn.fetchrow(
                "SELECT id, school_id, teacher_id, starts, ends, note FROM teacher_absences "
                "WHERE id = $1 AND cancelled_at IS NULL",
                absence_id,
            )
            if row is None:
                raise NotFound("no such absence", code="absence_not_found")
            require_scheduler(who, row["school_id"])
            lessons: list[AbsentLesson] = []
            on = row["starts"]
            while on <= row["ends"]:
                day = await daily.day_lessons(conn, row["school_id"], on)
                for x in day:
                    teachers = x.original.teacher_ids if x.original else x.teacher_ids
                    if row["teacher_id"] not in teachers or x.lesson_id is None:
                        continue
                    covered = x.status == "substituted" and row["teacher_id"] not in x.teacher_ids
                    lessons.append(
                        AbsentLesson(
                            lesson=x,
                            group_name=await conn.fetchval(
                                "SELECT name FROM groups WHERE id = $1", x.group_id
                            ),
                            substitute_id=x.teacher_ids[0] if covered else None,
                            proposals=[]
                            if covered or x.status == "cancelled"
                            else await _proposals(conn, row["school_id"], day, x),
                        )
                    )
                on = date.fromordinal(on.toordinal() + 1)
        return AbsenceView(
            id=row["id"],
            school_id=row["school_id"],
            teacher_id=row["teacher_id"],
            starts=row["starts"],
            ends=row["ends"],
            note=row["note"],
            lessons=lessons,
        )

    async def confirm(self, who: Principal, absence_id: UUID, c: Confirm) -> Made:
        """The secretary confirms a substitute for one lesson of the absence."""
        async with self.db.tenant(who.tenant_id) as conn:
            row = await conn.fetchrow(
                "SELECT school_id, teacher_id, starts, ends FROM teacher_absences "
                "WHERE id = $1 AND cancelled_at IS NULL",
                absence_id,
            )
        if row is None:
            raise NotFound("no such absence", code="absence_not_found")
        if not row["starts"] <= c.date <= row["ends"]:
            raise BadRequest("that date is outside the absence", code="outside_absence")
        by = require_scheduler(who, row["school_id"])
        change = NewChange(
            date=c.date,
            kind="substitute",
            lesson_id=c.lesson_id,
            substitute_id=c.substitute_id,
            room=c.room,
        )
        now = self.clock.now()
        async with self.db.tenant(who.tenant_id) as conn:
            await _check(conn, row["school_id"], change)
            view = await _insert(
                conn, who.tenant_id, row["school_id"], change, by, now, absence_id=absence_id
            )
            await _enqueue_notices(conn, who.tenant_id, row["school_id"], {c.date}, now)
        notices = await self._refresh(who.tenant_id, row["school_id"], {c.date})
        return Made(changes=[view], notices=notices)


async def _proposals(
    conn: Connection, school_id: UUID, day: Sequence[DayLesson], lesson: DayLesson
) -> list[Proposal]:
    on = lesson.date
    starts = lesson.original.starts if lesson.original else lesson.starts
    ends = lesson.original.ends if lesson.original else lesson.ends
    rows = await conn.fetch(
        """
        SELECT p.id, p.given_name || ' ' || p.family_name AS name,
               EXISTS (SELECT 1 FROM group_teachers gt JOIN groups g ON g.id = gt.group_id
                       WHERE gt.teacher_id = p.id AND lower(g.subject) = lower($3))
               OR EXISTS (SELECT 1 FROM timetable_lessons l
                          WHERE l.timetable_id = $4 AND p.id = ANY (l.teacher_ids)
                            AND lower(l.subject) = lower($3)) AS qualified,
               (SELECT count(*) FROM timetable_changes c JOIN timetables t ON t.id = $4
                WHERE c.substitute_id = p.id AND c.kind = 'substitute'
                  AND c.undone_at IS NULL AND c.on_date BETWEEN t.starts AND t.ends)
                   AS substitutions
        FROM persons p
        WHERE p.id IN (SELECT person_id FROM person_roles WHERE school_id = $1
                       AND role = 'teacher')
          AND p.id NOT IN (SELECT teacher_id FROM teacher_absences WHERE school_id = $1
                           AND cancelled_at IS NULL AND $2 BETWEEN starts AND ends)
        """,
        school_id,
        on,
        lesson.subject,
        await daily.valid_timetable(conn, school_id, on),
    )
    out: list[Proposal] = []
    for r in rows:
        mine = [x for x in day if r["id"] in x.teacher_ids and x.status != "cancelled"]
        if any(_overlaps(x, starts, ends) for x in mine) or len(mine) >= MAX_LESSONS_PER_DAY:
            continue
        out.append(
            Proposal(
                teacher_id=r["id"],
                name=r["name"],
                qualified=r["qualified"],
                substitutions=r["substitutions"],
                lessons_that_day=len(mine),
            )
        )
    out.sort(key=lambda p: (not p.qualified, p.substitutions, p.lessons_that_day, p.name))
    return out[:MAX_PROPOSALS]
