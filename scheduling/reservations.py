"""Room reservations: a school's rooms booked for events outside lessons (a
parents' evening, a meeting, a retake exam).

    POST   /v1/timetable/reservations                    book a room (201)
    GET    /v1/timetable/reservations?school_id=&date=   the day's active reservations
    PATCH  /v1/timetable/reservations/{id}               move (date, times, room) or retitle
    DELETE /v1/timetable/reservations/{id}               cancel (idempotent)

Who: the staff of the school (teacher, principal, secretary, staff) book and
list; the booker, or the school's principal or secretary, move and cancel.
Anyone else is refused (403); a reservation of a school one is not staff of is
404 — not there, or not yours.

A booking or a move is refused with 409 `room_clash` when it overlaps, in the
room, on the date (`details.clashes` names every item in the way):

* a lesson, as `daily.day_lessons` gives the date — the published timetable
  with that day's changes applied: a cancelled lesson frees its room, a lesson
  moved into the room or an extra lesson takes it, a programme entry takes a
  room only when it names one. A lesson a programme day replaces keeps its
  room: whether the programme uses it is not known, and a double booking is
  worse than a refusal;
* another active reservation (its id, title, times and booker's name: only
  staff can book or list, so the name is staff-to-staff).

Times are Europe/Helsinki wall-clock times; intervals are half-open
[starts, ends), so back-to-back bookings do not clash. Rooms compare trimmed
and case-insensitively ("a101" is "A101").

The race: the check and the write run under a transaction-scoped advisory lock
on (school, date, room). Of two bookings racing for one room and time, the
second waits for the first to commit and then — READ COMMITTED: each statement
sees what committed before it — sees its row and is refused. Lesson changes do
not take the lock; `scheduling.notices` asks `colliding()` and tells bookers.

When someone other than the booker moves or cancels a reservation, the booker
is notified (`hub.notify`, source `timetable`) after commit, with one
idempotency key per change — and at least once: the same transaction puts the
notice in the hub's outbox (`hub.actions.notify_later`), which sends it again
`NOTIFY_BACKSTOP` later (a no-op when the first send got through).
"""

from __future__ import annotations

import logging
from datetime import date, datetime, time, timedelta
from typing import Annotated, Any, Final, Protocol
from uuid import UUID, uuid4

import asyncpg
import msgspec
from litestar import Request, delete, get, patch, post
from litestar.params import FromPath, FromQuery, JSONBody, QueryParameter

from core.api import principal, services
from core.auth import Principal
from core.clock import today_in_helsinki
from core.db import Connection
from core.errors import BadRequest, Conflict, Forbidden, NotFound
from hub.actions import NOTIFY_BACKSTOP, notify_later
from hub.model import MAX_SUBJECT_CHARS, ModuleEvent, PersonSel
from scheduling.actions import SCHEDULER_ROLES
from scheduling.daily import DayLesson, day_lessons

log = logging.getLogger("reppu.scheduling")

SOURCE: Final = "timetable"
#: the roles that may book a school's rooms
STAFF_ROLES: Final = ("teacher", "principal", "secretary", "staff")
#: longest title, in characters (the table's CHECK)
MAX_TITLE_CHARS: Final = 200
#: longest room name, in characters
MAX_ROOM_CHARS: Final = 100
#: how far ahead a room may be booked, in days from today (Helsinki)
MAX_DAYS_AHEAD: Final = 365
#: most reservations GET returns for one day (more: `truncated`)
MAX_PAGE: Final = 500
#: most active reservations from today on that one person may hold (409 beyond)
MAX_ACTIVE_PER_BOOKER: Final = 200

Title = Annotated[str, msgspec.Meta(min_length=1, max_length=MAX_TITLE_CHARS)]
Room = Annotated[str, msgspec.Meta(min_length=1, max_length=MAX_ROOM_CHARS)]
#: HH:MM or HH:MM:SS, local time
WallTime = Annotated[str, msgspec.Meta(pattern=r"^([01]\d|2[0-3]):[0-5]\d(:[0-5]\d)?$")]


class Reservation(msgspec.Struct, frozen=True, kw_only=True):
    id: UUID
    school_id: UUID
    room: str
    on_date: date = msgspec.field(name="date")
    starts: time
    ends: time
    title: str
    booked_by: UUID
    booked_by_name: str
    created_at: datetime
    cancelled_at: datetime | None = None


class NewReservation(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """POST /v1/timetable/reservations"""

    school_id: UUID
    room: Room
    on_date: date = msgspec.field(name="date")
    starts: WallTime
    ends: WallTime
    title: Title


class ReservationChange(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """PATCH /v1/timetable/reservations/{id}: what is given changes."""

    room: Room | None = None
    on_date: date | None = msgspec.field(default=None, name="date")
    starts: WallTime | None = None
    ends: WallTime | None = None
    title: Title | None = None


class DayReservations(msgspec.Struct, frozen=True, kw_only=True):
    school_id: UUID
    on_date: date = msgspec.field(name="date")
    items: list[Reservation]
    truncated: bool


class Notifier(Protocol):
    async def notify(self, tenant_id: UUID, event: ModuleEvent) -> object: ...


# ---- rules without I/O -------------------------------------------------------------------


def room_key(room: str) -> str:
    return room.strip().casefold()


def overlaps(a_starts: time, a_ends: time, b_starts: time, b_ends: time) -> bool:
    return a_starts < b_ends and b_starts < a_ends


def lesson_clashes(
    lessons: list[DayLesson], room: str, starts: time, ends: time
) -> list[DayLesson]:
    """The day's lessons that take `room` during [starts, ends)."""
    return [
        x
        for x in lessons
        if x.status != "cancelled"
        and x.room is not None
        and room_key(x.room) == room_key(room)
        and overlaps(x.starts, x.ends, starts, ends)
    ]


def _hhmm(t: time) -> str:
    return t.isoformat(timespec="minutes")


def clash_details(lessons: list[DayLesson], others: list[Reservation]) -> dict[str, Any]:
    return {
        "clashes": [
            {
                "kind": "lesson",
                "subject": x.subject,
                "group_id": None if x.group_id is None else str(x.group_id),
                "starts": _hhmm(x.starts),
                "ends": _hhmm(x.ends),
                "status": x.status,
                **({"title": x.title} if x.title else {}),
            }
            for x in lessons
        ]
        + [
            {
                "kind": "reservation",
                "id": str(r.id),
                "title": r.title,
                "starts": _hhmm(r.starts),
                "ends": _hhmm(r.ends),
                "booked_by_name": r.booked_by_name,
            }
            for r in others
        ]
    }


def check_times(starts: time, ends: time, on: date, today: date) -> None:
    if ends <= starts:
        raise BadRequest("a reservation ends after it starts", code="invalid_times")
    if on < today:
        raise BadRequest("a date in the past cannot be booked", code="date_in_past")
    if on > today + timedelta(days=MAX_DAYS_AHEAD):
        raise BadRequest(
            f"rooms can be booked at most {MAX_DAYS_AHEAD} days ahead", code="too_far_ahead"
        )


def _clean(text: str, code: str) -> str:
    text = text.strip()
    if not text:
        raise BadRequest("must not be blank", code=code)
    return text


_WEEKDAYS: Final = ("ma", "ti", "ke", "to", "pe", "la", "su")


def describe(r: Reservation) -> str:
    """Finnish: "Vanhempainilta (A101, ti 15.12.2026 klo 17.00–18.30)"."""
    when = f"{_WEEKDAYS[r.on_date.weekday()]} {r.on_date:%d.%m.%Y}"
    return f"{r.title} ({r.room}, {when} klo {r.starts:%H.%M}–{r.ends:%H.%M})"


def change_event(
    before: Reservation, after: Reservation, by_name: str, *, cancelled: bool, key: str
) -> ModuleEvent:
    """The booker's notice of someone else's change."""
    if cancelled:
        subject = f"Tilavarauksesi peruttiin: {before.title}"
        body = f"{by_name} perui tilavarauksesi {describe(before)}."
    else:
        subject = f"Tilavaraustasi muutettiin: {before.title}"
        body = f"{by_name} muutti tilavaraustasi {describe(before)}. Nyt: {describe(after)}."
    return ModuleEvent(
        idempotency_key=key,
        source=SOURCE,
        audience=PersonSel(id=after.booked_by),
        subject=subject[:MAX_SUBJECT_CHARS],
        body=body,
    )


# ---- rights ------------------------------------------------------------------------------


def require_staff(who: Principal, school_id: UUID) -> UUID:
    person = who.require_person()
    if not any(f"{role}:{school_id}" in who.roles for role in STAFF_ROLES):
        raise Forbidden("only the school's staff book its rooms", code="not_school_staff")
    return person


def may_manage(who: Principal, r: Reservation) -> bool:
    return r.booked_by == who.person_id or any(
        f"{role}:{r.school_id}" in who.roles for role in SCHEDULER_ROLES
    )


# ---- SQL ---------------------------------------------------------------------------------

_SELECT: Final = (
    "SELECT r.id, r.school_id, r.room, r.on_date, r.starts, r.ends, r.title, r.booked_by, "
    "coalesce(p.given_name || ' ' || p.family_name, '') AS booked_by_name, r.created_at, "
    "r.cancelled_at FROM room_reservations r LEFT JOIN persons p ON p.id = r.booked_by "
)


def _of(row: asyncpg.Record) -> Reservation:
    return Reservation(**dict(row))


async def colliding(
    conn: Connection, school_id: UUID, on: date, room: str, starts: time, ends: time
) -> list[Reservation]:
    """Active reservations of `room` on `on` overlapping [starts, ends)."""
    # rooms compare case-insensitively, in Python: lower() under the C locale
    # would leave "Ä" alone; the time overlap narrows the rows first
    rows = await conn.fetch(
        _SELECT + "WHERE r.school_id = $1 AND r.on_date = $2 AND r.cancelled_at IS NULL "
        "AND r.starts < $4 AND r.ends > $3 ORDER BY r.starts, r.id",
        school_id,
        on,
        starts,
        ends,
    )
    return [r for r in map(_of, rows) if room_key(r.room) == room_key(room)]


async def lock_room(conn: Connection, school_id: UUID, on: date, room: str) -> None:
    """Serialise bookings of one room on one date until the transaction ends."""
    await conn.execute(
        "SELECT pg_advisory_xact_lock(hashtextextended($1, 0))",
        f"room-reservation:{school_id}:{on.isoformat()}:{room_key(room)}",
    )


async def _refuse_clashes(
    conn: Connection,
    school_id: UUID,
    room: str,
    on: date,
    starts: time,
    ends: time,
    *,
    skip: UUID | None = None,
) -> None:
    await lock_room(conn, school_id, on, room)
    lessons = lesson_clashes(await day_lessons(conn, school_id, on), room, starts, ends)
    others = [r for r in await colliding(conn, school_id, on, room, starts, ends) if r.id != skip]
    if lessons or others:
        raise Conflict(
            "the room is taken at that time",
            code="room_clash",
            details=clash_details(lessons, others),
        )


async def _load(conn: Connection, who: Principal, reservation_id: UUID) -> Reservation:
    row = await conn.fetchrow(_SELECT + "WHERE r.id = $1 FOR UPDATE OF r", reservation_id)
    if row is None or not any(f"{role}:{row['school_id']}" in who.roles for role in STAFF_ROLES):
        raise NotFound("no such reservation", code="reservation_not_found")
    r = _of(row)
    if not may_manage(who, r):
        raise Forbidden(
            "only the booker, the principal or the secretary changes a reservation",
            code="not_your_reservation",
        )
    return r


async def _name(conn: Connection, person: UUID) -> str:
    name: str | None = await conn.fetchval(
        "SELECT given_name || ' ' || family_name FROM persons WHERE id = $1", person
    )
    return name or ""


# ---- routes ------------------------------------------------------------------------------


def _notifier(request: Request[Any, Any, Any]) -> Notifier:
    hub: Notifier = request.app.state["hub"]
    return hub


@post("/v1/timetable/reservations", tags=["timetable"], status_code=201)
async def post_reservation(
    request: Request[Principal, Any, Any], data: JSONBody[NewReservation]
) -> Reservation:
    """Book a room of my school (staff); 409 `room_clash` names what is in the way."""
    svc = services(request)
    who = principal(request)
    person = require_staff(who, data.school_id)
    room = _clean(data.room, "invalid_room")
    title = _clean(data.title, "invalid_title")
    starts, ends = time.fromisoformat(data.starts), time.fromisoformat(data.ends)
    today = today_in_helsinki(svc.clock)
    check_times(starts, ends, data.on_date, today)
    new_id, now = uuid4(), svc.clock.now()
    async with svc.db.tenant(who.tenant_id) as conn:
        held = await conn.fetchval(
            "SELECT count(*) FROM room_reservations WHERE booked_by = $1 "
            "AND cancelled_at IS NULL AND on_date >= $2",
            person,
            today,
        )
        if held >= MAX_ACTIVE_PER_BOOKER:
            raise Conflict(
                f"at most {MAX_ACTIVE_PER_BOOKER} active reservations a person",
                code="too_many_reservations",
            )
        await _refuse_clashes(conn, data.school_id, room, data.on_date, starts, ends)
        await conn.execute(
            "INSERT INTO room_reservations (id, tenant_id, school_id, room, on_date, starts, "
            "ends, title, booked_by, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
            new_id,
            who.tenant_id,
            data.school_id,
            room,
            data.on_date,
            starts,
            ends,
            title,
            person,
            now,
        )
        name = await _name(conn, person)
    return Reservation(
        id=new_id,
        school_id=data.school_id,
        room=room,
        on_date=data.on_date,
        starts=starts,
        ends=ends,
        title=title,
        booked_by=person,
        booked_by_name=name,
        created_at=now,
    )


@get("/v1/timetable/reservations", tags=["timetable"])
async def get_reservations(
    request: Request[Principal, Any, Any],
    school_id: FromQuery[UUID],
    on: Annotated[date, QueryParameter(name="date")],
) -> DayReservations:
    """The school's active reservations of a day (staff of the school)."""
    svc = services(request)
    who = principal(request)
    require_staff(who, school_id)
    async with svc.db.tenant(who.tenant_id) as conn:
        rows = await conn.fetch(
            _SELECT + "WHERE r.school_id = $1 AND r.on_date = $2 AND r.cancelled_at IS NULL "
            "ORDER BY r.starts, r.room, r.id LIMIT $3",
            school_id,
            on,
            MAX_PAGE + 1,
        )
    items = [_of(r) for r in rows]
    return DayReservations(
        school_id=school_id, on_date=on, items=items[:MAX_PAGE], truncated=len(items) > MAX_PAGE
    )


@patch("/v1/timetable/reservations/{reservation_id:uuid}", tags=["timetable"])
async def patch_reservation(
    request: Request[Principal, Any, Any],
    reservation_id: FromPath[UUID],
    data: JSONBody[ReservationChange],
) -> Reservation:
    """Move or retitle a reservation (its booker, the principal or the secretary);
    the new time and room are checked for clashes as a new booking is."""
    svc = services(request)
    who = principal(request)
    async with svc.db.tenant(who.tenant_id) as conn:
        before = await _load(conn, who, reservation_id)
        if before.cancelled_at is not None:
            raise Conflict("the reservation is cancelled", code="reservation_cancelled")
        after = msgspec.structs.replace(
            before,
            room=before.room if data.room is None else _clean(data.room, "invalid_room"),
            on_date=data.on_date or before.on_date,
            starts=before.starts if data.starts is None else time.fromisoformat(data.starts),
            ends=before.ends if data.ends is None else time.fromisoformat(data.ends),
            title=before.title if data.title is None else _clean(data.title, "invalid_title"),
        )
        if after == before:
            return before
        where = (after.room, after.on_date, after.starts, after.ends)
        if where != (before.room, before.on_date, before.starts, before.ends):
            check_times(after.starts, after.ends, after.on_date, today_in_helsinki(svc.clock))
            await _refuse_clashes(conn, after.school_id, *where, skip=after.id)
        await conn.execute(
            "UPDATE room_reservations SET room = $2, on_date = $3, starts = $4, ends = $5, "
            "title = $6 WHERE id = $1",
            after.id,
            after.room,
            after.on_date,
            after.starts,
            after.ends,
            after.title,
        )
        by_name = await _name(conn, who.require_person())
        event = None
        if after.booked_by != who.person_id:
            # a fresh key per change: moving there and back again is two notices
            key = f"reservation:{after.id}:changed:{uuid4()}"
            event = change_event(before, after, by_name, cancelled=False, key=key)
            await notify_later(conn, who.tenant_id, [event], svc.clock.now() + NOTIFY_BACKSTOP)
    if event is not None:
        await _notifier(request).notify(who.tenant_id, event)
    return after


@delete("/v1/timetable/reservations/{reservation_id:uuid}", tags=["timetable"], status_code=200)
async def delete_reservation(
    request: Request[Principal, Any, Any], reservation_id: FromPath[UUID]
) -> Reservation:
    """Cancel a reservation (its booker, the principal or the secretary).
    Idempotent: cancelling a cancelled one changes nothing and tells no one."""
    svc = services(request)
    who = principal(request)
    async with svc.db.tenant(who.tenant_id) as conn:
        before = await _load(conn, who, reservation_id)
        if before.cancelled_at is not None:
            return before
        now = svc.clock.now()
        await conn.execute(
            "UPDATE room_reservations SET cancelled_at = $2 WHERE id = $1", before.id, now
        )
        by_name = await _name(conn, who.require_person())
        after = msgspec.structs.replace(before, cancelled_at=now)
        event = None
        if after.booked_by != who.person_id:
            # a reservation is cancelled once: the key is the reservation's
            key = f"reservation:{after.id}:cancelled"
            event = change_event(before, after, by_name, cancelled=True, key=key)
            await notify_later(conn, who.tenant_id, [event], now + NOTIFY_BACKSTOP)
    if event is not None:
        await _notifier(request).notify(who.tenant_id, event)
    return after


ROUTES = [post_reservation, get_reservations, patch_reservation, delete_reservation]
