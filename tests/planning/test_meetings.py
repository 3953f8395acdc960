"""Parent–teacher meeting slots (vanhempainvartti) over HTTP, against the
session's real server and PostgreSQL (tenant `kalliola`, see
tests/planning/__init__.py): opening slots, booking, who sees and who is
told, races, the reminder the day before, cancellation by either side."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import httpx
import pytest
from litestar import Litestar

from core.clock import HELSINKI, FixedClock
from core.db import Database
from planning.model import MAX_SERIES_SLOTS, fi_when, reminder_due, series
from tests.conftest import TEST_NOW
from tests.planning import Ids, ensure_school, h, received

SLOTS = "/v1/planning/meetings/slots"
BOOKINGS = "/v1/planning/meetings/bookings"


@pytest.fixture(scope="module")
async def k(db: Database) -> Ids:
    return await ensure_school(db)


def at(day: int, hour: int, minute: int = 0) -> datetime:
    """An instant of December 2026, Helsinki time."""
    return datetime(2026, 12, day, hour, minute, tzinfo=HELSINKI)


async def open_slot(
    client: httpx.AsyncClient, k: Ids, start: datetime, minutes: int = 15, who: str = "ope"
) -> httpx.Response:
    body = {
        "school_id": str(k["k1"]),
        "starts_at": start.isoformat(),
        "ends_at": (start + timedelta(minutes=minutes)).isoformat(),
        "location": "Luokka 204",
    }
    return await client.post(SLOTS, json=body, headers=await h(client, who))


async def slot(client: httpx.AsyncClient, k: Ids, start: datetime, who: str = "ope") -> str:
    r = await open_slot(client, k, start, who=who)
    assert r.status_code == 201, r.text
    slot_id: str = r.json()[0]["id"]
    return slot_id


async def book(client: httpx.AsyncClient, who: str, slot_id: Any, learner: Any) -> httpx.Response:
    body = {"slot_id": str(slot_id), "learner_id": str(learner)}
    return await client.post(BOOKINGS, json=body, headers=await h(client, who))


async def get(client: httpx.AsyncClient, who: str, url: str) -> Any:
    r = await client.get(url, headers=await h(client, who))
    assert r.status_code == 200, r.text
    return r.json()


def booked(start: datetime) -> str:
    return f"Vanhempainvartti varattu {fi_when(start)}"


def cancelled(start: datetime) -> str:
    return f"Vanhempainvartti peruttu {fi_when(start)}"


def test_the_wall_clock_rules() -> None:
    """A series is laid out on Helsinki's clock; the reminder is due at 16:00
    the day before, or at once when that has passed; times read the Finnish way."""
    slots = series(date(2026, 12, 1), time(14), time(15), 15, 5)
    assert [s.astimezone(HELSINKI).strftime("%H:%M") for s, _ in slots] == [
        "14:00",
        "14:20",
        "14:40",
    ]
    meeting = at(8, 17)
    assert reminder_due(meeting, TEST_NOW) == datetime(2026, 12, 7, 14, 0, tzinfo=UTC)
    late = at(7, 18)
    assert reminder_due(meeting, late) == late
    assert fi_when(meeting) == "ti 8.12.2026 klo 17.00"


async def test_teachers_open_slots_that_never_overlap(client: httpx.AsyncClient, k: Ids) -> None:
    """A series opens slots of a length from one time to another; a slot that
    overlaps one of the same teacher's is refused, naming it, and a series
    with one such slot opens none."""
    body = {
        "school_id": str(k["k1"]),
        "date": "2026-12-01",
        "from": "14:00:00",
        "to": "16:00:00",
        "length": 15,
        "gap": 5,
    }
    r = await client.post(f"{SLOTS}/series", json=body, headers=await h(client, "ope"))
    assert r.status_code == 201, r.text
    made = r.json()
    assert [datetime.fromisoformat(s["starts_at"]) for s in made] == [
        at(1, 14, m) for m in (0, 20, 40)
    ] + [at(1, 15, m) for m in (0, 20, 40)]
    r = await open_slot(client, k, at(1, 14, 10))
    assert r.status_code == 409 and r.json()["code"] == "slot_overlap"
    assert r.json()["details"]["slot_id"] == made[0]["id"]
    r = await client.post(
        f"{SLOTS}/series",
        json=body | {"from": "15:50:00", "to": "16:30:00"},
        headers=await h(client, "ope"),
    )
    assert r.status_code == 409 and r.json()["details"]["slot_id"] == made[-1]["id"]
    assert (await open_slot(client, k, at(1, 15, 55))).status_code == 201  # touching is fine
    assert (await open_slot(client, k, at(1, 14), who="ope2")).status_code == 201
    mine = [s for s in await get(client, "ope", SLOTS) if s["starts_at"].startswith("2026-12-01")]
    assert len(mine) == 7 and all(s["booking"] is None for s in mine)
    for who in ("sihteeri", "muu", "l01", "h01"):
        r = await open_slot(client, k, at(1, 18), who=who)
        assert r.status_code == 403 and r.json()["code"] == "not_teacher", who
    for fields, code in (
        ({"length": 4}, "invalid_slot"),
        ({"from": "16:00:00", "to": "15:00:00"}, "invalid_slot"),
        ({"from": "08:00:00", "to": "20:00:00", "gap": 0}, "too_many_slots"),
        ({"date": "2026-11-01"}, "invalid_slot"),
    ):
        r = await client.post(f"{SLOTS}/series", json=body | fields, headers=await h(client, "ope"))
        assert r.status_code == 400 and r.json()["code"] == code, (fields, r.text)
    assert MAX_SERIES_SLOTS < 12 * 4


async def test_both_custodial_guardians_see_the_booking_and_are_told(
    client: httpx.AsyncClient, k: Ids
) -> None:
    """A custodial guardian books: the teacher and the other custodial guardian
    are told and see it (not who booked it); the guardian with information
    right only does not. The other guardian cancels: the slot is free, the
    teacher and the booker are told."""
    start = at(2, 15)
    slot_id = await slot(client, k, start)
    r = await book(client, "h01", slot_id, k["l01"])
    assert r.status_code == 201, r.text
    b = r.json()
    assert b["booked_by"] == str(k["h01"]) and b["learner_name"] == "Oppilas L01"
    theirs = await get(client, "h01b", BOOKINGS)
    assert [(x["id"], x["booked_by"]) for x in theirs] == [(b["id"], None)]
    assert await get(client, "h01i", BOOKINGS) == []
    teacher = [s for s in await get(client, "ope", SLOTS) if s["id"] == slot_id]
    assert teacher[0]["booking"]["booked_by"] == str(k["h01"])
    assert [x["id"] for x in await get(client, "ope", BOOKINGS) if x["slot_id"] == slot_id] == [
        b["id"]
    ]
    for who, n in (("ope", 1), ("h01b", 1), ("h01", 0), ("h01i", 0), ("h02", 0)):
        assert await received(client, who, booked(start)) == n, who
    r = await client.delete(f"{BOOKINGS}/{b['id']}", headers=await h(client, "h01b"))
    assert r.status_code == 204, r.text
    assert (
        await client.delete(f"{BOOKINGS}/{b['id']}", headers=await h(client, "h01b"))
    ).status_code == 204
    for who, n in (("ope", 1), ("h01", 1), ("h01b", 0), ("h01i", 0)):
        assert await received(client, who, cancelled(start)) == n, who
    free = await get(client, "h02", f"/v1/planning/meetings/teachers/{k['ope']}/slots")
    assert slot_id in [s["id"] for s in free]


async def test_who_may_book_what(client: httpx.AsyncClient, k: Ids, clock: FixedClock) -> None:
    """One live booking per learner and teacher; only the learner's own
    teachers; only one's own child (404 otherwise); custody needed; a slot
    is booked once and not after it has begun."""
    first, second = await slot(client, k, at(3, 15)), await slot(client, k, at(3, 15, 15))
    other_teachers = await slot(client, k, at(3, 15), who="ope2")
    r = await book(client, "h04", first, k["l04"])
    assert r.status_code == 201
    for who in ("h04", "h04b"):
        r2 = await book(client, who, second, k["l04"])
        assert r2.status_code == 409 and r2.json()["code"] == "already_booked"
        assert r2.json()["details"]["booking_id"] == r.json()["id"]
    for who, slot_id, learner, status, code in (
        ("h04", other_teachers, k["l04"], 403, "not_your_teacher"),
        ("h04", second, k["l05"], 404, "learner_not_found"),
        ("h04", second, uuid.uuid4(), 404, "learner_not_found"),
        ("h01i", second, k["l01"], 403, "custody_required"),
        ("ha", second, k["aikuinen"], 403, "custody_required"),
        ("h05", first, k["l05"], 409, "slot_taken"),
        ("h05", uuid.uuid4(), k["l05"], 404, "slot_not_found"),
    ):
        r = await book(client, who, slot_id, learner)
        assert r.status_code == status and r.json()["code"] == code, (who, code, r.text)
    booking_id = (await get(client, "h04", BOOKINGS))[0]["id"]
    r = await client.delete(f"{BOOKINGS}/{booking_id}", headers=await h(client, "h06"))
    assert r.status_code == 404 and r.json()["code"] == "booking_not_found"
    try:
        clock.set(at(3, 15, 20))
        r = await book(client, "h05", second, k["l05"])
        assert r.status_code == 409 and r.json()["code"] == "slot_past"
        r = await client.delete(f"{BOOKINGS}/{booking_id}", headers=await h(client, "h04"))
        assert r.status_code == 409 and r.json()["code"] == "meeting_started"
    finally:
        clock.set(TEST_NOW)


async def test_guardians_see_free_slots_and_their_own_only(
    client: httpx.AsyncClient, k: Ids
) -> None:
    """A guardian lists a teacher's free slots and their child's booking,
    never another family's booked slot; not a teacher of none of their
    children."""
    first, second = await slot(client, k, at(4, 15)), await slot(client, k, at(4, 15, 15))
    assert (await book(client, "h10", first, k["l10"])).status_code == 201
    url = f"/v1/planning/meetings/teachers/{k['ope']}/slots"
    other = await get(client, "h11", url)
    assert first not in [s["id"] for s in other] and second in [s["id"] for s in other]
    assert all(s["booking"] is None for s in other)
    own = {s["id"]: s for s in await get(client, "h10", url)}
    assert own[first]["booking"]["learner_id"] == str(k["l10"]) and second in own
    r = await client.get(url, headers=await h(client, "hm1"))
    assert r.status_code == 404 and r.json()["code"] == "teacher_not_found"
    teachers = await get(client, "h10", "/v1/planning/meetings/teachers")
    assert [(t["learner_id"], t["teacher_id"]) for t in teachers] == [
        (str(k["l10"]), str(k["ope"]))
    ]
    assert teachers[0]["booking_id"] is not None and teachers[0]["free_slots"] >= 1
    assert await get(client, "ha", "/v1/planning/meetings/teachers") == []  # an adult child


async def test_racing_guardians_one_wins(client: httpx.AsyncClient, k: Ids) -> None:
    """Two families race for one slot: one booking, one 409 slot_taken. Two
    guardians of one learner race for two slots: one booking, one 409
    already_booked."""
    for i, (a, b) in enumerate((("06", "07"), ("12", "13"), ("14", "15"))):
        slot_id = await slot(client, k, at(5, 10 + i))
        heads = [await h(client, f"h{a}"), await h(client, f"h{b}")]
        bodies = [{"slot_id": slot_id, "learner_id": str(k[f"l{x}"])} for x in (a, b)]
        results = await asyncio.gather(
            *(
                client.post(BOOKINGS, json=body, headers=x)
                for body, x in zip(bodies, heads, strict=True)
            )
        )
        assert sorted(r.status_code for r in results) == [201, 409], [r.text for r in results]
        assert [r.json()["code"] for r in results if r.status_code == 409] == ["slot_taken"]
    slots = [await slot(client, k, at(5, 14)), await slot(client, k, at(5, 14, 15))]
    heads = [await h(client, "h03"), await h(client, "h03b")]
    results = await asyncio.gather(
        *(
            client.post(BOOKINGS, json={"slot_id": s, "learner_id": str(k["l03"])}, headers=x)
            for s, x in zip(slots, heads, strict=True)
        )
    )
    assert sorted(r.status_code for r in results) == [201, 409]
    assert [r.json()["code"] for r in results if r.status_code == 409] == ["already_booked"]


async def test_the_reminder_comes_the_day_before(
    client: httpx.AsyncClient, k: Ids, app: Litestar, clock: FixedClock
) -> None:
    """The reminder job falls due at 16:00 Helsinki the day before and reaches
    the teacher and both custodial guardians once; a cancelled booking's
    reminder never comes."""
    start, gone = at(8, 17), at(8, 17, 15)
    assert (await book(client, "h02", await slot(client, k, start), k["l02"])).status_code == 201
    r = await book(client, "h05", await slot(client, k, gone), k["l05"])
    assert r.status_code == 201
    r = await client.delete(f"{BOOKINGS}/{r.json()['id']}", headers=await h(client, "h05"))
    assert r.status_code == 204
    reminder = f"Muistutus: vanhempainvartti {fi_when(start)}"
    worker = app.state["planning_worker"]
    try:
        clock.set(reminder_due(start, TEST_NOW) - timedelta(minutes=1))
        await worker.run_due()
        assert await received(client, "ope", reminder) == 0
        clock.set(reminder_due(start, TEST_NOW))
        assert await worker.run_due() >= 1
        await worker.run_due()
        for who, n in (("ope", 1), ("h02", 1), ("h02b", 1), ("h03", 0)):
            assert await received(client, who, reminder) == n, who
        assert await received(client, "h05", f"Muistutus: vanhempainvartti {fi_when(gone)}") == 0
    finally:
        clock.set(TEST_NOW)


async def test_the_teacher_cancels_or_withdraws_and_guardians_are_told(
    client: httpx.AsyncClient, k: Ids
) -> None:
    """The teacher cancels a booking (the slot is free again) or withdraws a
    booked slot (gone): the learner's custodial guardians are told each time."""
    start = at(9, 15)
    slot_id = await slot(client, k, start)
    b = (await book(client, "h08", slot_id, k["l08"])).json()
    r = await client.delete(f"{BOOKINGS}/{b['id']}", headers=await h(client, "ope"))
    assert r.status_code == 204, r.text
    for who, n in (("h08", 1), ("h08b", 1), ("ope", 0)):
        assert await received(client, who, cancelled(start)) == n, who
    assert (await book(client, "h08b", slot_id, k["l08"])).status_code == 201
    r = await client.delete(f"{SLOTS}/{slot_id}", headers=await h(client, "ope2"))
    assert r.status_code == 404 and r.json()["code"] == "slot_not_found"
    assert (
        await client.delete(f"{SLOTS}/{slot_id}", headers=await h(client, "ope"))
    ).status_code == 204
    for who, n in (("h08", 2), ("h08b", 2), ("ope", 0)):
        assert await received(client, who, cancelled(start)) == n, who
    assert await get(client, "h08", BOOKINGS) == []
    r = await book(client, "h09", slot_id, k["l09"])
    assert r.status_code == 404 and r.json()["code"] == "slot_not_found"
