"""Teachers' comments on a draft timetable (scheduling.comments), on a roster
draft of the `lukkari` school whose solve row is written directly (a fixed,
deterministic placement: the rules here do not need a good timetable)."""

from __future__ import annotations

from typing import Any
from uuid import UUID, uuid4

import httpx
import msgspec
import pytest
import websockets

from core.db import Database
from scheduling.model import Instance, Placement, Timetable
from tests.conftest import TEST_NOW, login
from tests.hub.live_client import Live


class Draft(msgspec.Struct, frozen=True, kw_only=True):
    draft_id: UUID
    solve_id: UUID
    instance: Instance
    timetable: Timetable

    def of(self, person: UUID) -> list[int]:
        return sorted(a.id for a in self.instance.activities if str(person) in a.teachers)


@pytest.fixture(scope="module")
async def draft(client: httpx.AsyncClient, db: Database, school: dict[str, UUID]) -> Draft:
    """A roster draft of lukkari and a solved solve of it, started by `sec`."""
    r = await client.post(
        "/v1/timetable/drafts",
        json={"school_id": str(school["k1"]), "name": "kevät", "from_roster": True},
        headers=await login(client, "sec@lukkari"),
    )
    assert r.status_code == 201, r.text
    draft_id = UUID(r.json()["id"])
    solve_id = uuid4()
    async with db.tenant(school["tenant"]) as conn:
        instance = msgspec.json.decode(
            await conn.fetchval(
                "SELECT instance::text FROM timetable_drafts WHERE id = $1", draft_id
            ),
            type=Instance,
        )
        assert instance.activities, "the lukkari roster gives lessons"
        timetable = Timetable(
            placements=tuple(
                Placement(activity=a.id, day=n % 5, hour=(n // 5) % 8, room=None)
                for n, a in enumerate(instance.activities)
            )
        )
        await conn.execute(
            "INSERT INTO timetable_solves (id, tenant_id, draft_id, requested_by, state, seed, "
            "workers, time_limit_s, best, hard, soft, created_at, finished_at) "
            "VALUES ($1, $2, $3, $4, 'solved', 0, 1, 5, $5::jsonb, 0, 0, $6, $6)",
            solve_id,
            school["tenant"],
            draft_id,
            school["sec"],
            msgspec.json.encode(timetable).decode(),
            TEST_NOW,
        )
    return Draft(draft_id=draft_id, solve_id=solve_id, instance=instance, timetable=timetable)


async def comment(client: httpx.AsyncClient, draft: Draft, who: str, **body: Any) -> httpx.Response:
    return await client.post(
        f"/v1/timetable/solves/{draft.solve_id}/comments",
        json=body,
        headers=await login(client, f"{who}@lukkari"),
    )


async def comments(client: httpx.AsyncClient, draft: Draft, who: str) -> list[dict[str, Any]]:
    r = await client.get(
        f"/v1/timetable/drafts/{draft.draft_id}/comments",
        headers=await login(client, f"{who}@lukkari"),
    )
    assert r.status_code == 200, r.text
    items: list[dict[str, Any]] = r.json()["items"]
    return items


async def test_a_teacher_sees_only_own_lessons(
    client: httpx.AsyncClient, draft: Draft, school: dict[str, UUID], family: dict[str, UUID]
) -> None:
    """GET …/mine: exactly the teacher's activities, placed, with day and hour
    names and times; a scheduler who teaches nothing gets not_in_draft, a
    learner not_school_teacher, another tenant 404."""
    placed = draft.timetable.by_activity()
    for who in ("t1", "t2"):
        r = await client.get(
            f"/v1/timetable/solves/{draft.solve_id}/mine",
            headers=await login(client, f"{who}@lukkari"),
        )
        assert r.status_code == 200, r.text
        lessons = r.json()["lessons"]
        assert sorted(x["activity_id"] for x in lessons) == draft.of(school[who]) != []
        for x in lessons:
            p = placed[x["activity_id"]]
            assert (x["day"], x["hour"]) == (p.day, p.hour)
            assert x["day_name"] == draft.instance.days[p.day].name
            assert x["starts"] == draft.instance.hours[p.hour].start
            assert x["groups"] and all(
                g in {"7A", "8A", "7A ruotsi", "7A saksa"} for g in x["groups"]
            )
    for who, status, code in (
        ("sec@lukkari", 403, "not_in_draft"),
        ("l1@lukkari", 403, "not_school_teacher"),
        ("g1@lukkari", 403, "not_school_teacher"),
        ("sec@perhe", 404, "solve_not_found"),
    ):
        r = await client.get(
            f"/v1/timetable/solves/{draft.solve_id}/mine", headers=await login(client, who)
        )
        assert (r.status_code, r.json()["code"]) == (status, code), who


async def test_a_comment_has_exactly_one_own_target(
    client: httpx.AsyncClient, draft: Draft, school: dict[str, UUID]
) -> None:
    """activity_id xor day; the activity must be the author's own, the day the draft's."""
    mine, theirs = draft.of(school["t1"])[0], draft.of(school["t2"])[0]
    for body, status, code in (
        ({"body": "Kumpi?", "activity_id": mine, "day": 0}, 400, "invalid_comment_target"),
        ({"body": "Ei mitään"}, 400, "invalid_comment_target"),
        ({"body": "Vieras", "activity_id": theirs}, 403, "not_your_activity"),
        ({"body": "Ei ole", "activity_id": 10_000}, 403, "not_your_activity"),
        ({"body": "Lauantai?", "day": len(draft.instance.days)}, 400, "invalid_day"),
        ({"body": "   ", "day": 0}, 400, "empty_comment"),
    ):
        r = await comment(client, draft, "t1", **body)
        assert (r.status_code, r.json()["code"]) == (status, code), body
    r = await comment(client, draft, "t1", body="x" * 2001, day=0)
    assert r.status_code == 400
    r = await comment(client, draft, "l1", body="Oppilas", day=0)
    assert r.status_code == 403 and r.json()["code"] == "not_school_teacher"
    r = await comment(client, draft, "t1", body="Tämä tunti aamuun?", activity_id=mine)
    assert r.status_code == 201, r.text
    assert r.json()["lesson"]["activity_id"] == mine and r.json()["day"] is None
    r = await comment(client, draft, "t1", body="Tiistai on raskas", day=1)
    assert r.status_code == 201 and r.json()["day_name"] == "ti", r.text


async def test_the_scheduler_is_told_live(
    client: httpx.AsyncClient, draft: Draft, school: dict[str, UUID]
) -> None:
    """The person who started the solve gets a `timetable.comment` signal frame."""
    r = await client.post("/v1/live/ticket", headers=await login(client, "sec@lukkari"))
    assert r.status_code == 200, r.text
    url = str(client.base_url).replace("http://", "ws://") + "/v1/live"
    live = Live(await websockets.connect(url))
    try:
        await live.send({"type": "hello", "ticket": r.json()["ticket"], "last_seq": 0})
        await live.until("synced")
        r = await comment(client, draft, "t2", body="Perjantai iltapäivä?", day=4)
        assert r.status_code == 201, r.text
        frame = await live.until("signal", data__comment_id=r.json()["id"])
        assert frame["kind"] == "timetable.comment"
        assert frame["data"] == {
            "comment_id": r.json()["id"],
            "draft_id": str(draft.draft_id),
            "solve_id": str(draft.solve_id),
            "author": "Timo Kakkonen",
            "activity_id": None,
            "day": 4,
        }
    finally:
        await live.close()


async def test_teachers_see_own_comments_the_scheduler_all(
    client: httpx.AsyncClient, draft: Draft, school: dict[str, UUID]
) -> None:
    """GET …/comments: a teacher only their own; the principal and the
    secretary every comment, with author, lesson (subject, day, hour) or day."""
    lesson = draft.of(school["t3"])[0]
    a = (await comment(client, draft, "t3", body="Kolmosen huomio", activity_id=lesson)).json()
    b = (await comment(client, draft, "t4", body="Nelosen huomio", day=2)).json()
    own = await comments(client, draft, "t3")
    assert [c["id"] for c in own] == [a["id"]]
    assert all(c["author_id"] == str(school["t3"]) for c in own)
    assert [c["body"] for c in await comments(client, draft, "t4")] == ["Nelosen huomio"]
    for who in ("sec", "pri"):
        every = {c["id"]: c for c in await comments(client, draft, who)}
        assert {a["id"], b["id"]} <= every.keys()
        placed = draft.timetable.by_activity()[lesson]
        got = every[a["id"]]
        assert got["author_name"] == "Terhi Kolmonen"
        assert got["lesson"]["subject"] == next(
            x.subject for x in draft.instance.activities if x.id == lesson
        )
        assert (got["lesson"]["day"], got["lesson"]["hour"]) == (placed.day, placed.hour)
        assert every[b["id"]]["day_name"] == "ke" and every[b["id"]]["lesson"] is None
    r = await client.get(
        f"/v1/timetable/drafts/{draft.draft_id}/comments",
        headers=await login(client, "l1@lukkari"),
    )
    assert r.status_code == 403


async def test_an_answer_notifies_the_author(
    client: httpx.AsyncClient, draft: Draft, school: dict[str, UUID]
) -> None:
    """The secretary answers t4's comment: t4 gets a notification with the
    answer; the answer shows beside the comment; a teacher cannot answer."""
    c = (await comment(client, draft, "t4", body="Maanantaiaamu vapaaksi?", day=0)).json()
    r = await client.post(
        f"/v1/timetable/comments/{c['id']}/answer",
        json={"answer": "Katsotaan seuraavassa ajossa."},
        headers=await login(client, "t1@lukkari"),
    )
    assert r.status_code == 403 and r.json()["code"] == "not_scheduler"
    for _ in range(2):  # the same answer twice is one notification
        r = await client.post(
            f"/v1/timetable/comments/{c['id']}/answer",
            json={"answer": "Katsotaan seuraavassa ajossa."},
            headers=await login(client, "sec@lukkari"),
        )
        assert r.status_code == 200, r.text
    assert r.json()["answer"] == "Katsotaan seuraavassa ajossa."
    assert r.json()["answered_by_name"] == "Sanna Sihteeri"
    r = await client.get(
        "/v1/inbox", params={"limit": 500}, headers=await login(client, "t4@lukkari")
    )
    notes = [
        i["message"] for i in r.json()["items"] if "Maanantaiaamu vapaaksi?" in i["message"]["body"]
    ]
    assert len(notes) == 1
    assert notes[0]["subject"] == "Vastaus kommenttiisi lukujärjestysluonnoksesta"
    assert "Sanna Sihteeri vastasi: Katsotaan seuraavassa ajossa." in notes[0]["body"]
    (seen,) = [x for x in await comments(client, draft, "t4") if x["id"] == c["id"]]
    assert seen["answer"] == "Katsotaan seuraavassa ajossa."
    # nobody else got it
    r = await client.get(
        "/v1/inbox", params={"limit": 500}, headers=await login(client, "t1@lukkari")
    )
    assert not [i for i in r.json()["items"] if "Maanantaiaamu" in i["message"]["body"]]
