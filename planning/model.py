"""Planning's types — requests and views as msgspec Structs, new fields with
defaults — and its rules that need no I/O: the bounds and their checks, who
may act for a learner, the Finnish wall clock (a series of meeting slots, the
reminder's hour), and what a notification says and to whom (hub selectors)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime, time, timedelta
from typing import Annotated, Any, Final, Literal
from uuid import UUID

import msgspec

from core.clock import HELSINKI, age_on
from core.errors import BadRequest
from core.rights import AGE_OF_MAJORITY
from hub.model import (
    MAX_SELECTORS,
    Exclude,
    LearnerGuardians,
    ModuleEvent,
    PersonSel,
    Selector,
    Union,
)

# ---- bounds (named; each refused with a 4xx and a stable code, docs/planning.md) ---------

MAX_TITLE_CHARS: Final = 200
MAX_DESCRIPTION_CHARS: Final = 5000
MAX_LOCATION_CHARS: Final = 200
#: places of one event (400 invalid_capacity beyond)
MAX_CAPACITY: Final = 1000
#: a waiting list's length (an event may set a shorter one, 0: none); 409 event_full beyond
MAX_WAITING: Final = 1000
#: groups in one event's audience (400 too_many_groups)
MAX_AUDIENCE_GROUPS: Final = 50
#: how far ahead an event or a slot may be (400 invalid_times)
MAX_AHEAD: Final = timedelta(days=400)
#: a page of GET /v1/planning/events (larger limits are cut to this)
MAX_PAGE: Final = 100
#: a meeting slot's length in minutes (400 invalid_slot outside)
MIN_SLOT_MINUTES: Final = 5
MAX_SLOT_MINUTES: Final = 120
MAX_BREAK_MINUTES: Final = 60
#: slots one series opens (400 too_many_slots)
MAX_SERIES_SLOTS: Final = 40
#: a meeting's reminder goes out at this hour (Helsinki) the day before
REMINDER_HOUR: Final = 16

Participants = Literal["learners", "guardians"]
RegistrationState = Literal["registered", "waiting", "cancelled"]
Aware = Annotated[datetime, msgspec.Meta(tz=True)]
Location = Annotated[str, msgspec.Meta(min_length=1, max_length=MAX_LOCATION_CHARS)]


# ---- requests ----------------------------------------------------------------------------


class NewEvent(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    school_id: UUID
    title: str
    description: Annotated[str, msgspec.Meta(max_length=MAX_DESCRIPTION_CHARS)] = ""
    location: Location | None = None
    starts_at: Aware
    ends_at: Aware
    capacity: int
    #: longest waiting list; 0: none (a full event refuses)
    max_waiting: int = MAX_WAITING
    #: who takes a place: learners (registered by themselves or a custodial
    #: guardian) or guardians (each guardian registers themself)
    participants: Participants = "learners"
    #: the audience: these groups' learners; empty: the whole school's
    groups: list[UUID] = []
    registration_deadline: Aware | None = None


class NewRegistration(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    #: the learner a guardian registers; omitted: myself
    participant_id: UUID | None = None


class NewSlot(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    school_id: UUID
    starts_at: Aware
    ends_at: Aware
    location: Location | None = None


class NewSeries(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Slots of `length` minutes from `from` to `to` (Helsinki wall clock) on
    `date`, `gap` minutes apart; the last one ends by `to`."""

    school_id: UUID
    date: date
    start: time = msgspec.field(name="from")
    end: time = msgspec.field(name="to")
    length: int = 15
    gap: int = 0
    location: Location | None = None


class NewBooking(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    slot_id: UUID
    learner_id: UUID


# ---- views -------------------------------------------------------------------------------


class RegistrationView(msgspec.Struct, kw_only=True):
    event_id: UUID
    participant_id: UUID
    state: RegistrationState
    #: place on the waiting list, from 1; None unless waiting
    position: int | None
    registered_at: datetime


class ParticipantView(msgspec.Struct, kw_only=True):
    """A participant as the event's staff see them."""

    participant_id: UUID
    name: str
    state: RegistrationState
    position: int | None
    registered_by: UUID
    registered_at: datetime


class EventView(msgspec.Struct, kw_only=True):
    id: UUID
    school_id: UUID
    title: str
    description: str
    location: str | None
    starts_at: datetime
    ends_at: datetime
    capacity: int
    max_waiting: int
    participants: Participants
    groups: list[UUID]
    registration_deadline: datetime | None
    created_by: UUID
    cancelled: bool
    registered: int
    waiting: int
    #: my own registration, and my children's
    mine: list[RegistrationView] = []
    #: everyone registered or waiting — the school's staff only; None for others
    participant_list: list[ParticipantView] | None = None


class EventPage(msgspec.Struct, kw_only=True):
    items: list[EventView]
    #: give as `cursor` for the next page; None: no more
    next: str | None


class BookingView(msgspec.Struct, kw_only=True):
    id: UUID
    slot_id: UUID
    teacher_id: UUID
    teacher_name: str
    learner_id: UUID
    learner_name: str
    starts_at: datetime
    ends_at: datetime
    location: str | None
    booked_at: datetime
    #: who booked: shown to the teacher and to the booker, never to the
    #: learner's other guardians (one of them may be under a protection order)
    booked_by: UUID | None


class SlotView(msgspec.Struct, kw_only=True):
    id: UUID
    school_id: UUID
    teacher_id: UUID
    starts_at: datetime
    ends_at: datetime
    location: str | None
    #: the teacher sees every booking; a guardian only their children's
    #: (other booked slots are not listed to them at all)
    booking: BookingView | None = None


class BookableTeacher(msgspec.Struct, kw_only=True):
    learner_id: UUID
    learner_name: str
    teacher_id: UUID
    teacher_name: str
    free_slots: int
    #: the learner's live booking with this teacher, if any
    booking_id: UUID | None


# ---- rules -------------------------------------------------------------------------------


def acts_for(kind: str, birth_date: date | None, today: date) -> bool:
    """May this guardian act for (register, book for) this learner? Custody
    decides, and custody ends at 18: an adult learner acts for themself."""
    adult = birth_date is not None and age_on(birth_date, today) >= AGE_OF_MAJORITY
    return kind == "custodial" and not adult


def series(
    day: date, start: time, end: time, length: int, gap: int
) -> list[tuple[datetime, datetime]]:
    """The slots of a series as aware instants, laid out on Helsinki's wall
    clock (one more than MAX_SERIES_SLOTS at most: the caller refuses that)."""
    out: list[tuple[datetime, datetime]] = []
    at = datetime.combine(day, start)
    stop = datetime.combine(day, end)
    while at + timedelta(minutes=length) <= stop and len(out) <= MAX_SERIES_SLOTS:
        out.append(
            (at.replace(tzinfo=HELSINKI), (at + timedelta(minutes=length)).replace(tzinfo=HELSINKI))
        )
        at += timedelta(minutes=length + gap)
    return out


def reminder_due(starts_at: datetime, now: datetime) -> datetime:
    """REMINDER_HOUR Helsinki time on the day before the meeting, or now if
    that has passed."""
    day = starts_at.astimezone(HELSINKI).date() - timedelta(days=1)
    due = datetime.combine(day, time(REMINDER_HOUR), tzinfo=HELSINKI)
    return max(due, now)


_WEEKDAYS: Final = ("ma", "ti", "ke", "to", "pe", "la", "su")


def fi_when(at: datetime) -> str:
    """An instant as a Finnish reader writes it: "to 26.11.2026 klo 17.00"."""
    local = at.astimezone(HELSINKI)
    return f"{_WEEKDAYS[local.weekday()]} {local.day}.{local.month}.{local.year} klo {local:%H.%M}"


def fi_span(start: datetime, end: datetime) -> str:
    """An interval: "to 26.11.2026 klo 17.00–17.15" (with the end's date when
    it ends on another day)."""
    a, b = start.astimezone(HELSINKI), end.astimezone(HELSINKI)
    return fi_when(start) + "–" + (f"{b:%H.%M}" if a.date() == b.date() else fi_when(end))


def check_event(new: NewEvent, now: datetime) -> tuple[str, list[UUID]]:
    """The event's bounds (400 with a code each); its title and groups, tidied."""
    title = new.title.strip()
    if not 1 <= len(title) <= MAX_TITLE_CHARS:
        raise BadRequest(f"a title of 1…{MAX_TITLE_CHARS} characters", code="invalid_title")
    if not 1 <= new.capacity <= MAX_CAPACITY:
        raise BadRequest(f"capacity must be 1…{MAX_CAPACITY}", code="invalid_capacity")
    if not 0 <= new.max_waiting <= MAX_WAITING:
        raise BadRequest(f"max_waiting must be 0…{MAX_WAITING}", code="invalid_max_waiting")
    if not now < new.starts_at < new.ends_at or new.starts_at > now + MAX_AHEAD:
        raise BadRequest(
            f"an event starts within {MAX_AHEAD.days} days from now and ends after it starts",
            code="invalid_times",
        )
    deadline = new.registration_deadline
    if deadline is not None and not now < deadline <= new.starts_at:
        raise BadRequest("the deadline is between now and the start", code="invalid_deadline")
    groups = sorted(set(new.groups))
    if len(groups) > MAX_AUDIENCE_GROUPS:
        raise BadRequest(f"at most {MAX_AUDIENCE_GROUPS} groups", code="too_many_groups")
    return title, groups


def check_slots(times: Sequence[tuple[datetime, datetime]], now: datetime) -> None:
    if not times:
        raise BadRequest("no slot fits between from and to", code="invalid_slot")
    if len(times) > MAX_SERIES_SLOTS:
        raise BadRequest(f"at most {MAX_SERIES_SLOTS} slots at once", code="too_many_slots")
    for start, end in times:
        if not MIN_SLOT_MINUTES * 60 <= (end - start).total_seconds() <= MAX_SLOT_MINUTES * 60:
            raise BadRequest(
                f"a slot of {MIN_SLOT_MINUTES}…{MAX_SLOT_MINUTES} minutes", code="invalid_slot"
            )
        if not now < start < now + MAX_AHEAD:
            raise BadRequest(
                f"a slot starts within {MAX_AHEAD.days} days from now", code="invalid_slot"
            )


def series_of(new: NewSeries) -> list[tuple[datetime, datetime]]:
    if not 0 <= new.gap <= MAX_BREAK_MINUTES or new.length < MIN_SLOT_MINUTES:
        raise BadRequest(
            f"a length of {MIN_SLOT_MINUTES}… and a gap of 0…{MAX_BREAK_MINUTES} minutes",
            code="invalid_slot",
        )
    return series(new.date, new.start, new.end, new.length, new.gap)


def cursor_of(row: Any) -> str:
    """The page cursor after an event: its start and id (the list's order)."""
    return f"{row['starts_at'].astimezone(UTC):%Y%m%dT%H%M%S%f}_{row['id']}"


def parse_cursor(cursor: str | None) -> tuple[datetime, UUID] | None:
    if not cursor:
        return None
    try:
        at, _, event_id = cursor.partition("_")
        return datetime.strptime(at, "%Y%m%dT%H%M%S%f").replace(tzinfo=UTC), UUID(event_id)
    except ValueError as exc:
        raise BadRequest("not a cursor this API gave", code="invalid_cursor") from exc


# ---- notifications: Finnish subjects; whom among guardians is the hub's rule -------------

SOURCE: Final = "planning"


def participant_audience(participants: str, person: UUID) -> list[Selector]:
    """A participant and, for a learner, the learner's guardians as the hub
    resolves them (custody, information right, the 18-year line)."""
    if participants == "learners":
        return [PersonSel(id=person), LearnerGuardians(learner=person)]
    return [PersonSel(id=person)]


def event_notices(
    key: str, ev: Any, people: Sequence[UUID], subject: str, body: str
) -> list[ModuleEvent]:
    """One notification per chunk of participants that fits the hub's
    MAX_SELECTORS; keys `key:0`, `key:1`, …"""
    learners = ev["participants"] == "learners"
    size = (MAX_SELECTORS - 1) // (2 if learners else 1)
    out = []
    for n, i in enumerate(range(0, len(people), size)):
        chunk = list(people[i : i + size])
        sels = [s for p in chunk for s in participant_audience(ev["participants"], p)]
        out.append(
            ModuleEvent(
                idempotency_key=f"{key}:{n}",
                source=SOURCE,
                audience=sels[0] if len(sels) == 1 else Union(of=sels),
                subject=subject,
                body=body,
                about=chunk if learners else [],
            )
        )
    return out


def event_line(ev: Any) -> str:
    where = f", {ev['location']}" if ev["location"] else ""
    return f"{ev['title']}, {fi_when(ev['starts_at'])}{where}."


def meeting_audience(b: Any, but: UUID | None = None) -> Selector:
    """The booking's teacher and the learner's guardians (but one person)."""
    both = Union(of=[PersonSel(id=b["teacher_id"]), LearnerGuardians(learner=b["learner_id"])])
    return both if but is None else Exclude(base=both, minus=PersonSel(id=but))


def meeting_notice(key: str, b: Any, audience: Selector, subject: str, lead: str) -> ModuleEvent:
    """A notification about a booking. `needs_custody`: of the guardians only
    the custodial ones, for a meeting is a custodian's matter."""
    lines = [
        lead,
        f"Oppilas: {b['learner_name']}",
        f"Opettaja: {b['teacher_name']}",
        f"Aika: {fi_span(b['starts_at'], b['ends_at'])}",
    ]
    if b["location"]:
        lines.append(f"Paikka: {b['location']}")
    return ModuleEvent(
        idempotency_key=key,
        source=SOURCE,
        audience=audience,
        subject=f"{subject} {fi_when(b['starts_at'])}",
        body="\n".join(lines),
        about=[b["learner_id"]],
        needs_custody=True,
    )


# ---- views of rows -----------------------------------------------------------------------


def registration_view(r: Any) -> RegistrationView:
    return RegistrationView(
        event_id=r["event_id"],
        participant_id=r["participant_id"],
        state=r["state"],
        position=r["position"],
        registered_at=r["registered_at"],
    )


def participant_view(r: Any) -> ParticipantView:
    return ParticipantView(
        participant_id=r["participant_id"],
        name=r["name"],
        state=r["state"],
        position=r["position"],
        registered_by=r["registered_by"],
        registered_at=r["registered_at"],
    )


def event_view(r: Any, counts: tuple[int, int], mine: list[RegistrationView]) -> EventView:
    return EventView(
        id=r["id"],
        school_id=r["school_id"],
        title=r["title"],
        description=r["description"],
        location=r["location"],
        starts_at=r["starts_at"],
        ends_at=r["ends_at"],
        capacity=r["capacity"],
        max_waiting=r["max_waiting"],
        participants=r["participants"],
        groups=list(r["audience_groups"]),
        registration_deadline=r["registration_deadline"],
        created_by=r["created_by"],
        cancelled=r["cancelled_at"] is not None,
        registered=counts[0],
        waiting=counts[1],
        mine=mine,
    )


def booking_view(r: Any, me: UUID) -> BookingView:
    """A booking as `me` sees it: who booked only for the teacher and the booker."""
    return BookingView(
        id=r["id"],
        slot_id=r["slot_id"],
        teacher_id=r["teacher_id"],
        teacher_name=r["teacher_name"],
        learner_id=r["learner_id"],
        learner_name=r["learner_name"],
        starts_at=r["starts_at"],
        ends_at=r["ends_at"],
        location=r["location"],
        booked_at=r["booked_at"],
        booked_by=r["booked_by"] if me in (r["teacher_id"], r["booked_by"]) else None,
    )


def slot_view(r: Any, me: UUID) -> SlotView:
    """A slot row (store._SLOTS) with its live booking, if any."""
    booking = None
    if r["booking_id"] is not None:
        booking = booking_view({**dict(r), "id": r["booking_id"], "slot_id": r["id"]}, me)
    return SlotView(
        id=r["id"],
        school_id=r["school_id"],
        teacher_id=r["teacher_id"],
        starts_at=r["starts_at"],
        ends_at=r["ends_at"],
        location=r["location"],
        booking=booking,
    )
