"""Each person's own timetable and personal iCalendar feeds (scheduling.calendar),
over HTTP against the `lukkari` school (tests/scheduling/daily_school.py)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from urllib.parse import urlsplit
from uuid import UUID

import httpx
import msgspec
import pytest
from icalendar import Calendar, Event

from core.clock import HELSINKI, FixedClock
from core.db import Database
from scheduling.calendar import (
    FEED_DAYS_AHEAD,
    FEED_DAYS_BACK,
    MAX_FEEDS,
    LessonView,
    event_description,
    event_summary,
    event_uid,
)
from scheduling.daily import MAX_RANGE_DAYS
from tests.conftest import TEST_NOW, login
from tests.scheduling.daily_school import TENANT, lesson_id

TUESDAY = date(2026, 11, 24)  # TEST_NOW's date
DAY = {"from": "2026-11-24", "to": "2026-11-24"}
#: the window of a feed fetched at TEST_NOW
FEED_WINDOW = {
    "from": str(TUESDAY - timedelta(days=FEED_DAYS_BACK)),
    "to": str(TUESDAY + timedelta(days=FEED_DAYS_AHEAD)),
}

AddChange = Callable[..., Awaitable[UUID]]


async def as_(client: httpx.AsyncClient, username: str) -> dict[str, str]:
    return await login(client, f"{username}@{TENANT}")


@pytest.fixture
async def change(db: Database, school: dict[str, UUID]) -> AsyncIterator[AddChange]:
    """Adds rows to timetable_changes; undoes them after the test (the school is shared)."""
    added: list[UUID] = []

    async def add(kind: str, subject: str, on: date = TUESDAY, **cols: Any) -> UUID:
        cid = uuid.uuid4()
        lesson = await lesson_id(db, school, subject, on.isoweekday())
        async with db.tenant(school["tenant"]) as conn:
            await conn.execute(
                "INSERT INTO timetable_changes (id, tenant_id, school_id, on_date, lesson_id, "
                "kind, starts, ends, room, substitute_id, note, created_by, created_at) "
                "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
                cid,
                school["tenant"],
                school["k1"],
                on,
                lesson,
                kind,
                cols.get("starts"),
                cols.get("ends"),
                cols.get("room"),
                cols.get("substitute_id"),
                cols.get("note"),
                school["sec"],
                TEST_NOW,
            )
        added.append(cid)
        return cid

    yield add
    async with db.tenant(school["tenant"]) as conn:
        await conn.execute(
            "UPDATE timetable_changes SET undone_at = $2 WHERE id = ANY($1)", added, TEST_NOW
        )


@pytest.fixture(autouse=True)
async def no_feeds_left(db: Database, school: dict[str, UUID]) -> AsyncIterator[None]:
    """Each test starts without active feeds in the school (MAX_FEEDS counts them)."""
    yield
    async with db.tenant(school["tenant"]) as conn:
        await conn.execute(
            "UPDATE calendar_feeds SET revoked_at = $1 WHERE revoked_at IS NULL", TEST_NOW
        )


async def me(client: httpx.AsyncClient, username: str, **params: str) -> tuple[int, dict[str, Any]]:
    r = await client.get(
        "/v1/timetable/me", params=params or DAY, headers=await as_(client, username)
    )
    body: dict[str, Any] = r.json()
    return r.status_code, body


def subjects(lessons: list[dict[str, Any]]) -> list[tuple[str, str]]:
    return [(x["subject"], x["group_name"]) for x in lessons]


async def audit_rows(db: Database, school: dict[str, UUID], learner: str, purpose: str) -> int:
    async with db.tenant(school["tenant"]) as conn:
        value: int = await conn.fetchval(
            "SELECT count(*) FROM audit_log WHERE object_id = $1 AND purpose = $2",
            school[learner],
            purpose,
        )
    return value


# ---- GET /v1/timetable/me ----------------------------------------------------------------


async def test_learner_sees_own_groups_only(
    client: httpx.AsyncClient, school: dict[str, UUID]
) -> None:
    """l1 sees 7A and 7A ruotsi, not 7A saksa nor 8A, with names, rooms and times."""
    status, body = await me(client, "l1")
    assert status == 200
    assert body["from"] == body["to"] == "2026-11-24" and body["children"] == []
    assert subjects(body["lessons"]) == [("matematiikka", "7A"), ("ruotsi", "7A ruotsi")]
    math = body["lessons"][0]
    assert math["starts"] == "08:15:00" and math["ends"] == "09:00:00"
    assert math["teachers"] == ["Tuula Ykkönen"] and math["room"] == "A101"
    assert math["status"] == "normal" and math["original"] is None
    assert math["group_id"] == str(school["7a"])


async def test_default_range_is_this_week(client: httpx.AsyncClient) -> None:
    """Without from/to: Monday … Sunday of the clock's week in Helsinki."""
    r = await client.get("/v1/timetable/me", headers=await as_(client, "l1"))
    assert r.status_code == 200
    body = r.json()
    assert (body["from"], body["to"]) == ("2026-11-23", "2026-11-29")
    assert [(x["date"], x["subject"]) for x in body["lessons"]] == [
        ("2026-11-24", "matematiikka"),
        ("2026-11-24", "ruotsi"),
        ("2026-11-25", "matematiikka"),
    ]


async def test_teacher_sees_lessons_taught_and_substituted(
    client: httpx.AsyncClient, school: dict[str, UUID], change: AddChange
) -> None:
    """t3 sees 8A English and t1's maths as the substitute; t1 still sees it, changed."""
    await change("substitute", "matematiikka", substitute_id=school["t3"])
    status, body = await me(client, "t3")
    assert status == 200
    assert subjects(body["lessons"]) == [("matematiikka", "7A"), ("englanti", "8A")]
    math = body["lessons"][0]
    assert math["status"] == "substituted" and math["teachers"] == ["Terhi Kolmonen"]
    assert math["original"]["teachers"] == ["Tuula Ykkönen"]
    _, body = await me(client, "t1")
    assert subjects(body["lessons"]) == [("matematiikka", "7A"), ("ruotsi", "7A ruotsi")]
    assert body["lessons"][0]["status"] == "substituted"
    _, body = await me(client, "t4")
    assert body["lessons"] == [] and body["children"] == []


async def test_changes_applied(client: httpx.AsyncClient, change: AddChange) -> None:
    """A cancelled lesson shows as cancelled; a moved one has its new room and the original."""
    await change("cancel", "ruotsi", note="Opettaja koulutuksessa")
    await change("move", "matematiikka", room="C301", starts=time(8, 30), ends=time(9, 15))
    _, body = await me(client, "l1")
    math, swedish = body["lessons"]
    assert swedish["subject"] == "ruotsi" and swedish["status"] == "cancelled"
    assert swedish["note"] == "Opettaja koulutuksessa" and swedish["change_id"] is not None
    assert math["status"] == "moved" and math["room"] == "C301" and math["starts"] == "08:30:00"
    assert math["original"] == {
        "starts": "08:15:00",
        "ends": "09:00:00",
        "room": "A101",
        "teachers": ["Tuula Ykkönen"],
    }


async def test_custodial_and_information_right_guardians(
    client: httpx.AsyncClient, db: Database, school: dict[str, UUID]
) -> None:
    """g1 (custodial) and gi (information right) both see l1's lessons, and each read is audited."""
    before = await audit_rows(db, school, "l1", "timetable")
    for guardian in ("g1", "gi"):
        status, body = await me(client, guardian)
        assert status == 200 and body["lessons"] == []
        [child] = body["children"]
        assert child["learner_id"] == str(school["l1"]) and child["given_name"] == "Lilja"
        assert subjects(child["lessons"]) == [("matematiikka", "7A"), ("ruotsi", "7A ruotsi")]
        status, one = await me(client, guardian, learner=str(school["l1"]), **DAY)
        assert status == 200 and one["children"] == body["children"]
    assert await audit_rows(db, school, "l1", "timetable") == before + 4
    await me(client, "l1")  # the learner's own read is not someone else's
    assert await audit_rows(db, school, "l1", "timetable") == before + 4


async def test_eighteen_year_line_and_other_families(
    client: httpx.AsyncClient, school: dict[str, UUID]
) -> None:
    """ga sees a18c (consented) but not a18 (18, no consent); nobody sees another family's
    child; all refusals are the same 404 as a learner that does not exist."""
    _, body = await me(client, "ga")
    assert [c["learner_id"] for c in body["children"]] == [str(school["a18c"])]
    assert subjects(body["children"][0]["lessons"]) == [("historia", "8A"), ("englanti", "8A")]
    status, _ = await me(client, "ga", learner=str(school["a18c"]), **DAY)
    assert status == 200
    refusals = [
        ("ga", school["a18"]),
        ("g1", school["l3"]),
        ("g1", uuid.uuid4()),
        ("l1", school["l2"]),
        ("t1", school["l1"]),
    ]
    for who, learner in refusals:
        status, err = await me(client, who, learner=str(learner), **DAY)
        assert status == 404, (who, learner)
        assert err["code"] == "not_found" and err["message"] == "learner not found"


async def test_range_bounds(client: httpx.AsyncClient) -> None:
    """to before from is 400 invalid_range; more than MAX_RANGE_DAYS is 400 range_too_long."""
    start = date(2026, 8, 10)
    status, err = await me(client, "l1", **{"from": "2026-11-24", "to": "2026-11-23"})
    assert status == 400 and err["code"] == "invalid_range"
    last = start + timedelta(days=MAX_RANGE_DAYS - 1)
    status, body = await me(client, "l1", **{"from": str(start), "to": str(last)})
    assert status == 200 and body["lessons"][0]["date"] == "2026-08-11"
    too_far = str(last + timedelta(days=1))
    status, err = await me(client, "l1", **{"from": str(start), "to": too_far})
    assert status == 400 and err["code"] == "range_too_long"
    assert err["details"] == {"max_days": MAX_RANGE_DAYS}
    status, err = await me(client, "l1", **{"from": "24.11.2026"})
    assert status == 400 and err["code"] == "invalid_request"
    status, body = await me(client, "l1", **{"from": "2026-11-25"})
    assert status == 200 and body["to"] == "2026-12-01"


# ---- feeds -------------------------------------------------------------------------------


async def new_feed(
    client: httpx.AsyncClient, username: str, learner: UUID | None = None
) -> httpx.Response:
    body = {} if learner is None else {"learner": str(learner)}
    return await client.post("/v1/timetable/feeds", json=body, headers=await as_(client, username))


async def fetch(client: httpx.AsyncClient, url: str) -> httpx.Response:
    """GET a feed URL on the test server, with no Authorization header."""
    return await client.get(urlsplit(url).path)


def day_of(e: Event) -> date:
    start = e.start
    return start.date() if isinstance(start, datetime) else start


def key_of(e: Event) -> tuple[date, time, bool]:
    start = e.start
    assert isinstance(start, datetime)
    return start.date(), start.time(), e["STATUS"] == "CANCELLED"


def parse(r: httpx.Response) -> tuple[Calendar, list[Event]]:
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "text/calendar; charset=utf-8"
    assert r.headers["cache-control"] == "private, max-age=300"
    cal = Calendar.from_ical(r.content)
    return cal, sorted(cal.events, key=lambda e: (e.start, str(e["SUMMARY"])))


async def test_feed_create_fetch_revoke(
    client: httpx.AsyncClient, db: Database, school: dict[str, UUID], change: AddChange
) -> None:
    """l1's feed: created once with its secret URL, fetched without a token as iCalendar
    with l1's lessons (changes applied, stable UIDs), listed without URL, revoked → 404."""
    await change("cancel", "ruotsi")
    await change("move", "matematiikka", room="C301")
    r = await new_feed(client, "l1")
    assert r.status_code == 201, r.text
    created = r.json()
    url = created["url"]
    assert url.startswith(f"http://localhost:8000/v1/calendar/{TENANT}/") and url.endswith(".ics")
    assert created["learner_id"] is None
    async with db.tenant(school["tenant"]) as conn:
        stored = await conn.fetchval(
            "SELECT token_hash FROM calendar_feeds WHERE id = $1", UUID(created["id"])
        )
    token = url.rsplit("/", 1)[1].removesuffix(".ics")
    assert len(stored) == 32 and token.encode() not in stored

    cal, events = parse(await fetch(client, url))
    assert cal["PRODID"] and cal["X-WR-CALNAME"] == "Lukujärjestys: Lilja"
    assert cal["X-WR-TIMEZONE"] == "Europe/Helsinki"
    assert cal.refresh_interval == timedelta(hours=1)
    assert cal["REFRESH-INTERVAL"].params["VALUE"] == "DURATION"
    assert [tz["TZID"] for tz in cal.timezones] == ["Europe/Helsinki"]
    # exactly l1's lessons of the window as GET /v1/timetable/me has them: other tests
    # change other dates of the shared school, so compare rather than count by hand
    _, mine = await me(client, "l1", **FEED_WINDOW)
    assert [key_of(e) for e in events] == [
        (date.fromisoformat(x["date"]), time.fromisoformat(x["starts"]), x["status"] == "cancelled")
        for x in mine["lessons"]
    ]
    assert len(events) >= 7 * 2 + 6  # Tuesdays 10.11 … 22.12, Wednesdays 11.11 … 16.12
    math, swedish = [e for e in events if day_of(e) == TUESDAY]
    assert math["DTSTART"].params["TZID"] == "Europe/Helsinki"
    assert math.start == datetime(2026, 11, 24, 8, 15, tzinfo=HELSINKI)
    assert math.end == datetime(2026, 11, 24, 9, 0, tzinfo=HELSINKI)
    assert math["SUMMARY"] == "Muutos: matematiikka" and math["LOCATION"] == "C301"
    assert "Tuula Ykkönen" in str(math["DESCRIPTION"]) and "A101" in str(math["DESCRIPTION"])
    assert math["STATUS"] == "CONFIRMED" and "DTSTAMP" in math
    assert swedish["SUMMARY"] == "PERUTTU: ruotsi" and swedish["STATUS"] == "CANCELLED"
    text = (await fetch(client, url)).text
    assert "7A saksa" not in text and "Ryhmä: 8A" not in text
    assert not any(name in text for name in ("Leo", "Lumi", "Lasse", "Linnea", "Aapo"))

    _, again = parse(await fetch(client, url))
    assert [str(e["UID"]) for e in again] == [str(e["UID"]) for e in events]
    assert len({str(e["UID"]) for e in events}) == len(events)

    r = await client.get("/v1/timetable/feeds", headers=await as_(client, "l1"))
    assert r.json() == [
        {"id": created["id"], "created_at": created["created_at"], "learner_id": None}
    ]
    r = await client.delete(f"/v1/timetable/feeds/{created['id']}", headers=await as_(client, "g1"))
    assert r.status_code == 404  # not g1's
    r = await client.delete(f"/v1/timetable/feeds/{created['id']}", headers=await as_(client, "l1"))
    assert r.status_code == 204
    r = await fetch(client, url)
    assert r.status_code == 404 and r.json()["code"] == "feed_not_found"
    r = await client.get("/v1/timetable/feeds", headers=await as_(client, "l1"))
    assert r.json() == []
    r = await client.delete(f"/v1/timetable/feeds/{created['id']}", headers=await as_(client, "l1"))
    assert r.status_code == 404 and r.json()["code"] == "feed_not_found"


async def test_uid_survives_a_change(client: httpx.AsyncClient, change: AddChange) -> None:
    """A lesson cancelled after a fetch keeps its UID: the phone updates, not duplicates."""
    url = (await new_feed(client, "l1")).json()["url"]
    _, before = parse(await fetch(client, url))
    await change("cancel", "ruotsi")
    _, after = parse(await fetch(client, url))
    assert {str(e["UID"]) for e in after} == {str(e["UID"]) for e in before}

    def cancelled(events: list[Event]) -> set[str]:
        return {str(e["UID"]) for e in events if e["STATUS"] == "CANCELLED"}

    [uid] = cancelled(after) - cancelled(before)
    [swedish] = [e for e in after if str(e["UID"]) == uid]
    assert day_of(swedish) == TUESDAY and swedish["SUMMARY"] == "PERUTTU: ruotsi"


async def test_bad_feed_urls(client: httpx.AsyncClient) -> None:
    """An unknown token, a malformed one, another tenant's slug: 404 feed_not_found."""
    url = (await new_feed(client, "l1")).json()["url"]
    path = urlsplit(url).path
    token = path.rsplit("/", 1)[1].removesuffix(".ics")
    bad = [
        path.replace(token, "A" * 43),
        path.removesuffix(".ics"),
        path.replace(token, "short"),
        path.replace(f"/{TENANT}/", "/kuusikko/"),
        path.replace(f"/{TENANT}/", "/no-such-tenant/"),
        path.replace(f"/{TENANT}/", "/Not_A_Slug/"),
    ]
    for p in bad:
        r = await client.get(p)
        assert r.status_code == 404, p
        assert r.json()["code"] == "feed_not_found"
    assert (await client.get(path)).status_code == 200


async def test_child_feed(client: httpx.AsyncClient, db: Database, school: dict[str, UUID]) -> None:
    """g1's feed of l1 has only l1's lessons and audits each fetch; a child that is not
    theirs, or past the 18-year line without consent, cannot be subscribed."""
    r = await new_feed(client, "g1", school["l1"])
    assert r.status_code == 201 and r.json()["learner_id"] == str(school["l1"])
    before = await audit_rows(db, school, "l1", "calendar_feed")
    cal, events = parse(await fetch(client, r.json()["url"]))
    _, own = parse(await fetch(client, (await new_feed(client, "l1")).json()["url"]))
    assert cal["X-WR-CALNAME"] == "Lukujärjestys: Lilja"
    assert [str(e["UID"]) for e in events] == [str(e["UID"]) for e in own] and events
    assert await audit_rows(db, school, "l1", "calendar_feed") == before + 1
    r = await client.get("/v1/timetable/feeds", headers=await as_(client, "g1"))
    assert [f["learner_id"] for f in r.json()] == [str(school["l1"])]
    for who, learner in [("g1", school["l3"]), ("ga", school["a18"]), ("l1", school["l2"])]:
        r = await new_feed(client, who, learner)
        assert r.status_code == 404 and r.json()["message"] == "learner not found"
    assert (await new_feed(client, "gi", school["l1"])).status_code == 201
    assert (await new_feed(client, "ga", school["a18c"])).status_code == 201


async def test_child_feed_stops_at_the_18_year_line(
    client: httpx.AsyncClient, db: Database, school: dict[str, UUID], clock: FixedClock
) -> None:
    """g5's feed of l5 answers until l5 turns 18 (1.8.2030) and 404 after; ga's feed of
    a18c answers 404 once a18c withdraws the consent."""
    l5 = (await new_feed(client, "g5", school["l5"])).json()["url"]
    a18c = (await new_feed(client, "ga", school["a18c"])).json()["url"]
    try:
        clock.set(datetime(2030, 7, 31, 9, 0, tzinfo=UTC))
        assert (await fetch(client, l5)).status_code == 200
        clock.set(datetime(2030, 8, 1, 9, 0, tzinfo=UTC))
        r = await fetch(client, l5)
        assert r.status_code == 404 and r.json()["code"] == "feed_not_found"
    finally:
        clock.set(TEST_NOW)
    assert (await fetch(client, a18c)).status_code == 200
    async with db.tenant(school["tenant"]) as conn:
        await conn.execute(
            "UPDATE persons SET guardians_may_see = false WHERE id = $1", school["a18c"]
        )
    try:
        r = await fetch(client, a18c)
        assert r.status_code == 404 and r.json()["code"] == "feed_not_found"
    finally:
        async with db.tenant(school["tenant"]) as conn:
            await conn.execute(
                "UPDATE persons SET guardians_may_see = true WHERE id = $1", school["a18c"]
            )
    assert (await fetch(client, a18c)).status_code == 200


async def test_teacher_feed_has_the_substitution(
    client: httpx.AsyncClient, school: dict[str, UUID], change: AddChange
) -> None:
    """t3's own feed holds t1's maths on 24.11 that t3 substitutes."""
    await change("substitute", "matematiikka", substitute_id=school["t3"])
    _, events = parse(await fetch(client, (await new_feed(client, "t3")).json()["url"]))
    today = [e for e in events if day_of(e) == TUESDAY]
    assert [str(e["SUMMARY"]) for e in today] == ["Muutos: matematiikka", "englanti"]
    assert "Terhi Kolmonen" in str(today[0]["DESCRIPTION"])


async def test_max_feeds(client: httpx.AsyncClient) -> None:
    """MAX_FEEDS active feeds per person; one more is 409 until one is revoked."""
    ids = []
    for _ in range(MAX_FEEDS):
        r = await new_feed(client, "t4")
        assert r.status_code == 201
        ids.append(r.json()["id"])
    r = await new_feed(client, "t4")
    assert r.status_code == 409 and r.json()["code"] == "too_many_feeds"
    headers = await as_(client, "t4")
    assert (
        await client.delete(f"/v1/timetable/feeds/{ids[0]}", headers=headers)
    ).status_code == 204
    assert (await new_feed(client, "t4")).status_code == 201
    assert (await new_feed(client, "t1")).status_code == 201  # per person


async def test_feed_routes_need_a_token(client: httpx.AsyncClient) -> None:
    """Creating, listing and revoking feeds need a bearer token; only the .ics does not."""
    assert (await client.post("/v1/timetable/feeds", json={})).status_code == 401
    assert (await client.get("/v1/timetable/feeds")).status_code == 401
    assert (await client.delete(f"/v1/timetable/feeds/{uuid.uuid4()}")).status_code == 401
    assert (await client.get("/v1/timetable/me")).status_code == 401
    r = await client.post(
        "/v1/timetable/feeds", json={"learner": "x"}, headers=await as_(client, "l1")
    )
    assert r.status_code == 400
    r = await client.post("/v1/timetable/feeds", json={"other": 1}, headers=await as_(client, "l1"))
    assert r.status_code == 400


def test_event_texts() -> None:
    """Summaries per status (extra, programme, cancelled) and a stable UID without ids."""
    base = LessonView(
        date=TUESDAY,
        starts=time(8, 15),
        ends=time(9),
        subject="kuvataide",
        group_id=None,
        group_name="7A",
        teachers=["Tuula Ykkönen", "Timo Kakkonen"],
        room=None,
        status="extra",
        note="Tuo sakset",
    )
    assert event_summary(base) == "Lisätunti: kuvataide"
    assert event_description(base) == (
        "Ryhmä: 7A\nOpettajat: Tuula Ykkönen, Timo Kakkonen\nTuo sakset"
    )
    day = msgspec.structs.replace(base, status="programme", subject="", title="Teemapäivä")
    assert event_summary(day) == "Teemapäivä"
    replaced = msgspec.structs.replace(day, subject="matematiikka")
    assert event_summary(replaced) == "Teemapäivä (matematiikka)"
    assert event_summary(msgspec.structs.replace(base, status="cancelled")) == "PERUTTU: kuvataide"
    assert event_uid(base, "reppu.example.fi") == event_uid(base, "reppu.example.fi")
    assert event_uid(base, "reppu.example.fi").endswith("-20261124@reppu.example.fi")
