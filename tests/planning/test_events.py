"""Events with registration over HTTP, against the session's real server and
PostgreSQL (tenant `kalliola`, see tests/planning/__init__.py): capacity, the
waiting list and its moving up with a notification, cancellations, the race
for the last places, and who sees whom."""

from __future__ import annotations

import asyncio
import re
import uuid
from datetime import datetime, timedelta
from typing import Any

import asyncpg
import httpx
import pytest
from litestar import Litestar

from core import actions
from core.clock import HELSINKI, FixedClock
from core.db import Database
from planning.actions import NOTICE_BACKSTOP
from planning.model import MAX_AUDIENCE_GROUPS, MAX_CAPACITY, MAX_TITLE_CHARS
from tests.conftest import TEST_NOW
from tests.planning import TENANT, Ids, ensure_school, h, received, title

START = datetime(2026, 12, 10, 17, 0, tzinfo=HELSINKI)
EVENTS = "/v1/planning/events"
TABLES = ("planning_events", "planning_registrations", "meeting_slots", "meeting_bookings")


@pytest.fixture(scope="module")
async def k(db: Database) -> Ids:
    return await ensure_school(db)


async def create(
    client: httpx.AsyncClient, k: Ids, who: str = "ope", **fields: Any
) -> dict[str, Any]:
    r = await post_event(client, k, who, **fields)
    assert r.status_code == 201, r.text
    event: dict[str, Any] = r.json()
    return event


async def post_event(client: httpx.AsyncClient, k: Ids, who: str, **fields: Any) -> httpx.Response:
    body = {
        "school_id": str(k["k1"]),
        "title": title("Retki"),
        "starts_at": START.isoformat(),
        "ends_at": (START + timedelta(hours=2)).isoformat(),
        "capacity": 2,
        "groups": [str(k["5a"])],
        **fields,
    }
    return await client.post(EVENTS, json=body, headers=await h(client, who))


async def register(
    client: httpx.AsyncClient, event: dict[str, Any], who: str, child: Any = None
) -> httpx.Response:
    body = {} if child is None else {"participant_id": str(child)}
    return await client.post(
        f"{EVENTS}/{event['id']}/registrations", json=body, headers=await h(client, who)
    )


async def cancel(
    client: httpx.AsyncClient, event: dict[str, Any], who: str, participant: Any
) -> httpx.Response:
    return await client.delete(
        f"{EVENTS}/{event['id']}/registrations/{participant}", headers=await h(client, who)
    )


async def view(client: httpx.AsyncClient, event: dict[str, Any], who: str) -> dict[str, Any]:
    r = await client.get(f"{EVENTS}/{event['id']}", headers=await h(client, who))
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


def states(event: dict[str, Any], k: Ids) -> dict[str, tuple[str, int | None]]:
    """A staff view's participants: external id → (state, position)."""
    ext = {str(v): e for e, v in k.items()}
    return {
        ext[p["participant_id"]]: (p["state"], p["position"]) for p in event["participant_list"]
    }


async def test_staff_create_events_within_named_bounds(client: httpx.AsyncClient, k: Ids) -> None:
    """Teachers, the principal and the secretary create events; others get 403
    not_organiser; each bound is refused with its own code."""
    for who in ("ope", "rehtori", "sihteeri"):
        ev = await create(client, k, who)
        assert (ev["registered"], ev["waiting"], ev["capacity"]) == (0, 0, 2)
        assert ev["participant_list"] == [] and ev["cancelled"] is False
    for who in ("l01", "h01", "muu"):
        r = await post_event(client, k, who)
        assert r.status_code == 403 and r.json()["code"] == "not_organiser", r.text
    past = TEST_NOW - timedelta(hours=1)
    for fields, code in (
        ({"capacity": 0}, "invalid_capacity"),
        ({"capacity": MAX_CAPACITY + 1}, "invalid_capacity"),
        ({"max_waiting": -1}, "invalid_max_waiting"),
        ({"title": "x" * (MAX_TITLE_CHARS + 1)}, "invalid_title"),
        ({"title": "  "}, "invalid_title"),
        ({"ends_at": START.isoformat()}, "invalid_times"),
        ({"starts_at": past.isoformat(), "ends_at": TEST_NOW.isoformat()}, "invalid_times"),
        ({"registration_deadline": (START + timedelta(hours=1)).isoformat()}, "invalid_deadline"),
        ({"groups": [str(k["1a"])]}, "unknown_group"),
        (
            {"groups": [str(uuid.uuid4()) for _ in range(MAX_AUDIENCE_GROUPS + 1)]},
            "too_many_groups",
        ),
        ({"starts_at": "2026-12-10T17:00:00"}, "invalid_request"),
    ):
        r = await post_event(client, k, "ope", **fields)
        assert r.status_code == 400 and r.json()["code"] == code, (fields, r.text)


async def test_places_then_a_waiting_list_and_registering_twice(
    client: httpx.AsyncClient, k: Ids
) -> None:
    """Within capacity: registered; beyond: waiting with a position; the same
    registration again is the same result (200), not a second place."""
    ev = await create(client, k, capacity=2)
    r = await register(client, ev, "l01")
    assert r.status_code == 201 and r.json()["state"] == "registered", r.text
    again = await register(client, ev, "l01")
    assert again.status_code == 200 and again.json() == r.json()
    r = await register(client, ev, "h02", k["l02"])
    assert r.status_code == 201 and r.json()["state"] == "registered"
    assert r.json()["participant_id"] == str(k["l02"])
    r = await register(client, ev, "h03", k["l03"])
    assert (r.json()["state"], r.json()["position"]) == ("waiting", 1)
    r = await register(client, ev, "l04")
    assert (r.json()["state"], r.json()["position"]) == ("waiting", 2)
    assert (await register(client, ev, "h04", k["l04"])).json()["position"] == 2
    seen = await view(client, ev, "l04")
    assert (seen["registered"], seen["waiting"], seen["capacity"]) == (2, 2, 2)
    assert [(m["state"], m["position"]) for m in seen["mine"]] == [("waiting", 2)]
    assert states(await view(client, ev, "ope"), k) == {
        "l01": ("registered", None),
        "l02": ("registered", None),
        "l03": ("waiting", 1),
        "l04": ("waiting", 2),
    }


async def test_only_the_audience_and_only_ones_own_children(
    client: httpx.AsyncClient, k: Ids
) -> None:
    """Outside the audience: 403 not_in_audience; someone else's child: 404, as
    if it did not exist; a guardian with information right only, or of an
    adult: 403 custody_required; another school's family: 404."""
    ev = await create(client, k, groups=[str(k["5b"])])
    r = await register(client, ev, "l01")
    assert r.status_code == 403 and r.json()["code"] == "not_in_audience"
    r = await register(client, ev, "h01", k["l01"])
    assert r.status_code == 403 and r.json()["code"] == "not_in_audience"
    for who, child in (("h01", k["m1"]), ("hm1", k["l01"]), ("h01", uuid.uuid4())):
        r = await register(client, ev, who, child)
        assert r.status_code == 404 and r.json()["code"] == "learner_not_found", r.text
    r = await register(client, ev, "ope")
    assert r.status_code == 403 and r.json()["code"] == "not_in_audience"
    assert (await register(client, ev, "hm1", k["m1"])).status_code == 201
    for who in ("hx", "x1"):
        r = await register(client, ev, who)
        assert r.status_code == 404 and r.json()["code"] == "event_not_found"
        r = await client.get(f"{EVENTS}/{ev['id']}", headers=await h(client, who))
        assert r.status_code == 404 and r.json()["code"] == "event_not_found"
    whole = await create(client, k, groups=[])
    r = await register(client, whole, "h01i", k["l01"])
    assert r.status_code == 403 and r.json()["code"] == "custody_required"
    r = await register(client, whole, "ha", k["aikuinen"])
    assert r.status_code == 403 and r.json()["code"] == "custody_required"
    assert (await register(client, whole, "aikuinen")).json()["state"] == "registered"
    assert (await register(client, whole, "x1")).status_code == 404


async def test_a_freed_place_goes_to_the_first_waiting_who_is_told(
    client: httpx.AsyncClient, k: Ids, app: Litestar, clock: FixedClock
) -> None:
    """A cancellation moves the first on the waiting list up in the same
    transaction; the learner and both guardians find it in their inbox, once,
    however often the cancellation or the notice job runs."""
    ev = await create(client, k, capacity=1)
    for who in ("l05", "l06", "l07"):
        assert (await register(client, ev, who)).status_code == 201
    assert (await cancel(client, ev, "h08", k["l06"])).status_code == 404  # not hers
    r = await cancel(client, ev, "h05", k["l05"])
    assert r.status_code == 204, r.text
    assert states(await view(client, ev, "ope"), k) == {
        "l06": ("registered", None),
        "l07": ("waiting", 1),
    }
    promoted = f"Pääsit mukaan: {ev['title']}"
    for who in ("l06", "h06", "h06b"):
        assert await received(client, who, promoted) == 1, who
    for who in ("l05", "l07", "h07", "ope"):
        assert await received(client, who, promoted) == 0, who
    assert (await cancel(client, ev, "h05", k["l05"])).status_code == 204  # again: nothing
    try:
        clock.advance(NOTICE_BACKSTOP + timedelta(seconds=1))
        assert await app.state["delivery"].run_due() >= 1  # the outbox's job ran
    finally:
        clock.set(TEST_NOW)
    for who in ("l06", "h06", "h06b"):
        assert await received(client, who, promoted) == 1, who
    # staff remove a participant: told; the next one moves up
    assert (await cancel(client, ev, "sihteeri", k["l06"])).status_code == 204
    assert await received(client, "l06", f"Ilmoittautuminen peruttu: {ev['title']}") == 1
    assert await received(client, "h07", promoted) == 1
    assert states(await view(client, ev, "ope"), k) == {"l07": ("registered", None)}
    # registering again after a cancellation: the end of the queue
    assert (await register(client, ev, "l05")).json() | {"registered_at": 0} == {
        "event_id": ev["id"],
        "participant_id": str(k["l05"]),
        "state": "waiting",
        "position": 1,
        "registered_at": 0,
    }


async def test_racing_registrations_never_overbook(client: httpx.AsyncClient, k: Ids) -> None:
    """Twenty learners register at once for five places: exactly five get one,
    fifteen wait in positions 1…15."""
    ev = await create(client, k, capacity=5)
    racers = [f"l{i:02d}" for i in range(1, 21)]
    logins = [await h(client, who) for who in racers]
    url = f"{EVENTS}/{ev['id']}/registrations"
    results = await asyncio.gather(*(client.post(url, json={}, headers=x) for x in logins))
    assert all(r.status_code == 201 for r in results), [r.text for r in results]
    got = [r.json() for r in results]
    assert sum(1 for g in got if g["state"] == "registered") == 5
    assert sorted(g["position"] for g in got if g["state"] == "waiting") == list(range(1, 16))
    seen = await view(client, ev, "rehtori")
    assert (seen["registered"], seen["waiting"]) == (5, 15)
    assert sorted(p["position"] or 0 for p in seen["participant_list"]) == [0] * 5 + list(
        range(1, 16)
    )


async def test_cancelling_the_event_tells_everyone(client: httpx.AsyncClient, k: Ids) -> None:
    """The creator (or the principal) cancels the event: everyone registered or
    waiting, and their guardians, are told once; registration is then 409."""
    ev = await create(client, k, capacity=1)
    assert (await register(client, ev, "l08")).json()["state"] == "registered"
    assert (await register(client, ev, "h09", k["l09"])).json()["state"] == "waiting"
    url = f"{EVENTS}/{ev['id']}/cancel"
    for who in ("ope2", "l08"):
        r = await client.post(url, headers=await h(client, who))
        assert r.status_code == 403 and r.json()["code"] == "not_organiser"
    r = await client.post(url, headers=await h(client, "ope"))
    assert r.status_code == 200 and r.json()["cancelled"] is True, r.text
    assert (await client.post(url, headers=await h(client, "ope"))).status_code == 200
    notice = f"Tapahtuma peruttu: {ev['title']}"
    for who in ("l08", "h08", "h08b", "l09", "h09", "h09b"):
        assert await received(client, who, notice) == 1, who
    assert await received(client, "l10", notice) == 0
    r = await register(client, ev, "l10")
    assert r.status_code == 409 and r.json()["code"] == "event_cancelled"
    r = await cancel(client, ev, "l08", k["l08"])
    assert r.status_code == 409 and r.json()["code"] == "event_cancelled"
    other = await create(client, k)
    r = await client.post(f"{EVENTS}/{other['id']}/cancel", headers=await h(client, "rehtori"))
    assert r.status_code == 200 and r.json()["cancelled"] is True


async def test_families_never_see_who_else_takes_part(client: httpx.AsyncClient, k: Ids) -> None:
    """A guardian sees the counts and their own children's registrations; a
    learner their own; only the school's staff see the participants."""
    ev = await create(client, k, capacity=1)
    await register(client, ev, "l01")
    await register(client, ev, "l02")
    for who, mine in (("h01", ["l01"]), ("h01i", ["l01"]), ("l02", ["l02"]), ("h03", [])):
        seen = await view(client, ev, who)
        assert seen["participant_list"] is None, who
        assert [m["participant_id"] for m in seen["mine"]] == [str(k[x]) for x in mine], who
        assert (seen["registered"], seen["waiting"]) == (1, 1)
    staff = await view(client, ev, "sihteeri")
    assert {p["name"] for p in staff["participant_list"]} == {"Oppilas L01", "Oppilas L02"}


async def test_a_parents_evening_takes_guardians(client: httpx.AsyncClient, k: Ids) -> None:
    """participants=guardians: each guardian of a learner in the audience takes
    a place for themself (two of one child: two places); learners and
    guardians of an adult who has not allowed it are not in the audience."""
    ev = await create(client, k, participants="guardians", capacity=2, groups=[])
    assert (await register(client, ev, "h01")).json()["state"] == "registered"
    assert (await register(client, ev, "h01b")).json()["state"] == "registered"
    assert (await register(client, ev, "h01i")).json()["position"] == 1
    r = await register(client, ev, "h02", k["l02"])
    assert r.status_code == 400 and r.json()["code"] == "guardians_event"
    for who in ("l02", "ha", "ope"):
        r = await register(client, ev, who)
        assert r.status_code == 403 and r.json()["code"] == "not_in_audience", who
    assert (await cancel(client, ev, "h01", k["h01"])).status_code == 204
    assert await received(client, "h01i", f"Pääsit mukaan: {ev['title']}") == 1


async def test_deadline_and_a_full_waiting_list(
    client: httpx.AsyncClient, k: Ids, clock: FixedClock
) -> None:
    """Beyond the waiting list: 409 event_full; after the deadline: 409
    registration_closed — but registering again still answers as before."""
    deadline = TEST_NOW + timedelta(hours=1)
    ev = await create(
        client, k, capacity=1, max_waiting=1, registration_deadline=deadline.isoformat()
    )
    assert (await register(client, ev, "l11")).status_code == 201
    assert (await register(client, ev, "l12")).json()["state"] == "waiting"
    r = await register(client, ev, "l13")
    assert r.status_code == 409 and r.json()["code"] == "event_full"
    try:
        clock.set(deadline)
        r = await register(client, ev, "l14")
        assert r.status_code == 409 and r.json()["code"] == "registration_closed"
        assert (await register(client, ev, "l11")).json()["state"] == "registered"
        clock.set(START)
        r = await cancel(client, ev, "l11", k["l11"])
        assert r.status_code == 409 and r.json()["code"] == "event_started"
    finally:
        clock.set(TEST_NOW)


async def test_the_list_pages_through_events_that_concern_me(
    client: httpx.AsyncClient, k: Ids
) -> None:
    """A guardian lists the events of their child's audience, page by page;
    not other classes' events."""
    first = await create(client, k, groups=[str(k["5b"])])
    second = await create(
        client,
        k,
        groups=[str(k["5b"])],
        starts_at=(START + timedelta(days=1)).isoformat(),
        ends_at=(START + timedelta(days=1, hours=1)).isoformat(),
    )
    elsewhere = await create(client, k)
    await register(client, second, "hm1", k["m1"])
    hm1 = await h(client, "hm1")
    ids: list[str] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"limit": 1} | ({"cursor": cursor} if cursor else {})
        page = (await client.get(EVENTS, params=params, headers=hm1)).json()
        assert len(page["items"]) <= 1
        ids += [e["id"] for e in page["items"]]
        for e in page["items"]:
            if e["id"] == second["id"]:
                assert e["mine"][0]["state"] == "registered" and e["participant_list"] is None
        cursor = page["next"]
        if cursor is None:
            break
    assert ids.index(first["id"]) < ids.index(second["id"]) and elsewhere["id"] not in ids
    staff = (await client.get(EVENTS, params={"limit": 100}, headers=await h(client, "ope"))).json()
    assert elsewhere["id"] in [e["id"] for e in staff["items"]]
    r = await client.get(EVENTS, params={"cursor": "nonsense"}, headers=hm1)
    assert r.status_code == 400 and r.json()["code"] == "invalid_cursor"


async def test_the_hubs_rules_pick_the_guardians_told(client: httpx.AsyncClient, k: Ids) -> None:
    """A promoted learner's guardians are told as the hub's rules say: a
    guardian with information right too, an adult's guardian only with the
    adult's consent."""
    ev = await create(client, k, capacity=1, groups=[])
    for who in ("l20", "aikuinen", "l01"):
        assert (await register(client, ev, who)).status_code == 201
    promoted = f"Pääsit mukaan: {ev['title']}"
    assert (await cancel(client, ev, "l20", k["l20"])).status_code == 204
    assert await received(client, "aikuinen", promoted) == 1
    assert await received(client, "ha", promoted) == 0
    assert (await cancel(client, ev, "aikuinen", k["aikuinen"])).status_code == 204
    for who in ("l01", "h01", "h01b", "h01i"):
        assert await received(client, who, promoted) == 1, who


async def test_staff_reads_of_participants_are_audited_and_tenants_isolated(
    client: httpx.AsyncClient, k: Ids, db: Database, admin_dsn: str
) -> None:
    """A staff view of a learners' event writes audit rows for the learners
    shown; the planning tables have forced row-level security, and another
    tenant sees none of these rows."""
    ev = await create(client, k)
    await register(client, ev, "l15")
    await view(client, ev, "sihteeri")
    async with db.tenant(actions.tenant_id_for(TENANT)) as conn:
        purposes = await conn.fetchval(
            "SELECT count(*) FROM audit_log WHERE object_id = $1 AND actor_id = $2"
            " AND purpose = 'event_participants'",
            k["l15"],
            k["sihteeri"],
        )
        assert purposes >= 1
        assert await conn.fetchval("SELECT count(*) FROM planning_events") > 0
    async with db.tenant(actions.tenant_id_for("perhe")) as conn:
        for table in TABLES:
            assert await conn.fetchval(f"SELECT count(*) FROM {table}") == 0, table
    admin = await asyncpg.connect(admin_dsn)
    try:
        rows = await admin.fetch(
            "SELECT relname, relrowsecurity, relforcerowsecurity FROM pg_class"
            " WHERE relname = ANY($1)",
            list(TABLES),
        )
    finally:
        await admin.close()
    assert sorted((r["relname"], r["relrowsecurity"], r["relforcerowsecurity"]) for r in rows) == [
        (t, True, True) for t in sorted(TABLES)
    ]


async def test_every_planning_route_needs_a_token(client: httpx.AsyncClient) -> None:
    """Without a token every planning route answers 401 token_required."""
    from planning.api import ROUTES

    for handler in ROUTES:
        for path in handler.paths:
            url = re.sub(r"\{\w+:uuid\}", str(uuid.uuid4()), path)
            for method in handler.http_methods:
                r = await client.request(method, url)
                assert r.status_code == 401 and r.json()["code"] == "token_required", url
