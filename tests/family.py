"""A hand-made tenant in which every rights and audience rule has a person to
test it on (used by tests/core and tests/hub through the `family` fixture)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from uuid import UUID

import msgspec

if TYPE_CHECKING:
    from core.db import Database

FAMILY = "perhe"

#: A hand-made tenant in which every rights rule has a person to test it on.
FAMILY_ROSTER: dict[str, Any] = {
    "schools": [
        {"id": "s1", "name": "Perheen koulu", "kind": "comprehensive"},
        {"id": "s2", "name": "Toinen koulu", "kind": "comprehensive"},
    ],
    "persons": [
        {
            "id": "t1",
            "given_name": "Tiina",
            "family_name": "Opettaja",
            "username": "t1@perhe",
            "email": "tiina@example.fi",
            "roles": [{"school": "s1", "role": "teacher"}],
        },
        {
            "id": "t2",
            "given_name": "Toni",
            "family_name": "Toinen",
            "username": "t2@perhe",
            "roles": [{"school": "s1", "role": "teacher"}],
        },
        {
            "id": "t3",
            "given_name": "Terttu",
            "family_name": "Muualla",
            "username": "t3@perhe",
            "roles": [{"school": "s2", "role": "teacher"}],
        },
        {
            "id": "sec",
            "given_name": "Sari",
            "family_name": "Sihteeri",
            "username": "sec@perhe",
            "roles": [{"school": "s1", "role": "secretary"}],
        },
        {
            "id": "st",
            "given_name": "Seppo",
            "family_name": "Avustaja",
            "username": "st@perhe",
            "roles": [{"school": "s1", "role": "staff"}],
        },
        {
            "id": "l1",
            "given_name": "Lauri",
            "family_name": "Lapsi",
            "username": "l1@perhe",
            "birth_date": "2013-05-01",
            "email": "lauri@example.fi",
            "address": {"street": "Kotitie 1", "postal_code": "00100", "municipality": "Perhe"},
            "roles": [{"school": "s1", "role": "learner"}],
        },
        {
            "id": "l2",
            "given_name": "Liisa",
            "family_name": "Naapuri",
            "username": "l2@perhe",
            "birth_date": "2013-02-01",
            "roles": [{"school": "s1", "role": "learner"}],
        },
        {
            "id": "lp",
            "given_name": "Pia",
            "family_name": "Suojattu",
            "username": "lp@perhe",
            "birth_date": "2013-03-01",
            "protection_order": True,
            "email": "pia@example.fi",
            "address": {"street": "Salainen 9", "postal_code": "00990", "municipality": "Piilo"},
            "roles": [{"school": "s1", "role": "learner"}],
        },
        {
            "id": "a18",
            "given_name": "Aaro",
            "family_name": "Aikuinen",
            "username": "a18@perhe",
            "birth_date": "2008-11-24",
            "roles": [{"school": "s1", "role": "learner"}],
        },
        {
            "id": "a18c",
            "given_name": "Anni",
            "family_name": "Aikuinen",
            "username": "a18c@perhe",
            "birth_date": "2008-01-01",
            "guardians_may_see": True,
            "roles": [{"school": "s1", "role": "learner"}],
        },
        {
            "id": "g1",
            "given_name": "Gunnar",
            "family_name": "Lapsi",
            "username": "g1@perhe",
            "email": "gunnar@example.fi",
            "phone": "+358 40 1234567",
            "roles": [{"school": "s1", "role": "guardian"}],
        },
        {
            "id": "gi",
            "given_name": "Inkeri",
            "family_name": "Tieto",
            "username": "gi@perhe",
            "roles": [{"school": "s1", "role": "guardian"}],
        },
        {
            "id": "g2",
            "given_name": "Greta",
            "family_name": "Naapuri",
            "username": "g2@perhe",
            "roles": [{"school": "s1", "role": "guardian"}],
        },
        {
            "id": "gp",
            "given_name": "Paula",
            "family_name": "Suojattu",
            "username": "gp@perhe",
            "protection_order": True,
            "email": "paula@example.fi",
            "address": {"street": "Salainen 9", "postal_code": "00990", "municipality": "Piilo"},
            "roles": [{"school": "s1", "role": "guardian"}],
        },
        {
            "id": "ga",
            "given_name": "Aila",
            "family_name": "Aikuinen",
            "username": "ga@perhe",
            "roles": [{"school": "s1", "role": "guardian"}],
        },
    ],
    "groups": [
        {
            "id": "7b",
            "school": "s1",
            "name": "7B",
            "kind": "class",
            "grade": 7,
            "learners": ["l1", "l2", "lp"],
            "teachers": ["t1"],
        },
        {
            "id": "7c",
            "school": "s1",
            "name": "7C",
            "kind": "class",
            "grade": 7,
            "learners": ["a18", "a18c"],
            "teachers": ["t2"],
        },
        {
            "id": "s2-1a",
            "school": "s2",
            "name": "1A",
            "kind": "class",
            "grade": 1,
            "teachers": ["t3"],
        },
    ],
    "guardianships": [
        {"guardian": "g1", "learner": "l1", "kind": "custodial"},
        {"guardian": "gi", "learner": "l1", "kind": "information_right"},
        {"guardian": "g2", "learner": "l2", "kind": "custodial"},
        {"guardian": "gp", "learner": "lp", "kind": "custodial"},
        {"guardian": "g1", "learner": "lp", "kind": "custodial"},
        {"guardian": "ga", "learner": "a18", "kind": "custodial"},
        {"guardian": "ga", "learner": "a18c", "kind": "custodial"},
    ],
}


async def import_tenant(
    db: Database, slug: str, name: str, roster: dict[str, Any]
) -> tuple[UUID, dict[str, UUID]]:
    """A tenant with `roster` imported; returns its id and external id ->
    person/group/school id."""
    from core import actions

    tenant = await actions.ensure_tenant(db, slug, name, "municipality")
    await actions.import_roster_bytes(db, tenant, msgspec.json.encode(roster))
    async with db.tenant(tenant) as conn:
        rows = await conn.fetch(
            "SELECT external_id, id FROM persons UNION ALL SELECT external_id, id FROM groups "
            "UNION ALL SELECT external_id, id FROM schools"
        )
    return tenant, {r["external_id"]: r["id"] for r in rows}
