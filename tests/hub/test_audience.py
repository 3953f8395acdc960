"""Audience resolution, rule by rule (hub/audience.py): who receives, and who may send."""

from __future__ import annotations

import contextlib
import copy
from datetime import date
from uuid import UUID

import httpx

from core import actions
from core.clock import FixedClock, today_in_helsinki
from core.db import Database
from hub.audience import AudienceCache, Recipient
from hub.audience import resolve as resolve_uncached
from hub.model import GroupGuardians, GroupLearners, Selector, WholeSchool
from tests.family import FAMILY, FAMILY_ROSTER, import_tenant
from tests.hub.helpers import recipients, send

Ids = dict[str, UUID]


def g(family: Ids, name: str) -> str:
    return str(family[name])


async def test_teacher_to_group_guardians_reaches_every_guardian(
    client: httpx.AsyncClient, db: Database, family: Ids
) -> None:
    """An announcement to 7B's guardians reaches each guardian once, information-right
    guardians too, marked with the learners it is for; nobody else."""
    r = await send(
        client, "t1", {"type": "group_guardians", "group": g(family, "7b")}, kind="announcement"
    )
    assert r.status_code == 201, r.text
    got = await recipients(db, r.json()["id"])
    assert got == {"g1": ["l1", "lp"], "gi": ["l1"], "g2": ["l2"], "gp": ["lp"]}


async def test_information_right_guardian_gets_no_custody_request(
    client: httpx.AsyncClient, db: Database, family: Ids
) -> None:
    """A request that needs custody skips the guardian with information right only."""
    r = await send(
        client,
        "t1",
        {"type": "learner_guardians", "learner": g(family, "l1")},
        needs_custody=True,
        ack={"quorum": "all_custodial"},
    )
    assert r.status_code == 201, r.text
    assert set(await recipients(db, r.json()["id"])) == {"g1"}


async def test_adult_learner_decides_what_guardians_receive(
    client: httpx.AsyncClient, db: Database, family: Ids
) -> None:
    """Guardians of an 18-year-old receive only with the learner's consent."""
    r = await send(client, "t2", {"type": "group_guardians", "group": g(family, "7c")})
    assert r.status_code == 201, r.text
    assert await recipients(db, r.json()["id"]) == {"ga": ["a18c"]}
    r = await send(client, "t2", {"type": "learner_guardians", "learner": g(family, "a18")})
    assert r.status_code == 400 and r.json()["code"] == "empty_audience"


async def test_teacher_cannot_address_other_groups(client: httpx.AsyncClient, family: Ids) -> None:
    """A teacher may not address the guardians or learners of a group they do not teach."""
    for audience in (
        {"type": "group_guardians", "group": g(family, "7c")},
        {"type": "group_learners", "group": g(family, "7c")},
        {"type": "person", "id": g(family, "t3")},
    ):
        r = await send(client, "t1", audience)
        assert r.status_code == 403 and r.json()["code"] == "recipient_not_allowed", audience
        # the refusal says how many, never who is in an audience the sender may not address
        for person in ("ga", "a18", "a18c", "t3"):
            assert g(family, person) not in r.text, person


async def test_teacher_addresses_own_learners_and_colleagues(
    client: httpx.AsyncClient, db: Database, family: Ids
) -> None:
    """A teacher reaches own group's learners and the staff of own school (not self)."""
    r = await send(client, "t1", {"type": "group_learners", "group": g(family, "7b")})
    assert set(await recipients(db, r.json()["id"])) == {"l1", "l2", "lp"}
    r = await send(client, "t1", {"type": "school_staff", "school": g(family, "s1")})
    assert set(await recipients(db, r.json()["id"])) == {"t2", "sec", "st"}


async def test_guardian_addresses_staff_of_childs_school_only(
    client: httpx.AsyncClient, db: Database, family: Ids
) -> None:
    """A guardian may write to staff at the child's school, not to another school or family."""
    r = await send(client, "g2", {"type": "person", "id": g(family, "t1")})
    assert r.status_code == 201 and set(await recipients(db, r.json()["id"])) == {"t1"}
    for target in ("t3", "g1", "l1"):
        r = await send(client, "g2", {"type": "person", "id": g(family, target)})
        assert r.status_code == 403, target


async def test_learner_addresses_own_teachers_only(client: httpx.AsyncClient, family: Ids) -> None:
    """A learner may write to their own teachers and to nobody else."""
    assert (await send(client, "l1", {"type": "person", "id": g(family, "t1")})).status_code == 201
    for target in ("t2", "l2", "g2"):
        r = await send(client, "l1", {"type": "person", "id": g(family, target)})
        assert r.status_code == 403, target


async def test_secretary_addresses_whole_school(
    client: httpx.AsyncClient, db: Database, family: Ids
) -> None:
    """The secretary reaches the whole school: learners, their guardians (by the rules), staff."""
    r = await send(
        client, "sec", {"type": "school", "school": g(family, "s1")}, kind="announcement"
    )
    got = await recipients(db, r.json()["id"])
    assert set(got) == {
        "t1",
        "t2",
        "st",
        "l1",
        "l2",
        "lp",
        "a18",
        "a18c",
        "g1",
        "gi",
        "g2",
        "gp",
        "ga",
    }
    assert got["ga"] == ["a18c"]
    r = await send(client, "sec", {"type": "school", "school": g(family, "s2")})
    assert r.status_code == 403


async def test_union_and_exclusion(client: httpx.AsyncClient, db: Database, family: Ids) -> None:
    """Unions give each person one copy; exclusions remove people."""
    audience = {
        "type": "exclude",
        "base": {
            "type": "union",
            "of": [
                {"type": "group_guardians", "group": g(family, "7b")},
                {"type": "learner_guardians", "learner": g(family, "l1")},
                {"type": "group_teachers", "group": g(family, "7b")},
            ],
        },
        "minus": {"type": "person", "id": g(family, "gi")},
    }
    r = await send(client, "sec", audience)
    assert await recipients(db, r.json()["id"]) == {
        "g1": ["l1", "lp"],
        "g2": ["l2"],
        "gp": ["lp"],
        "t1": [],
    }


async def test_recipients_never_see_each_other(client: httpx.AsyncClient, family: Ids) -> None:
    """A guardian's inbox shows the message without any other recipient, and nothing of
    the protected family."""
    from tests.hub.helpers import headers

    r = await send(
        client,
        "t1",
        {"type": "group_guardians", "group": g(family, "7b")},
        subject="Retki",
        body="Retki perjantaina",
    )
    mid = r.json()["id"]
    inbox = (await client.get("/v1/inbox?limit=500", headers=await headers(client, "g2"))).json()
    item = next(i for i in inbox["items"] if i["message"]["id"] == mid)
    text = str(item)
    for other in ("g1", "gi", "gp", "l1", "lp"):
        assert g(family, other) not in text, other
    for word in ("Gunnar", "Inkeri", "Paula", "Suojattu", "Salainen", "@example"):
        assert word not in text, word
    assert item["for_learners"] == [g(family, "l2")]


async def test_unknown_selector_is_a_clear_error(client: httpx.AsyncClient, family: Ids) -> None:
    """An unknown selector type is a 400 with a code, naming the field."""
    r = await send(client, "t1", {"type": "everyone"})
    assert r.status_code == 400 and r.json()["code"] == "invalid_request"


async def test_about_an_adult_learner_skips_guardians_without_consent(
    client: httpx.AsyncClient, db: Database, family: Ids
) -> None:
    """A message about an 18-year-old who has not allowed it does not reach their guardian,
    even addressed by name; `about` must name learners."""
    r = await send(
        client,
        "sec",
        {
            "type": "union",
            "of": [
                {"type": "person", "id": g(family, "ga")},
                {"type": "person", "id": g(family, "a18")},
            ],
        },
        about=[g(family, "a18")],
    )
    assert r.status_code == 201, r.text
    assert set(await recipients(db, r.json()["id"])) == {"a18"}
    r = await send(
        client, "sec", {"type": "person", "id": g(family, "ga")}, about=[g(family, "a18c")]
    )
    assert set(await recipients(db, r.json()["id"])) == {"ga"}
    r = await send(
        client, "sec", {"type": "person", "id": g(family, "ga")}, about=[g(family, "t1")]
    )
    assert r.status_code == 400 and r.json()["code"] == "unknown_learner"


async def _cache_tenant(db: Database, slug: str) -> tuple[UUID, Ids]:
    """The family's roster in a tenant of its own, without logins: these tests change it."""
    roster = copy.deepcopy(FAMILY_ROSTER)
    for p in roster["persons"]:
        p.pop("username", None)
    return await import_tenant(db, slug, "Rosterin kunta", roster)


def _named(got: dict[UUID, Recipient], ids: Ids) -> dict[str, list[str]]:
    name = {v: k for k, v in ids.items()}
    return {name[p]: sorted(name[x] for x in r.for_learners) for p, r in got.items()}


async def test_a_resolved_audience_is_kept_until_the_roster_changes(
    db: Database, clock: FixedClock
) -> None:
    """The audience cache answers a repeated audience without resolving it again, and
    every kind of roster change that resolution reads (a guardianship, a learner's
    consent, group membership, a role) is seen by the very next resolve; a changed
    e-mail address is not a roster change, and neither is another tenant's change."""
    tenant, ids = await _cache_tenant(db, "rosteri-cache")
    cache = AudienceCache()
    today = today_in_helsinki(clock)
    school = WholeSchool(school=ids["s1"])
    group = GroupGuardians(group=ids["7b"])

    async def resolve(sel: Selector) -> dict[str, list[str]]:
        async with db.tenant(tenant) as conn:
            got = await cache.resolve(conn, tenant, sel, needs_custody=False, today=today)
        got.pop(ids["t1"], None)  # the caller's own dict: the cache keeps its copy
        return _named(got, ids)

    async def change(sql: str, *args: object, in_tenant: UUID | None = None) -> None:
        async with db.tenant(in_tenant or tenant) as conn:
            await conn.execute(sql, *args)

    first = await resolve(school)
    assert {"g2", "ga", "t2", "l1"} <= set(first) and "t1" not in first
    assert (cache.misses, cache.hits) == (1, 0)
    assert await resolve(school) == first
    assert (cache.misses, cache.hits) == (1, 1)
    assert "t1" in _named(await _uncached(db, tenant, school, today), ids)

    await change("UPDATE persons SET email = 'uusi@example.fi' WHERE id = $1", ids["g2"])
    await change(
        "UPDATE persons SET birth_date = birth_date WHERE external_id = 'l1'",
        in_tenant=actions.tenant_id_for(FAMILY),
    )
    assert await resolve(school) == first
    assert (cache.misses, cache.hits) == (1, 2)

    await change("DELETE FROM guardianships WHERE guardian_id = $1", ids["g2"])
    got = await resolve(school)
    assert "g2" not in got and cache.misses == 2
    fresh = _named(await _uncached(db, tenant, school, today), ids)
    fresh.pop("t1")
    assert got == fresh

    assert "ga" in got
    await change("UPDATE persons SET guardians_may_see = false WHERE id = $1", ids["a18c"])
    assert "ga" not in await resolve(school)

    assert await resolve(group) == {"g1": ["l1", "lp"], "gi": ["l1"], "gp": ["lp"]}
    await change("DELETE FROM group_learners WHERE learner_id = $1", ids["l1"])
    assert await resolve(group) == {"g1": ["lp"], "gp": ["lp"]}

    assert "t2" in await resolve(school)
    await change("DELETE FROM person_roles WHERE person_id = $1", ids["t2"])
    assert "t2" not in await resolve(school)
    assert cache.misses == 7 and cache.hits == 2


async def _uncached(
    db: Database, tenant: UUID, sel: Selector, today: date
) -> dict[UUID, Recipient]:
    async with db.tenant(tenant) as conn:
        return await resolve_uncached(conn, sel, needs_custody=False, today=today)


async def test_the_roster_version_rises_once_a_transaction_at_commit(db: Database) -> None:
    """Many roster rows in one transaction raise their tenant's version once, when the
    transaction commits; a transaction that rolls back raises nothing."""
    tenant, ids = await _cache_tenant(db, "rosteri-versio")

    async def version() -> int:
        async with db.tenant(tenant) as conn:
            v: int = await conn.fetchval("SELECT version FROM roster_versions")
        return v

    before = await version()
    async with db.tenant(tenant) as conn:
        await conn.execute("DELETE FROM group_learners WHERE learner_id = $1", ids["l2"])
        await conn.execute("DELETE FROM guardianships WHERE learner_id = $1", ids["l2"])
        # not yet: the version is raised at commit, with the change
        assert await conn.fetchval("SELECT version FROM roster_versions") == before
    assert await version() == before + 1
    with contextlib.suppress(RuntimeError):
        async with db.tenant(tenant) as conn:
            await conn.execute("DELETE FROM person_roles WHERE person_id = $1", ids["l1"])
            raise RuntimeError("roll back")
    assert await version() == before + 1


async def test_the_audience_cache_is_bounded(db: Database, clock: FixedClock) -> None:
    """Past `max_recipients` the least recently used audiences go; an audience larger
    than the bound alone is not kept."""
    tenant, ids = await _cache_tenant(db, "rosteri-raja")
    today = today_in_helsinki(clock)
    cache = AudienceCache(max_recipients=6)

    async def resolve(sel: Selector) -> int:
        async with db.tenant(tenant) as conn:
            return len(await cache.resolve(conn, tenant, sel, needs_custody=False, today=today))

    assert await resolve(WholeSchool(school=ids["s1"])) > 6
    assert len(cache) == 0
    assert await resolve(GroupGuardians(group=ids["7b"])) == 4
    assert await resolve(GroupLearners(group=ids["7b"])) == 3  # 7 > 6: the first goes
    assert len(cache) == 1
    await resolve(GroupLearners(group=ids["7b"]))
    assert cache.hits == 1
    await resolve(GroupGuardians(group=ids["7b"]))
    assert cache.hits == 1 and cache.misses == 4
