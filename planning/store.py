"""Planning's SQL (asyncpg), in the caller's tenant transaction. No rules
here beyond what a query must say; `planning.actions` decides."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

import asyncpg

from core.db import Connection

Row = asyncpg.Record


def _in_audience(learner: str) -> str:
    """SQL: is `learner` in the audience of event `e` (its groups', or the
    whole school's learners when it names no group)?"""
    return (
        f"(EXISTS (SELECT 1 FROM group_learners gl WHERE gl.learner_id = {learner}"
        f" AND gl.group_id = ANY (e.audience_groups))"
        f" OR (cardinality(e.audience_groups) = 0 AND EXISTS (SELECT 1 FROM person_roles pr"
        f" WHERE pr.person_id = {learner} AND pr.school_id = e.school_id"
        f" AND pr.role = 'learner')))"
    )


# ---- who is who --------------------------------------------------------------------------


async def guardianship(conn: Connection, guardian: UUID, learner: UUID) -> Row | None:
    return await conn.fetchrow(
        "SELECT g.kind, p.birth_date, p.guardians_may_see FROM guardianships g"
        " JOIN persons p ON p.id = g.learner_id WHERE g.guardian_id = $1 AND g.learner_id = $2",
        guardian,
        learner,
    )


async def children(conn: Connection, guardian: UUID) -> list[Row]:
    return await conn.fetch(
        "SELECT g.learner_id AS id, g.kind, p.birth_date, p.guardians_may_see,"
        " p.given_name || ' ' || p.family_name AS name FROM guardianships g"
        " JOIN persons p ON p.id = g.learner_id WHERE g.guardian_id = $1 ORDER BY name",
        guardian,
    )


async def names(conn: Connection, ids: Sequence[UUID]) -> dict[UUID, str]:
    rows = await conn.fetch(
        "SELECT id, given_name || ' ' || family_name AS name FROM persons WHERE id = ANY ($1)",
        list(ids),
    )
    return {r["id"]: r["name"] for r in rows}


async def belongs_to_school(conn: Connection, person: UUID, school: UUID) -> bool:
    """A role at the school, or a child who learns there."""
    found: bool = await conn.fetchval(
        "SELECT EXISTS (SELECT 1 FROM person_roles WHERE person_id = $1 AND school_id = $2)"
        " OR EXISTS (SELECT 1 FROM guardianships g JOIN person_roles r"
        " ON r.person_id = g.learner_id AND r.role = 'learner'"
        " WHERE g.guardian_id = $1 AND r.school_id = $2)",
        person,
        school,
    )
    return found


async def groups_at(conn: Connection, school: UUID, groups: Sequence[UUID]) -> set[UUID]:
    rows = await conn.fetch(
        "SELECT id FROM groups WHERE school_id = $1 AND id = ANY ($2)", school, list(groups)
    )
    return {r["id"] for r in rows}


async def teaches(conn: Connection, teacher: UUID, learners: Sequence[UUID]) -> bool:
    """Does the teacher teach a group of one of `learners`?"""
    found: bool = await conn.fetchval(
        "SELECT EXISTS (SELECT 1 FROM group_teachers t JOIN group_learners l"
        " ON l.group_id = t.group_id WHERE t.teacher_id = $1 AND l.learner_id = ANY ($2))",
        teacher,
        list(learners),
    )
    return found


# ---- events ------------------------------------------------------------------------------

_EVENT = (
    "SELECT e.id, e.school_id, e.title, e.description, e.location, e.starts_at, e.ends_at,"
    " e.capacity, e.max_waiting, e.participants, e.audience_groups, e.registration_deadline,"
    " e.created_by, e.cancelled_at FROM planning_events e"
)


async def insert_event(conn: Connection, row: dict[str, Any]) -> None:
    cols = ", ".join(row)
    args = ", ".join(f"${i}" for i in range(1, len(row) + 1))
    await conn.execute(f"INSERT INTO planning_events ({cols}) VALUES ({args})", *row.values())


async def event(conn: Connection, event_id: UUID, *, lock: bool = False) -> Row | None:
    """The event; `lock`: FOR UPDATE, held to the end of the transaction —
    every change to its registrations takes this lock first."""
    return await conn.fetchrow(
        _EVENT + " WHERE e.id = $1" + (" FOR UPDATE" if lock else ""), event_id
    )


async def visible_events(
    conn: Connection,
    *,
    staff_schools: Sequence[UUID],
    learner: UUID,
    children: Sequence[UUID],
    school: UUID | None,
    after: tuple[datetime, UUID] | None,
    now: datetime,
    limit: int,
) -> list[Row]:
    """Events not yet over, by start: all of `staff_schools`', learners'
    events with `learner` in the audience, and any with one of `children`."""
    return await conn.fetch(
        _EVENT + " WHERE e.ends_at > $1 AND ($2::uuid IS NULL OR e.school_id = $2)"
        " AND ($3::timestamptz IS NULL OR (e.starts_at, e.id) > ($3, $4::uuid))"
        " AND (e.school_id = ANY ($5)"
        f" OR (e.participants = 'learners' AND {_in_audience('$6')})"
        f" OR EXISTS (SELECT 1 FROM unnest($7::uuid[]) c WHERE {_in_audience('c')}))"
        " ORDER BY e.starts_at, e.id LIMIT $8",
        now,
        school,
        after[0] if after else None,
        after[1] if after else None,
        list(staff_schools),
        learner,
        list(children),
        limit,
    )


async def in_audience(conn: Connection, event_id: UUID, learners: Sequence[UUID]) -> list[UUID]:
    rows = await conn.fetch(
        "SELECT l FROM planning_events e, unnest($2::uuid[]) l"
        f" WHERE e.id = $1 AND {_in_audience('l')}",
        event_id,
        list(learners),
    )
    return [r["l"] for r in rows]


async def counts(conn: Connection, event_ids: Sequence[UUID]) -> dict[UUID, tuple[int, int]]:
    """Event → (registered, waiting)."""
    rows = await conn.fetch(
        "SELECT event_id, count(*) FILTER (WHERE state = 'registered') AS registered,"
        " count(*) FILTER (WHERE state = 'waiting') AS waiting FROM planning_registrations"
        " WHERE event_id = ANY ($1) GROUP BY event_id",
        list(event_ids),
    )
    return {r["event_id"]: (r["registered"], r["waiting"]) for r in rows}


_REGISTRATION = (
    "SELECT r.event_id, r.participant_id, r.state, r.seq, r.registered_by, r.registered_at,"
    " CASE WHEN r.state = 'waiting' THEN (SELECT count(*) FROM planning_registrations w"
    " WHERE w.event_id = r.event_id AND w.state = 'waiting' AND w.seq <= r.seq) END AS position"
    " FROM planning_registrations r"
)


async def registration(conn: Connection, event_id: UUID, participant: UUID) -> Row | None:
    return await conn.fetchrow(
        _REGISTRATION + " WHERE r.event_id = $1 AND r.participant_id = $2", event_id, participant
    )


async def registrations_of(
    conn: Connection, event_ids: Sequence[UUID], participants: Sequence[UUID]
) -> list[Row]:
    """The live registrations of `participants` in `event_ids`."""
    return await conn.fetch(
        _REGISTRATION + " WHERE r.event_id = ANY ($1) AND r.participant_id = ANY ($2)"
        " AND r.state <> 'cancelled' ORDER BY r.seq",
        list(event_ids),
        list(participants),
    )


async def participants(conn: Connection, event_id: UUID) -> list[Row]:
    """Everyone registered, then everyone waiting in order, with names."""
    return await conn.fetch(
        "SELECT r.participant_id, r.state, r.seq, r.registered_by, r.registered_at,"
        " coalesce(p.given_name || ' ' || p.family_name, '') AS name,"
        " CASE WHEN r.state = 'waiting'"
        " THEN row_number() OVER (PARTITION BY r.state ORDER BY r.seq) END AS position"
        " FROM planning_registrations r LEFT JOIN persons p ON p.id = r.participant_id"
        " WHERE r.event_id = $1 AND r.state <> 'cancelled' ORDER BY r.state, r.seq",
        event_id,
    )


async def save_registration(
    conn: Connection,
    tenant_id: UUID,
    event_id: UUID,
    participant: UUID,
    state: str,
    by: UUID,
    now: datetime,
) -> None:
    """A new registration, or a cancelled one made again: at the end of the
    queue (the event's next seq; the caller holds the event's lock)."""
    await conn.execute(
        "WITH s AS (UPDATE planning_events SET next_seq = next_seq + 1 WHERE id = $2"
        " RETURNING next_seq)"
        " INSERT INTO planning_registrations (tenant_id, event_id, participant_id, state, seq,"
        " registered_by, registered_at) SELECT $1, $2, $3, $4, s.next_seq, $5, $6 FROM s"
        " ON CONFLICT (tenant_id, event_id, participant_id) DO UPDATE SET state = EXCLUDED.state,"
        " seq = EXCLUDED.seq, registered_by = EXCLUDED.registered_by,"
        " registered_at = EXCLUDED.registered_at, promoted_at = NULL, cancelled_at = NULL,"
        " cancelled_by = NULL",
        tenant_id,
        event_id,
        participant,
        state,
        by,
        now,
    )


async def cancel_registration(
    conn: Connection, event_id: UUID, participant: UUID, by: UUID, now: datetime
) -> None:
    await conn.execute(
        "UPDATE planning_registrations SET state = 'cancelled', cancelled_at = $3,"
        " cancelled_by = $4 WHERE event_id = $1 AND participant_id = $2",
        event_id,
        participant,
        now,
        by,
    )


async def promote_first(conn: Connection, event_id: UUID, now: datetime) -> Row | None:
    """The first on the waiting list gets the place (the caller holds the lock)."""
    return await conn.fetchrow(
        "UPDATE planning_registrations SET state = 'registered', promoted_at = $2"
        " WHERE event_id = $1 AND participant_id = (SELECT participant_id"
        " FROM planning_registrations WHERE event_id = $1 AND state = 'waiting'"
        " ORDER BY seq LIMIT 1) RETURNING participant_id, seq",
        event_id,
        now,
    )


async def cancel_event(conn: Connection, event_id: UUID, by: UUID, now: datetime) -> None:
    await conn.execute(
        "UPDATE planning_events SET cancelled_at = $2, cancelled_by = $3 WHERE id = $1",
        event_id,
        now,
        by,
    )


# ---- meeting slots -----------------------------------------------------------------------


async def lock_teacher(conn: Connection, teacher: UUID) -> None:
    """Serialise changes to one teacher's slots and bookings until commit: no
    two overlapping slots, no two bookings of a slot or of a learner."""
    await conn.execute(
        "SELECT pg_advisory_xact_lock(hashtextextended('reppu.meetings:' || $1::uuid::text, 0))",
        teacher,
    )


async def clash(
    conn: Connection, teacher: UUID, times: Sequence[tuple[datetime, datetime]]
) -> Row | None:
    """The teacher's first live slot that overlaps one of `times`."""
    return await conn.fetchrow(
        "SELECT s.id, s.starts_at, s.ends_at FROM meeting_slots s,"
        " unnest($2::timestamptz[], $3::timestamptz[]) n(st, en)"
        " WHERE s.teacher_id = $1 AND s.cancelled_at IS NULL"
        " AND s.starts_at < n.en AND n.st < s.ends_at ORDER BY s.starts_at LIMIT 1",
        teacher,
        [t[0] for t in times],
        [t[1] for t in times],
    )


async def insert_slots(
    conn: Connection,
    tenant_id: UUID,
    ids: Sequence[UUID],
    school: UUID,
    teacher: UUID,
    times: Sequence[tuple[datetime, datetime]],
    location: str | None,
    now: datetime,
) -> None:
    await conn.execute(
        "INSERT INTO meeting_slots (id, tenant_id, school_id, teacher_id, starts_at, ends_at,"
        " location, created_at) SELECT u.id, $1, $2, $3, u.st, u.en, $4, $5"
        " FROM unnest($6::uuid[], $7::timestamptz[], $8::timestamptz[]) u(id, st, en)",
        tenant_id,
        school,
        teacher,
        location,
        now,
        list(ids),
        [t[0] for t in times],
        [t[1] for t in times],
    )


_SLOTS = (
    "SELECT s.id, s.school_id, s.teacher_id, s.starts_at, s.ends_at, s.location, s.cancelled_at,"
    " b.id AS booking_id, b.learner_id, b.booked_by, b.booked_at,"
    " t.given_name || ' ' || t.family_name AS teacher_name,"
    " l.given_name || ' ' || l.family_name AS learner_name"
    " FROM meeting_slots s JOIN persons t ON t.id = s.teacher_id"
    " LEFT JOIN meeting_bookings b ON b.slot_id = s.id AND b.cancelled_at IS NULL"
    " LEFT JOIN persons l ON l.id = b.learner_id"
)


async def slot(conn: Connection, slot_id: UUID) -> Row | None:
    """A slot with its live booking, if any."""
    return await conn.fetchrow(_SLOTS + " WHERE s.id = $1", slot_id)


async def teacher_slots(conn: Connection, teacher: UUID, since: datetime) -> list[Row]:
    return await conn.fetch(
        _SLOTS + " WHERE s.teacher_id = $1 AND s.cancelled_at IS NULL AND s.ends_at > $2"
        " ORDER BY s.starts_at",
        teacher,
        since,
    )


async def open_slots(
    conn: Connection, teacher: UUID, learners: Sequence[UUID], since: datetime
) -> list[Row]:
    """The teacher's free slots from `since`, and those booked for `learners`."""
    return await conn.fetch(
        _SLOTS + " WHERE s.teacher_id = $1 AND s.cancelled_at IS NULL AND s.starts_at > $3"
        " AND (b.id IS NULL OR b.learner_id = ANY ($2)) ORDER BY s.starts_at",
        teacher,
        list(learners),
        since,
    )


async def cancel_slot(conn: Connection, slot_id: UUID, now: datetime) -> None:
    await conn.execute("UPDATE meeting_slots SET cancelled_at = $2 WHERE id = $1", slot_id, now)


# ---- bookings ----------------------------------------------------------------------------

_BOOKINGS = (
    "SELECT b.id, b.slot_id, b.teacher_id, b.learner_id, b.booked_by, b.booked_at,"
    " b.cancelled_at, s.starts_at, s.ends_at, s.location,"
    " t.given_name || ' ' || t.family_name AS teacher_name,"
    " l.given_name || ' ' || l.family_name AS learner_name"
    " FROM meeting_bookings b JOIN meeting_slots s ON s.id = b.slot_id"
    " JOIN persons t ON t.id = b.teacher_id JOIN persons l ON l.id = b.learner_id"
)


async def booking(conn: Connection, booking_id: UUID) -> Row | None:
    return await conn.fetchrow(_BOOKINGS + " WHERE b.id = $1", booking_id)


async def live_bookings(
    conn: Connection, teacher: UUID, learners: Sequence[UUID], since: datetime
) -> list[Row]:
    """Live bookings, not yet over, with `teacher` or for one of `learners`."""
    return await conn.fetch(
        _BOOKINGS + " WHERE b.cancelled_at IS NULL AND s.ends_at > $3"
        " AND (b.teacher_id = $1 OR b.learner_id = ANY ($2)) ORDER BY s.starts_at",
        teacher,
        list(learners),
        since,
    )


async def booking_between(
    conn: Connection, teacher: UUID, learner: UUID, since: datetime
) -> UUID | None:
    """The learner's live booking with the teacher that is not yet over."""
    found: UUID | None = await conn.fetchval(
        "SELECT b.id FROM meeting_bookings b JOIN meeting_slots s ON s.id = b.slot_id"
        " WHERE b.teacher_id = $1 AND b.learner_id = $2 AND b.cancelled_at IS NULL"
        " AND s.ends_at > $3",
        teacher,
        learner,
        since,
    )
    return found


async def insert_booking(
    conn: Connection,
    tenant_id: UUID,
    booking_id: UUID,
    slot_id: UUID,
    teacher: UUID,
    learner: UUID,
    by: UUID,
    now: datetime,
) -> None:
    await conn.execute(
        "INSERT INTO meeting_bookings (id, tenant_id, slot_id, teacher_id, learner_id, booked_by,"
        " booked_at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
        booking_id,
        tenant_id,
        slot_id,
        teacher,
        learner,
        by,
        now,
    )


async def cancel_booking(conn: Connection, booking_id: UUID, by: UUID, now: datetime) -> None:
    await conn.execute(
        "UPDATE meeting_bookings SET cancelled_at = $2, cancelled_by = $3"
        " WHERE id = $1 AND cancelled_at IS NULL",
        booking_id,
        now,
        by,
    )


async def teachers_of(conn: Connection, learners: Sequence[UUID], since: datetime) -> list[Row]:
    """Each (learner, teacher of one of the learner's groups), with the
    teacher's free slots from `since` and the learner's live booking."""
    return await conn.fetch(
        "SELECT DISTINCT gl.learner_id, gt.teacher_id,"
        " t.given_name || ' ' || t.family_name AS teacher_name,"
        " (SELECT count(*) FROM meeting_slots s WHERE s.teacher_id = gt.teacher_id"
        "  AND s.cancelled_at IS NULL AND s.starts_at > $2 AND NOT EXISTS (SELECT 1"
        "  FROM meeting_bookings b WHERE b.slot_id = s.id AND b.cancelled_at IS NULL)) AS free,"
        " (SELECT b.id FROM meeting_bookings b JOIN meeting_slots s ON s.id = b.slot_id"
        "  WHERE b.teacher_id = gt.teacher_id AND b.learner_id = gl.learner_id"
        "  AND b.cancelled_at IS NULL AND s.ends_at > $2) AS booking_id"
        " FROM group_learners gl JOIN group_teachers gt ON gt.group_id = gl.group_id"
        " JOIN persons t ON t.id = gt.teacher_id WHERE gl.learner_id = ANY ($1)"
        " ORDER BY gl.learner_id, teacher_name",
        list(learners),
        since,
    )
