"""One notice per person per day: the change notices of a school's date.

`refresh(…, school_id, date)` makes the hub's notifications match that date's
changes. It runs after every committed change (and again from the durable job
`timetable.notices`, so a change whose request died after commit still gets
its notices); running it twice changes nothing.

1. The day's lessons with their changes (`scheduling.daily`). For each changed
   lesson, its *exact affected audience*:
   * the learners of the lesson's group — a group split into subgroups has its
     own lessons, so only that subgroup's learners;
   * those learners' guardians, by the hub's rules (`Hub.recipients`): guardians
     with information right only are included (a change is information), the
     guardians of a learner of 18 or over only with the learner's consent;
   * the teachers concerned: the lesson's own and the substitute;
   * the holders of a room reservation that the changed lesson now collides with.
   A programme day reaches its group's learners and guardians (the whole
   school's, when it names no group) with one line; the lessons it replaces
   reach only their teachers.
2. Each person's lines: what changed in their day, as the person should read it
   (a guardian's lines name the child; a teacher's name the group).
3. Against the notice the person already holds for that date
   (`timetable_notices`, with a hash of its lines):
   * the same lines: nothing;
   * other lines: a new notice is published, and the old one — if still unread —
     is withdrawn (`Hub.withdraw`): a later change supersedes an earlier unread
     notice instead of adding a second;
   * no lines any more (every change undone): the old notice is withdrawn if
     unread; if it was read, a short notice says the day is back to normal.
4. People with the same lines get one message (`Persons`); urgency is high for
   today and tomorrow (Web Push with high urgency), normal further ahead. The
   hub's delivery policy decides push and e-mail from each person's
   preferences.

Concurrent refreshes of the same (school, date) are serialised by an advisory
lock held for the whole refresh.
"""

from __future__ import annotations

import hashlib
import logging
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any, Final
from uuid import UUID

import msgspec

from core.clock import Clock, today_in_helsinki
from core.db import Connection, Database
from core.jobs import Job, Outcome
from hub.model import (
    MAX_PERSONS,
    MAX_SUBJECT_CHARS,
    GroupGuardians,
    GroupLearners,
    ModuleEvent,
    Persons,
    Union,
    Urgency,
    WholeSchool,
)
from scheduling import daily
from scheduling.daily import DayLesson

log = logging.getLogger("reppu.scheduling")

SOURCE: Final = "timetable"
#: the durable job that (re)computes a date's notices
NOTICES_JOB: Final = "timetable.notices"
WEEKDAYS: Final = ("ma", "ti", "ke", "to", "pe", "la", "su")
WEEKDAY_NAMES: Final = (
    "Maanantai",
    "Tiistai",
    "Keskiviikko",
    "Torstai",
    "Perjantai",
    "Lauantai",
    "Sunnuntai",
)


@dataclass
class Affected:
    """One person's lines for the day."""

    lines: list[tuple[time, str]] = field(default_factory=list)
    #: the changes behind the lines (they make a notice's idempotency key)
    changes: set[UUID] = field(default_factory=set)

    def add(self, at: time, line: str, change: UUID | None) -> None:
        self.lines.append((at, line))
        if change is not None:
            self.changes.add(change)


@dataclass
class Refreshed:
    """What a refresh did: persons affected now, notices published (messages
    and the persons they reached), notices withdrawn."""

    affected: int = 0
    messages: int = 0
    notified: int = 0
    withdrawn: int = 0
    unchanged: int = 0
    recipients: dict[UUID, UUID] = field(default_factory=dict)


def _hm(t: time) -> str:
    return f"{t.hour}.{t.minute:02d}"


def _span(a: time, b: time) -> str:
    return f"{_hm(a)}–{_hm(b)}"


def describe(lesson: DayLesson, names: dict[UUID, str]) -> str:
    """The line of one changed lesson, in Finnish."""
    times = _span(lesson.starts, lesson.ends)
    note = f" ({lesson.note})" if lesson.note else ""
    match lesson.status:
        case "cancelled":
            return f"{lesson.subject} {times} peruttu{note}"
        case "programme" if lesson.lesson_id is None:
            return f"{lesson.title or 'Erityisohjelma'}{note}"
        case "programme":  # a lesson the programme replaces
            return f"{lesson.subject} {times} ei pidetä: {lesson.title or 'erityisohjelma'}"
        case "extra":
            room = f", luokka {lesson.room}" if lesson.room else ""
            return f"Lisätunti: {lesson.subject} {times}{room}{note}"
    original = lesson.original
    assert original is not None
    parts: list[str] = []
    if (lesson.starts, lesson.ends) != (original.starts, original.ends):
        parts.append(f"siirretty klo {times}")
    if lesson.room != original.room and lesson.room:
        parts.append(f"luokka {lesson.room}")
    if lesson.teacher_ids != original.teacher_ids:
        who = ", ".join(names.get(t, "sijainen") for t in lesson.teacher_ids)
        parts.append(f"sijaisena {who}")
    what = ", ".join(parts) or "muutettu"
    return f"{lesson.subject} {_span(original.starts, original.ends)}: {what}{note}"


def render(on: date, lines: Iterable[tuple[time, str]]) -> tuple[str, str]:
    """(subject, body) of a person's notice for `on`."""
    ordered = [text for _, text in sorted(set(lines))]
    head = f"{WEEKDAY_NAMES[on.weekday()]} {on.day}.{on.month}."
    if not ordered:
        return (
            f"{head}: lukujärjestyksen muutokset peruttu",
            f"{head} mennään taas tavallisen lukujärjestyksen mukaan.",
        )
    subject = f"{head}: " + "; ".join(ordered)
    if len(subject) > MAX_SUBJECT_CHARS:
        subject = subject[: MAX_SUBJECT_CHARS - 1] + "…"
    body = f"Lukujärjestyksen muutokset {head}\n" + "\n".join(f"- {t}" for t in ordered)
    return subject, body


def lines_hash(lines: Iterable[tuple[time, str]]) -> bytes:
    return hashlib.sha256(
        msgspec.json.encode(sorted({(t.isoformat(), s) for t, s in lines}))
    ).digest()[:16]


async def _names(conn: Connection, ids: Iterable[UUID]) -> dict[UUID, str]:
    rows = await conn.fetch(
        "SELECT id, given_name, family_name FROM persons WHERE id = ANY($1)", list(set(ids))
    )
    return {r["id"]: f"{r['given_name']} {r['family_name']}" for r in rows}


async def affected_people(
    conn: Connection, hub: Any, school_id: UUID, on: date
) -> dict[UUID, Affected]:
    """Who the date's changes affect, with each person's lines (rules of the
    module docstring)."""
    from scheduling import reservations

    lessons = [x for x in await daily.day_lessons(conn, school_id, on) if x.status != "normal"]
    if not lessons:
        return {}
    teacher_ids = {t for x in lessons for t in x.teacher_ids} | {
        t for x in lessons if x.original is not None for t in x.original.teacher_ids
    }
    names = await _names(conn, teacher_ids)
    groups = {
        r["id"]: r["name"]
        for r in await conn.fetch(
            "SELECT id, name FROM groups WHERE id = ANY($1)",
            list({x.group_id for x in lessons if x.group_id is not None}),
        )
    }
    out: dict[UUID, Affected] = defaultdict(Affected)
    learner_names: dict[UUID, str] = {}
    for lesson in lessons:
        line = describe(lesson, names)
        at = lesson.original.starts if lesson.original is not None else lesson.starts
        if lesson.status == "programme" and lesson.lesson_id is not None:
            audience: Any = None  # learners hear of the programme itself; teachers of this
        elif lesson.group_id is not None:
            audience = Union(
                of=[GroupLearners(group=lesson.group_id), GroupGuardians(group=lesson.group_id)]
            )
        elif lesson.status == "programme":  # the whole school's programme day
            audience = WholeSchool(school=school_id)
        else:
            audience = None
        reached = await hub.recipients(conn, audience) if audience is not None else {}
        missing = {lid for r in reached.values() for lid in r.for_learners} - learner_names.keys()
        if missing:
            for r in await conn.fetch(
                "SELECT id, given_name FROM persons WHERE id = ANY($1)", list(missing)
            ):
                learner_names[r["id"]] = r["given_name"]
        for person, rec in reached.items():
            a = out[person]
            if rec.for_learners:  # a guardian, through their children
                children = ", ".join(sorted(learner_names[lid] for lid in rec.for_learners))
                a.add(at, f"{children}: {line}", lesson.change_id)
            else:
                a.add(at, line, lesson.change_id)
        group = groups.get(lesson.group_id) if lesson.group_id is not None else None
        teachers = set(lesson.teacher_ids)
        if lesson.original is not None:
            teachers |= set(lesson.original.teacher_ids)
        for t in teachers:
            if t not in reached:
                out[t].add(at, f"{group}: {line}" if group else line, lesson.change_id)
        if lesson.room and lesson.status in ("moved", "substituted", "extra"):
            for booking in await reservations.colliding(
                conn, school_id, on, lesson.room, lesson.starts, lesson.ends
            ):
                out[booking.booked_by].add(
                    at,
                    f"Varauksesi {booking.title} ({_span(booking.starts, booking.ends)}, "
                    f"{booking.room}) on päällekkäin: {line}",
                    lesson.change_id,
                )
    return dict(out)


class NoticesRunner:
    """The `timetable.notices` job handler: refresh one (school, date)."""

    def __init__(self, db: Database, clock: Clock, hub: Any) -> None:
        self.db = db
        self.clock = clock
        self.hub = hub

    async def __call__(self, job: Job) -> Outcome:
        await refresh(
            self.db,
            self.hub,
            self.clock,
            job.tenant_id,
            UUID(str(job.payload["school_id"])),
            date.fromisoformat(str(job.payload["date"])),
        )
        return None


def _lock_key(school_id: UUID, on: date) -> str:
    return f"timetable-notices:{school_id}:{on.isoformat()}"


async def refresh(
    db: Database, hub: Any, clock: Clock, tenant_id: UUID, school_id: UUID, on: date
) -> Refreshed:
    """Bring the date's notices in line with its changes (module docstring)."""
    done = Refreshed()
    today = today_in_helsinki(clock)
    urgency: Urgency = "high" if today <= on <= today + timedelta(days=1) else "normal"
    async with db.tenant(tenant_id) as conn:
        await conn.execute(
            "SELECT pg_advisory_xact_lock(hashtextextended($1, 0))", _lock_key(school_id, on)
        )
        people = await affected_people(conn, hub, school_id, on)
        held = {
            r["person_id"]: r
            for r in await conn.fetch(
                "SELECT person_id, message_id, lines_hash FROM timetable_notices "
                "WHERE school_id = $1 AND on_date = $2",
                school_id,
                on,
            )
        }
        done.affected = len(people)
        # 1. who needs what
        versions: dict[tuple[str, str], list[UUID]] = defaultdict(list)
        hashes: dict[UUID, bytes] = {}
        gone: list[UUID] = []
        for person in people.keys() | held.keys():
            a = people.get(person)
            digest = lines_hash(a.lines if a else [])
            old = held.get(person)
            if old is not None and bytes(old["lines_hash"]) == digest:
                done.unchanged += 1
                continue
            if a is None or not a.lines:
                if old is not None and old["message_id"] is not None:
                    gone.append(person)
                continue
            content = render(on, a.lines)
            versions[content].append(person)
            hashes[person] = digest
        # 2. a notice that is no longer true: withdrawn if unread, else corrected
        withdrawn = set(
            p for p, _ in await hub.withdraw(tenant_id, [(p, held[p]["message_id"]) for p in gone])
        )
        for person in gone:
            if person in withdrawn:
                await conn.execute(
                    "DELETE FROM timetable_notices WHERE person_id = $1 AND on_date = $2 "
                    "AND school_id = $3",
                    person,
                    on,
                    school_id,
                )
            else:
                versions[render(on, [])].append(person)
                hashes[person] = lines_hash([])
        done.withdrawn += len(withdrawn)
        # 3. the new notices, one message per version (in chunks of MAX_PERSONS)
        superseded: list[tuple[UUID, UUID]] = []
        for (subject, body), persons in versions.items():
            persons.sort()
            for i in range(0, len(persons), MAX_PERSONS):
                chunk = persons[i : i + MAX_PERSONS]
                # the same refresh run again gives the same key (no second
                # notice); a redone change or a new round is a new key
                basis = [
                    str(school_id),
                    on.isoformat(),
                    subject,
                    body,
                    chunk,
                    sorted({str(c) for p in chunk if p in people for c in people[p].changes}),
                    sorted({str(held[p]["message_id"]) for p in chunk if p in held}),
                ]
                key = hashlib.sha256(msgspec.json.encode(basis)).hexdigest()[:40]
                published = await hub.notify(
                    tenant_id,
                    ModuleEvent(
                        idempotency_key=f"change:{key}",
                        source=SOURCE,
                        audience=Persons(ids=chunk),
                        subject=subject,
                        body=body,
                        urgency=urgency,
                    ),
                )
                done.messages += 1
                done.notified += len(chunk)
                for person in chunk:
                    done.recipients[person] = published.id
                    old = held.get(person)
                    if old is not None and old["message_id"] not in (None, published.id):
                        superseded.append((person, old["message_id"]))
        await _save(conn, tenant_id, school_id, on, done.recipients, hashes, clock.now())
        # 4. the superseded notices leave the inbox where they are unread
        done.withdrawn += len(await hub.withdraw(tenant_id, superseded))
    return done


async def _save(
    conn: Connection,
    tenant_id: UUID,
    school_id: UUID,
    on: date,
    recipients: dict[UUID, UUID],
    hashes: dict[UUID, bytes],
    now: datetime,
) -> None:
    if not recipients:
        return
    people = list(recipients)
    await conn.execute(
        """
        INSERT INTO timetable_notices (tenant_id, person_id, on_date, school_id, message_id,
                                       lines_hash, updated_at)
        SELECT $1, p, $3, $4, m, h, $7 FROM unnest($2::uuid[], $5::uuid[], $6::bytea[])
            AS x (p, m, h)
        ON CONFLICT (tenant_id, person_id, on_date, school_id) DO UPDATE
        SET message_id = excluded.message_id, lines_hash = excluded.lines_hash,
            updated_at = excluded.updated_at
        """,
        tenant_id,
        people,
        on,
        school_id,
        [recipients[p] for p in people],
        [hashes[p] for p in people],
        now,
    )
