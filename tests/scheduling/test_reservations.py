"""Room reservations (scheduling.reservations) against the session's server and
the `lukkari` school's published timetable (tests/scheduling/daily_school.py).

Each test books its own rooms on its own dates, so the tests do not depend on
each other's reservations. Tuesdays hold A101 08:15-09:00 (matematiikka, 7A),
B203 and B204 09:15-10:00, A102 10:15-11:00 and 11:30-12:15."""

from __future__ import annotations

import asyncio
import itertools
from datetime import date, time, timedelta
from typing import Any
from uuid import UUID, uuid4

import httpx

from core.actions import tenant_id_for
from core.db import Database
from scheduling import reservations
from tests.conftest import TEST_NOW, login
from tests.family import FAMILY

URL = "/v1/timetable/reservations"
_unique = itertools.count()


def title(prefix: str) -> str:
    return f"{prefix} {next(_unique)}-{uuid4().hex[:6]}"


async def book(
    client: httpx.AsyncClient,
    school: dict[str, UUID],
    who: str,
    room: str,
    on: date,
    starts: str,
    ends: str,
    name: str = "Kokous",
) -> httpx.Response:
    body = {
        "school_id": str(school["k1"]),
        "room": room,
        "date": on.isoformat(),
        "starts": starts,
        "ends": ends,
        "title": name,
    }
    return await client.post(URL, json=body, headers=await login(client, f"{who}@lukkari"))


async def inbox(client: httpx.AsyncClient, who: str) -> list[dict[str, Any]]:
    r = await client.get(
        "/v1/inbox", params={"limit": 500}, headers=await login(client, f"{who}@lukkari")
    )
    assert r.status_code == 200, r.text
    return [i["message"] for i in r.json()["items"]]


async def lesson_id(db: Database, school: dict[str, UUID], room: str, starts: time) -> UUID:
    async with db.tenant(school["tenant"]) as conn:
        value: UUID = await conn.fetchval(
            "SELECT id FROM timetable_lessons WHERE timetable_id = $1 AND weekday = 2 "
            "AND room = $2 AND starts = $3",
            school["timetable"],
            room,
            starts,
        )
    return value


async def change(
    db: Database, school: dict[str, UUID], on: date, lesson: UUID, kind: str, **cols: Any
) -> None:
    """A row of timetable_changes, as scheduling.changes would write it."""
    async with db.tenant(school["tenant"]) as conn:
        await conn.execute(
            "INSERT INTO timetable_changes (id, tenant_id, school_id, on_date, lesson_id, kind, "
            "starts, ends, room, created_by, created_at) "
            "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
            uuid4(),
            school["tenant"],
            school["k1"],
            on,
            lesson,
            kind,
            cols.get("starts"),
            cols.get("ends"),
            cols.get("room"),
            school["sec"],
            TEST_NOW,
        )


async def test_a_lesson_in_the_room_is_a_clash_named(
    client: httpx.AsyncClient, school: dict[str, UUID]
) -> None:
    """A booking over a lesson is refused with 409 room_clash naming the lesson;
    rooms compare case-insensitively and back to back is no clash."""
    on = date(2026, 12, 1)  # a Tuesday
    r = await book(client, school, "t2", "a101", on, "08:30", "09:30")
    assert r.status_code == 409, r.text
    err = r.json()
    assert err["code"] == "room_clash"
    assert err["details"]["clashes"] == [
        {
            "kind": "lesson",
            "subject": "matematiikka",
            "group_id": str(school["7a"]),
            "starts": "08:15",
            "ends": "09:00",
            "status": "normal",
        }
    ]
    r = await book(client, school, "t2", "A101", on, "09:00", "09:15")
    assert r.status_code == 201, r.text
    got = r.json()
    assert (got["room"], got["date"], got["starts"], got["ends"]) == (
        "A101",
        "2026-12-01",
        "09:00:00",
        "09:15:00",
    )
    assert got["booked_by"] == str(school["t2"]) and got["booked_by_name"] == "Timo Kakkonen"


async def test_another_reservation_is_a_clash_named(
    client: httpx.AsyncClient, school: dict[str, UUID]
) -> None:
    """An overlapping booking of the same room is refused, naming the other
    reservation (id, title, times, booker); another room is free."""
    on = date(2026, 12, 2)
    first = await book(client, school, "t1", "Auditorio", on, "14:00", "15:00", "Vanhempainilta")
    assert first.status_code == 201, first.text
    r = await book(client, school, "t2", "auditorio ", on, "14:30", "15:30")
    assert r.status_code == 409 and r.json()["code"] == "room_clash"
    assert r.json()["details"]["clashes"] == [
        {
            "kind": "reservation",
            "id": first.json()["id"],
            "title": "Vanhempainilta",
            "starts": "14:00",
            "ends": "15:00",
            "booked_by_name": "Tuula Ykkönen",
        }
    ]
    assert (await book(client, school, "t2", "Musiikkiluokka", on, "14:30", "15:30")).is_success
    r = await client.get(
        URL,
        params={"school_id": str(school["k1"]), "date": on.isoformat()},
        headers=await login(client, "t3@lukkari"),
    )
    assert r.status_code == 200, r.text
    assert [(x["room"], x["title"]) for x in r.json()["items"]] == [
        ("Auditorio", "Vanhempainilta"),
        ("Musiikkiluokka", "Kokous"),
    ]


async def test_a_cancelled_lesson_frees_the_room(
    client: httpx.AsyncClient, db: Database, school: dict[str, UUID]
) -> None:
    """With the lesson cancelled on that date (timetable_changes), its room is free."""
    on = date(2026, 12, 8)
    assert (await book(client, school, "t3", "A102", on, "10:15", "11:00")).status_code == 409
    await change(db, school, on, await lesson_id(db, school, "A102", time(10, 15)), "cancel")
    r = await book(client, school, "t3", "A102", on, "10:15", "11:00")
    assert r.status_code == 201, r.text
    # the cancellation is of that date only: a week later the lesson is there
    later = on + timedelta(days=7)
    assert (await book(client, school, "t3", "A102", later, "10:15", "11:00")).status_code == 409


async def test_a_lesson_moved_into_the_room_clashes(
    client: httpx.AsyncClient, db: Database, school: dict[str, UUID]
) -> None:
    """A lesson moved (timetable_changes `move`) into a room at a new time takes
    that room, and frees the one it left."""
    on = date(2026, 12, 15)
    ruotsi = await lesson_id(db, school, "B203", time(9, 15))
    await change(
        db, school, on, ruotsi, "move", starts=time(13, 30), ends=time(14, 15), room="C301"
    )
    r = await book(client, school, "t4", "C301", on, "13:00", "14:00")
    assert r.status_code == 409, r.text
    (clash,) = r.json()["details"]["clashes"]
    assert clash == {
        "kind": "lesson",
        "subject": "ruotsi",
        "group_id": str(school["7a-ru"]),
        "starts": "13:30",
        "ends": "14:15",
        "status": "moved",
    }
    assert (await book(client, school, "t4", "B203", on, "09:15", "10:00")).status_code == 201


async def test_racing_bookings_one_wins(client: httpx.AsyncClient, school: dict[str, UUID]) -> None:
    """Bookings of the same room and time at once: exactly one wins, every round."""
    on = date(2026, 12, 3)
    for hour in range(8, 16):
        results = await asyncio.gather(
            *(
                book(client, school, who, "Juhlasali", on, f"{hour:02}:00", f"{hour:02}:45")
                for who in ("t1", "t2", "t3", "t4")
            )
        )
        assert sorted(r.status_code for r in results) == [201, 409, 409, 409], [
            r.text for r in results
        ]
    r = await client.get(
        URL,
        params={"school_id": str(school["k1"]), "date": on.isoformat()},
        headers=await login(client, "sec@lukkari"),
    )
    assert len(r.json()["items"]) == 8


async def test_booker_told_when_others_move_or_cancel(
    client: httpx.AsyncClient, school: dict[str, UUID]
) -> None:
    """The principal moves and the secretary cancels t3's reservation: t3 gets a
    notification for each, once (cancelling twice changes nothing)."""
    name = title("Kirjastotunti")
    on = date(2026, 12, 4)
    r = await book(client, school, "t3", "Kirjasto", on, "12:00", "13:00", name)
    assert r.status_code == 201, r.text
    rid = r.json()["id"]
    r = await client.patch(
        f"{URL}/{rid}",
        json={"starts": "13:00", "ends": "14:00"},
        headers=await login(client, "pri@lukkari"),
    )
    assert r.status_code == 200, r.text
    assert (r.json()["starts"], r.json()["ends"]) == ("13:00:00", "14:00:00")
    sec = await login(client, "sec@lukkari")
    for _ in range(2):
        r = await client.delete(f"{URL}/{rid}", headers=sec)
        assert r.status_code == 200 and r.json()["cancelled_at"] is not None, r.text
    mine = [m for m in await inbox(client, "t3") if name in m["subject"]]
    assert sorted(m["subject"] for m in mine) == [
        f"Tilavarauksesi peruttiin: {name}",
        f"Tilavaraustasi muutettiin: {name}",
    ]
    moved = next(m for m in mine if "muutettiin" in m["subject"])
    assert moved["sender_name"] == "timetable" and "Pekka Rehtori" in moved["body"]
    assert "pe 04.12.2026 klo 12.00–13.00" in moved["body"] and "klo 13.00–14.00" in moved["body"]
    r = await client.patch(f"{URL}/{rid}", json={"room": "Sali"}, headers=sec)
    assert r.status_code == 409 and r.json()["code"] == "reservation_cancelled"


async def test_booker_not_told_of_own_changes(
    client: httpx.AsyncClient, school: dict[str, UUID]
) -> None:
    """Moving and cancelling one's own reservation notifies no one."""
    name = title("Oma kokous")
    on = date(2026, 12, 4)
    r = await book(client, school, "t4", "Neuvotteluhuone", on, "15:00", "16:00", name)
    assert r.status_code == 201, r.text
    h = await login(client, "t4@lukkari")
    r = await client.patch(f"{URL}/{r.json()['id']}", json={"room": "Opehuone"}, headers=h)
    assert r.status_code == 200 and r.json()["room"] == "Opehuone", r.text
    assert (await client.delete(f"{URL}/{r.json()['id']}", headers=h)).status_code == 200
    assert [m for m in await inbox(client, "t4") if name in m["subject"]] == []


async def test_only_staff_and_only_booker_or_scheduler(
    client: httpx.AsyncClient, school: dict[str, UUID]
) -> None:
    """A learner or a guardian may not book or list (403); a teacher may not
    change another teacher's reservation (403), and others cannot see it (404)."""
    on = date(2026, 12, 9)
    for who in ("l1", "g1"):
        r = await book(client, school, who, "Kuvataideluokka", on, "12:00", "13:00")
        assert r.status_code == 403 and r.json()["code"] == "not_school_staff", r.text
        r = await client.get(
            URL,
            params={"school_id": str(school["k1"]), "date": on.isoformat()},
            headers=await login(client, f"{who}@lukkari"),
        )
        assert r.status_code == 403 and r.json()["code"] == "not_school_staff"
    rid = (await book(client, school, "t1", "Kuvataideluokka", on, "12:00", "13:00")).json()["id"]
    r = await client.delete(f"{URL}/{rid}", headers=await login(client, "t2@lukkari"))
    assert r.status_code == 403 and r.json()["code"] == "not_your_reservation"
    r = await client.delete(f"{URL}/{rid}", headers=await login(client, "l1@lukkari"))
    assert r.status_code == 404 and r.json()["code"] == "reservation_not_found"


async def test_other_tenant_sees_nothing(
    client: httpx.AsyncClient, db: Database, school: dict[str, UUID], family: dict[str, UUID]
) -> None:
    """A secretary of another tenant lists, moves and cancels nothing of lukkari's."""
    on = date(2026, 12, 10)
    rid = (await book(client, school, "sec", "Kotitalousluokka", on, "12:00", "13:00")).json()["id"]
    h = await login(client, "sec@perhe")
    r = await client.get(
        URL, params={"school_id": str(school["k1"]), "date": on.isoformat()}, headers=h
    )
    assert r.status_code == 403
    r = await client.get(
        URL, params={"school_id": str(family["s1"]), "date": on.isoformat()}, headers=h
    )
    assert r.status_code == 200 and r.json()["items"] == []
    assert (await client.delete(f"{URL}/{rid}", headers=h)).status_code == 404
    assert (await client.patch(f"{URL}/{rid}", json={"room": "X"}, headers=h)).status_code == 404
    async with db.tenant(tenant_id_for(FAMILY)) as conn:
        assert await conn.fetchval("SELECT count(*) FROM room_reservations") == 0


async def test_bounds_are_refused_with_a_code(
    client: httpx.AsyncClient, school: dict[str, UUID]
) -> None:
    """Bad times, the past, too far ahead, a long title: 400 with a stable code."""
    today = TEST_NOW.date()
    far = today + timedelta(days=reservations.MAX_DAYS_AHEAD + 1)
    for on, starts, ends, name, code in (
        (date(2026, 12, 11), "13:00", "12:00", "Kokous", "invalid_times"),
        (date(2026, 12, 11), "13:00", "13:00", "Kokous", "invalid_times"),
        (today - timedelta(days=1), "12:00", "13:00", "Kokous", "date_in_past"),
        (far, "12:00", "13:00", "Kokous", "too_far_ahead"),
        (date(2026, 12, 11), "12:00", "13:00", "   ", "invalid_title"),
    ):
        r = await book(client, school, "t1", "Sali", on, starts, ends, name)
        assert r.status_code == 400 and r.json()["code"] == code, (code, r.text)
    long = "x" * (reservations.MAX_TITLE_CHARS + 1)
    r = await book(client, school, "t1", "Sali", date(2026, 12, 11), "12:00", "13:00", long)
    assert r.status_code == 400
    r = await book(client, school, "t1", "Sali", date(2026, 12, 11), "25:00", "26:00")
    assert r.status_code == 400


async def test_colliding_for_change_notices(
    client: httpx.AsyncClient, db: Database, school: dict[str, UUID]
) -> None:
    """`colliding()` gives the active reservations of a room overlapping a time."""
    on = date(2026, 12, 14)
    a = (await book(client, school, "t2", "Sali 2", on, "10:00", "11:00")).json()
    b = (await book(client, school, "t2", "Sali 2", on, "11:00", "12:00")).json()
    c = (await book(client, school, "t2", "Sali 2", on, "12:00", "13:00")).json()
    await client.delete(f"{URL}/{c['id']}", headers=await login(client, "t2@lukkari"))
    async with db.tenant(school["tenant"]) as conn:
        found = await reservations.colliding(
            conn, school["k1"], on, "SALI 2", time(10, 30), time(12, 30)
        )
    assert [str(x.id) for x in found] == [a["id"], b["id"]]
    assert found[0].booked_by == school["t2"] and found[0].on_date == on
