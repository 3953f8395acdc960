"""Changes to the published timetable and their notices: the exact affected
audience, one notice per person per day, supersede and withdraw, substitutes.
Tenant `lukkari` (tests/scheduling/daily_school.py); each test works on a date
of its own, so the session's shared timetable keeps the tests independent."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any
from uuid import UUID, uuid4

import httpx
import websockets
from litestar import Litestar

from core.clock import FixedClock
from core.db import Database
from core.jobs import JobWorker
from scheduling.notices import WEEKDAY_NAMES
from tests.conftest import TEST_NOW, login
from tests.hub.live_client import Live
from tests.scheduling.daily_school import lesson_id

EVERYONE = (
    *("t1", "t2", "t3", "t4", "sec", "pri"),
    *("l1", "l2", "l3", "l4", "l5", "a18", "a18c"),
    *("g1", "gi", "g3", "g5", "ga"),
)


async def h(client: httpx.AsyncClient, who: str) -> dict[str, str]:
    return await login(client, f"{who}@lukkari")


def head(on: date) -> str:
    return f"{WEEKDAY_NAMES[on.weekday()]} {on.day}.{on.month}."


async def notices(client: httpx.AsyncClient, who: str, on: date) -> list[dict[str, Any]]:
    """The person's inbox items that are timetable notices for `on`."""
    r = await client.get("/v1/inbox?limit=500", headers=await h(client, who))
    assert r.status_code == 200, r.text
    return [
        i
        for i in r.json()["items"]
        if i["message"]["sender_name"] == "timetable"
        and i["message"]["subject"].startswith(head(on))
    ]


async def who_got(client: httpx.AsyncClient, on: date) -> dict[str, int]:
    out = {}
    for who in EVERYONE:
        n = len(await notices(client, who, on))
        if n:
            out[who] = n
    return out


async def change(
    client: httpx.AsyncClient, school: dict[str, UUID], *changes: dict[str, Any], who: str = "sec"
) -> httpx.Response:
    body = {
        "school_id": str(school["k1"]),
        "changes": [
            {k: str(v) if isinstance(v, UUID | date) else v for k, v in c.items()} for c in changes
        ],
    }
    return await client.post("/v1/timetable/changes", json=body, headers=await h(client, who))


async def test_cancel_reaches_exactly_the_subgroup(
    client: httpx.AsyncClient, db: Database, school: dict[str, UUID]
) -> None:
    """Swedish of 7A's Swedish group is cancelled: its learners, their guardians
    (the information-right one too) and its teacher get one notice each; the
    German half of 7A, class 8A and the other teachers get nothing."""
    on = date(2026, 12, 1)
    ruotsi = await lesson_id(db, school, "ruotsi", 2)
    r = await change(client, school, {"date": on, "kind": "cancel", "lesson_id": ruotsi})
    assert r.status_code == 201, r.text
    assert r.json()["notices"][on.isoformat()]["affected"] == 5
    assert await who_got(client, on) == {"l1": 1, "l2": 1, "g1": 1, "gi": 1, "t1": 1}
    [item] = await notices(client, "g1", on)
    assert "Lilja: ruotsi 9.15–10.00 peruttu" in item["message"]["subject"]
    assert item["message"]["urgency"] == "normal"  # a week ahead
    [item] = await notices(client, "t1", on)
    assert "7A ruotsi: ruotsi 9.15–10.00 peruttu" in item["message"]["body"]
    assert "Leo" not in item["message"]["body"] + item["message"]["subject"]
    # the day as the scheduler sees it
    r = await client.get(
        f"/v1/timetable/day?school_id={school['k1']}&date={on}", headers=await h(client, "sec")
    )
    assert [x["status"] for x in r.json() if x["subject"] == "ruotsi"] == ["cancelled"]


async def test_guardians_of_an_adult_learner_only_with_consent(
    client: httpx.AsyncClient, db: Database, school: dict[str, UUID]
) -> None:
    """8A's history moves: a18's guardian hears only of a18c, who consented."""
    on = date(2026, 11, 17)
    historia = await lesson_id(db, school, "historia", 2)
    r = await change(
        client, school, {"date": on, "kind": "move", "lesson_id": historia, "room": "C300"}
    )
    assert r.status_code == 201, r.text
    assert await who_got(client, on) == {
        "l5": 1,
        "a18": 1,
        "a18c": 1,
        "g5": 1,
        "ga": 1,
        "t2": 1,
    }
    [item] = await notices(client, "ga", on)
    text = item["message"]["subject"] + item["message"]["body"]
    assert "Aino: historia 10.15–11.00: luokka C300" in text and "Aapo" not in text


async def test_one_notice_per_person_per_day(
    client: httpx.AsyncClient, db: Database, school: dict[str, UUID]
) -> None:
    """Two changes to l1's Tuesday in two requests: l1 ends with one notice
    holding both (the first, unread, was withdrawn); l3, whose part of the day
    did not change again, keeps the first and gets nothing more."""
    on = date(2026, 12, 8)
    maths = await lesson_id(db, school, "matematiikka", 2)
    ruotsi = await lesson_id(db, school, "ruotsi", 2)
    r = await change(client, school, {"date": on, "kind": "cancel", "lesson_id": maths})
    assert r.status_code == 201, r.text
    [first] = await notices(client, "l1", on)
    [l3_first] = await notices(client, "l3", on)
    r = await change(
        client,
        school,
        {"date": on, "kind": "move", "lesson_id": ruotsi, "starts": "12:30:00", "ends": "13:15:00"},
    )
    assert r.status_code == 201, r.text
    [now] = await notices(client, "l1", on)
    assert now["message"]["id"] != first["message"]["id"]
    assert now["message"]["subject"] == (
        f"{head(on)}: matematiikka 8.15–9.00 peruttu; ruotsi 9.15–10.00: siirretty klo 12.30–13.15"
    )
    assert [i["message"]["id"] for i in await notices(client, "l3", on)] == [
        l3_first["message"]["id"]
    ]
    assert await who_got(client, on) == {
        "l1": 1,
        "l2": 1,
        "l3": 1,
        "l4": 1,
        "g1": 1,
        "gi": 1,
        "g3": 1,
        "t1": 1,
    }


async def test_a_later_change_after_reading_is_a_new_notice(
    client: httpx.AsyncClient, db: Database, school: dict[str, UUID]
) -> None:
    """A notice already read is not taken back: the later change to the same
    lesson comes as a second notice, and only it is unread."""
    on = date(2026, 12, 15)
    maths = await lesson_id(db, school, "matematiikka", 2)
    await change(client, school, {"date": on, "kind": "move", "lesson_id": maths, "room": "B1"})
    [first] = await notices(client, "l3", on)
    r = await client.post(f"/v1/inbox/{first['message']['id']}/read", headers=await h(client, "l3"))
    assert r.status_code == 200, r.text
    r = await change(client, school, {"date": on, "kind": "move", "lesson_id": maths, "room": "B2"})
    assert r.status_code == 201, r.text
    items = await notices(client, "l3", on)
    assert len(items) == 2
    assert [i["state"]["read_at"] is None for i in items] == [False, True]
    assert "luokka B2" in items[1]["message"]["subject"]
    # l4 had not read it: still one
    assert len(await notices(client, "l4", on)) == 1


async def _live(client: httpx.AsyncClient, who: str) -> Live:
    r = await client.post("/v1/live/ticket", headers=await h(client, who))
    url = str(client.base_url).replace("http://", "ws://") + "/v1/live"
    live = Live(await websockets.connect(url))
    await live.send({"type": "hello", "ticket": r.json()["ticket"], "last_seq": 0})
    await live.until("synced")
    return live


async def test_undo_withdraws_unread_and_corrects_read(
    client: httpx.AsyncClient, db: Database, school: dict[str, UUID]
) -> None:
    """German is cancelled, then the cancellation is undone: l3 had not read it
    — it is withdrawn, live too; g3 had read it — g3 gets a short correction."""
    on = date(2026, 12, 22)
    saksa = await lesson_id(db, school, "saksa", 2)
    r = await change(client, school, {"date": on, "kind": "cancel", "lesson_id": saksa})
    change_id = r.json()["changes"][0]["id"]
    [l3_notice] = await notices(client, "l3", on)
    [g3_notice] = await notices(client, "g3", on)
    await client.post(f"/v1/inbox/{g3_notice['message']['id']}/read", headers=await h(client, "g3"))
    live = await _live(client, "l3")
    try:
        r = await client.post(
            f"/v1/timetable/changes/{change_id}/undo", headers=await h(client, "sec")
        )
        assert r.status_code == 200, r.text
        frame = await live.until("state", message_id=l3_notice["message"]["id"])
        assert frame["state"]["withdrawn_at"] is not None
    finally:
        await live.close()
    assert await notices(client, "l3", on) == []
    items = await notices(client, "g3", on)
    assert [i["message"]["id"] == g3_notice["message"]["id"] for i in items] == [True, False]
    assert "peruttu" in items[1]["message"]["subject"]
    assert "tavallisen lukujärjestyksen" in items[1]["message"]["body"]
    r = await client.get("/v1/inbox/counts", headers=await h(client, "l3"))
    assert r.status_code == 200


async def test_absence_and_substitute(
    client: httpx.AsyncClient, db: Database, school: dict[str, UUID]
) -> None:
    """t2 is absent on Wednesday: marking it sends nothing; the proposals are
    the free teachers, ranked; confirming t3 reaches 8A, its guardians (by
    rule), t2 and t3 — live — and nobody else."""
    on = date(2026, 11, 25)
    r = await client.get(
        f"/v1/timetable/teachers?school_id={school['k1']}", headers=await h(client, "sec")
    )
    assert [t["name"] for t in r.json()] == [
        "Timo Kakkonen",
        "Terhi Kolmonen",
        "Tapio Nelonen",
        "Tuula Ykkönen",
    ]
    r = await client.get(
        f"/v1/timetable/teachers?school_id={school['k1']}", headers=await h(client, "t1")
    )
    assert r.status_code == 403
    r = await client.post(
        "/v1/timetable/absences",
        json={
            "school_id": str(school["k1"]),
            "teacher_id": str(school["t2"]),
            "starts": str(on),
            "ends": str(on),
        },
        headers=await h(client, "sec"),
    )
    assert r.status_code == 201, r.text
    absence = r.json()
    assert await who_got(client, on) == {}
    [lesson] = absence["lessons"]
    assert lesson["lesson"]["subject"] == "historia" and lesson["group_name"] == "8A"
    names = [p["name"] for p in lesson["proposals"]]
    assert names == ["Tapio Nelonen", "Terhi Kolmonen", "Tuula Ykkönen"]
    assert [p["lessons_that_day"] for p in lesson["proposals"]] == [0, 0, 1]
    live = await _live(client, "l5")
    try:
        r = await client.post(
            f"/v1/timetable/absences/{absence['id']}/substitutes",
            json={
                "lesson_id": lesson["lesson"]["lesson_id"],
                "date": str(on),
                "substitute_id": str(school["t3"]),
            },
            headers=await h(client, "sec"),
        )
        assert r.status_code == 201, r.text
        frame = await live.until("message")
        assert "sijaisena Terhi Kolmonen" in frame["message"]["subject"]
        assert frame["message"]["urgency"] == "high"  # tomorrow: Web Push with high urgency
    finally:
        await live.close()
    assert await who_got(client, on) == {
        "l5": 1,
        "a18": 1,
        "a18c": 1,
        "g5": 1,
        "ga": 1,
        "t2": 1,
        "t3": 1,
    }
    r = await client.get(f"/v1/timetable/absences/{absence['id']}", headers=await h(client, "sec"))
    [lesson] = r.json()["lessons"]
    assert lesson["substitute_id"] == str(school["t3"]) and lesson["proposals"] == []


async def test_substitute_must_be_free(
    client: httpx.AsyncClient, db: Database, school: dict[str, UUID]
) -> None:
    saksa = await lesson_id(db, school, "saksa", 2)
    r = await change(
        client,
        school,
        {
            "date": date(2026, 11, 10),
            "kind": "substitute",
            "lesson_id": saksa,
            "substitute_id": school["t1"],
        },
    )
    assert r.status_code == 409, r.text
    assert r.json()["code"] == "substitute_busy"
    assert r.json()["details"]["subject"] == "ruotsi"


async def test_bad_changes_are_refused_and_write_nothing(
    client: httpx.AsyncClient, db: Database, school: dict[str, UUID]
) -> None:
    on = date(2026, 11, 3)
    maths_tue = await lesson_id(db, school, "matematiikka", 2)
    cases: list[tuple[dict[str, Any], int, str]] = [
        (
            {"date": date(2026, 11, 4), "kind": "cancel", "lesson_id": maths_tue},
            404,
            "lesson_not_on_date",
        ),
        ({"date": on, "kind": "cancel", "lesson_id": uuid4()}, 404, "lesson_not_on_date"),
        ({"date": on, "kind": "extra", "subject": "kemia"}, 400, "invalid_change"),
        ({"date": on, "kind": "programme"}, 400, "invalid_change"),
        ({"date": on, "kind": "move", "lesson_id": maths_tue}, 400, "invalid_change"),
        (
            {
                "date": on,
                "kind": "move",
                "lesson_id": maths_tue,
                "starts": "10:00:00",
                "ends": "09:00:00",
            },
            400,
            "invalid_time",
        ),
        (
            {"date": date(2027, 3, 2), "kind": "cancel", "lesson_id": maths_tue},
            404,
            "lesson_not_on_date",
        ),
    ]
    for body, status, code in cases:
        # a good change first in the same request: all or nothing
        r = await change(
            client, school, {"date": on, "kind": "cancel", "lesson_id": maths_tue}, body
        )
        assert (r.status_code, r.json().get("code")) == (status, code), (body, r.text)
    r = await change(
        client, school, {"date": on, "kind": "cancel", "lesson_id": maths_tue}, who="t1"
    )
    assert r.status_code == 403 and r.json()["code"] == "not_scheduler"
    async with db.tenant(school["tenant"]) as conn:
        assert not await conn.fetchval(
            "SELECT count(*) FROM timetable_changes WHERE on_date = $1", on
        )
    assert await who_got(client, on) == {}


async def test_room_booker_hears_of_a_colliding_change(
    client: httpx.AsyncClient, db: Database, school: dict[str, UUID], clock: FixedClock
) -> None:
    """t4 has booked C300 for Tuesday 10.15; 8A's history is moved there: t4 is
    told, with the booking named."""
    on = date(2026, 11, 10)
    async with db.tenant(school["tenant"]) as conn:
        await conn.execute(
            "INSERT INTO room_reservations (id, tenant_id, school_id, room, on_date, starts, ends, "
            "title, booked_by, created_at) VALUES ($1, $2, $3, 'C300', $4, '10:00', '11:00', "
            "'Kerhon kokous', $5, $6)",
            uuid4(),
            school["tenant"],
            school["k1"],
            on,
            school["t4"],
            clock.now(),
        )
    historia = await lesson_id(db, school, "historia", 2)
    r = await change(
        client, school, {"date": on, "kind": "move", "lesson_id": historia, "room": "C300"}
    )
    assert r.status_code == 201, r.text
    [item] = await notices(client, "t4", on)
    assert "Varauksesi Kerhon kokous (10.00–11.00, C300) on päällekkäin" in item["message"]["body"]
    assert "t4" in await who_got(client, on)


async def test_programme_day_and_extra_lesson(
    client: httpx.AsyncClient, db: Database, school: dict[str, UUID]
) -> None:
    """A theme day for 7A and an extra lesson for 8A, in one request."""
    on = date(2026, 10, 27)
    r = await change(
        client,
        school,
        {"date": on, "kind": "programme", "group_id": school["7a"], "title": "Teemapäivä"},
        {
            "date": on,
            "kind": "extra",
            "group_id": school["8a"],
            "subject": "kemia",
            "starts": "13:30:00",
            "ends": "14:15:00",
            "room": "A102",
            "teacher_ids": [str(school["t3"])],
        },
    )
    assert r.status_code == 201, r.text
    got = await who_got(client, on)
    assert got["l1"] == got["l3"] == got["l5"] == got["t3"] == 1
    assert "l2" in got and "g1" in got and "ga" in got and "t4" not in got
    [item] = await notices(client, "l1", on)
    assert "Teemapäivä" in item["message"]["subject"]
    [item] = await notices(client, "l5", on)
    assert "Lisätunti: kemia 13.30–14.15, luokka A102" in item["message"]["subject"]


async def rerun(db: Database, school: dict[str, UUID], on: date) -> None:
    async with db.tenant(school["tenant"]) as conn:
        await conn.execute(
            "INSERT INTO jobs (tenant_id, kind, due_at, payload) VALUES ($1, 'timetable.notices', "
            "$2, $3::jsonb)",
            school["tenant"],
            TEST_NOW - timedelta(days=1),
            f'{{"school_id": "{school["k1"]}", "date": "{on}"}}',
        )


async def test_the_job_sends_what_a_lost_request_did_not(
    client: httpx.AsyncClient,
    db: Database,
    school: dict[str, UUID],
    app: Litestar,
    clock: FixedClock,
) -> None:
    """A change committed whose request died before its notices: the durable
    job sends them; run again, it sends nothing more."""
    on = date(2026, 10, 20)
    maths = await lesson_id(db, school, "matematiikka", 2)
    async with db.tenant(school["tenant"]) as conn:
        await conn.execute(
            "INSERT INTO timetable_changes (id, tenant_id, school_id, on_date, lesson_id, kind, "
            "created_by, created_at) VALUES ($1, $2, $3, $4, $5, 'cancel', $6, $7)",
            uuid4(),
            school["tenant"],
            school["k1"],
            on,
            maths,
            school["sec"],
            clock.now(),
        )
    await rerun(db, school, on)
    worker: JobWorker = app.state["notices_worker"]
    before = clock.now()
    clock.advance(timedelta(minutes=1))
    try:
        ran = 0
        while n := await worker.run_due():
            ran += n
        assert ran >= 1
        expected = {"l1": 1, "l2": 1, "l3": 1, "l4": 1, "g1": 1, "gi": 1, "g3": 1, "t1": 1}
        assert await who_got(client, on) == expected
        await rerun(db, school, on)
        while await worker.run_due():
            pass
        assert await who_got(client, on) == expected
    finally:
        clock.set(before)
    assert TEST_NOW == before


async def test_substitutes_are_ranked_by_qualification_then_fairness(
    client: httpx.AsyncClient, db: Database, school: dict[str, UUID]
) -> None:
    """t4 teaches history (a group of that subject): proposed first for t2's
    history lesson; once t4 has substituted, the count shows it. Proposals are
    always in (qualified, fewest substitutions, lightest day) order."""
    async with db.tenant(school["tenant"]) as conn:
        group = uuid4()
        await conn.execute(
            "INSERT INTO groups (tenant_id, id, school_id, external_id, name, kind, subject) "
            "VALUES ($1, $2, $3, 'hi-valinnainen', 'Historian valinnainen', 'teaching_group', "
            "'historia')",
            school["tenant"],
            group,
            school["k1"],
        )
        await conn.execute(
            "INSERT INTO group_teachers (tenant_id, group_id, teacher_id) VALUES ($1, $2, $3)",
            school["tenant"],
            group,
            school["t4"],
        )

    async def proposals(on: date) -> tuple[str, list[dict[str, Any]]]:
        r = await client.post(
            "/v1/timetable/absences",
            json={
                "school_id": str(school["k1"]),
                "teacher_id": str(school["t2"]),
                "starts": str(on),
                "ends": str(on),
            },
            headers=await h(client, "sec"),
        )
        assert r.status_code == 201, r.text
        [lesson] = r.json()["lessons"]
        got: list[dict[str, Any]] = lesson["proposals"]

        def rank(p: dict[str, Any]) -> tuple[bool, int, int, str]:
            return (not p["qualified"], p["substitutions"], p["lessons_that_day"], p["name"])

        assert got == sorted(got, key=rank)
        return r.json()["id"], got

    first_day, second_day = date(2026, 12, 16), date(2026, 11, 18)
    absence, got = await proposals(first_day)
    assert got[0]["name"] == "Tapio Nelonen" and got[0]["qualified"] is True
    assert [p["qualified"] for p in got[1:]] == [False] * (len(got) - 1)
    before = got[0]["substitutions"]
    r = await client.get(f"/v1/timetable/absences/{absence}", headers=await h(client, "sec"))
    lesson_id = r.json()["lessons"][0]["lesson"]["lesson_id"]
    r = await client.post(
        f"/v1/timetable/absences/{absence}/substitutes",
        json={"lesson_id": lesson_id, "date": str(first_day), "substitute_id": str(school["t4"])},
        headers=await h(client, "sec"),
    )
    assert r.status_code == 201, r.text
    _, got = await proposals(second_day)
    assert got[0]["name"] == "Tapio Nelonen" and got[0]["substitutions"] == before + 1
