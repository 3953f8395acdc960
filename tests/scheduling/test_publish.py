"""Publishing a solved roster timetable (scheduling.publish): the real solver
on the `lukkari` roster, then POST …/publish for spring 2027 (the session's
autumn timetable is left alone)."""

from __future__ import annotations

from datetime import date, timedelta
from uuid import UUID

import httpx
import msgspec
from litestar import Litestar

from core.clock import FixedClock
from core.db import Database
from core.jobs import JobWorker
from scheduling.checker import check
from scheduling.model import Instance, Timetable
from tests.conftest import TEST_NOW, login


async def h(client: httpx.AsyncClient, who: str) -> dict[str, str]:
    return await login(client, f"{who}@lukkari")


async def solved(client: httpx.AsyncClient, app: Litestar, school: dict[str, UUID]) -> str:
    r = await client.post(
        "/v1/timetable/drafts",
        json={"school_id": str(school["k1"]), "name": "kevät 2027", "from_roster": True},
        headers=await h(client, "sec"),
    )
    assert r.status_code == 201, r.text
    r = await client.post(
        f"/v1/timetable/drafts/{r.json()['id']}/solves",
        json={"time_limit_s": 20, "seed": 1},
        headers=await h(client, "sec"),
    )
    assert r.status_code == 202, r.text
    solve_id: str = r.json()["id"]
    worker: JobWorker = app.state["scheduling_worker"]
    while await worker.run_due():
        pass
    r = await client.get(f"/v1/timetable/solves/{solve_id}", headers=await h(client, "sec"))
    assert r.json()["state"] == "solved" and r.json()["hard"] == 0, r.text
    return solve_id


async def test_publish_a_solved_timetable(
    client: httpx.AsyncClient,
    app: Litestar,
    db: Database,
    school: dict[str, UUID],
    clock: FixedClock,
) -> None:
    solve_id = await solved(client, app, school)
    async with db.tenant(school["tenant"]) as conn:
        row = await conn.fetchrow(
            "SELECT s.best::text AS best, d.instance::text AS instance FROM timetable_solves s "
            "JOIN timetable_drafts d ON d.id = s.draft_id WHERE s.id = $1",
            UUID(solve_id),
        )
    instance = msgspec.json.decode(row["instance"], type=Instance)
    timetable = msgspec.json.decode(row["best"], type=Timetable)
    assert check(instance, timetable).hard == 0
    r = await client.post(
        f"/v1/timetable/solves/{solve_id}/publish",
        json={"name": "X", "starts": "2027-06-30", "ends": "2027-06-01"},
        headers=await h(client, "sec"),
    )
    assert r.status_code == 400 and r.json()["code"] == "invalid_range"
    body = {"name": "Kevät 2027", "starts": "2027-01-07", "ends": "2027-05-31"}
    r = await client.post(
        f"/v1/timetable/solves/{solve_id}/publish", json=body, headers=await h(client, "t1")
    )
    assert r.status_code == 403 and r.json()["code"] == "not_scheduler"
    r = await client.post(
        f"/v1/timetable/solves/{solve_id}/publish", json=body, headers=await h(client, "sec")
    )
    assert r.status_code == 201, r.text
    first = r.json()
    assert first["lessons"] == sum(len(a.students) or 1 for a in instance.activities)
    assert first["superseded"] == []
    # the whole school hears of it: learners, guardians (by the hub's rules), staff
    for who in ("l1", "gi", "ga", "t4", "pri"):
        r = await client.get("/v1/inbox?limit=500", headers=await h(client, who))
        subjects = [i["message"]["subject"] for i in r.json()["items"]]
        assert subjects.count("Uusi lukujärjestys: Kevät 2027") == 1, (who, subjects)
    # the hub's outbox sends it again, in case the request's own send was lost:
    # the same idempotency key, so nobody gets a second one
    clock.advance(timedelta(minutes=1))
    try:
        while await app.state["delivery"].run_due():
            pass
    finally:
        clock.set(TEST_NOW)
    async with db.tenant(school["tenant"]) as conn:
        state = await conn.fetchval(
            "SELECT state FROM jobs WHERE kind = 'notify' AND key = $1",
            f"timetable:published:{first['id']}",
        )
    assert state == "done"
    for who in ("l1", "gi"):
        r = await client.get("/v1/inbox?limit=500", headers=await h(client, who))
        subjects = [i["message"]["subject"] for i in r.json()["items"]]
        assert subjects.count("Uusi lukujärjestys: Kevät 2027") == 1, (who, subjects)
    # a spring Tuesday is that timetable's, the autumn one is untouched
    placed = timetable.by_activity()
    tuesday = sum(1 for a in instance.activities if placed[a.id].day == 1 for _ in a.students)
    r = await client.get(
        f"/v1/timetable/day?school_id={school['k1']}&date=2027-01-12",
        headers=await h(client, "sec"),
    )
    assert len(r.json()) == tuesday
    r = await client.get(
        f"/v1/timetable/day?school_id={school['k1']}&date={date(2026, 11, 24)}",
        headers=await h(client, "sec"),
    )
    assert len(r.json()) == 5
    # publishing again over that range supersedes the first
    body = {"name": "Kevät 2027 b", "starts": "2027-03-01", "ends": "2027-05-31"}
    r = await client.post(
        f"/v1/timetable/solves/{solve_id}/publish", json=body, headers=await h(client, "sec")
    )
    assert r.status_code == 201 and r.json()["superseded"] == [first["id"]]


async def test_what_cannot_be_published(
    client: httpx.AsyncClient, app: Litestar, db: Database, school: dict[str, UUID]
) -> None:
    r = await client.post(
        "/v1/timetable/drafts",
        json={"school_id": str(school["k1"]), "name": "kesken", "from_roster": True},
        headers=await h(client, "sec"),
    )
    draft_id = r.json()["id"]
    r = await client.post(
        f"/v1/timetable/drafts/{draft_id}/solves",
        json={"time_limit_s": 5},
        headers=await h(client, "sec"),
    )
    solve_id = r.json()["id"]  # queued, never run: no timetable
    body = {"name": "X", "starts": "2027-06-01", "ends": "2027-06-30"}
    r = await client.post(
        f"/v1/timetable/solves/{solve_id}/publish", json=body, headers=await h(client, "sec")
    )
    assert r.status_code == 409 and r.json()["code"] == "timetable_incomplete"
    await client.post(f"/v1/timetable/solves/{solve_id}/stop", headers=await h(client, "sec"))
    # leave no queued solve behind for other tests' workers
    worker: JobWorker = app.state["scheduling_worker"]
    while await worker.run_due():
        pass
    r = await client.post(
        "/v1/timetable/solves/00000000-0000-4000-8000-000000000000/publish",
        json=body,
        headers=await h(client, "sec"),
    )
    assert r.status_code == 404
    async with db.tenant(school["tenant"]) as conn:
        await conn.execute(
            "UPDATE timetable_solves SET best = '{\"placements\": []}'::jsonb, hard = 0 "
            "WHERE id = $1",
            UUID(solve_id),
        )
    r = await client.post(
        f"/v1/timetable/solves/{solve_id}/publish",
        json={"name": "X", "starts": "2027-06-30", "ends": "2027-06-01"},
        headers=await h(client, "sec"),
    )
    assert r.status_code == 409 and r.json()["code"] == "timetable_incomplete"
