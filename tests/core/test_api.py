"""The HTTP API: tokens required, errors as JSON with a code, and the roster read rights."""

from __future__ import annotations

import re
import uuid
from datetime import timedelta
from typing import Any

import asyncpg
import httpx
import pytest
from litestar import Litestar

from core import actions
from core.api import PUBLIC_V1_PATHS, Services, create_app
from core.auth import TokenIssuer
from core.clock import FixedClock
from core.config import Settings
from core.db import Database
from tests.conftest import TEST_NOW, asgi_client, login, replace
from tests.family import FAMILY, FAMILY_ROSTER


async def as_(client: httpx.AsyncClient, username: str) -> dict[str, str]:
    return await login(client, f"{username}@{FAMILY}")


async def test_health_ready_metrics_openapi(client: httpx.AsyncClient) -> None:
    """Ops endpoints answer without a token; metrics count requests."""
    assert (await client.get("/health")).json() == {"status": "ok"}
    assert (await client.get("/ready")).json() == {"status": "ready"}
    spec = (await client.get("/schema/openapi.json")).json()
    assert "/v1/me" in spec["paths"] and "/v1/roster" in spec["paths"]
    body = (await client.get("/metrics")).text
    assert "reppu_http_requests_total" in body and "reppu_db_pool_connections" in body


async def test_every_v1_route_requires_a_token(client: httpx.AsyncClient, app: Litestar) -> None:
    """Each /v1 route but dev-login answers 401 with a JSON code without a valid token."""
    from litestar.routes import HTTPRoute

    routes = [r for r in app.routes if r.path.startswith("/v1") and isinstance(r, HTTPRoute)]
    assert len(routes) >= 12
    for route in routes:
        path = re.sub(r"\{\w+:uuid\}", str(uuid.uuid4()), route.path)
        for method in sorted(route.methods - {"OPTIONS", "HEAD"}):
            if path in PUBLIC_V1_PATHS:
                continue
            r = await client.request(method, path)
            assert r.status_code == 401, (method, path)
            assert r.json()["code"] == "token_required"
            r = await client.request(method, path, headers={"Authorization": "Bearer x.y.z"})
            assert r.status_code == 401 and r.json()["code"] == "invalid_token", (method, path)


async def test_dev_login_unknown_user(client: httpx.AsyncClient) -> None:
    """An unknown username is a 401 with code unknown_login."""
    r = await client.post("/v1/auth/dev-login", json={"username": "nobody@kuusikko"})
    assert r.status_code == 401 and r.json()["code"] == "unknown_login"
    r = await client.post("/v1/auth/dev-login", json={"user": "x"})
    assert r.status_code == 400 and r.json()["code"] == "invalid_request"


async def test_dev_login_works_for_each_demo_role(
    client: httpx.AsyncClient, demo: dict[str, list[str]]
) -> None:
    """A learner, a guardian and a teacher of the demo log in and see themselves."""
    for role in ("learner", "guardian", "teacher", "principal", "secretary"):
        headers = await login(client, demo[role][0])
        me = (await client.get("/v1/me", headers=headers)).json()
        assert role in {r["role"] for r in me["person"]["roles"]}
        assert me["tenant"]["slug"] == "kuusikko"


async def test_dev_login_disabled(db: Database, settings: Settings, clock: FixedClock) -> None:
    """Without REPPU_DEV_LOGIN the route answers 404 dev_login_disabled."""
    app = create_app(Services(replace(settings, dev_login=False), db, clock))
    async with asgi_client(app) as c:
        r = await c.post("/v1/auth/dev-login", json={"username": "t1@perhe"})
    assert r.status_code == 404 and r.json()["code"] == "dev_login_disabled"


async def test_expired_token(
    client: httpx.AsyncClient, settings: Settings, family: dict[str, uuid.UUID]
) -> None:
    """A token past its expiry is refused with token_expired."""
    old = FixedClock(TEST_NOW - timedelta(hours=2))
    issuer = TokenIssuer(settings, old)
    token = issuer._encode(
        sub=str(family["g1"]),
        tenant_id=actions.tenant_id_for(FAMILY),
        kind="person",
        roles=[],
        scopes=[],
        amr=["dev"],
        ttl=timedelta(minutes=15),
    )
    r = await client.get("/v1/me", headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 401 and r.json()["code"] == "token_expired"


async def test_guardian_sees_own_children_only(
    client: httpx.AsyncClient, family: dict[str, uuid.UUID]
) -> None:
    """A guardian sees their children (no address) and gets 404 for another family's child."""
    h = await as_(client, "g1")
    me = (await client.get("/v1/me", headers=h)).json()
    assert {c["id"] for c in me["children"]} == {str(family["l1"]), str(family["lp"])}
    child = (await client.get(f"/v1/persons/{family['l1']}", headers=h)).json()
    assert child["given_name"] == "Lauri" and child["birth_date"] == "2013-05-01"
    assert "address" not in child and "protection_order" not in child
    r = await client.get(f"/v1/persons/{family['l2']}", headers=h)
    assert r.status_code == 404 and r.json()["code"] == "not_found"
    r = await client.get(f"/v1/persons/{uuid.uuid4()}", headers=h)
    assert r.status_code == 404


async def test_guardian_sees_childs_group_without_classmates(
    client: httpx.AsyncClient, family: dict[str, uuid.UUID]
) -> None:
    """A guardian sees the child's class and its teachers, not the classmates; other groups 404."""
    h = await as_(client, "g2")
    group = (await client.get(f"/v1/groups/{family['7b']}", headers=h)).json()
    assert group["name"] == "7B" and group["learners"] is None
    assert [t["given_name"] for t in group["teachers"]] == ["Tiina"]
    assert (await client.get(f"/v1/groups/{family['7c']}", headers=h)).status_code == 404
    names = [g["name"] for g in (await client.get("/v1/groups", headers=h)).json()]
    assert names == ["7B"]


async def test_information_right_guardian_sees_child(
    client: httpx.AsyncClient, family: dict[str, uuid.UUID]
) -> None:
    """A guardian with information right only sees the child, with that kind."""
    h = await as_(client, "gi")
    me = (await client.get("/v1/me", headers=h)).json()
    assert me["children"] == [
        {
            "id": str(family["l1"]),
            "given_name": "Lauri",
            "family_name": "Lapsi",
            "kind": "information_right",
        }
    ]


async def test_adult_learner_decides(
    client: httpx.AsyncClient, family: dict[str, uuid.UUID]
) -> None:
    """A guardian of an 18-year-old sees them only with the learner's consent."""
    h = await as_(client, "ga")
    me = (await client.get("/v1/me", headers=h)).json()
    assert [c["given_name"] for c in me["children"]] == ["Anni"]
    assert (await client.get(f"/v1/persons/{family['a18']}", headers=h)).status_code == 404
    assert (await client.get(f"/v1/persons/{family['a18c']}", headers=h)).status_code == 200


async def test_teacher_sees_own_groups(
    client: httpx.AsyncClient, family: dict[str, uuid.UUID]
) -> None:
    """A teacher lists the learners of own groups, sees their guardians' contact points,
    and gets 404 for learners they do not teach."""
    h = await as_(client, "t1")
    group = (await client.get(f"/v1/groups/{family['7b']}", headers=h)).json()
    assert {x["given_name"] for x in group["learners"]} == {"Lauri", "Liisa", "Pia"}
    guardian = (await client.get(f"/v1/persons/{family['g1']}", headers=h)).json()
    assert guardian["email"] == "gunnar@example.fi" and "address" not in guardian
    assert (await client.get(f"/v1/persons/{family['a18']}", headers=h)).status_code == 404
    assert (await client.get(f"/v1/groups/{family['7c']}", headers=h)).status_code == 404
    colleague = (await client.get(f"/v1/persons/{family['t2']}", headers=h)).json()
    assert colleague["given_name"] == "Toni" and "email" not in colleague
    assert (await client.get(f"/v1/persons/{family['t3']}", headers=h)).status_code == 404


async def test_protected_address_only_for_authorised_staff(
    client: httpx.AsyncClient, family: dict[str, uuid.UUID]
) -> None:
    """A protected learner's address reaches the secretary only: not the teacher, not the
    other guardian, not other staff."""
    sec = (await client.get(f"/v1/persons/{family['lp']}", headers=await as_(client, "sec"))).json()
    assert sec["address"]["street"] == "Salainen 9" and sec["protection_order"] is True
    for viewer in ("t1", "g1", "st"):
        seen = (
            await client.get(f"/v1/persons/{family['lp']}", headers=await as_(client, viewer))
        ).json()
        assert "address" not in seen and "protection_order" not in seen, viewer
        assert "Salainen" not in str(seen) and "Piilo" not in str(seen), viewer
    # the other custodial guardian sees the child but not the child's contact points
    seen = (await client.get(f"/v1/persons/{family['lp']}", headers=await as_(client, "g1"))).json()
    assert "email" not in seen
    # nor the protected co-guardian at all
    assert (
        await client.get(f"/v1/persons/{family['gp']}", headers=await as_(client, "g1"))
    ).status_code == 404


async def test_school_staff_see_their_school(
    client: httpx.AsyncClient, family: dict[str, uuid.UUID]
) -> None:
    """Other staff list every group of their school, with learners, but no addresses."""
    h = await as_(client, "st")
    names = sorted(g["name"] for g in (await client.get("/v1/groups", headers=h)).json())
    assert names == ["7B", "7C"]
    learner = (await client.get(f"/v1/persons/{family['l1']}", headers=h)).json()
    assert "address" not in learner
    schools = (await client.get("/v1/schools", headers=h)).json()
    assert [s["name"] for s in schools] == ["Perheen koulu"]


async def test_other_tenant_is_invisible(
    client: httpx.AsyncClient, family: dict[str, uuid.UUID], demo: dict[str, list[str]]
) -> None:
    """A demo tenant's secretary gets 404 for every person and group of another tenant."""
    h = await login(client, demo["secretary"][0])
    for key in ("l1", "g1", "t1", "7b"):
        kind = "groups" if key == "7b" else "persons"
        r = await client.get(f"/v1/{kind}/{family[key]}", headers=h)
        assert r.status_code == 404, key
    schools = (await client.get("/v1/schools", headers=h)).json()
    assert "Perheen koulu" not in {s["name"] for s in schools}


async def test_reads_of_child_data_are_audited(
    client: httpx.AsyncClient, db: Database, family: dict[str, uuid.UUID]
) -> None:
    """Reading a learner writes who, role, object, time and purpose to the audit log."""
    h = await as_(client, "t1")
    await client.get(f"/v1/persons/{family['l2']}", headers=h)
    async with db.tenant(actions.tenant_id_for(FAMILY)) as conn:
        row = await conn.fetchrow(
            "SELECT * FROM audit_log WHERE object_id = $1 AND actor_id = $2 ORDER BY id DESC",
            family["l2"],
            family["t1"],
        )
    assert row is not None
    assert row["actor_roles"] == ["teacher"] and row["purpose"] == "view_person"
    assert row["action"] == "read" and row["object_type"] == "person"


async def test_audit_log_is_append_only(db: Database, family: dict[str, uuid.UUID]) -> None:
    """The application role can insert into the audit log but neither update nor delete."""
    tenant = actions.tenant_id_for(FAMILY)
    for sql in (
        "UPDATE audit_log SET purpose = 'x'",
        "DELETE FROM audit_log",
        "TRUNCATE audit_log",
    ):
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            async with db.tenant(tenant) as conn:
                await conn.execute(sql)


@pytest.fixture(scope="module")
async def roster_token(
    settings: Settings, clock: FixedClock, family: dict[str, uuid.UUID]
) -> dict[str, str]:
    token = TokenIssuer(settings, clock).issue_service(
        actions.tenant_id_for(FAMILY), "sis", ["roster:import"]
    )
    return {"Authorization": f"Bearer {token}"}


async def test_roster_post_needs_scope(
    client: httpx.AsyncClient, family: dict[str, uuid.UUID]
) -> None:
    """A person's token cannot import a roster (403 scope_required)."""
    r = await client.post("/v1/roster", json=FAMILY_ROSTER, headers=await as_(client, "sec"))
    assert r.status_code == 403 and r.json()["code"] == "scope_required"


async def test_roster_post_reports_every_bad_row_and_applies_nothing(
    client: httpx.AsyncClient, db: Database, roster_token: dict[str, str]
) -> None:
    """A document with bad rows is refused whole: 422, each bad row with path and reason."""
    doc = {
        "persons": [
            {
                "id": "new1",
                "given_name": "Uusi",
                "family_name": "Oppilas",
                "birth_date": "2014-01-01",
                "roles": [{"school": "s1", "role": "learner"}],
            },
            {"id": "bad one", "given_name": "X", "family_name": "Y", "roles": []},
            {"id": "new2", "given_name": "", "family_name": "Y", "roles": []},
            {
                "id": "new3",
                "given_name": "Z",
                "family_name": "Y",
                "username": "z@kuusikko",
                "roles": [{"school": "nope", "role": "teacher"}],
            },
        ],
        "groups": [
            {
                "id": "7b",
                "school": "s1",
                "name": "7B",
                "kind": "class",
                "learners": ["new1", "ghost"],
                "teachers": ["t1"],
            }
        ],
        "guardianships": [{"guardian": "g1", "learner": "t1", "kind": "custodial"}],
    }
    r = await client.post("/v1/roster", json=doc, headers=roster_token)
    assert r.status_code == 422 and r.json()["code"] == "roster_invalid"
    paths = {d["path"] for d in r.json()["details"]}
    assert paths == {
        "persons[1].id",
        "persons[2].given_name",
        "persons[3].username",
        "persons[3].roles[0].school",
        "groups[0].learners[1]",
        "guardianships[0].learner",
    }
    async with db.tenant(actions.tenant_id_for(FAMILY)) as conn:
        assert await conn.fetchval("SELECT count(*) FROM persons WHERE external_id = 'new1'") == 0


async def test_roster_post_is_idempotent(
    client: httpx.AsyncClient, db: Database, roster_token: dict[str, str]
) -> None:
    """The same document twice leaves the same rows; changes are upserts."""
    tenant = actions.tenant_id_for(FAMILY)

    async def snapshot() -> list[Any]:
        async with db.tenant(tenant) as conn:
            return [
                await conn.fetchval(f"SELECT count(*) FROM {t}")
                for t in (
                    "persons",
                    "person_roles",
                    "groups",
                    "group_learners",
                    "guardianships",
                    "logins",
                )
            ]

    before = await snapshot()
    for _ in range(2):
        r = await client.post("/v1/roster", json=FAMILY_ROSTER, headers=roster_token)
        assert r.status_code == 200, r.text
        assert r.json()["persons"] == len(FAMILY_ROSTER["persons"])
        assert await snapshot() == before


async def test_request_body_limit(
    db: Database, settings: Settings, clock: FixedClock, roster_token: dict[str, str]
) -> None:
    """A body over REPPU_MAX_BODY_BYTES is refused with 413 payload_too_large."""
    app = create_app(Services(replace(settings, max_body_bytes=1024), db, clock))
    async with asgi_client(app) as c:
        r = await c.post("/v1/roster", content=b"{" + b" " * 5000 + b"}", headers=roster_token)
    assert r.status_code == 413 and r.json()["code"] == "payload_too_large"


async def test_framework_errors_are_json_with_a_code(
    client: httpx.AsyncClient, family: dict[str, uuid.UUID]
) -> None:
    """Unknown routes, wrong methods and bad parameters answer JSON with a stable code."""
    r = await client.get("/v1/nowhere", headers=await login(client, "t1@perhe"))
    assert r.status_code == 404 and r.json()["code"] == "not_found"
    r = await client.delete("/health")
    assert r.status_code == 405 and r.json()["code"] == "method_not_allowed"
    r = await client.get("/v1/groups?school=not-a-uuid", headers=await login(client, "t1@perhe"))
    assert r.status_code == 400 and r.json()["code"] == "invalid_request"
    r = await client.post("/v1/auth/dev-login", content=b"{not json")
    assert r.status_code == 400 and r.json()["code"] == "invalid_request"


async def test_dev_logins_lists_demo_users(client: httpx.AsyncClient) -> None:
    """With dev login on, the demo's sample logins per role are listed without a token."""
    r = await client.get("/v1/auth/dev-logins")
    assert r.status_code == 200
    assert set(r.json()["kuusikko"]) == {"learner", "guardian", "teacher", "principal", "secretary"}
    assert all(u.endswith("@koivula") for us in r.json()["koivula"].values() for u in us)
