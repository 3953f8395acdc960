"""Publishing, changes, absences and substitutions over HTTP (the rules are in
`scheduling.publish` and `scheduling.changes`). All of it is for the school's
principal and secretary.

POST /v1/timetable/solves/{id}/publish        a solved timetable becomes the valid one (201)
GET  /v1/timetable/day?school_id=&date=       the school's day, changes applied
GET  /v1/timetable/changes?school_id=&date=   the day's changes, undone ones too
GET  /v1/timetable/teachers?school_id=        the school's teachers (to mark one absent)
POST /v1/timetable/changes                    make changes (201); notices go out at once
POST /v1/timetable/changes/{id}/undo          undo a change; its notices are withdrawn or corrected
POST /v1/timetable/absences                   mark a teacher absent (201): lessons and proposals
GET  /v1/timetable/absences/{id}              the absence's lessons, with ranked substitutes
POST /v1/timetable/absences/{id}/substitutes  confirm a substitute for one lesson (201)
"""

from __future__ import annotations

from datetime import date
from typing import Any
from uuid import UUID

from litestar import Request, get, post
from litestar.params import FromPath, FromQuery, JSONBody

from core.api import principal, services
from core.auth import Principal
from scheduling import daily, publish
from scheduling.changes import (
    AbsenceView,
    Changes,
    Confirm,
    Made,
    NewAbsence,
    NewChanges,
    TeacherView,
)
from scheduling.daily import DayLesson


def _changes(request: Request[Any, Any, Any]) -> Changes:
    changes: Changes = request.app.state["timetable_changes"]
    return changes


@post("/v1/timetable/solves/{solve_id:uuid}/publish", tags=["timetable"], status_code=201)
async def post_publish(
    request: Request[Principal, Any, Any],
    solve_id: FromPath[UUID],
    data: JSONBody[publish.NewPublication],
) -> publish.TimetableView:
    """Publish the solve's timetable for `starts` … `ends`: it supersedes the
    school's published timetables that overlap that range, and the whole school
    is notified."""
    svc = services(request)
    return await publish.publish_solve(
        svc.db, svc.clock, request.app.state["hub"], principal(request), solve_id, data
    )


@get("/v1/timetable/day", tags=["timetable"])
async def get_day(
    request: Request[Principal, Any, Any], school_id: FromQuery[UUID], date: FromQuery[date]
) -> list[DayLesson]:
    return await _changes(request).day(principal(request), school_id, date)


@get("/v1/timetable/changes", tags=["timetable"])
async def get_changes(
    request: Request[Principal, Any, Any], school_id: FromQuery[UUID], date: FromQuery[date]
) -> list[daily.Change]:
    return await _changes(request).changes_of_day(principal(request), school_id, date)


@get("/v1/timetable/teachers", tags=["timetable"])
async def get_teachers(
    request: Request[Principal, Any, Any], school_id: FromQuery[UUID]
) -> list[TeacherView]:
    return await _changes(request).teachers(principal(request), school_id)


@post("/v1/timetable/changes", tags=["timetable"], status_code=201)
async def post_changes(request: Request[Principal, Any, Any], data: JSONBody[NewChanges]) -> Made:
    """Make changes (all or none). The affected people — the group's learners
    (only the subgroup for a split group), their guardians by the hub's rules,
    the teachers concerned and colliding room bookers — get one notice per
    day, at once."""
    return await _changes(request).make_changes(principal(request), data)


@post("/v1/timetable/changes/{change_id:uuid}/undo", tags=["timetable"], status_code=200)
async def post_undo(request: Request[Principal, Any, Any], change_id: FromPath[UUID]) -> Made:
    return await _changes(request).undo_change(principal(request), change_id)


@post("/v1/timetable/absences", tags=["timetable"], status_code=201)
async def post_absence(
    request: Request[Principal, Any, Any], data: JSONBody[NewAbsence]
) -> AbsenceView:
    """Mark a teacher absent. Nothing is sent: the absent teacher's lessons and
    ranked substitutes come back; confirm one per lesson."""
    return await _changes(request).mark_absent(principal(request), data)


@get("/v1/timetable/absences/{absence_id:uuid}", tags=["timetable"])
async def get_absence(
    request: Request[Principal, Any, Any], absence_id: FromPath[UUID]
) -> AbsenceView:
    return await _changes(request).absence(principal(request), absence_id)


@post("/v1/timetable/absences/{absence_id:uuid}/substitutes", tags=["timetable"], status_code=201)
async def post_substitute(
    request: Request[Principal, Any, Any], absence_id: FromPath[UUID], data: JSONBody[Confirm]
) -> Made:
    return await _changes(request).confirm(principal(request), absence_id, data)


ROUTES = [
    post_publish,
    get_day,
    get_changes,
    get_teachers,
    post_changes,
    post_undo,
    post_absence,
    get_absence,
    post_substitute,
]
