"""Audience resolution, rule by rule (hub/audience.py): who receives, and who may send."""

from __future__ import annotations

from uuid import UUID

import httpx

from core.db import Database
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
