"""Timetable drafts and background solves over HTTP, with live progress on the
websocket, against the session's real server (tenant `perhe`: `sec` is the
secretary of school s1, `t1` a teacher there)."""

from __future__ import annotations

import asyncio
from typing import Any
from uuid import UUID

import httpx
import msgspec
from litestar import Litestar

from core.jobs import JobWorker
from scheduling.checker import check
from scheduling.fet import read_fet
from scheduling.model import Timetable
from tests.conftest import login
from tests.hub.live_client import connect
from tests.scheduling import fetdata, tiny_fet


def worker(app: Litestar) -> JobWorker:
    w: JobWorker = app.state["scheduling_worker"]
    return w


async def draft(
    client: httpx.AsyncClient, family: dict[str, UUID], fet: str, who: str = "sec"
) -> httpx.Response:
    return await client.post(
        "/v1/timetable/drafts",
        json={"school_id": str(family["s1"]), "name": "syksy", "fet": fet},
        headers=await login(client, f"{who}@perhe"),
    )


async def test_secretary_imports_solves_and_watches_live(
    client: httpx.AsyncClient, app: Litestar, family: dict[str, UUID], tmp_path: Any
) -> None:
    """The secretary imports a FET file, starts a solve, sees its progress
    live as `signal` frames, and gets a timetable the checker finds valid."""
    fet = tiny_fet.school(classes=4)
    r = await draft(client, family, fet)
    assert r.status_code == 201, r.text
    d = r.json()
    assert d["activities"] == 4 * 13 and d["unsupported"] == [] and d["days"] == 5
    h = await login(client, "sec@perhe")
    live = await connect(client, "sec")
    try:
        r = await client.post(
            f"/v1/timetable/drafts/{d['id']}/solves",
            json={"time_limit_s": 30, "seed": 3, "workers": 1},
            headers=h,
        )
        assert r.status_code == 202, r.text
        solve = r.json()
        assert solve["state"] == "queued" and solve["has_timetable"] is False
        assert await worker(app).run_due() == 1
        done = await live.until("signal", data__solve_id=solve["id"], data__state="solved")
        assert done["kind"] == "timetable.solve" and done["data"]["hard"] == 0
        assert any(
            f["type"] == "signal" and f["data"].get("state") == "running" for f in live.frames
        )
    finally:
        await live.close()
    r = await client.get(f"/v1/timetable/solves/{solve['id']}", headers=h)
    view = r.json()
    assert view["state"] == "solved" and view["hard"] == 0 and view["has_timetable"]
    r = await client.get(f"/v1/timetable/solves/{solve['id']}/timetable", headers=h)
    assert r.status_code == 200
    timetable = msgspec.convert(r.json(), type=Timetable)
    path = tmp_path / "tiny.fet"
    path.write_text(fet)
    report = check(read_fet(path).instance, timetable)
    assert report.complete and report.hard == 0
    # a finished solve is not run again (the job is done; a re-run is a no-op)
    assert await worker(app).run_due() == 0


async def test_only_the_schools_scheduler(
    client: httpx.AsyncClient, family: dict[str, UUID]
) -> None:
    """A teacher may not import, start or watch solves: 403 not_scheduler."""
    r = await draft(client, family, tiny_fet.school(classes=1), who="t1")
    assert r.status_code == 403 and r.json()["code"] == "not_scheduler"
    d = (await draft(client, family, tiny_fet.school(classes=1))).json()
    h = await login(client, "t1@perhe")
    r = await client.get(f"/v1/timetable/drafts/{d['id']}", headers=h)
    assert r.status_code == 403
    r = await client.post(f"/v1/timetable/drafts/{d['id']}/solves", json={}, headers=h)
    assert r.status_code == 403


async def test_bad_input_is_refused_with_a_code(
    client: httpx.AsyncClient, family: dict[str, UUID]
) -> None:
    r = await draft(client, family, "<fet><Days_List>")
    assert r.status_code == 400 and r.json()["code"] == "invalid_fet"
    d = (await draft(client, family, tiny_fet.school(classes=1))).json()
    h = await login(client, "sec@perhe")
    for body, code in (
        ({"time_limit_s": 0}, "invalid_time_limit"),
        ({"time_limit_s": 100_000}, "invalid_time_limit"),
        ({"workers": 64}, "invalid_workers"),
    ):
        r = await client.post(f"/v1/timetable/drafts/{d['id']}/solves", json=body, headers=h)
        assert r.status_code == 400 and r.json()["code"] == code, (body, r.text)
    r = await client.get(f"/v1/timetable/solves/{d['id']}", headers=h)
    assert r.status_code == 404 and r.json()["code"] == "solve_not_found"


async def test_a_school_with_too_many_lessons_is_infeasible_with_the_reason(
    client: httpx.AsyncClient, app: Litestar, family: dict[str, UUID]
) -> None:
    """13 lessons for a class with 4 hours in its week: the solve ends as
    `infeasible` (not `incomplete`), its `error` saying whom and the counts,
    on the row and in the last live signal."""
    fet = tiny_fet.school(classes=1, hours=2, days=("ma", "ti"))
    d = (await draft(client, family, fet)).json()
    h = await login(client, "sec@perhe")
    live = await connect(client, "sec")
    try:
        s = (
            await client.post(
                f"/v1/timetable/drafts/{d['id']}/solves", json={"time_limit_s": 600}, headers=h
            )
        ).json()
        assert await worker(app).run_due() == 1
        done = await live.until("signal", data__solve_id=s["id"], data__state="infeasible")
        assert "7A has 13 hours of lessons and room for 4" in done["data"]["error"]
    finally:
        await live.close()
    view = (await client.get(f"/v1/timetable/solves/{s['id']}", headers=h)).json()
    assert view["state"] == "infeasible" and view["has_timetable"] is False
    assert "7A has 13 hours of lessons and room for 4" in view["error"]
    assert await worker(app).run_due() == 0  # final: not run again


async def solved_view(
    client: httpx.AsyncClient, app: Litestar, draft_id: str, h: dict[str, str], **body: Any
) -> dict[str, Any]:
    r = await client.post(f"/v1/timetable/drafts/{draft_id}/solves", json=body, headers=h)
    assert r.status_code == 202, r.text
    assert await worker(app).run_due() == 1
    view: dict[str, Any] = (
        await client.get(f"/v1/timetable/solves/{r.json()['id']}", headers=h)
    ).json()
    return view


async def test_a_re_solve_after_a_change_moves_few_lessons(
    client: httpx.AsyncClient, app: Litestar, family: dict[str, UUID]
) -> None:
    """A teacher is away on Mondays: the school's changed file, solved from
    the earlier solve's timetable (`from_solve`), moves her Monday lessons
    and a few around them, and says how many; a cold solve moves most."""
    fet = tiny_fet.school(classes=4)
    h = await login(client, "sec@perhe")
    before = (await draft(client, family, fet)).json()
    first = await solved_view(client, app, before["id"], h, time_limit_s=60, seed=3)
    assert first["state"] == "solved" and first["from_solve"] is None and first["moved"] is None
    r = await client.get(f"/v1/timetable/solves/{first['id']}/timetable", headers=h)
    current = msgspec.convert(r.json(), type=Timetable)
    teacher = "T-mat-0"
    changed = (await draft(client, family, tiny_fet.teacher_away(fet, teacher, "ma"))).json()
    again = await solved_view(
        client, app, changed["id"], h, time_limit_s=60, seed=3, from_solve=first["id"]
    )
    assert again["state"] == "solved" and again["hard"] == 0, again
    assert again["from_solve"] == first["id"]
    r = await client.get(f"/v1/timetable/solves/{again['id']}/timetable", headers=h)
    after = msgspec.convert(r.json(), type=Timetable).by_activity()
    moved = {
        a
        for a, p in current.by_activity().items()
        if (after[a].day, after[a].hour) != (p.day, p.hour)
    }
    assert again["moved"] == len(moved) and 0 < len(moved) <= 12
    cold = await solved_view(client, app, changed["id"], h, time_limit_s=60, seed=3)
    r = await client.get(f"/v1/timetable/solves/{cold['id']}/timetable", headers=h)
    far = msgspec.convert(r.json(), type=Timetable).by_activity()
    assert sum(
        (far[a].day, far[a].hour) != (p.day, p.hour) for a, p in current.by_activity().items()
    ) > 2 * len(moved)

    # from a solve that is not there, or that has no timetable: refused
    r = await client.post(
        f"/v1/timetable/drafts/{changed['id']}/solves",
        json={"from_solve": str(UUID(int=1))},
        headers=h,
    )
    assert r.status_code == 404 and r.json()["code"] == "solve_not_found"
    s = (
        await client.post(f"/v1/timetable/drafts/{changed['id']}/solves", json={}, headers=h)
    ).json()
    await client.post(f"/v1/timetable/solves/{s['id']}/stop", headers=h)
    assert await worker(app).run_due() == 1
    r = await client.post(
        f"/v1/timetable/drafts/{changed['id']}/solves", json={"from_solve": s["id"]}, headers=h
    )
    assert r.status_code == 409 and r.json()["code"] == "from_solve_no_timetable"


async def test_a_queued_solve_stops_at_once(
    client: httpx.AsyncClient, app: Litestar, family: dict[str, UUID]
) -> None:
    d = (await draft(client, family, tiny_fet.school(classes=1))).json()
    h = await login(client, "sec@perhe")
    s = (await client.post(f"/v1/timetable/drafts/{d['id']}/solves", json={}, headers=h)).json()
    r = await client.post(f"/v1/timetable/solves/{s['id']}/stop", headers=h)
    assert r.status_code == 200 and r.json()["state"] == "stopped"
    assert await worker(app).run_due() == 1  # the job finds it stopped and does nothing
    r = await client.get(f"/v1/timetable/solves/{s['id']}/timetable", headers=h)
    assert r.status_code == 409 and r.json()["code"] == "no_timetable"


async def test_a_running_solve_stops_keeping_its_best(
    client: httpx.AsyncClient, app: Litestar, family: dict[str, UUID]
) -> None:
    """A solve of a real school (fet-data's Greek school) is stopped while it
    runs: it ends 'stopped', not at its time limit."""
    path = fetdata.example(fetdata.PUBLIC_SET[0])
    d = (await draft(client, family, path.read_text(encoding="utf-8"))).json()
    h = await login(client, "sec@perhe")
    s = (
        await client.post(
            f"/v1/timetable/drafts/{d['id']}/solves",
            json={"time_limit_s": 600, "workers": 1},
            headers=h,
        )
    ).json()
    running = asyncio.create_task(worker(app).run_due())
    for _ in range(200):
        view = (await client.get(f"/v1/timetable/solves/{s['id']}", headers=h)).json()
        if view["state"] == "running":
            break
        await asyncio.sleep(0.05)
    r = await client.post(f"/v1/timetable/solves/{s['id']}/stop", headers=h)
    assert r.status_code == 200 and r.json()["stop_requested"] is True
    assert await asyncio.wait_for(running, 120) == 1
    view = (await client.get(f"/v1/timetable/solves/{s['id']}", headers=h)).json()
    assert view["state"] == "stopped", view


async def test_draft_from_the_roster(client: httpx.AsyncClient, family: dict[str, UUID]) -> None:
    """A draft built from the school's roster (its groups and teachers)."""
    h = await login(client, "sec@perhe")
    body = {"school_id": str(family["s1"]), "name": "roster", "from_roster": True}
    r = await client.post("/v1/timetable/drafts", json=body, headers=h)
    assert r.status_code == 201, r.text
    assert r.json()["days"] == 5 and r.json()["unsupported"] == []
    r = await client.post("/v1/timetable/drafts", json={**body, "fet": "<fet/>"}, headers=h)
    assert r.status_code == 400 and r.json()["code"] == "invalid_draft_source"
