"""Each person's own timetable: `GET /v1/timetable/me` and personal iCalendar
feeds that phone calendars subscribe to (docs/calendar.md).

Whose lessons (scheduling.daily, the day's changes applied):

* a learner's: the groups they learn in; a teacher's: what they teach,
  including a lesson given to a substitute (for the substitute too);
* a guardian's children's, custodial or with information right only, each
  child only while the 18-year line lets the guardian see (`guardian_may_see`).
  A child the caller may not see is 404, the same as one that does not exist.

Every time a learner's timetable is shown to someone else (a guardian, here or
through a child's feed), an audit row is written in the same transaction.

A feed is a secret URL, `{REPPU_PUBLIC_URL}/v1/calendar/{tenant}/{token}.ics`:
the token is the credential (256 bits; only its SHA-256 is stored), so the
route needs no bearer token. A feed serves its owner's lessons, or one child's
(`learner_id`); a child's feed re-checks the guardianship and the 18-year line
at every fetch. Unknown, revoked or no longer permitted: 404, all alike.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from collections.abc import Iterable, Mapping, Sequence
from datetime import date, datetime, time, timedelta
from typing import Annotated, Any, Final
from urllib.parse import urlsplit
from uuid import NAMESPACE_URL, UUID, uuid4, uuid5

import asyncpg
import msgspec
from icalendar import Calendar, Event, Timezone
from icalendar.enums import STATUS
from icalendar.prop import vDuration
from litestar import Request, Response, delete, get, post
from litestar.params import FromPath, FromQuery, JSONBody, QueryParameter

from core import actions as core_actions
from core import store
from core.api import principal, services
from core.auth import Principal
from core.clock import HELSINKI, Clock, today_in_helsinki
from core.config import Settings
from core.db import Connection, Database
from core.errors import BadRequest, Conflict, NotFound
from core.rights import guardian_may_see
from scheduling.daily import MAX_RANGE_DAYS, DayLesson, Status, person_lessons

#: active feeds one person may hold at once, their own and their children's
#: together; one more is refused (409 too_many_feeds) until one is revoked
MAX_FEEDS: Final = 10
#: a feed holds lessons from this many days back …
FEED_DAYS_BACK: Final = 14
#: … to this many days ahead of the fetch (Helsinki dates)
FEED_DAYS_AHEAD: Final = 90
#: a token is secrets.token_urlsafe(FEED_TOKEN_BYTES): 256 bits, 43 characters
FEED_TOKEN_BYTES: Final = 32
#: phones may keep a fetched feed this long; `private`: no shared cache may
FEED_CACHE_CONTROL: Final = "private, max-age=300"
#: how often a subscribing calendar is asked to refetch (REFRESH-INTERVAL)
FEED_REFRESH: Final = timedelta(hours=1)
#: litestar adds "; charset=utf-8" (Response.encoding) to a text/* media type
ICS_MEDIA_TYPE: Final = "text/calendar"
PRODID: Final = "-//Reppu//Lukujärjestys//FI"
TZID: Final = "Europe/Helsinki"

assert FEED_DAYS_BACK + 1 + FEED_DAYS_AHEAD <= MAX_RANGE_DAYS

_TOKEN = re.compile(r"[A-Za-z0-9_-]{43}")
_SLUG = re.compile(r"[a-z][a-z0-9-]{1,39}")  # tenants.slug's CHECK (0001)
#: a lesson without lesson or change id (none today) still gets a stable UID
_UID_NAMESPACE = uuid5(NAMESPACE_URL, "https://reppu/calendar-uid")


# ---- views -------------------------------------------------------------------------------


class OriginalView(msgspec.Struct, frozen=True, kw_only=True):
    """A changed lesson as the timetable has it."""

    starts: time
    ends: time
    room: str | None
    teachers: list[str]


class LessonView(msgspec.Struct, frozen=True, kw_only=True):
    """One lesson on one date, its change applied, with names for people."""

    date: date
    starts: time
    ends: time
    subject: str
    group_id: UUID | None
    group_name: str | None
    #: display names of who teaches it on this date (the substitute, when one)
    teachers: list[str]
    room: str | None
    status: Status
    original: OriginalView | None = None
    title: str | None = None
    note: str | None = None
    lesson_id: UUID | None = None
    change_id: UUID | None = None


class ChildTimetable(msgspec.Struct, frozen=True, kw_only=True):
    learner_id: UUID
    given_name: str
    lessons: list[LessonView]


class MyTimetable(msgspec.Struct, frozen=True, kw_only=True):
    """GET /v1/timetable/me: my own lessons (as learner or teacher) and, for a
    guardian, each visible child's (only the one asked for with `?learner=`)."""

    from_: date = msgspec.field(name="from")
    to: date
    lessons: list[LessonView]
    children: list[ChildTimetable]


class NewFeed(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """POST /v1/timetable/feeds: my own lessons, or my child's (`learner`)."""

    learner: UUID | None = None


class FeedView(msgspec.Struct, frozen=True, kw_only=True):
    id: UUID
    created_at: datetime
    learner_id: UUID | None


class CreatedFeed(msgspec.Struct, frozen=True, kw_only=True):
    """The feed and its secret URL: shown once, never again (only a hash is kept)."""

    id: UUID
    created_at: datetime
    learner_id: UUID | None
    url: str


# ---- rules without I/O -------------------------------------------------------------------


def week_of(day: date) -> tuple[date, date]:
    """Monday … Sunday of `day`'s week."""
    monday = day - timedelta(days=day.weekday())
    return monday, monday + timedelta(days=6)


def date_range(start: date | None, end: date | None, today: date) -> tuple[date, date]:
    """The range asked for: none given is today's week; one given is the week
    (seven days) starting or ending there. At most MAX_RANGE_DAYS days."""
    if start is None and end is None:
        start, end = week_of(today)
    elif start is None:
        assert end is not None
        start = end - timedelta(days=6)
    elif end is None:
        end = start + timedelta(days=6)
    if end < start:
        raise BadRequest("`to` is before `from`", code="invalid_range")
    if (end - start).days + 1 > MAX_RANGE_DAYS:
        raise BadRequest(
            f"a range holds at most {MAX_RANGE_DAYS} days",
            code="range_too_long",
            details={"max_days": MAX_RANGE_DAYS},
        )
    return start, end


def token_hash(token: str) -> bytes:
    return hashlib.sha256(token.encode("ascii")).digest()


def feed_url(public_url: str, tenant_slug: str, token: str) -> str:
    return f"{public_url.rstrip('/')}/v1/calendar/{tenant_slug}/{token}.ics"


def feed_token(name: str) -> str | None:
    """The token of a feed's last path segment (`{token}.ics`), if well formed."""
    token = name.removesuffix(".ics")
    return token if token != name and _TOKEN.fullmatch(token) else None


def lesson_view(
    lesson: DayLesson, groups: Mapping[UUID, str], people: Mapping[UUID, str]
) -> LessonView:
    def names(ids: Sequence[UUID]) -> list[str]:
        return [people[i] for i in ids if i in people]

    o = lesson.original
    return LessonView(
        date=lesson.date,
        starts=lesson.starts,
        ends=lesson.ends,
        subject=lesson.subject,
        group_id=lesson.group_id,
        group_name=groups.get(lesson.group_id) if lesson.group_id is not None else None,
        teachers=names(lesson.teacher_ids),
        room=lesson.room,
        status=lesson.status,
        original=OriginalView(
            starts=o.starts, ends=o.ends, room=o.room, teachers=names(o.teacher_ids)
        )
        if o is not None
        else None,
        title=lesson.title,
        note=lesson.note,
        lesson_id=lesson.lesson_id,
        change_id=lesson.change_id,
    )


_PREFIX: Final[Mapping[str, str]] = {
    "cancelled": "PERUTTU: ",
    "moved": "Muutos: ",
    "substituted": "Muutos: ",
    "extra": "Lisätunti: ",
}


def event_summary(lesson: LessonView) -> str:
    if lesson.status == "programme":
        if lesson.title and lesson.subject:
            return f"{lesson.title} ({lesson.subject})"
        return lesson.title or lesson.subject or "Ohjelma"
    return _PREFIX.get(lesson.status, "") + lesson.subject


def event_description(lesson: LessonView) -> str:
    lines: list[str] = []
    if lesson.group_name:
        lines.append(f"Ryhmä: {lesson.group_name}")
    if lesson.teachers:
        label = "Opettaja" if len(lesson.teachers) == 1 else "Opettajat"
        lines.append(f"{label}: {', '.join(lesson.teachers)}")
    o = lesson.original
    if o is not None:
        was = [f"{o.starts:%H:%M}–{o.ends:%H:%M}", o.room or "", ", ".join(o.teachers)]
        lines.append("Alun perin: " + ", ".join(part for part in was if part))
    if lesson.note:
        lines.append(lesson.note)
    return "\n".join(lines)


def event_uid(lesson: LessonView, host: str) -> str:
    """Stable per (weekly lesson, or the change that made it, date): a refetch
    updates the phone's event instead of adding a second one, also when the
    lesson is later moved or cancelled."""
    key = lesson.lesson_id or lesson.change_id
    if key is None:
        key = uuid5(_UID_NAMESPACE, f"{lesson.date}|{lesson.starts}|{lesson.subject}")
    return f"{key}-{lesson.date:%Y%m%d}@{host}"


def feed_calendar(
    lessons: Sequence[LessonView],
    *,
    name: str,
    feed_id: UUID,
    host: str,
    start: date,
    end: date,
    now: datetime,
) -> Calendar:
    """The VCALENDAR of a feed: one VEVENT per lesson, times in Europe/Helsinki
    with its VTIMEZONE (RFC 5545 §3.6.5) for the feed's years."""
    cal = Calendar.new(
        prodid=PRODID,
        name=name,  # NAME (RFC 7986) and X-WR-CALNAME
        uid=feed_id,
        method="PUBLISH",
        calscale="GREGORIAN",
        refresh_interval=FEED_REFRESH,
    )
    cal["REFRESH-INTERVAL"].params["VALUE"] = "DURATION"  # required by RFC 7986 §5.7
    cal.add("X-PUBLISHED-TTL", vDuration(FEED_REFRESH))  # the same, for Outlook
    cal.add("X-WR-TIMEZONE", TZID)
    cal.add_component(
        Timezone.from_tzid(
            TZID, first_date=date(start.year, 1, 1), last_date=date(end.year + 1, 1, 1)
        )
    )
    for lesson in lessons:
        cal.add_component(
            Event.new(
                uid=event_uid(lesson, host),
                start=datetime.combine(lesson.date, lesson.starts, tzinfo=HELSINKI),
                end=datetime.combine(lesson.date, lesson.ends, tzinfo=HELSINKI),
                summary=event_summary(lesson),
                location=lesson.room,
                description=event_description(lesson) or None,
                status=STATUS.CANCELLED if lesson.status == "cancelled" else STATUS.CONFIRMED,
                stamp=now,
            )
        )
    return cal


# ---- reads and writes --------------------------------------------------------------------


async def _visible_children(conn: Connection, guardian: UUID, today: date) -> list[asyncpg.Record]:
    """The guardian's children (any kind of guardianship) the 18-year line lets them see."""
    return [
        k
        for k in await store.children(conn, guardian)
        if guardian_may_see(k["birth_date"], k["guardians_may_see"], today)
    ]


async def _visible_child(
    conn: Connection, guardian: UUID, learner: UUID, today: date
) -> asyncpg.Record:
    for k in await _visible_children(conn, guardian, today):
        if k["id"] == learner:
            return k
    raise NotFound("learner not found")


async def _views(conn: Connection, lessons: Sequence[DayLesson]) -> list[LessonView]:
    group_ids = {x.group_id for x in lessons if x.group_id is not None}
    people_ids = {t for x in lessons for t in x.teacher_ids}
    people_ids |= {t for x in lessons if x.original is not None for t in x.original.teacher_ids}
    groups = await conn.fetch("SELECT id, name FROM groups WHERE id = ANY($1)", list(group_ids))
    people = await conn.fetch(
        "SELECT id, given_name || ' ' || family_name AS name FROM persons WHERE id = ANY($1)",
        list(people_ids),
    )
    group_names = {r["id"]: r["name"] for r in groups}
    person_names = {r["id"]: r["name"] for r in people}
    return [lesson_view(x, group_names, person_names) for x in lessons]


async def _audit(
    conn: Connection,
    tenant_id: UUID,
    actor: UUID,
    roles: Iterable[str],
    learners: Sequence[UUID],
    purpose: str,
) -> None:
    """A learner's timetable was shown to `actor` (core's audit_log, as core.actions does)."""
    await store.insert_audit(
        conn,
        tenant_id,
        actor_id=actor,
        actor_kind="person",
        actor_roles=sorted(roles),
        action="read",
        object_type="person",
        object_ids=list(learners),
        purpose=purpose,
    )


async def my_timetable(
    db: Database, who: Principal, today: date, start: date, end: date, learner: UUID | None
) -> MyTimetable:
    me = who.require_person()
    async with db.tenant(who.tenant_id) as conn:
        if learner is not None:
            kids = [await _visible_child(conn, me, learner, today)]
            own: list[LessonView] = []
        else:
            kids = await _visible_children(conn, me, today)
            own = await _views(conn, await person_lessons(conn, me, start, end))
        children = [
            ChildTimetable(
                learner_id=k["id"],
                given_name=k["given_name"],
                lessons=await _views(conn, await person_lessons(conn, k["id"], start, end)),
            )
            for k in kids
        ]
        await _audit(
            conn, who.tenant_id, me, who.role_names, [c.learner_id for c in children], "timetable"
        )
    return MyTimetable(from_=start, to=end, lessons=own, children=children)


async def create_feed(
    db: Database, clock: Clock, settings: Settings, who: Principal, new: NewFeed
) -> CreatedFeed:
    me = who.require_person()
    token = secrets.token_urlsafe(FEED_TOKEN_BYTES)
    feed = FeedView(id=uuid4(), created_at=clock.now(), learner_id=new.learner)
    async with db.tenant(who.tenant_id) as conn:
        if new.learner is not None:
            await _visible_child(conn, me, new.learner, today_in_helsinki(clock))
        # the count and the insert under one per-person lock: two requests at
        # once cannot both take the last free place
        await conn.execute(
            "SELECT pg_advisory_xact_lock("
            "hashtextextended('calendar_feeds:' || $1::uuid::text, 0))",
            me,
        )
        active: int = await conn.fetchval(
            "SELECT count(*) FROM calendar_feeds WHERE person_id = $1 AND revoked_at IS NULL", me
        )
        if active >= MAX_FEEDS:
            raise Conflict(
                f"at most {MAX_FEEDS} calendar feeds; revoke one first",
                code="too_many_feeds",
                details={"max_feeds": MAX_FEEDS},
            )
        await conn.execute(
            "INSERT INTO calendar_feeds (id, tenant_id, person_id, token_hash, created_at, "
            "learner_id) VALUES ($1, $2, $3, $4, $5, $6)",
            feed.id,
            who.tenant_id,
            me,
            token_hash(token),
            feed.created_at,
            feed.learner_id,
        )
        tenant = await store.get_tenant(conn)
        assert tenant is not None
    return CreatedFeed(
        id=feed.id,
        created_at=feed.created_at,
        learner_id=feed.learner_id,
        url=feed_url(settings.public_url, tenant["slug"], token),
    )


async def my_feeds(db: Database, who: Principal) -> list[FeedView]:
    me = who.require_person()
    async with db.tenant(who.tenant_id) as conn:
        rows = await conn.fetch(
            "SELECT id, created_at, learner_id FROM calendar_feeds "
            "WHERE person_id = $1 AND revoked_at IS NULL ORDER BY created_at, id",
            me,
        )
    return [
        FeedView(id=r["id"], created_at=r["created_at"], learner_id=r["learner_id"]) for r in rows
    ]


async def revoke_feed(db: Database, clock: Clock, who: Principal, feed_id: UUID) -> None:
    """Revoke one of my feeds: its URL answers 404 from now on."""
    me = who.require_person()
    async with db.tenant(who.tenant_id) as conn:
        done = await conn.fetchval(
            "UPDATE calendar_feeds SET revoked_at = $3 "
            "WHERE id = $1 AND person_id = $2 AND revoked_at IS NULL RETURNING id",
            feed_id,
            me,
            clock.now(),
        )
    if done is None:
        raise NotFound("calendar feed not found", code="feed_not_found")


async def feed_ics(db: Database, clock: Clock, settings: Settings, slug: str, name: str) -> bytes:
    """The calendar behind a feed URL, or NotFound (feed_not_found) for any
    URL that does not lead to a feed its owner may still see."""
    missing = NotFound("calendar feed not found", code="feed_not_found")
    token = feed_token(name)
    if token is None or not _SLUG.fullmatch(slug):
        raise missing
    tenant_id = await core_actions.find_tenant(db, slug)
    if tenant_id is None:
        raise missing
    now = clock.now()
    today = today_in_helsinki(clock)
    start, end = today - timedelta(days=FEED_DAYS_BACK), today + timedelta(days=FEED_DAYS_AHEAD)
    async with db.tenant(tenant_id) as conn:
        feed = await conn.fetchrow(
            "SELECT id, person_id, learner_id FROM calendar_feeds "
            "WHERE token_hash = $1 AND revoked_at IS NULL",
            token_hash(token),
        )
        if feed is None:
            raise missing
        owner, learner = feed["person_id"], feed["learner_id"]
        if learner is not None:
            try:
                whose = await _visible_child(conn, owner, learner, today)
            except NotFound:
                raise missing from None
        else:
            found = await store.person(conn, owner)
            if found is None:
                raise missing
            whose = found
        lessons = await _views(conn, await person_lessons(conn, learner or owner, start, end))
        if learner is not None:
            roles = await conn.fetch(
                "SELECT DISTINCT role FROM person_roles WHERE person_id = $1", owner
            )
            await _audit(
                conn, tenant_id, owner, [r["role"] for r in roles], [learner], "calendar_feed"
            )
    cal = feed_calendar(
        lessons,
        name=f"Lukujärjestys: {whose['given_name']}",
        feed_id=feed["id"],
        host=urlsplit(settings.public_url).hostname or "reppu",
        start=start,
        end=end,
        now=now,
    )
    body: bytes = cal.to_ical()
    return body


# ---- routes ------------------------------------------------------------------------------


@get("/v1/timetable/me", tags=["timetable"])
async def get_my_timetable(
    request: Request[Principal, Any, Any],
    from_: Annotated[date | None, QueryParameter(name="from")] = None,
    to: FromQuery[date | None] = None,
    learner: FromQuery[UUID | None] = None,
) -> MyTimetable:
    """My timetable `from` … `to` (inclusive; default this week, Monday to
    Sunday, Helsinki; at most MAX_RANGE_DAYS days) with each day's changes
    applied; a guardian also gets each child they may see, or only `learner`."""
    svc = services(request)
    today = svc.today()
    start, end = date_range(from_, to, today)
    return await my_timetable(svc.db, principal(request), today, start, end, learner)


@post("/v1/timetable/feeds", tags=["timetable"], status_code=201)
async def post_feed(
    request: Request[Principal, Any, Any], data: JSONBody[NewFeed | None] = None
) -> CreatedFeed:
    """A personal iCalendar feed (my lessons, or my child's with `learner`): the
    secret URL is in the answer only. At most MAX_FEEDS active (409)."""
    svc = services(request)
    return await create_feed(svc.db, svc.clock, svc.settings, principal(request), data or NewFeed())


@get("/v1/timetable/feeds", tags=["timetable"])
async def get_feeds(request: Request[Principal, Any, Any]) -> list[FeedView]:
    """My active feeds (never their URLs)."""
    return await my_feeds(services(request).db, principal(request))


@delete("/v1/timetable/feeds/{feed_id:uuid}", tags=["timetable"], status_code=204)
async def delete_feed(request: Request[Principal, Any, Any], feed_id: FromPath[UUID]) -> None:
    """Revoke my feed: its URL answers 404 from now on."""
    svc = services(request)
    await revoke_feed(svc.db, svc.clock, principal(request), feed_id)


@get(
    "/v1/calendar/{tenant:str}/{feed:str}",
    exclude_from_auth=True,
    tags=["timetable"],
    media_type=ICS_MEDIA_TYPE,
    security=[{}],
)
async def get_feed_ics(
    request: Request[Any, Any, Any], tenant: FromPath[str], feed: FromPath[str]
) -> Response[bytes]:
    """A feed as iCalendar (`{token}.ics`): the secret URL is the credential,
    no bearer token. 404 feed_not_found for an unknown or revoked token, or a
    child the owner may no longer see."""
    svc = services(request)
    body = await feed_ics(svc.db, svc.clock, svc.settings, tenant, feed)
    return Response(body, media_type=ICS_MEDIA_TYPE, headers={"Cache-Control": FEED_CACHE_CONTROL})


ROUTES: list[Any] = [get_my_timetable, post_feed, get_feeds, delete_feed, get_feed_ics]
