"""The only place that changes core state: tenants, roster imports, and the
audit rows written by every read of a child's data.

Each function takes the `Database` and does its work in one tenant
transaction; a read that shows a learner's data writes its audit row in the
same transaction, so there is no read without its row.
"""

from __future__ import annotations

import logging
from datetime import date
from uuid import UUID, uuid5

import asyncpg

from core import store
from core.auth import Principal
from core.db import Connection, Database
from core.errors import NotFound, RosterInvalid
from core.model import (
    STAFF_ROLES,
    Address,
    Child,
    Group,
    GroupRef,
    Me,
    Person,
    PersonRole,
    PersonSummary,
    RosterDocument,
    RosterProblem,
    RosterResult,
    School,
    Tenant,
)
from core.rights import Relation, group_learners_visible, guardian_may_see, person_fields
from core.roster import Parsed, check, parse

log = logging.getLogger("reppu.core")

#: Namespace for tenant ids derived from slugs: the same slug is the same
#: tenant on every node and in every seed run.
TENANT_NAMESPACE = UUID("6f1e0c8e-6a57-4d4e-9b0e-2f7f3c1d0a11")


def tenant_id_for(slug: str) -> UUID:
    return uuid5(TENANT_NAMESPACE, slug)


async def ensure_tenant(db: Database, slug: str, name: str, kind: str) -> UUID:
    tenant_id = tenant_id_for(slug)
    async with db.tenant(tenant_id) as conn:
        await store.upsert_tenant(conn, tenant_id, slug, name, kind)
    return tenant_id


async def find_tenant(db: Database, slug: str) -> UUID | None:
    async with db.global_tx() as conn:
        return await store.find_tenant(conn, slug)


# ---- roster ------------------------------------------------------------------------------


async def import_roster_bytes(db: Database, tenant_id: UUID, raw: bytes) -> RosterResult:
    parsed = parse(raw)
    return await import_roster(db, tenant_id, parsed.doc, parsed)


async def import_roster(
    db: Database,
    tenant_id: UUID,
    doc: RosterDocument,
    parsed: Parsed | None = None,
) -> RosterResult:
    """Validate the whole document against itself and the database, then apply
    it in the same transaction — or apply nothing and list every problem
    (including those `parsed` found while decoding it)."""
    problems = list(parsed.problems) if parsed else []
    bad_ids = parsed.bad_ids if parsed else frozenset()
    async with db.tenant(tenant_id) as conn:
        tenant = await store.get_tenant(conn)
        if tenant is None:
            raise NotFound("tenant not found")
        known = await store.known_for(conn, doc)
        found = check(doc, tenant_slug=tenant["slug"], known=known, bad_ids=bad_ids)
        found += [
            RosterProblem(
                path=f"persons[{i}].username", reason=f"{name!r} belongs to another person"
            )
            for i, name in await store.username_clashes(conn, doc)
        ]
        problems += parsed.renumber(found) if parsed else found
        problems.sort(key=_problem_order)
        if problems:
            raise RosterInvalid(
                f"{len(problems)} bad rows; nothing was applied",
                details=[{"path": p.path, "reason": p.reason} for p in problems],
            )
        result = await store.apply_roster(conn, tenant_id, doc)
    log.info(
        "roster imported: %d schools, %d persons, %d groups, %d guardianships",
        result.schools,
        result.persons,
        result.groups,
        result.guardianships,
    )
    return result


def _problem_order(p: RosterProblem) -> tuple[int, int, str]:
    section, _, rest = p.path.partition("[")
    index = rest.partition("]")[0]
    order = ("schools", "persons", "groups", "guardianships")
    return (
        order.index(section) if section in order else -1,
        int(index) if index.isdigit() else -1,
        p.path,
    )


# ---- reads (audited) ---------------------------------------------------------------------


async def audit_read(
    conn: Connection, who: Principal, object_type: str, ids: list[UUID], purpose: str
) -> None:
    """`who` read these objects (learners' data): a row in the append-only audit_log.
    Modules use it too."""
    await store.insert_audit(
        conn,
        who.tenant_id,
        actor_id=who.person_id,
        actor_kind=who.kind,
        actor_roles=sorted(who.role_names),
        action="read",
        object_type=object_type,
        object_ids=ids,
        purpose=purpose,
    )


async def _staff_schools(conn: Connection, person_id: UUID, roles: frozenset[str]) -> list[UUID]:
    return [r["school_id"] for r in await store.roles_of(conn, person_id) if r["role"] in roles]


async def me(db: Database, who: Principal, today: date) -> Me:
    pid = who.require_person()
    async with db.tenant(who.tenant_id) as conn:
        tenant = await store.get_tenant(conn)
        row = await store.person(conn, pid)
        if tenant is None or row is None:
            raise NotFound("person not found")
        roles = await store.roles_of(conn, pid)
        kids = [
            k
            for k in await store.children(conn, pid)
            if guardian_may_see(k["birth_date"], k["guardians_may_see"], today)
        ]
        groups = await store.groups_of(conn, [pid, *(k["id"] for k in kids)])
        learner_ids = [k["id"] for k in kids]
        if any(r["role"] == "learner" for r in roles):
            learner_ids.append(pid)
        await audit_read(conn, who, "person", learner_ids, "own_profile")
    return Me(
        tenant=Tenant(
            id=tenant["id"], slug=tenant["slug"], name=tenant["name"], kind=tenant["kind"]
        ),
        person=_person_view(
            row,
            [PersonRole(school_id=r["school_id"], role=r["role"]) for r in roles],
            person_fields(
                Relation(
                    is_self=True, person_is_learner=any(r["role"] == "learner" for r in roles)
                ),
                today,
            ),
        ),
        children=[
            Child(
                id=k["id"], given_name=k["given_name"], family_name=k["family_name"], kind=k["kind"]
            )
            for k in kids
        ],
        groups=[_group_ref(g) for g in groups],
    )


async def view_person(db: Database, who: Principal, person_id: UUID, today: date) -> Person:
    viewer = who.require_person()
    async with db.tenant(who.tenant_id) as conn:
        row = await store.person(conn, person_id)
        if row is None:
            raise NotFound("person not found")
        facts = await store.relation_facts(conn, viewer, person_id)
        rel = Relation(
            is_self=viewer == person_id,
            protection_order=row["protection_order"],
            birth_date=row["birth_date"],
            guardians_may_see=row["guardians_may_see"],
            **dict(facts),
        )
        fields = person_fields(rel, today)
        if not fields:
            raise NotFound("person not found")
        roles = (
            [
                PersonRole(school_id=r["school_id"], role=r["role"])
                for r in await store.roles_of(conn, person_id)
            ]
            if "roles" in fields
            else []
        )
        if rel.person_is_learner:
            await audit_read(conn, who, "person", [person_id], "view_person")
    return _person_view(row, roles, fields)


def _person_view(row: asyncpg.Record, roles: list[PersonRole], fields: frozenset[str]) -> Person:
    get = row.__getitem__
    return Person(
        id=get("id"),
        given_name=get("given_name"),
        family_name=get("family_name"),
        language=get("language"),
        roles=roles,
        email=get("email") if "email" in fields else None,
        phone=get("phone") if "phone" in fields else None,
        address=Address(
            street=get("street_address"),
            postal_code=get("postal_code"),
            municipality=get("municipality"),
        )
        if "address" in fields
        else None,
        birth_date=get("birth_date") if "birth_date" in fields else None,
        protection_order=get("protection_order") if "protection_order" in fields else None,
        guardians_may_see=get("guardians_may_see") if "guardians_may_see" in fields else None,
    )


def _group_ref(g: asyncpg.Record) -> GroupRef:
    get = g.__getitem__
    return GroupRef(
        id=get("id"),
        school_id=get("school_id"),
        name=get("name"),
        kind=get("kind"),
        grade=get("grade"),
        subject=get("subject"),
    )


async def visible_groups(
    db: Database, who: Principal, today: date, school_id: UUID | None = None
) -> list[GroupRef]:
    """Own groups (learner, teacher), children's groups (guardian), and every
    group of the schools where the viewer is principal, secretary or staff."""
    pid = who.require_person()
    async with db.tenant(who.tenant_id) as conn:
        kids = [
            k["id"]
            for k in await store.children(conn, pid)
            if guardian_may_see(k["birth_date"], k["guardians_may_see"], today)
        ]
        rows = {r["id"]: r for r in await store.groups_of(conn, [pid, *kids])}
        staff_at = await _staff_schools(conn, pid, STAFF_ROLES - {"teacher"})
        rows |= {r["id"]: r for r in await store.groups_of_schools(conn, staff_at)}
    groups = [_group_ref(r) for r in rows.values()]
    if school_id is not None:
        groups = [g for g in groups if g.school_id == school_id]
    return sorted(groups, key=lambda g: (g.name, str(g.id)))


async def view_group(db: Database, who: Principal, group_id: UUID, today: date) -> Group:
    pid = who.require_person()
    async with db.tenant(who.tenant_id) as conn:
        row = await store.group(conn, group_id)
        if row is None:
            raise NotFound("group not found")
        teachers = await store.group_people(conn, group_id, "group_teachers", "teacher_id")
        learners = await store.group_people(conn, group_id, "group_learners", "learner_id")
        learner_ids = {r["id"] for r in learners}
        teaches = any(t["id"] == pid for t in teachers)
        staff = row["school_id"] in await _staff_schools(conn, pid, STAFF_ROLES - {"teacher"})
        kids = {
            k["id"]
            for k in await store.children(conn, pid)
            if guardian_may_see(k["birth_date"], k["guardians_may_see"], today)
        }
        member = pid in learner_ids or bool(kids & learner_ids)
        if not (teaches or staff or member):
            raise NotFound("group not found")
        show = group_learners_visible(teaches_group=teaches, school_staff=staff)
        if show:
            await audit_read(conn, who, "group", [group_id], "list_group_learners")
    return Group(
        id=row["id"],
        school_id=row["school_id"],
        name=row["name"],
        kind=row["kind"],
        grade=row["grade"],
        subject=row["subject"],
        teachers=[
            PersonSummary(id=t["id"], given_name=t["given_name"], family_name=t["family_name"])
            for t in teachers
        ],
        learners=[
            PersonSummary(id=x["id"], given_name=x["given_name"], family_name=x["family_name"])
            for x in learners
        ]
        if show
        else None,
    )


async def visible_schools(db: Database, who: Principal) -> list[School]:
    pid = who.require_person()
    async with db.tenant(who.tenant_id) as conn:
        ids = sorted({r["school_id"] for r in await store.roles_of(conn, pid)})
        rows = await store.schools(conn, ids)
    return [
        School(
            id=r["id"],
            external_id=r["external_id"],
            name=r["name"],
            kind=r["kind"],
            language=r["language"],
        )
        for r in rows
    ]
