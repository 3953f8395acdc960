"""The planning tests' own tenant, `kalliola`, and their helpers.

Kallion koulu (k1): class 5A (l01…l24, teacher `ope`), 5B (m1, teacher
`ope2`), an upper-secondary group `abi` (the adult learner `aikuinen`, 18,
taught by `ope`); principal `rehtori`, secretary `sihteeri`. Every lNN has a
custodial guardian hNN; l01…l09 a second one, hNNb; l01 also a guardian with
information right only, h01i. Mäen koulu (k2): class 1A (x1, guardian hx,
teacher `muu`). A tenant of their own: the races need more learners than
`perhe` has, and nobody else's inbox is touched."""

from __future__ import annotations

import itertools
from typing import Any
from uuid import UUID

import httpx
import msgspec

from core import actions
from core.db import Database
from tests.conftest import login

TENANT = "kalliola"
LEARNERS = [f"l{i:02d}" for i in range(1, 25)]
Ids = dict[str, UUID]


def _person(pid: str, given: str, family: str, role: str, school: str = "k1", **kw: Any) -> Any:
    return {
        "id": pid,
        "given_name": given,
        "family_name": family,
        "username": f"{pid}@{TENANT}",
        "roles": [{"school": school, "role": role}],
        **kw,
    }


def _group(gid: str, school: str, name: str, learners: list[str], teacher: str) -> Any:
    return {
        "id": gid,
        "school": school,
        "name": name,
        "kind": "class",
        "learners": learners,
        "teachers": [teacher],
    }


def roster() -> dict[str, Any]:
    kid = {"birth_date": "2015-03-01"}
    persons = [
        _person("ope", "Olli", "Opettaja", "teacher"),
        _person("ope2", "Outi", "Toinen", "teacher"),
        _person("rehtori", "Reija", "Rehtori", "principal"),
        _person("sihteeri", "Sanna", "Sihteeri", "secretary"),
        _person("muu", "Mauri", "Muualla", "teacher", "k2"),
        *(_person(x, "Oppilas", x.upper(), "learner", **kid) for x in LEARNERS),
        *(_person(f"h{x[1:]}", "Huoltaja", x.upper(), "guardian") for x in LEARNERS),
        *(_person(f"h{x[1:]}b", "Toinen", x.upper(), "guardian") for x in LEARNERS[:9]),
        _person("h01i", "Tieto", "L01", "guardian"),
        _person("m1", "Mikko", "Beeluokka", "learner", **kid),
        _person("hm1", "Maija", "Beeluokka", "guardian"),
        _person("aikuinen", "Aino", "Aikuinen", "learner", birth_date="2007-01-01"),
        _person("ha", "Harri", "Aikuinen", "guardian"),
        _person("x1", "Xenia", "Muualla", "learner", "k2", **kid),
        _person("hx", "Hanna", "Muualla", "guardian", "k2"),
    ]
    custodial = [
        *((f"h{x[1:]}", x) for x in LEARNERS),
        *((f"h{x[1:]}b", x) for x in LEARNERS[:9]),
        ("hm1", "m1"),
        ("ha", "aikuinen"),
        ("hx", "x1"),
    ]
    return {
        "schools": [
            {"id": "k1", "name": "Kallion koulu", "kind": "comprehensive"},
            {"id": "k2", "name": "Mäen koulu", "kind": "primary"},
        ],
        "persons": persons,
        "groups": [
            _group("5a", "k1", "5A", LEARNERS, "ope"),
            _group("5b", "k1", "5B", ["m1"], "ope2"),
            _group("abi", "k1", "Abit", ["aikuinen"], "ope"),
            _group("1a", "k2", "1A", ["x1"], "muu"),
        ],
        "guardianships": [
            *({"guardian": g, "learner": x, "kind": "custodial"} for g, x in custodial),
            {"guardian": "h01i", "learner": "l01", "kind": "information_right"},
        ],
    }


async def ensure_school(db: Database) -> Ids:
    """The tenant (an upsert: each test module may call it); external id → id."""
    tenant = await actions.ensure_tenant(db, TENANT, "Kallion kunta", "municipality")
    await actions.import_roster_bytes(db, tenant, msgspec.json.encode(roster()))
    async with db.tenant(tenant) as conn:
        rows = await conn.fetch(
            "SELECT external_id, id FROM persons UNION ALL SELECT external_id, id FROM groups "
            "UNION ALL SELECT external_id, id FROM schools"
        )
    return {r["external_id"]: r["id"] for r in rows}


async def h(client: httpx.AsyncClient, who: str) -> dict[str, str]:
    """A fresh login (tests move the clock, so tokens are not kept)."""
    return await login(client, f"{who}@{TENANT}")


async def inbox(client: httpx.AsyncClient, who: str) -> list[dict[str, Any]]:
    """The messages in a person's inbox."""
    r = await client.get("/v1/inbox", params={"limit": 500}, headers=await h(client, who))
    assert r.status_code == 200, r.text
    return [i["message"] for i in r.json()["items"]]


async def received(client: httpx.AsyncClient, who: str, subject: str) -> int:
    """How many messages with this subject the person has."""
    return sum(1 for m in await inbox(client, who) if m["subject"] == subject)


_n = itertools.count(1)


def title(prefix: str) -> str:
    """A title no other test uses (subjects of notifications quote it)."""
    return f"{prefix} {next(_n)}"
