"""Events with registration, and meeting slots: the only place that changes
planning's state and sends its notifications (the rules without I/O are in
`planning.model`, the SQL in `planning.store`).

Events. Every change to an event's registrations — a registration, a
cancellation that moves the waiting list up, the event's cancellation — first
locks the event's row (`SELECT … FOR UPDATE`), so registrations racing for
the last place are taken one after another and never overbook; the first on
the waiting list moves up in the same transaction that frees the place.

Meetings. Changes to one teacher's slots and bookings are serialised by a
per-teacher advisory lock (`store.lock_teacher`): slots never overlap, a slot
is booked once, a learner has one live booking per teacher. A booking queues
its reminder (`meeting.reminder`, at REMINDER_HOUR the day before) in the
same transaction; a cancellation cancels it there too.

Notifications go out through the hub (`Hub.notify`, source "planning") after
the transaction commits — and at least once: the same transaction puts it in
the hub's outbox (`hub.actions.notify_later`), due NOTICE_BACKSTOP later,
which sends it again in case the process died before it could. The hub
dedupes by the notification's idempotency key (invariant 4), so a person gets
it once. Which guardians a notification about a learner reaches — custody,
information right, the 18-year line — is the hub's audience rule
(`LearnerGuardians`), never decided here. Logs name a notification by its
key, never by its subject or body.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime, timedelta
from typing import Any, Final
from uuid import UUID, uuid4

import msgspec

from core import jobs
from core.actions import audit_read
from core.auth import Principal
from core.clock import Clock, today_in_helsinki
from core.db import Connection, Database
from core.errors import BadRequest, Conflict, Forbidden, NotFound, ReppuError
from core.model import STAFF_ROLES
from core.rights import guardian_may_see
from hub.actions import notify_later
from hub.model import ModuleEvent, Published
from planning import store
from planning.model import (
    MAX_PAGE,
    BookableTeacher,
    BookingView,
    EventPage,
    EventView,
    NewBooking,
    NewEvent,
    NewRegistration,
    NewSeries,
    NewSlot,
    RegistrationView,
    SlotView,
    acts_for,
    booking_view,
    check_event,
    check_slots,
    cursor_of,
    event_line,
    event_notices,
    event_view,
    fi_when,
    meeting_audience,
    meeting_notice,
    parse_cursor,
    participant_view,
    registration_view,
    reminder_due,
    series_of,
    slot_view,
)

log = logging.getLogger("reppu.planning")

#: the job that sends a notification again if the after-commit send was lost
#: the job of a meeting's reminder (key: the booking's id)
REMINDER_JOB: Final = "meeting.reminder"
#: how long after commit the notice job runs (the fast path has sent it by then)
NOTICE_BACKSTOP: Final = timedelta(minutes=2)
#: roles that organise a school's events (create them, remove a participant)
ORGANISER_ROLES: Final = ("teacher", "principal", "secretary")
#: roles that may cancel any event of their school, besides its creator
OVERSEER_ROLES: Final = ("principal", "secretary")

Notify = Callable[[UUID, ModuleEvent], Awaitable[Published]]


def _has_role(who: Principal, roles: Sequence[str], school: UUID) -> bool:
    return any(f"{role}:{school}" in who.roles for role in roles)


class Planning:
    """Planning's actions. One per process; stateless apart from its dependencies."""

    def __init__(self, db: Database, clock: Clock, notify: Notify) -> None:
        self.db = db
        self.clock = clock
        self.notify = notify

    # ---- notifications -------------------------------------------------------------------

    async def _queue(self, conn: Connection, tenant: UUID, notices: Sequence[ModuleEvent]) -> None:
        """In the caller's transaction: the notices in the hub's outbox (the backstop)."""
        await notify_later(conn, tenant, notices, self.clock.now() + NOTICE_BACKSTOP)

    async def _send(self, tenant: UUID, notices: Sequence[ModuleEvent]) -> None:
        """After commit: the fast path. A failure is logged; the notice job retries."""
        for n in notices:
            try:
                await self.notify(tenant, n)
            except Exception as exc:
                log.warning("notice %s not sent yet: %s", n.idempotency_key, type(exc).__name__)

    async def _deliver(self, tenant: UUID, notice: ModuleEvent) -> jobs.Outcome:
        try:
            await self.notify(tenant, notice)
        except ReppuError as exc:
            if exc.temporary:
                raise
            # e.g. empty_audience: nobody left to tell; trying again would not help
            log.info("notice %s not sent: %s", notice.idempotency_key, exc.code)
            return jobs.Cancel(exc.code)
        return None

    # ---- who is who ----------------------------------------------------------------------

    async def _mine(self, conn: Connection, me: UUID) -> list[UUID]:
        """Myself, then the children whose matters I may see (the 18-year line)."""
        today = today_in_helsinki(self.clock)
        kids = await store.children(conn, me)
        ok = [
            k["id"]
            for k in kids
            if guardian_may_see(k["birth_date"], k["guardians_may_see"], today)
        ]
        return [me, *ok]

    async def _custody(self, conn: Connection, me: UUID) -> list[UUID]:
        """The children I act for (custodial, under 18)."""
        today = today_in_helsinki(self.clock)
        kids = await store.children(conn, me)
        return [k["id"] for k in kids if acts_for(k["kind"], k["birth_date"], today)]

    async def _acts_for(self, conn: Connection, me: UUID, learner: UUID) -> bool | None:
        """None: not my child (404 to the caller); else whether I may act for them."""
        kid = await store.guardianship(conn, me, learner)
        if kid is None:
            return None
        return acts_for(kid["kind"], kid["birth_date"], today_in_helsinki(self.clock))

    # ---- events --------------------------------------------------------------------------

    async def create_event(self, who: Principal, new: NewEvent) -> EventView:
        me = who.require_person()
        if not _has_role(who, ORGANISER_ROLES, new.school_id):
            raise Forbidden("only the school's staff organise its events", code="not_organiser")
        now = self.clock.now()
        title, groups = check_event(new, now)
        event_id = uuid4()
        async with self.db.tenant(who.tenant_id) as conn:
            if groups and len(await store.groups_at(conn, new.school_id, groups)) != len(groups):
                raise BadRequest("every group must be the school's", code="unknown_group")
            row = msgspec.structs.asdict(new) | {"title": title, "audience_groups": groups}
            del row["groups"]
            row |= {"id": event_id, "tenant_id": who.tenant_id, "created_by": me, "created_at": now}
            await store.insert_event(conn, row)
            return await self._event_view(conn, who, await self._event(conn, who, event_id))

    async def _event(
        self, conn: Connection, who: Principal, event_id: UUID, lock: bool = False
    ) -> Any:
        """The event, if the caller belongs to its school (a role there, or a
        child there); 404 otherwise. `lock`: held until commit."""
        ev = await store.event(conn, event_id, lock=lock)
        if ev is None or not await store.belongs_to_school(
            conn, who.require_person(), ev["school_id"]
        ):
            raise NotFound("no such event", code="event_not_found")
        return ev

    async def _event_views(
        self, conn: Connection, who: Principal, rows: Sequence[Any]
    ) -> list[EventView]:
        """Events with their counts and my (my children's) registrations."""
        ids = [r["id"] for r in rows]
        counts = await store.counts(conn, ids)
        mine: dict[UUID, list[RegistrationView]] = {}
        for r in await store.registrations_of(
            conn, ids, await self._mine(conn, who.require_person())
        ):
            mine.setdefault(r["event_id"], []).append(registration_view(r))
        return [event_view(r, counts.get(r["id"], (0, 0)), mine.get(r["id"], [])) for r in rows]

    async def _event_view(self, conn: Connection, who: Principal, ev: Any) -> EventView:
        """One event; with its participants for the school's staff only (a
        learner or a guardian never learns who else takes part)."""
        (view,) = await self._event_views(conn, who, [ev])
        if _has_role(who, tuple(STAFF_ROLES), ev["school_id"]):
            rows = await store.participants(conn, ev["id"])
            view.participant_list = [participant_view(r) for r in rows]
            if ev["participants"] == "learners":
                await audit_read(
                    conn, who, "person", [r["participant_id"] for r in rows], "event_participants"
                )
        return view

    async def get_event(self, who: Principal, event_id: UUID) -> EventView:
        async with self.db.tenant(who.tenant_id) as conn:
            return await self._event_view(conn, who, await self._event(conn, who, event_id))

    async def list_events(
        self, who: Principal, school: UUID | None, cursor: str | None, limit: int
    ) -> EventPage:
        """Events not yet over that concern me: all of my schools' (staff),
        learners' events I am in the audience of, events for my children."""
        me = who.require_person()
        limit = max(1, min(limit, MAX_PAGE))
        after = parse_cursor(cursor)
        staff = {UUID(r.partition(":")[2]) for r in who.roles if r.partition(":")[0] in STAFF_ROLES}
        async with self.db.tenant(who.tenant_id) as conn:
            rows = await store.visible_events(
                conn,
                staff_schools=sorted(staff),
                learner=me,
                children=(await self._mine(conn, me))[1:],
                school=school,
                after=after,
                now=self.clock.now(),
                limit=limit + 1,
            )
            items = await self._event_views(conn, who, rows[:limit])
        return EventPage(
            items=items, next=cursor_of(rows[limit - 1]) if len(rows) > limit else None
        )

    async def register(
        self, who: Principal, event_id: UUID, new: NewRegistration
    ) -> tuple[RegistrationView, bool]:
        """Register myself or my child: a place, or the end of the waiting
        list. Idempotent: registering again returns the registration as it
        stands (created False)."""
        me = who.require_person()
        now = self.clock.now()
        participant = new.participant_id or me
        async with self.db.tenant(who.tenant_id) as conn:
            ev = await self._event(conn, who, event_id, lock=True)
            if participant != me:
                may = await self._acts_for(conn, me, participant)
                if may is None:
                    raise NotFound("no such learner", code="learner_not_found")
                if ev["participants"] != "learners":
                    raise BadRequest("guardians register themselves", code="guardians_event")
                if not may:
                    raise Forbidden(
                        "a custodial guardian registers a minor", code="custody_required"
                    )
            if ev["cancelled_at"] is not None:
                raise Conflict("the event is cancelled", code="event_cancelled")
            found = await store.registration(conn, event_id, participant)
            if found is not None and found["state"] != "cancelled":
                return registration_view(found), False
            # the deadline is never after the start (a CHECK of the table)
            if now >= (ev["registration_deadline"] or ev["starts_at"]):
                raise Conflict("registration has closed", code="registration_closed")
            if ev["participants"] == "learners":
                learners = [participant]
            else:  # a guardians' event: a child in the audience whose matters are mine to see
                learners = (await self._mine(conn, me))[1:]
            if not await store.in_audience(conn, event_id, learners):
                raise Forbidden("not among those the event is for", code="not_in_audience")
            registered, waiting = (await store.counts(conn, [event_id])).get(event_id, (0, 0))
            if registered < ev["capacity"]:
                state = "registered"
            elif waiting < ev["max_waiting"]:
                state = "waiting"
            else:
                raise Conflict("the event and its waiting list are full", code="event_full")
            await store.save_registration(
                conn, who.tenant_id, event_id, participant, state, me, now
            )
            saved = await store.registration(conn, event_id, participant)
        return registration_view(saved), True

    async def cancel_registration(self, who: Principal, event_id: UUID, participant: UUID) -> None:
        """Cancel a registration (the participant, a custodial guardian of a
        learner, or the school's organiser staff, who tell the participant).
        A freed place goes to the first on the waiting list in the same
        transaction; they are told after commit. Idempotent."""
        me = who.require_person()
        now = self.clock.now()
        async with self.db.tenant(who.tenant_id) as conn:
            ev = await self._event(conn, who, event_id, lock=True)
            found = await store.registration(conn, event_id, participant)
            staff = _has_role(who, ORGANISER_ROLES, ev["school_id"])
            allowed = participant == me or staff
            if not allowed and ev["participants"] == "learners":
                allowed = bool(await self._acts_for(conn, me, participant))
            if found is None or not allowed:
                raise NotFound("no such registration", code="registration_not_found")
            if found["state"] == "cancelled":
                return
            if ev["cancelled_at"] is not None:
                raise Conflict("the event is cancelled", code="event_cancelled")
            if now >= ev["starts_at"]:
                raise Conflict("the event has started", code="event_started")
            await store.cancel_registration(conn, event_id, participant, me, now)
            notices: list[ModuleEvent] = []
            if participant != me and staff:
                notices += event_notices(
                    f"event:{event_id}:removed:{participant}:{found['seq']}",
                    ev,
                    [participant],
                    f"Ilmoittautuminen peruttu: {ev['title']}",
                    f"Koulu perui ilmoittautumisen tapahtumaan {event_line(ev)}",
                )
            if found["state"] == "registered":
                notices += await self._move_up(conn, ev, now)
            await self._queue(conn, who.tenant_id, notices)
        await self._send(who.tenant_id, notices)

    async def _move_up(self, conn: Connection, ev: Any, now: datetime) -> list[ModuleEvent]:
        """Fill free places from the waiting list, in order (the event locked)."""
        notices: list[ModuleEvent] = []
        registered, _ = (await store.counts(conn, [ev["id"]])).get(ev["id"], (0, 0))
        for _ in range(ev["capacity"] - registered):
            up = await store.promote_first(conn, ev["id"], now)
            if up is None:
                break
            notices += event_notices(
                f"event:{ev['id']}:promoted:{up['participant_id']}:{up['seq']}",
                ev,
                [up["participant_id"]],
                f"Pääsit mukaan: {ev['title']}",
                f"Jonosta vapautui paikka: ilmoittautuminen tapahtumaan {event_line(ev)}"
                " on nyt vahvistettu.",
            )
        return notices

    async def cancel_event(self, who: Principal, event_id: UUID) -> EventView:
        """Cancel the event (its creator, or the school's principal or
        secretary); everyone registered or waiting is told. Idempotent."""
        me = who.require_person()
        now = self.clock.now()
        notices: list[ModuleEvent] = []
        async with self.db.tenant(who.tenant_id) as conn:
            ev = await self._event(conn, who, event_id, lock=True)
            if ev["created_by"] != me and not _has_role(who, OVERSEER_ROLES, ev["school_id"]):
                raise Forbidden("only the event's organiser cancels it", code="not_organiser")
            if ev["cancelled_at"] is None:
                if now >= ev["starts_at"]:
                    raise Conflict("the event has started", code="event_started")
                await store.cancel_event(conn, event_id, me, now)
                notices = event_notices(
                    f"event:{event_id}:cancelled",
                    ev,
                    [r["participant_id"] for r in await store.participants(conn, event_id)],
                    f"Tapahtuma peruttu: {ev['title']}",
                    f"Tapahtuma {event_line(ev)} on peruttu.",
                )
                await self._queue(conn, who.tenant_id, notices)
            view = await self._event_view(conn, who, await store.event(conn, event_id))
        await self._send(who.tenant_id, notices)
        return view

    # ---- meeting slots -------------------------------------------------------------------

    async def open_slot(self, who: Principal, new: NewSlot) -> list[SlotView]:
        return await self._open(who, new.school_id, [(new.starts_at, new.ends_at)], new.location)

    async def open_series(self, who: Principal, new: NewSeries) -> list[SlotView]:
        return await self._open(who, new.school_id, series_of(new), new.location)

    async def _open(
        self,
        who: Principal,
        school: UUID,
        times: list[tuple[datetime, datetime]],
        location: str | None,
    ) -> list[SlotView]:
        """Open slots for a teacher of the school: all of them or none (409
        slot_overlap naming the teacher's first slot that one would overlap)."""
        me = who.require_person()
        if not _has_role(who, ("teacher",), school):
            raise Forbidden("only the school's teachers open meeting slots", code="not_teacher")
        now = self.clock.now()
        check_slots(times, now)
        ids = [uuid4() for _ in times]
        async with self.db.tenant(who.tenant_id) as conn:
            await store.lock_teacher(conn, me)
            clash = await store.clash(conn, me, times)
            if clash is not None:
                raise Conflict(
                    f"overlaps your slot at {fi_when(clash['starts_at'])}",
                    code="slot_overlap",
                    details={
                        "slot_id": str(clash["id"]),
                        "starts_at": clash["starts_at"].isoformat(),
                        "ends_at": clash["ends_at"].isoformat(),
                    },
                )
            await store.insert_slots(conn, who.tenant_id, ids, school, me, times, location, now)
            return [slot_view(await store.slot(conn, i), me) for i in ids]

    async def my_slots(self, who: Principal) -> list[SlotView]:
        """A teacher's slots not yet over, with their bookings."""
        me = who.require_person()
        async with self.db.tenant(who.tenant_id) as conn:
            rows = await store.teacher_slots(conn, me, self.clock.now())
            await audit_read(
                conn, who, "person", [r["learner_id"] for r in rows if r["learner_id"]], "meetings"
            )
        return [slot_view(r, me) for r in rows]

    async def teacher_slots(self, who: Principal, teacher: UUID) -> list[SlotView]:
        """For a guardian: a teacher's free slots, and those booked for the
        guardian's children — never the others', nor who booked them."""
        me = who.require_person()
        async with self.db.tenant(who.tenant_id) as conn:
            kids = await self._custody(conn, me)
            if not await store.teaches(conn, teacher, kids):
                raise NotFound("no such teacher of your child", code="teacher_not_found")
            rows = await store.open_slots(conn, teacher, kids, self.clock.now())
        return [slot_view(r, me) for r in rows]

    async def bookable(self, who: Principal) -> list[BookableTeacher]:
        """For a guardian: each child's teachers, their free slots, the child's booking."""
        me = who.require_person()
        async with self.db.tenant(who.tenant_id) as conn:
            kids = await self._custody(conn, me)
            rows = await store.teachers_of(conn, kids, self.clock.now())
            names = await store.names(conn, kids)
        return [
            BookableTeacher(
                learner_id=r["learner_id"],
                learner_name=names[r["learner_id"]],
                teacher_id=r["teacher_id"],
                teacher_name=r["teacher_name"],
                free_slots=r["free"],
                booking_id=r["booking_id"],
            )
            for r in rows
        ]

    async def withdraw_slot(self, who: Principal, slot_id: UUID) -> None:
        """The teacher takes a slot back; its booking is cancelled and the
        learner's custodial guardians are told. Idempotent."""
        me = who.require_person()
        now = self.clock.now()
        notices: list[ModuleEvent] = []
        async with self.db.tenant(who.tenant_id) as conn:
            await store.lock_teacher(conn, me)
            s = await store.slot(conn, slot_id)
            if s is None or s["teacher_id"] != me:
                raise NotFound("no such slot", code="slot_not_found")
            if s["cancelled_at"] is not None:
                return
            if s["starts_at"] <= now:
                raise Conflict("the slot has begun", code="slot_past")
            await store.cancel_slot(conn, slot_id, now)
            if s["booking_id"] is not None:
                notices = await self._cancel_booking(conn, who, s["booking_id"], now)
        await self._send(who.tenant_id, notices)

    # ---- bookings ------------------------------------------------------------------------

    async def book(self, who: Principal, new: NewBooking) -> BookingView:
        """A custodial guardian books a slot of a teacher of the learner: one
        live booking per learner and teacher. The teacher and the learner's
        other custodial guardians are told; the reminder is queued."""
        me = who.require_person()
        now = self.clock.now()
        async with self.db.tenant(who.tenant_id) as conn:
            s = await store.slot(conn, new.slot_id)
            if s is None or s["cancelled_at"] is not None:
                raise NotFound("no such slot", code="slot_not_found")
            may = await self._acts_for(conn, me, new.learner_id)
            if may is None:
                raise NotFound("no such learner", code="learner_not_found")
            if not may:
                raise Forbidden("a custodial guardian books for a minor", code="custody_required")
            teacher = s["teacher_id"]
            if not await store.teaches(conn, teacher, [new.learner_id]):
                raise Forbidden("the teacher does not teach this learner", code="not_your_teacher")
            await store.lock_teacher(conn, teacher)
            s = await store.slot(conn, new.slot_id)  # as it is now that we hold the lock
            assert s is not None
            if s["cancelled_at"] is not None:
                raise NotFound("no such slot", code="slot_not_found")
            if s["starts_at"] <= now:
                raise Conflict("the slot has begun", code="slot_past")
            if s["booking_id"] is not None:
                raise Conflict("the slot is taken", code="slot_taken")
            already = await store.booking_between(conn, teacher, new.learner_id, now)
            if already is not None:
                raise Conflict(
                    "the learner already has a meeting with this teacher",
                    code="already_booked",
                    details={"booking_id": str(already)},
                )
            booking_id = uuid4()
            await store.insert_booking(
                conn, who.tenant_id, booking_id, new.slot_id, teacher, new.learner_id, me, now
            )
            reminder = jobs.NewJob(
                kind=REMINDER_JOB,
                key=str(booking_id),
                due_at=reminder_due(s["starts_at"], now),
                message_id=booking_id,  # what jobs.cancel finds it by
                payload={"booking_id": str(booking_id)},
            )
            await jobs.enqueue(conn, who.tenant_id, [reminder])
            b = await store.booking(conn, booking_id)
            notices = [
                meeting_notice(
                    f"meeting:{booking_id}:booked",
                    b,
                    meeting_audience(b, but=me),
                    "Vanhempainvartti varattu",
                    "Vanhempainvartti on varattu.",
                )
            ]
            await self._queue(conn, who.tenant_id, notices)
        await self._send(who.tenant_id, notices)
        return booking_view(b, me)

    async def bookings(self, who: Principal) -> list[BookingView]:
        """Live bookings not yet over: in my slots (a teacher), and of the
        children I act for (every custodial guardian sees them)."""
        me = who.require_person()
        async with self.db.tenant(who.tenant_id) as conn:
            kids = await self._custody(conn, me)
            rows = await store.live_bookings(conn, me, kids, self.clock.now())
            taught = [r["learner_id"] for r in rows if r["teacher_id"] == me]
            await audit_read(conn, who, "person", taught, "meetings")
        return [booking_view(r, me) for r in rows]

    async def cancel_booking(self, who: Principal, booking_id: UUID) -> None:
        """Cancel a booking (the slot's teacher, or a custodial guardian of
        the learner): the slot is free again, the reminder cancelled, and the
        other side told. Idempotent."""
        me = who.require_person()
        async with self.db.tenant(who.tenant_id) as conn:
            b = await store.booking(conn, booking_id)
            if b is None or (
                b["teacher_id"] != me and b["learner_id"] not in await self._custody(conn, me)
            ):
                raise NotFound("no such booking", code="booking_not_found")
            await store.lock_teacher(conn, b["teacher_id"])
            notices = await self._cancel_booking(conn, who, booking_id, self.clock.now())
        await self._send(who.tenant_id, notices)

    async def _cancel_booking(
        self, conn: Connection, who: Principal, booking_id: UUID, now: datetime
    ) -> list[ModuleEvent]:
        """(The teacher locked.) Cancel, unqueue the reminder, queue the notice
        to the teacher and the custodial guardians but the one cancelling."""
        me = who.require_person()
        b = await store.booking(conn, booking_id)
        assert b is not None
        if b["cancelled_at"] is not None:
            return []
        if b["starts_at"] <= now:
            raise Conflict("the meeting has begun", code="meeting_started")
        await store.cancel_booking(conn, booking_id, me, now)
        await jobs.cancel(conn, message_id=booking_id, kinds=[REMINDER_JOB])
        notices = [
            meeting_notice(
                f"meeting:{booking_id}:cancelled",
                b,
                meeting_audience(b, but=me),
                "Vanhempainvartti peruttu",
                "Vanhempainvartti on peruttu, ja aika on vapautunut.",
            )
        ]
        await self._queue(conn, who.tenant_id, notices)
        return notices

    async def run_reminder(self, job: jobs.Job) -> jobs.Outcome:
        """The `meeting.reminder` job: the teacher and the learner's custodial
        guardians, the day before. Nothing for a booking cancelled or past;
        at least once, and once by the hub's key."""
        booking_id = UUID(str(job.payload["booking_id"]))
        async with self.db.tenant(job.tenant_id) as conn:
            b = await store.booking(conn, booking_id)
        if b is None or b["cancelled_at"] is not None or b["starts_at"] <= self.clock.now():
            return jobs.Cancel("booking cancelled, gone or past")
        notice = meeting_notice(
            f"meeting:{booking_id}:reminder",
            b,
            meeting_audience(b),
            "Muistutus: vanhempainvartti",
            "Muistutus tulevasta vanhempainvartista.",
        )
        return await self._deliver(job.tenant_id, notice)
