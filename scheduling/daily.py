"""The timetable in daily use: what a school's published timetable holds on a
date, with that date's changes applied. Reads only (in the caller's tenant
transaction); `scheduling.publish` and `scheduling.changes` write.

A school's valid timetable on a date is its published timetable whose range
holds the date and that no later publication superseded. Its lessons repeat
weekly (`weekday`, 1 = Monday). On a date:

* a lesson's *effective change* is its latest change of that date that is not
  undone (`cancel`, `move`, `substitute`): a later change supersedes an
  earlier one, undoing the latest brings back the one before;
* `extra` changes add lessons;
* a `programme` change (a theme day, an exam day) replaces the day's lessons
  of its group and of the groups split from it (whose learners are all in it),
  or of the whole school when it names no group: those lessons show as
  `programme` with the programme's title.

`day_lessons(conn, school_id, date)` gives the day as `DayLesson`s, sorted by
time; `person_lessons` filters them to what one person attends or teaches.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import date, time, timedelta
from typing import Final, Literal
from uuid import UUID

import asyncpg
import msgspec

from core.db import Connection

Status = Literal["normal", "cancelled", "moved", "substituted", "extra", "programme"]
ChangeKind = Literal["cancel", "move", "substitute", "extra", "programme"]

#: the longest range GET /v1/timetable/me and a calendar feed cover at once, in days
MAX_RANGE_DAYS: Final = 120


class Original(msgspec.Struct, frozen=True, kw_only=True):
    """A changed lesson as the timetable has it."""

    starts: time
    ends: time
    room: str | None
    teacher_ids: tuple[UUID, ...]


class DayLesson(msgspec.Struct, frozen=True, kw_only=True):
    """One lesson on one date, with the date's change applied."""

    date: date
    starts: time
    ends: time
    subject: str
    group_id: UUID | None
    #: who teaches it on this date (a substitute replaces the lesson's teachers)
    teacher_ids: tuple[UUID, ...]
    room: str | None
    status: Status = "normal"
    #: the weekly lesson (None for an extra lesson or a programme entry)
    lesson_id: UUID | None = None
    #: the change that made it so (None: as in the timetable)
    change_id: UUID | None = None
    #: the lesson as the timetable has it, when a change moved or re-staffed it
    original: Original | None = None
    #: a programme day's title
    title: str | None = None
    note: str | None = None


class Change(msgspec.Struct, frozen=True, kw_only=True):
    """A row of timetable_changes."""

    id: UUID
    school_id: UUID
    on_date: date
    kind: ChangeKind
    lesson_id: UUID | None
    starts: time | None
    ends: time | None
    room: str | None
    substitute_id: UUID | None
    subject: str | None
    group_id: UUID | None
    teacher_ids: tuple[UUID, ...]
    title: str | None
    note: str | None
    absence_id: UUID | None
    created_by: UUID
    undone: bool


CHANGE_COLUMNS: Final = (
    "id, school_id, on_date, kind, lesson_id, starts, ends, room, substitute_id, subject, "
    "group_id, teacher_ids, title, note, absence_id, created_by, undone_at IS NOT NULL AS undone"
)


def change_of(row: asyncpg.Record) -> Change:
    return Change(
        id=row["id"],
        school_id=row["school_id"],
        on_date=row["on_date"],
        kind=row["kind"],
        lesson_id=row["lesson_id"],
        starts=row["starts"],
        ends=row["ends"],
        room=row["room"],
        substitute_id=row["substitute_id"],
        subject=row["subject"],
        group_id=row["group_id"],
        teacher_ids=tuple(row["teacher_ids"]),
        title=row["title"],
        note=row["note"],
        absence_id=row["absence_id"],
        created_by=row["created_by"],
        undone=row["undone"],
    )


async def valid_timetable(conn: Connection, school_id: UUID, on: date) -> UUID | None:
    """The school's published timetable valid on `on`, if any."""
    value: UUID | None = await conn.fetchval(
        "SELECT id FROM timetables WHERE school_id = $1 AND superseded_at IS NULL "
        "AND starts <= $2 AND ends >= $2 ORDER BY published_at DESC LIMIT 1",
        school_id,
        on,
    )
    return value


def effective(changes: Iterable[Change]) -> list[Change]:
    """Of one date's changes not undone, in the order they were made: per lesson
    the latest, and every extra lesson and programme."""
    latest: dict[UUID, Change] = {}
    others: list[Change] = []
    for c in changes:
        if c.lesson_id is None:
            others.append(c)
        else:
            latest[c.lesson_id] = c  # later rows win
    return [*latest.values(), *others]


async def day_lessons(conn: Connection, school_id: UUID, on: date) -> list[DayLesson]:
    """The school's lessons on `on`, changes applied, sorted by time."""
    return (await school_lessons(conn, school_id, on, on))[on]


async def school_lessons(
    conn: Connection, school_id: UUID, start: date, end: date
) -> dict[date, list[DayLesson]]:
    """The school's lessons on each date `start` … `end`, changes applied: the
    same as `day_lessons` per date, in four queries for the whole range."""
    timetables = await conn.fetch(
        "SELECT id, starts, ends FROM timetables WHERE school_id = $1 AND superseded_at IS NULL "
        "AND starts <= $3 AND ends >= $2 ORDER BY published_at DESC",
        school_id,
        start,
        end,
    )
    weekly: dict[tuple[UUID, int], list[asyncpg.Record]] = defaultdict(list)
    for r in await conn.fetch(
        "SELECT timetable_id, weekday, id, starts, ends, subject, group_id, teacher_ids, room "
        "FROM timetable_lessons WHERE timetable_id = ANY($1::uuid[])",
        [t["id"] for t in timetables],
    ):
        weekly[(r["timetable_id"], r["weekday"])].append(r)
    by_date: dict[date, list[Change]] = defaultdict(list)
    for r in await conn.fetch(
        f"SELECT {CHANGE_COLUMNS} FROM timetable_changes WHERE school_id = $1 "
        "AND on_date BETWEEN $2 AND $3 AND undone_at IS NULL ORDER BY seq",
        school_id,
        start,
        end,
    ):
        by_date[r["on_date"]].append(change_of(r))
    programme_groups = {c.group_id for cs in by_date.values() for c in cs if c.kind == "programme"}
    programme_groups.discard(None)
    within_group: dict[UUID, list[UUID]] = defaultdict(list)
    if programme_groups:
        for r in await conn.fetch(_WITHIN, list(programme_groups)):
            within_group[r["programme_group"]].append(r["id"])
    out: dict[date, list[DayLesson]] = {}
    day = start
    while day <= end:
        timetable = next((t["id"] for t in timetables if t["starts"] <= day <= t["ends"]), None)
        changes = effective(by_date.get(day, ()))
        within: dict[UUID | None, Change] = {}
        for p in changes:
            if p.kind == "programme" and p.group_id is not None:
                for g in within_group[p.group_id]:
                    within[g] = p
        base = weekly.get((timetable, day.isoweekday()), []) if timetable else []
        out[day] = apply_changes(day, base, changes, within)
        day += timedelta(days=1)
    return out


# the groups whose learners are all in group $1 (itself, and the subgroups it is
# split into): a programme day of a class replaces its language groups' lessons too
_WITHIN: Final = """
    SELECT p.id AS programme_group, g.id FROM groups p JOIN groups g ON g.school_id = p.school_id
    WHERE p.id = ANY($1::uuid[])
      AND EXISTS (SELECT 1 FROM group_learners gl WHERE gl.group_id = g.id)
      AND NOT EXISTS (
          SELECT 1 FROM group_learners gl WHERE gl.group_id = g.id
            AND gl.learner_id NOT IN (SELECT learner_id FROM group_learners WHERE group_id = p.id))
    UNION SELECT p, p FROM unnest($1::uuid[]) AS p
"""


def apply_changes(
    on: date,
    base: Iterable[asyncpg.Record | dict[str, object]],
    changes: Sequence[Change],
    within: dict[UUID | None, Change] | None = None,
) -> list[DayLesson]:
    """The day from its weekly lessons (rows of timetable_lessons), its
    effective changes and, per group, the programme day that replaces its
    lessons (`within`). Pure: the rules of the module docstring."""
    by_lesson: dict[UUID | None, Change] = {
        c.lesson_id: c for c in changes if c.lesson_id is not None
    }
    whole_school = next((p for p in changes if p.kind == "programme" and p.group_id is None), None)
    by_group = within or {}
    out: list[DayLesson] = []
    for r in base:
        lesson = DayLesson(
            date=on,
            starts=r["starts"],  # type: ignore[arg-type]
            ends=r["ends"],  # type: ignore[arg-type]
            subject=r["subject"],  # type: ignore[arg-type]
            group_id=r["group_id"],  # type: ignore[arg-type]
            teacher_ids=tuple(r["teacher_ids"]),  # type: ignore[arg-type]
            room=r["room"],  # type: ignore[arg-type]
            lesson_id=r["id"],  # type: ignore[arg-type]
        )
        programme = whole_school or by_group.get(lesson.group_id)
        change = by_lesson.get(lesson.lesson_id)
        if programme is not None:
            lesson = msgspec.structs.replace(
                lesson,
                status="programme",
                change_id=programme.id,
                title=programme.title,
                note=programme.note,
            )
        elif change is not None:
            lesson = _changed(lesson, change)
        out.append(lesson)
    for c in changes:
        if c.kind == "extra":
            assert c.starts is not None and c.ends is not None
            out.append(
                DayLesson(
                    date=on,
                    starts=c.starts,
                    ends=c.ends,
                    subject=c.subject or "",
                    group_id=c.group_id,
                    teacher_ids=c.teacher_ids,
                    room=c.room,
                    status="extra",
                    change_id=c.id,
                    note=c.note,
                )
            )
        elif c.kind == "programme":
            out.append(
                DayLesson(
                    date=on,
                    starts=c.starts or time(8),
                    ends=c.ends or time(14),
                    subject="",
                    group_id=c.group_id,
                    teacher_ids=c.teacher_ids,
                    room=c.room,
                    status="programme",
                    change_id=c.id,
                    title=c.title,
                    note=c.note,
                )
            )
    out.sort(key=lambda x: (x.starts, x.subject, str(x.group_id)))
    return out


def _changed(lesson: DayLesson, change: Change) -> DayLesson:
    original = Original(
        starts=lesson.starts, ends=lesson.ends, room=lesson.room, teacher_ids=lesson.teacher_ids
    )
    if change.kind == "cancel":
        return msgspec.structs.replace(
            lesson, status="cancelled", change_id=change.id, note=change.note
        )
    teachers = (change.substitute_id,) if change.substitute_id is not None else lesson.teacher_ids
    return msgspec.structs.replace(
        lesson,
        status="substituted" if change.kind == "substitute" else "moved",
        starts=change.starts or lesson.starts,
        ends=change.ends or lesson.ends,
        room=change.room or lesson.room,
        teacher_ids=teachers,
        change_id=change.id,
        original=original,
        note=change.note,
    )


class Attendance(msgspec.Struct, frozen=True, kw_only=True):
    """Whose lessons: the groups a learner attends, or the teacher."""

    groups: frozenset[UUID] = frozenset()
    teacher: UUID | None = None


def attends(lesson: DayLesson, who: Attendance) -> bool:
    if lesson.group_id is not None and lesson.group_id in who.groups:
        return True
    if lesson.status == "programme" and lesson.group_id is None and lesson.lesson_id is None:
        return bool(who.groups) or who.teacher is not None  # a whole-school programme
    if who.teacher is None:
        return False
    if who.teacher in lesson.teacher_ids:
        return True
    # a teacher whose lesson was given to a substitute still sees it (as changed)
    return lesson.original is not None and who.teacher in lesson.original.teacher_ids


async def learner_groups(conn: Connection, learner_id: UUID) -> frozenset[UUID]:
    rows = await conn.fetch("SELECT group_id FROM group_learners WHERE learner_id = $1", learner_id)
    return frozenset(r["group_id"] for r in rows)


async def person_schools(conn: Connection, person_id: UUID) -> list[UUID]:
    rows = await conn.fetch(
        "SELECT DISTINCT school_id FROM person_roles WHERE person_id = $1 "
        "AND role IN ('learner', 'teacher') ORDER BY school_id",
        person_id,
    )
    return [r["school_id"] for r in rows]


async def person_lessons(
    conn: Connection, person_id: UUID, start: date, end: date
) -> list[DayLesson]:
    """Lessons a learner attends or a teacher teaches, `start` … `end` inclusive."""
    who = Attendance(
        groups=await learner_groups(conn, person_id),
        teacher=person_id
        if await conn.fetchval(
            "SELECT EXISTS (SELECT 1 FROM person_roles WHERE person_id = $1 "
            "AND role IN ('teacher', 'principal', 'secretary', 'staff'))",
            person_id,
        )
        else None,
    )
    out: list[DayLesson] = []
    for school in await person_schools(conn, person_id):
        for lessons in (await school_lessons(conn, school, start, end)).values():
            out.extend(x for x in lessons if attends(x, who))
    out.sort(key=lambda x: (x.date, x.starts))
    return out
