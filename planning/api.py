"""Events with registration and meeting slots over HTTP (the rules are in
`planning.actions`; docs/planning.md has them all).

POST   /v1/planning/events                              create an event (staff; 201)
GET    /v1/planning/events                              events that concern me (paged)
GET    /v1/planning/events/{id}                         counts, mine; staff: participants
POST   /v1/planning/events/{id}/cancel                  cancel the event, tell everyone
POST   /v1/planning/events/{id}/registrations           register me or my child (201; 200 again)
DELETE /v1/planning/events/{id}/registrations/{person}  cancel a registration (204)

POST   /v1/planning/meetings/slots                      open one slot (teacher; 201)
POST   /v1/planning/meetings/slots/series               open a series of slots (201)
GET    /v1/planning/meetings/slots                      my slots and their bookings (teacher)
DELETE /v1/planning/meetings/slots/{id}                 withdraw a slot (204)
GET    /v1/planning/meetings/teachers                   my children's teachers (guardian)
GET    /v1/planning/meetings/teachers/{id}/slots        a teacher's free slots and mine
POST   /v1/planning/meetings/bookings                   book a slot for my child (201)
GET    /v1/planning/meetings/bookings                   my children's bookings / my slots'
DELETE /v1/planning/meetings/bookings/{id}              cancel a booking (204)
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from litestar import Request, Response, delete, get, post
from litestar.params import FromPath, FromQuery, JSONBody

from core.api import principal
from core.auth import Principal
from planning.actions import Planning
from planning.model import (
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
)

TAGS = ["planning"]


def planning(request: Request[Any, Any, Any]) -> Planning:
    p: Planning = request.app.state["planning"]
    return p


# ---- events ------------------------------------------------------------------------------


@post("/v1/planning/events", tags=TAGS, status_code=201)
async def post_event(request: Request[Principal, Any, Any], data: JSONBody[NewEvent]) -> EventView:
    """An event of a school (its teachers, principal, secretary)."""
    return await planning(request).create_event(principal(request), data)


@get("/v1/planning/events", tags=TAGS)
async def list_events(
    request: Request[Principal, Any, Any],
    school: FromQuery[UUID | None] = None,
    cursor: FromQuery[str | None] = None,
    limit: FromQuery[int] = 50,
) -> EventPage:
    """Events not yet over that concern me, by start (`next` is the next page's cursor)."""
    return await planning(request).list_events(principal(request), school, cursor, limit)


@get("/v1/planning/events/{event_id:uuid}", tags=TAGS)
async def get_event(request: Request[Principal, Any, Any], event_id: FromPath[UUID]) -> EventView:
    """An event: counts and my (my children's) registrations; the participants for staff."""
    return await planning(request).get_event(principal(request), event_id)


@post("/v1/planning/events/{event_id:uuid}/cancel", tags=TAGS, status_code=200)
async def cancel_event(
    request: Request[Principal, Any, Any], event_id: FromPath[UUID]
) -> EventView:
    """Cancel the event (its creator, the principal, the secretary); everyone is told."""
    return await planning(request).cancel_event(principal(request), event_id)


@post("/v1/planning/events/{event_id:uuid}/registrations", tags=TAGS, status_code=201)
async def post_registration(
    request: Request[Principal, Any, Any],
    event_id: FromPath[UUID],
    data: JSONBody[NewRegistration],
) -> Response[RegistrationView]:
    """Register myself, or (`participant_id`) my child: a place or the waiting
    list. Again: the same registration, 200."""
    view, created = await planning(request).register(principal(request), event_id, data)
    return Response(view, status_code=201 if created else 200)


@delete("/v1/planning/events/{event_id:uuid}/registrations/{participant_id:uuid}", tags=TAGS)
async def delete_registration(
    request: Request[Principal, Any, Any],
    event_id: FromPath[UUID],
    participant_id: FromPath[UUID],
) -> None:
    """Cancel a registration; the first on the waiting list moves up and is told."""
    await planning(request).cancel_registration(principal(request), event_id, participant_id)


# ---- meetings ----------------------------------------------------------------------------


@post("/v1/planning/meetings/slots", tags=TAGS, status_code=201)
async def post_slot(
    request: Request[Principal, Any, Any], data: JSONBody[NewSlot]
) -> list[SlotView]:
    """Open one meeting slot (a teacher of the school)."""
    return await planning(request).open_slot(principal(request), data)


@post("/v1/planning/meetings/slots/series", tags=TAGS, status_code=201)
async def post_series(
    request: Request[Principal, Any, Any], data: JSONBody[NewSeries]
) -> list[SlotView]:
    """Open slots of `length` minutes on `date` from `from` to `to` (Helsinki time)."""
    return await planning(request).open_series(principal(request), data)


@get("/v1/planning/meetings/slots", tags=TAGS)
async def get_my_slots(request: Request[Principal, Any, Any]) -> list[SlotView]:
    """My slots not yet over, with their bookings (a teacher)."""
    return await planning(request).my_slots(principal(request))


@delete("/v1/planning/meetings/slots/{slot_id:uuid}", tags=TAGS)
async def delete_slot(request: Request[Principal, Any, Any], slot_id: FromPath[UUID]) -> None:
    """Withdraw my slot; its booking is cancelled and the guardians told."""
    await planning(request).withdraw_slot(principal(request), slot_id)


@get("/v1/planning/meetings/teachers", tags=TAGS)
async def get_teachers(request: Request[Principal, Any, Any]) -> list[BookableTeacher]:
    """The teachers of the children I act for, with free slots and bookings."""
    return await planning(request).bookable(principal(request))


@get("/v1/planning/meetings/teachers/{teacher_id:uuid}/slots", tags=TAGS)
async def get_teacher_slots(
    request: Request[Principal, Any, Any], teacher_id: FromPath[UUID]
) -> list[SlotView]:
    """A teacher's free slots and those booked for my children (a guardian)."""
    return await planning(request).teacher_slots(principal(request), teacher_id)


@post("/v1/planning/meetings/bookings", tags=TAGS, status_code=201)
async def post_booking(
    request: Request[Principal, Any, Any], data: JSONBody[NewBooking]
) -> BookingView:
    """Book a slot for my child; the teacher and the other custodial guardians are told."""
    return await planning(request).book(principal(request), data)


@get("/v1/planning/meetings/bookings", tags=TAGS)
async def get_bookings(request: Request[Principal, Any, Any]) -> list[BookingView]:
    """Bookings of the children I act for, and in my slots."""
    return await planning(request).bookings(principal(request))


@delete("/v1/planning/meetings/bookings/{booking_id:uuid}", tags=TAGS)
async def delete_booking(request: Request[Principal, Any, Any], booking_id: FromPath[UUID]) -> None:
    """Cancel a booking (teacher or guardian): the slot is free, the other side told."""
    await planning(request).cancel_booking(principal(request), booking_id)


ROUTES = [
    post_event,
    list_events,
    get_event,
    cancel_event,
    post_registration,
    delete_registration,
    post_slot,
    post_series,
    get_my_slots,
    delete_slot,
    get_teachers,
    get_teacher_slots,
    post_booking,
    get_bookings,
    delete_booking,
]
