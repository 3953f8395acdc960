"""SQL for the school domain. Every function takes a connection that is
already inside a tenant transaction (`Database.tenant`); none of them sets or
checks the tenant — row-level security does."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from uuid import UUID

import asyncpg

from core.db import Connection
from core.model import RosterDocument, RosterResult
from core.roster import Known

# ---- tenants -----------------------------------------------------------------------------


async def upsert_tenant(conn: Connection, tenant_id: UUID, slug: str, name: str, kind: str) -> None:
    await conn.execute(
        "INSERT INTO tenants (id, slug, name, kind) VALUES ($1, $2, $3, $4) "
        "ON CONFLICT (id) DO UPDATE SET name = excluded.name, kind = excluded.kind",
        tenant_id,
        slug,
        name,
        kind,
    )


async def find_tenant(conn: Connection, slug: str) -> UUID | None:
    """Tenant id by slug, across tenants (SECURITY DEFINER lookup)."""
    value: UUID | None = await conn.fetchval("SELECT reppu_find_tenant($1)", slug)
    return value


async def get_tenant(conn: Connection) -> asyncpg.Record | None:
    return await conn.fetchrow("SELECT id, slug, name, kind FROM tenants")


# ---- roster ------------------------------------------------------------------------------


async def known_for(conn: Connection, doc: RosterDocument) -> Known:
    """The database's side of a document's cross-references: schools and
    persons it refers to but does not itself contain."""
    in_doc_schools = {s.id for s in doc.schools}
    in_doc_persons = {p.id for p in doc.persons}
    school_refs = {r.school for p in doc.persons for r in p.roles} | {g.school for g in doc.groups}
    person_refs = {pid for g in doc.groups for pid in (*g.learners, *g.teachers)}
    person_refs |= {x for gs in doc.guardianships for x in (gs.guardian, gs.learner)}
    school_rows = await conn.fetch(
        "SELECT external_id FROM schools WHERE external_id = ANY($1)",
        sorted(school_refs - in_doc_schools),
    )
    person_rows = await conn.fetch(
        "SELECT p.external_id, coalesce(array_agg(r.role) FILTER (WHERE r.role IS NOT NULL), "
        "'{}') AS roles FROM persons p LEFT JOIN person_roles r ON r.person_id = p.id "
        "WHERE p.external_id = ANY($1) GROUP BY p.external_id",
        sorted(person_refs - in_doc_persons),
    )
    return Known(
        schools=frozenset(r["external_id"] for r in school_rows),
        person_roles={r["external_id"]: frozenset(r["roles"]) for r in person_rows},
    )


async def username_clashes(conn: Connection, doc: RosterDocument) -> list[tuple[int, str]]:
    """Usernames in the document already held by another person of the tenant."""
    wanted = {p.username: (i, p.id) for i, p in enumerate(doc.persons) if p.username}
    if not wanted:
        return []
    rows = await conn.fetch(
        "SELECT l.subject, p.external_id FROM logins l JOIN persons p ON p.id = l.person_id "
        "WHERE l.provider = 'reppu' AND l.subject = ANY($1)",
        list(wanted),
    )
    return [
        (wanted[r["subject"]][0], r["subject"])
        for r in rows
        if wanted[r["subject"]][1] != r["external_id"]
    ]


async def _id_map(conn: Connection, table: str, external_ids: Sequence[str]) -> dict[str, UUID]:
    rows = await conn.fetch(
        f"SELECT external_id, id FROM {table} WHERE external_id = ANY($1)", list(external_ids)
    )
    return {r["external_id"]: r["id"] for r in rows}


async def apply_roster(conn: Connection, tenant_id: UUID, doc: RosterDocument) -> RosterResult:
    """Write a validated document (see RosterDocument for the semantics)."""
    t = tenant_id
    if doc.schools:
        await conn.execute(
            "INSERT INTO schools (tenant_id, external_id, name, kind, language) "
            "SELECT $1, * FROM unnest($2::text[], $3::text[], $4::text[], $5::text[]) "
            "ON CONFLICT (tenant_id, external_id) DO UPDATE SET name = excluded.name, "
            "kind = excluded.kind, language = excluded.language, updated_at = now()",
            t,
            [s.id for s in doc.schools],
            [s.name for s in doc.schools],
            [s.kind for s in doc.schools],
            [s.language for s in doc.schools],
        )
    if doc.persons:
        ps = doc.persons
        await conn.execute(
            "INSERT INTO persons (tenant_id, external_id, given_name, family_name, language, "
            "email, phone, street_address, postal_code, municipality, protection_order, "
            "birth_date, guardians_may_see) SELECT $1, * FROM unnest($2::text[], $3::text[], "
            "$4::text[], $5::text[], $6::text[], $7::text[], $8::text[], $9::text[], "
            "$10::text[], $11::bool[], $12::date[], $13::bool[]) "
            "ON CONFLICT (tenant_id, external_id) DO UPDATE SET "
            "given_name = excluded.given_name, family_name = excluded.family_name, "
            "language = excluded.language, email = excluded.email, phone = excluded.phone, "
            "street_address = excluded.street_address, postal_code = excluded.postal_code, "
            "municipality = excluded.municipality, protection_order = excluded.protection_order, "
            "birth_date = excluded.birth_date, guardians_may_see = excluded.guardians_may_see, "
            "updated_at = now()",
            t,
            [p.id for p in ps],
            [p.given_name for p in ps],
            [p.family_name for p in ps],
            [p.language for p in ps],
            [p.email for p in ps],
            [p.phone for p in ps],
            [p.address.street if p.address else None for p in ps],
            [p.address.postal_code if p.address else None for p in ps],
            [p.address.municipality if p.address else None for p in ps],
            [p.protection_order for p in ps],
            [p.birth_date for p in ps],
            [p.guardians_may_see for p in ps],
        )

    school_refs = {s.id for s in doc.schools} | {r.school for p in doc.persons for r in p.roles}
    school_refs |= {g.school for g in doc.groups}
    schools = await _id_map(conn, "schools", sorted(school_refs))
    person_refs = {p.id for p in doc.persons}
    person_refs |= {x for g in doc.groups for x in (*g.learners, *g.teachers)}
    person_refs |= {x for gs in doc.guardianships for x in (gs.guardian, gs.learner)}
    persons = await _id_map(conn, "persons", sorted(person_refs))

    doc_person_ids = [persons[p.id] for p in doc.persons]
    if doc.persons:
        await conn.execute("DELETE FROM person_roles WHERE person_id = ANY($1)", doc_person_ids)
        pairs = [(persons[p.id], schools[r.school], r.role) for p in doc.persons for r in p.roles]
        await _insert_many(
            conn,
            "person_roles",
            ("person_id", "school_id", "role"),
            ("uuid", "uuid", "text"),
            t,
            pairs,
        )
        await conn.execute(
            "DELETE FROM logins WHERE provider = 'reppu' AND person_id = ANY($1)", doc_person_ids
        )
        logins = [("reppu", p.username, persons[p.id]) for p in doc.persons if p.username]
        await _insert_many(
            conn,
            "logins",
            ("provider", "subject", "person_id"),
            ("text", "text", "uuid"),
            t,
            logins,
        )

    if doc.groups:
        gs = doc.groups
        await conn.execute(
            "INSERT INTO groups (tenant_id, external_id, school_id, name, kind, grade, subject) "
            "SELECT $1, * FROM unnest($2::text[], $3::uuid[], $4::text[], $5::text[], "
            "$6::int2[], $7::text[]) ON CONFLICT (tenant_id, external_id) DO UPDATE SET "
            "school_id = excluded.school_id, name = excluded.name, kind = excluded.kind, "
            "grade = excluded.grade, subject = excluded.subject, updated_at = now()",
            t,
            [g.id for g in gs],
            [schools[g.school] for g in gs],
            [g.name for g in gs],
            [g.kind for g in gs],
            [g.grade for g in gs],
            [g.subject for g in gs],
        )
        groups = await _id_map(conn, "groups", [g.id for g in gs])
        group_ids = list(groups.values())
        await conn.execute("DELETE FROM group_learners WHERE group_id = ANY($1)", group_ids)
        await conn.execute("DELETE FROM group_teachers WHERE group_id = ANY($1)", group_ids)
        await _insert_many(
            conn,
            "group_learners",
            ("group_id", "learner_id"),
            ("uuid", "uuid"),
            t,
            [(groups[g.id], persons[x]) for g in gs for x in g.learners],
        )
        await _insert_many(
            conn,
            "group_teachers",
            ("group_id", "teacher_id"),
            ("uuid", "uuid"),
            t,
            [(groups[g.id], persons[x]) for g in gs for x in g.teachers],
        )

    learners_in_doc = [
        persons[p.id] for p in doc.persons if any(r.role == "learner" for r in p.roles)
    ]
    if learners_in_doc:
        await conn.execute("DELETE FROM guardianships WHERE learner_id = ANY($1)", learners_in_doc)
    if doc.guardianships:
        await conn.execute(
            "INSERT INTO guardianships (tenant_id, guardian_id, learner_id, kind) "
            "SELECT $1, * FROM unnest($2::uuid[], $3::uuid[], $4::text[]) "
            "ON CONFLICT (tenant_id, guardian_id, learner_id) DO UPDATE SET kind = excluded.kind",
            t,
            [persons[g.guardian] for g in doc.guardianships],
            [persons[g.learner] for g in doc.guardianships],
            [g.kind for g in doc.guardianships],
        )
    return RosterResult(
        schools=len(doc.schools),
        persons=len(doc.persons),
        groups=len(doc.groups),
        guardianships=len(doc.guardianships),
    )


async def _insert_many(
    conn: Connection,
    table: str,
    columns: tuple[str, ...],
    types: tuple[str, ...],
    tenant_id: UUID,
    rows: Sequence[tuple[Any, ...]],
) -> None:
    if not rows:
        return
    arrays = [list(col) for col in zip(*rows, strict=True)]
    params = ", ".join(f"${i + 2}::{ty}[]" for i, ty in enumerate(types))
    await conn.execute(
        f"INSERT INTO {table} (tenant_id, {', '.join(columns)}) SELECT $1, * FROM unnest({params})",
        tenant_id,
        *arrays,
    )


# ---- reads -------------------------------------------------------------------------------

PERSON_COLUMNS = (
    "id, external_id, given_name, family_name, language, email, phone, "
    "street_address, postal_code, municipality, protection_order, birth_date, "
    "guardians_may_see"
)


async def person(conn: Connection, person_id: UUID) -> asyncpg.Record | None:
    return await conn.fetchrow(f"SELECT {PERSON_COLUMNS} FROM persons WHERE id = $1", person_id)


async def roles_of(conn: Connection, person_id: UUID) -> list[asyncpg.Record]:
    return await conn.fetch(
        "SELECT school_id, role FROM person_roles WHERE person_id = $1 ORDER BY school_id, role",
        person_id,
    )


async def relation_facts(conn: Connection, viewer: UUID, person_id: UUID) -> asyncpg.Record:
    """The facts behind core.rights.Relation, in one round trip."""
    row = await conn.fetchrow(
        """
        SELECT
          EXISTS (SELECT 1 FROM guardianships g
                  WHERE g.guardian_id = $1 AND g.learner_id = $2) AS is_guardian,
          EXISTS (SELECT 1 FROM group_teachers gt JOIN group_learners gl
                    ON gl.group_id = gt.group_id
                  WHERE gt.teacher_id = $1 AND gl.learner_id = $2) AS teaches_learner,
          EXISTS (SELECT 1 FROM group_teachers gt JOIN group_learners gl
                    ON gl.group_id = gt.group_id
                  JOIN guardianships g ON g.learner_id = gl.learner_id
                  WHERE gt.teacher_id = $1 AND g.guardian_id = $2) AS teaches_child_of,
          EXISTS (SELECT 1 FROM person_roles v JOIN person_roles p ON p.school_id = v.school_id
                  WHERE v.person_id = $1 AND v.role = 'teacher' AND p.person_id = $2
                    AND p.role IN ('teacher', 'principal', 'secretary', 'staff')) AS colleague,
          EXISTS (SELECT 1 FROM person_roles v JOIN person_roles p ON p.school_id = v.school_id
                  WHERE v.person_id = $1 AND v.role IN ('principal', 'secretary', 'staff')
                    AND p.person_id = $2) AS school_staff,
          EXISTS (SELECT 1 FROM person_roles v JOIN person_roles p ON p.school_id = v.school_id
                  WHERE v.person_id = $1 AND v.role IN ('principal', 'secretary')
                    AND p.person_id = $2) AS authorised_staff,
          EXISTS (SELECT 1 FROM person_roles p
                  WHERE p.person_id = $2 AND p.role = 'learner') AS person_is_learner
        """,
        viewer,
        person_id,
    )
    assert row is not None
    return row


async def children(conn: Connection, guardian_id: UUID) -> list[asyncpg.Record]:
    return await conn.fetch(
        "SELECT p.id, p.given_name, p.family_name, p.birth_date, p.guardians_may_see, g.kind "
        "FROM guardianships g JOIN persons p ON p.id = g.learner_id "
        "WHERE g.guardian_id = $1 ORDER BY p.birth_date, p.given_name",
        guardian_id,
    )


GROUP_COLUMNS = "g.id, g.school_id, g.name, g.kind, g.grade, g.subject"


async def groups_of(conn: Connection, person_ids: Sequence[UUID]) -> list[asyncpg.Record]:
    """Groups in which any of `person_ids` learns or teaches."""
    return await conn.fetch(
        f"SELECT DISTINCT {GROUP_COLUMNS} FROM groups g WHERE g.id IN ("
        " SELECT group_id FROM group_learners WHERE learner_id = ANY($1)"
        " UNION SELECT group_id FROM group_teachers WHERE teacher_id = ANY($1))"
        " ORDER BY g.name",
        list(person_ids),
    )


async def groups_of_schools(conn: Connection, school_ids: Sequence[UUID]) -> list[asyncpg.Record]:
    return await conn.fetch(
        f"SELECT {GROUP_COLUMNS} FROM groups g WHERE g.school_id = ANY($1) ORDER BY g.name",
        list(school_ids),
    )


async def group(conn: Connection, group_id: UUID) -> asyncpg.Record | None:
    return await conn.fetchrow(f"SELECT {GROUP_COLUMNS} FROM groups g WHERE g.id = $1", group_id)


async def group_people(
    conn: Connection, group_id: UUID, table: str, column: str
) -> list[asyncpg.Record]:
    assert (table, column) in {("group_learners", "learner_id"), ("group_teachers", "teacher_id")}
    return await conn.fetch(
        f"SELECT p.id, p.given_name, p.family_name FROM {table} m "
        f"JOIN persons p ON p.id = m.{column} WHERE m.group_id = $1 "
        "ORDER BY p.family_name, p.given_name",
        group_id,
    )


async def schools(conn: Connection, school_ids: Sequence[UUID]) -> list[asyncpg.Record]:
    return await conn.fetch(
        "SELECT id, external_id, name, kind, language FROM schools WHERE id = ANY($1) "
        "ORDER BY name",
        list(school_ids),
    )


async def count(conn: Connection, table: str) -> int:
    assert table.isidentifier()
    value: int = await conn.fetchval(f"SELECT count(*) FROM {table}")
    return value


async def insert_audit(
    conn: Connection,
    tenant_id: UUID,
    *,
    actor_id: UUID | None,
    actor_kind: str,
    actor_roles: Sequence[str],
    action: str,
    object_type: str,
    object_ids: Sequence[UUID],
    purpose: str,
) -> None:
    if not object_ids:
        return
    await conn.execute(
        "INSERT INTO audit_log (tenant_id, actor_id, actor_kind, actor_roles, action, "
        "object_type, object_id, purpose) SELECT $1, $2, $3, $4, $5, $6, o, $8 "
        "FROM unnest($7::uuid[]) AS o",
        tenant_id,
        actor_id,
        actor_kind,
        list(actor_roles),
        action,
        object_type,
        list(object_ids),
        purpose,
    )


async def sample_logins(conn: Connection, group_name: str, limit: int) -> dict[str, list[str]]:
    """A few usernames of each role around one group named `group_name` (the
    demo's 7B): its learners, their guardians, its teachers, and its school's
    principal and secretaries. For `reppu demo` to print."""
    group = await conn.fetchrow(
        "SELECT g.id, g.school_id FROM groups g JOIN schools s ON s.id = g.school_id "
        "WHERE g.name = $1 ORDER BY s.external_id LIMIT 1",
        group_name,
    )
    if group is None:
        return {}
    by_group = {
        "learner": "SELECT m.learner_id FROM group_learners m JOIN persons p "
        "ON p.id = m.learner_id AND NOT p.protection_order WHERE m.group_id = $1",
        "guardian": "SELECT g.guardian_id FROM group_learners m JOIN guardianships g "
        "ON g.learner_id = m.learner_id AND g.kind = 'custodial' JOIN persons p "
        "ON p.id = g.guardian_id AND NOT p.protection_order WHERE m.group_id = $1",
        "teacher": "SELECT teacher_id FROM group_teachers WHERE group_id = $1",
    }
    out: dict[str, list[str]] = {}
    queries = [(role, sql, group["id"]) for role, sql in by_group.items()]
    queries += [
        (
            role,
            f"SELECT person_id FROM person_roles WHERE school_id = $1 AND role = '{role}'",
            group["school_id"],
        )
        for role in ("principal", "secretary")
    ]
    for role, sql, arg in queries:
        rows = await conn.fetch(
            "SELECT l.subject FROM logins l WHERE l.provider = 'reppu' "
            f"AND l.person_id IN ({sql}) ORDER BY l.subject LIMIT {int(limit)}",
            arg,
        )
        out[role] = [r["subject"] for r in rows]
    return out
