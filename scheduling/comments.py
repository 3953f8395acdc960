"""Teachers' comments on a draft timetable, before it is published.

    GET  /v1/timetable/solves/{id}/mine        my lessons in the solve's timetable
    POST /v1/timetable/solves/{id}/comments    comment on one of my lessons, or on a day (201)
    GET  /v1/timetable/drafts/{id}/comments    the draft's comments (scheduler: all; teacher: own)
    POST /v1/timetable/comments/{id}/answer    the scheduler's answer

A draft built from the roster names its teachers by person id
(`scheduling.roster`), so a teacher's lessons in a solve are the activities
whose `teachers` hold their id, placed by the solve's best timetable. A teacher
of the school (or its principal or secretary, who may teach too) sees only
those: the route never shows another teacher's lessons, and a teacher who
teaches nothing in the draft gets 403 `not_in_draft`.

A comment concerns exactly one of: one of the author's own activities
(`activity_id`), or a day of the draft (`day`, an index of its days). The
person who started the solve (`timetable_solves.requested_by`, a principal or
secretary) is told live with a `signal` frame of kind `timetable.comment`
(`data`: comment_id, draft_id, solve_id, author, activity_id, day). A signal
is at most once and only reaches a connected scheduler — enough here, because
the comment itself is in the database and the scheduler reads the draft's
comments beside the draft; a comment is not something a person must be chased
for on another channel.

The answer goes the other way as a notification (`hub.notify`, source
`timetable`, `PersonSel(author)`) after commit: the teacher is not watching
the draft and must get it. Its idempotency key is the comment and a hash of
the answer and who gave it, so a repeated answer is one message and a changed
answer another.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
from datetime import datetime
from typing import Annotated, Any, Final, Protocol
from uuid import UUID, uuid4

import asyncpg
import msgspec
from litestar import Request, get, post
from litestar.params import FromPath, JSONBody

from core.api import principal, services
from core.auth import Principal
from core.db import Connection
from core.errors import BadRequest, Conflict, Forbidden, NotFound
from hub.model import ModuleEvent, PersonSel
from scheduling.actions import SCHEDULER_ROLES, SolveWithDraft, load_draft, load_solve
from scheduling.model import Activity, Instance, Placement, Timetable

log = logging.getLogger("reppu.scheduling")

SOURCE: Final = "timetable"
#: the live signal's kind
SIGNAL_KIND: Final = "timetable.comment"
#: longest comment and answer, in characters (the table's CHECKs)
MAX_COMMENT_CHARS: Final = 2000
#: most comments one teacher may leave on one draft (409 beyond)
MAX_COMMENTS_PER_AUTHOR: Final = 200
#: most comments GET returns (the oldest; more: `truncated`)
MAX_PAGE: Final = 1000

Text = Annotated[str, msgspec.Meta(min_length=1, max_length=MAX_COMMENT_CHARS)]


class NewComment(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """POST /v1/timetable/solves/{id}/comments: `activity_id` or `day`, not both."""

    body: Text
    activity_id: int | None = None
    day: int | None = None


class NewAnswer(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    answer: Text


class Lesson(msgspec.Struct, frozen=True, kw_only=True):
    """An activity and where the solve placed it (day/hour None: not placed)."""

    activity_id: int
    subject: str
    #: the groups' names (a students set that is no group of the roster: its name)
    groups: list[str]
    duration: int
    day: int | None
    day_name: str | None
    hour: int | None
    hour_name: str | None
    starts: str | None
    ends: str | None
    room: str | None


class MyDraft(msgspec.Struct, frozen=True, kw_only=True):
    solve_id: UUID
    draft_id: UUID
    school_id: UUID
    name: str
    days: list[str]
    lessons: list[Lesson]


class CommentView(msgspec.Struct, frozen=True, kw_only=True):
    id: UUID
    draft_id: UUID
    solve_id: UUID | None
    author_id: UUID
    author_name: str
    body: str
    created_at: datetime
    #: the lesson it concerns, as the comment's solve placed it …
    activity_id: int | None
    lesson: Lesson | None
    #: … or the day
    day: int | None
    day_name: str | None
    answer: str | None
    answered_by_name: str | None
    answered_at: datetime | None


class CommentList(msgspec.Struct, frozen=True, kw_only=True):
    draft_id: UUID
    items: list[CommentView]
    truncated: bool


class Hub(Protocol):
    async def notify(self, tenant_id: UUID, event: ModuleEvent) -> object: ...

    async def signal(self, tenant_id: UUID, person_id: UUID, kind: str, data: object) -> None: ...


# ---- rules without I/O -------------------------------------------------------------------


def is_scheduler(who: Principal, school_id: UUID) -> bool:
    return any(f"{role}:{school_id}" in who.roles for role in SCHEDULER_ROLES)


def require_teacher(who: Principal, school_id: UUID) -> UUID:
    """A teacher of the school, or its principal or secretary."""
    person = who.require_person()
    if not (f"teacher:{school_id}" in who.roles or is_scheduler(who, school_id)):
        raise Forbidden("only the school's teachers see its drafts", code="not_school_teacher")
    return person


def own_activities(instance: Instance, person: UUID) -> list[Activity]:
    return [a for a in instance.activities if str(person) in a.teachers]


def lesson_of(
    instance: Instance, a: Activity, placed: Placement | None, groups: dict[str, str]
) -> Lesson:
    day = hour = None
    starts = ends = None
    if placed is not None and placed.day < len(instance.days) and placed.hour < len(instance.hours):
        day, hour = placed.day, placed.hour
        starts = instance.hours[hour].start
        last = min(hour + a.duration - 1, len(instance.hours) - 1)
        ends = instance.hours[last].end
    return Lesson(
        activity_id=a.id,
        subject=a.subject,
        groups=[groups.get(s, s) for s in a.students],
        duration=a.duration,
        day=day,
        day_name=None if day is None else instance.days[day].name,
        hour=hour,
        hour_name=None if hour is None else instance.hours[hour].name,
        starts=starts,
        ends=ends,
        room=None if placed is None else placed.room,
    )


def answer_event(
    comment_id: UUID, author: UUID, body: str, answer: str, by: UUID, by_name: str
) -> ModuleEvent:
    """The author's notice of the answer; one key per (answer, who answered)."""
    digest = hashlib.sha256(f"{by}\n{answer}".encode()).hexdigest()[:16]
    return ModuleEvent(
        idempotency_key=f"draft-comment:{comment_id}:answer:{digest}",
        source=SOURCE,
        audience=PersonSel(id=author),
        subject="Vastaus kommenttiisi lukujärjestysluonnoksesta",
        body=f"{by_name} vastasi: {answer}\n\nKommenttisi: {body}",
    )


# ---- SQL ---------------------------------------------------------------------------------


async def _group_names(conn: Connection, activities: list[Activity]) -> dict[str, str]:
    ids: set[UUID] = set()
    for a in activities:
        for s in a.students:
            with contextlib.suppress(ValueError):
                ids.add(UUID(s))
    rows = await conn.fetch("SELECT id, name FROM groups WHERE id = ANY($1)", list(ids))
    return {str(r["id"]): r["name"] for r in rows}


async def _name(conn: Connection, person: UUID) -> str:
    name: str | None = await conn.fetchval(
        "SELECT given_name || ' ' || family_name FROM persons WHERE id = $1", person
    )
    return name or ""


async def _mine(conn: Connection, who: Principal, solve_id: UUID) -> tuple[SolveWithDraft, MyDraft]:
    s = await load_solve(conn, solve_id)
    person = require_teacher(who, s.school_id)
    if s.best is None:
        raise Conflict("this solve has no timetable (yet)", code="no_timetable")
    own = own_activities(s.instance, person)
    if not own:
        raise Forbidden("you teach nothing in this draft", code="not_in_draft")
    placed = s.best.by_activity()
    groups = await _group_names(conn, own)
    return s, MyDraft(
        solve_id=s.id,
        draft_id=s.draft_id,
        school_id=s.school_id,
        name=s.name,
        days=[d.name for d in s.instance.days],
        lessons=sorted(
            (lesson_of(s.instance, a, placed.get(a.id), groups) for a in own),
            key=lambda x: (x.day is None, x.day or 0, x.hour or 0, x.activity_id),
        ),
    )


def _hub(request: Request[Any, Any, Any]) -> Hub:
    hub: Hub = request.app.state["hub"]
    return hub


# ---- routes ------------------------------------------------------------------------------


@get("/v1/timetable/solves/{solve_id:uuid}/mine", tags=["timetable"])
async def get_mine(request: Request[Principal, Any, Any], solve_id: FromPath[UUID]) -> MyDraft:
    """My own lessons in a draft timetable (teachers of the school)."""
    svc = services(request)
    who = principal(request)
    async with svc.db.tenant(who.tenant_id) as conn:
        _, mine = await _mine(conn, who, solve_id)
    return mine


@post("/v1/timetable/solves/{solve_id:uuid}/comments", tags=["timetable"], status_code=201)
async def post_comment(
    request: Request[Principal, Any, Any], solve_id: FromPath[UUID], data: JSONBody[NewComment]
) -> CommentView:
    """Comment on one of my lessons (`activity_id`) or on a day (`day`) of a
    draft timetable; the scheduler who started the solve is told live."""
    svc = services(request)
    who = principal(request)
    body = data.body.strip()
    if not body:
        raise BadRequest("an empty comment", code="empty_comment")
    if (data.activity_id is None) == (data.day is None):
        raise BadRequest("give either activity_id or day", code="invalid_comment_target")
    comment_id, now = uuid4(), svc.clock.now()
    async with svc.db.tenant(who.tenant_id) as conn:
        s, mine = await _mine(conn, who, solve_id)
        person = who.require_person()
        lesson = next((x for x in mine.lessons if x.activity_id == data.activity_id), None)
        if data.activity_id is not None and lesson is None:
            raise Forbidden("not one of your lessons", code="not_your_activity")
        if data.day is not None and not 0 <= data.day < len(s.instance.days):
            raise BadRequest(f"day must be 0…{len(s.instance.days) - 1}", code="invalid_day")
        count = await conn.fetchval(
            "SELECT count(*) FROM draft_comments WHERE draft_id = $1 AND author_id = $2",
            s.draft_id,
            person,
        )
        if count >= MAX_COMMENTS_PER_AUTHOR:
            raise Conflict(
                f"at most {MAX_COMMENTS_PER_AUTHOR} comments on a draft",
                code="too_many_comments",
            )
        await conn.execute(
            "INSERT INTO draft_comments (id, tenant_id, draft_id, solve_id, author_id, "
            "activity_id, day, body, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
            comment_id,
            who.tenant_id,
            s.draft_id,
            s.id,
            person,
            data.activity_id,
            data.day,
            body,
            now,
        )
        author = await _name(conn, person)
    view = CommentView(
        id=comment_id,
        draft_id=s.draft_id,
        solve_id=s.id,
        author_id=person,
        author_name=author,
        body=body,
        created_at=now,
        activity_id=data.activity_id,
        lesson=lesson,
        day=data.day,
        day_name=None if data.day is None else s.instance.days[data.day].name,
        answer=None,
        answered_by_name=None,
        answered_at=None,
    )
    signal = {
        "comment_id": comment_id,
        "draft_id": s.draft_id,
        "solve_id": s.id,
        "author": author[:100],
        "activity_id": data.activity_id,
        "day": data.day,
    }
    try:  # at most once (module docstring): the comment is saved, the signal a courtesy
        await _hub(request).signal(who.tenant_id, s.requested_by, SIGNAL_KIND, signal)
    except Exception as exc:
        log.warning("draft comment %s: signal failed: %s", comment_id, type(exc).__name__)
    return view


async def _views(
    conn: Connection, rows: list[asyncpg.Record], instance: Instance
) -> list[CommentView]:
    """Comments with their lessons as each comment's solve placed them."""
    placements: dict[UUID, dict[int, Placement]] = {}
    for sid in {r["solve_id"] for r in rows if r["solve_id"] is not None}:
        best = await conn.fetchval("SELECT best::text FROM timetable_solves WHERE id = $1", sid)
        placements[sid] = (
            {} if best is None else msgspec.json.decode(best, type=Timetable).by_activity()
        )
    activities = {a.id: a for a in instance.activities}
    groups = await _group_names(
        conn, [activities[r["activity_id"]] for r in rows if r["activity_id"] in activities]
    )
    out: list[CommentView] = []
    for r in rows:
        a = activities.get(r["activity_id"])
        placed = placements.get(r["solve_id"], {}).get(r["activity_id"])
        day = r["day"] if r["day"] is not None and r["day"] < len(instance.days) else None
        out.append(
            CommentView(
                id=r["id"],
                draft_id=r["draft_id"],
                solve_id=r["solve_id"],
                author_id=r["author_id"],
                author_name=r["author_name"],
                body=r["body"],
                created_at=r["created_at"],
                activity_id=r["activity_id"],
                lesson=None if a is None else lesson_of(instance, a, placed, groups),
                day=r["day"],
                day_name=None if day is None else instance.days[day].name,
                answer=r["answer"],
                answered_by_name=r["answered_by_name"],
                answered_at=r["answered_at"],
            )
        )
    return out


_COMMENT_SELECT: Final = (
    "SELECT c.id, c.draft_id, c.solve_id, c.author_id, c.activity_id, c.day, c.body, "
    "c.created_at, c.answer, c.answered_at, c.answered_by, "
    "coalesce(a.given_name || ' ' || a.family_name, '') AS author_name, "
    "b.given_name || ' ' || b.family_name AS answered_by_name "
    "FROM draft_comments c LEFT JOIN persons a ON a.id = c.author_id "
    "LEFT JOIN persons b ON b.id = c.answered_by "
)


@get("/v1/timetable/drafts/{draft_id:uuid}/comments", tags=["timetable"])
async def get_comments(
    request: Request[Principal, Any, Any], draft_id: FromPath[UUID]
) -> CommentList:
    """The draft's comments, oldest first: the principal and the secretary see
    all, a teacher of the school only their own."""
    svc = services(request)
    who = principal(request)
    async with svc.db.tenant(who.tenant_id) as conn:
        school_id, _, instance = await load_draft(conn, draft_id)
        person = require_teacher(who, school_id)
        everyone = is_scheduler(who, school_id)
        rows = await conn.fetch(
            _COMMENT_SELECT + "WHERE c.draft_id = $1 AND ($2 OR c.author_id = $3) "
            "ORDER BY c.created_at, c.id LIMIT $4",
            draft_id,
            everyone,
            person,
            MAX_PAGE + 1,
        )
        items = await _views(conn, rows[:MAX_PAGE], instance)
    return CommentList(draft_id=draft_id, items=items, truncated=len(rows) > MAX_PAGE)


@post("/v1/timetable/comments/{comment_id:uuid}/answer", tags=["timetable"], status_code=200)
async def post_answer(
    request: Request[Principal, Any, Any], comment_id: FromPath[UUID], data: JSONBody[NewAnswer]
) -> CommentView:
    """Answer a comment (the principal or the secretary of the draft's school);
    the author is notified. Answering again replaces the answer."""
    svc = services(request)
    who = principal(request)
    answer = data.answer.strip()
    if not answer:
        raise BadRequest("an empty answer", code="empty_answer")
    async with svc.db.tenant(who.tenant_id) as conn:
        row = await conn.fetchrow(
            "SELECT c.draft_id, d.school_id, d.instance::text AS instance FROM draft_comments c "
            "JOIN timetable_drafts d ON d.id = c.draft_id WHERE c.id = $1 FOR UPDATE OF c",
            comment_id,
        )
        if row is None:
            raise NotFound("no such comment", code="comment_not_found")
        if not is_scheduler(who, row["school_id"]):
            raise Forbidden("only the school's scheduler answers", code="not_scheduler")
        person = who.require_person()
        await conn.execute(
            "UPDATE draft_comments SET answer = $2, answered_by = $3, answered_at = $4 "
            "WHERE id = $1",
            comment_id,
            answer,
            person,
            svc.clock.now(),
        )
        rows = await conn.fetch(_COMMENT_SELECT + "WHERE c.id = $1", comment_id)
        (view,) = await _views(conn, rows, msgspec.json.decode(row["instance"], type=Instance))
    if view.author_id != person:  # a scheduler answering their own comment needs no notice
        await _hub(request).notify(
            who.tenant_id,
            answer_event(
                comment_id, view.author_id, view.body, answer, person, view.answered_by_name or ""
            ),
        )
    return view


ROUTES = [get_mine, post_comment, get_comments, post_answer]
