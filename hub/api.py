"""HTTP routes of the hub: publish, reply, inbox, state, report, module events."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from litestar import Request, get, post
from litestar.params import FromPath, FromQuery, JSONBody

from core.api import principal
from core.auth import Principal
from core.errors import Forbidden
from hub.actions import Hub
from hub.model import (
    Counts,
    InboxPage,
    InboxState,
    ModuleEvent,
    NewMessage,
    NewReply,
    Published,
    Report,
    SentItem,
    Thread,
)


def hub_of(request: Request[Any, Any, Any]) -> Hub:
    hub: Hub = request.app.state["hub"]
    return hub


@post("/v1/messages", tags=["messages"], status_code=201)
async def post_message(
    request: Request[Principal, Any, Any], data: JSONBody[NewMessage]
) -> Published:
    """Send a message or an announcement to an audience (idempotent by key)."""
    return await hub_of(request).publish(principal(request), data)


@post("/v1/messages/{message_id:uuid}/replies", tags=["messages"], status_code=201)
async def post_reply(
    request: Request[Principal, Any, Any], message_id: FromPath[UUID], data: JSONBody[NewReply]
) -> Published:
    """Reply in a thread, to whom the thread allows."""
    return await hub_of(request).reply(principal(request), message_id, data)


@get("/v1/messages/{message_id:uuid}/report", tags=["messages"])
async def get_report(request: Request[Principal, Any, Any], message_id: FromPath[UUID]) -> Report:
    """Delivery report: the sender's and their school's principal's and secretary's."""
    return await hub_of(request).report(principal(request), message_id)


@get("/v1/threads/{thread_id:uuid}", tags=["messages"])
async def get_thread(request: Request[Principal, Any, Any], thread_id: FromPath[UUID]) -> Thread:
    """A thread: the messages of it I sent or received, oldest first."""
    return await hub_of(request).thread(principal(request), thread_id)


@get("/v1/messages/sent", tags=["messages"])
async def get_sent(
    request: Request[Principal, Any, Any],
    before: FromQuery[datetime | None] = None,
    limit: FromQuery[int] = 50,
) -> list[SentItem]:
    """What I sent, newest first (page with `before` = the last item's created_at)."""
    return await hub_of(request).sent(principal(request), before, limit)


@get("/v1/inbox", tags=["inbox"])
async def get_inbox(
    request: Request[Principal, Any, Any],
    after: FromQuery[int] = 0,
    limit: FromQuery[int] = 100,
    archived: FromQuery[bool] = False,
) -> InboxPage:
    """My inbox after a seq, in seq order (archived items with archived=true)."""
    return await hub_of(request).inbox(principal(request), after, limit, archived)


@get("/v1/inbox/counts", tags=["inbox"])
async def get_counts(request: Request[Principal, Any, Any]) -> Counts:
    """Unread, and awaiting my acknowledgement."""
    return await hub_of(request).counts(principal(request))


@post("/v1/inbox/{message_id:uuid}/read", tags=["inbox"], status_code=200)
async def post_read(
    request: Request[Principal, Any, Any], message_id: FromPath[UUID]
) -> InboxState:
    return await hub_of(request).mark(principal(request), message_id, "read")


@post("/v1/inbox/{message_id:uuid}/ack", tags=["inbox"], status_code=200)
async def post_ack(request: Request[Principal, Any, Any], message_id: FromPath[UUID]) -> InboxState:
    return await hub_of(request).mark(principal(request), message_id, "ack")


@post("/v1/inbox/{message_id:uuid}/archive", tags=["inbox"], status_code=200)
async def post_archive(
    request: Request[Principal, Any, Any], message_id: FromPath[UUID]
) -> InboxState:
    return await hub_of(request).mark(principal(request), message_id, "archive")


@post("/v1/events", tags=["modules"], status_code=201)
async def post_event(
    request: Request[Principal, Any, Any], data: JSONBody[ModuleEvent]
) -> Published:
    """A platform module's event, as a notification (service token, scope events:publish)."""
    who = principal(request)
    if who.kind != "service" or "events:publish" not in who.scopes:
        raise Forbidden("the events:publish scope is required", code="scope_required")
    return await hub_of(request).publish_event(who, data)


ROUTES = [
    get_thread,
    get_sent,
    post_message,
    post_reply,
    get_report,
    get_inbox,
    get_counts,
    post_read,
    post_ack,
    post_archive,
    post_event,
]
