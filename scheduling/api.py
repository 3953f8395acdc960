"""Timetable drafts and solves over HTTP (the rules are in `scheduling.actions`).

POST /v1/timetable/drafts                 import a FET file as a draft (201)
GET  /v1/timetable/drafts/{id}            the draft's summary
POST /v1/timetable/drafts/{id}/solves     start a solve in the background (202); with
                                          `from_solve`, a re-solve after a change that
                                          moves few lessons from that solve's timetable
GET  /v1/timetable/solves/{id}            state, progress (best soft so far), result
POST /v1/timetable/solves/{id}/stop       stop it, keeping the best timetable
GET  /v1/timetable/solves/{id}/timetable  the best timetable (409 while there is none)

Progress also arrives live on the caller's `/v1/live` socket as `signal`
frames of kind `timetable.solve` (docs/live-protocol.md).
"""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

import msgspec
from litestar import Request, Response, get, post
from litestar.params import FromPath, JSONBody

from core.api import principal, services
from core.auth import Principal
from core.errors import BadRequest
from scheduling import actions
from scheduling.model import Timetable


class NewDraft(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    school_id: UUID
    name: Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
    #: the text of a .fet file …
    fet: str | None = None
    #: … or build the problem from the school's roster (scheduling.roster)
    from_roster: bool = False


@post("/v1/timetable/drafts", tags=["timetable"], status_code=201)
async def post_draft(
    request: Request[Principal, Any, Any], data: JSONBody[NewDraft]
) -> actions.DraftView:
    """A timetable draft of a school (principal or secretary): a FET file
    imported (`fet`; constraint types the solver does not know are listed in
    `unsupported` and ignored), or the school's roster (`from_roster`)."""
    svc = services(request)
    who = principal(request)
    actions.require_scheduler(who, data.school_id)
    if (data.fet is None) == (not data.from_roster):
        raise BadRequest("give either fet or from_roster", code="invalid_draft_source")
    if data.fet is not None:
        instance, _ = actions.read_fet_text(data.fet)
    else:
        instance = await actions.roster_instance(svc.db, who, data.school_id, data.name)
    return await actions.create_draft(svc.db, svc.clock, who, data.school_id, data.name, instance)


@get("/v1/timetable/drafts/{draft_id:uuid}", tags=["timetable"])
async def get_draft(
    request: Request[Principal, Any, Any], draft_id: FromPath[UUID]
) -> actions.DraftView:
    return await actions.get_draft(services(request).db, principal(request), draft_id)


@post("/v1/timetable/drafts/{draft_id:uuid}/solves", tags=["timetable"], status_code=202)
async def post_solve(
    request: Request[Principal, Any, Any],
    draft_id: FromPath[UUID],
    data: JSONBody[actions.NewSolve],
) -> Response[actions.SolveView]:
    """Start solving the draft in the background; follow it at
    GET /v1/timetable/solves/{id} or live (signal frames)."""
    svc = services(request)
    view = await actions.start_solve(svc.db, svc.clock, principal(request), draft_id, data)
    wake = request.app.state.get("scheduling_wake")
    if wake is not None:
        wake()
    return Response(view, status_code=202)


@get("/v1/timetable/solves/{solve_id:uuid}", tags=["timetable"])
async def get_solve(
    request: Request[Principal, Any, Any], solve_id: FromPath[UUID]
) -> actions.SolveView:
    return await actions.get_solve(services(request).db, principal(request), solve_id)


@post("/v1/timetable/solves/{solve_id:uuid}/stop", tags=["timetable"], status_code=200)
async def post_stop(
    request: Request[Principal, Any, Any], solve_id: FromPath[UUID]
) -> actions.SolveView:
    svc = services(request)
    return await actions.stop_solve(svc.db, svc.clock, principal(request), solve_id)


@get("/v1/timetable/solves/{solve_id:uuid}/timetable", tags=["timetable"])
async def get_solve_timetable(
    request: Request[Principal, Any, Any], solve_id: FromPath[UUID]
) -> Timetable:
    return await actions.solve_timetable(services(request).db, principal(request), solve_id)


ROUTES = [post_draft, get_draft, post_solve, get_solve, post_stop, get_solve_timetable]
