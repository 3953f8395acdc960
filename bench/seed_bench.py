"""The city-size demo seed: generation and roster import, against a raw COPY
of the same rows as the baseline.

Both load into fresh databases on the same PostgreSQL server. Reppu's path
is the one every municipality's roster feed takes: validated whole, upserted
with `unnest`, through the application role under row-level security. The
baseline is the fastest way PostgreSQL loads rows — `COPY` as the owner with
no validation, no upsert and no RLS — so the ratio is the price of doing it
properly.
"""

from __future__ import annotations

import secrets
import time
import uuid
from datetime import date
from typing import Any

import asyncpg

from core import actions
from core import seed as demo
from core.config import Settings
from core.db import Database, app_dsn, migrate
from core.model import RosterDocument

ADMIN = "postgresql://postgres@127.0.0.1:5432/test"
#: The issue's bound for `reppu seed --size city` on this machine.
CITY_SEED_LIMIT_S = 120.0


async def _fresh(server: str, settings: Settings) -> tuple[str, str]:
    name = f"reppu_bench_{secrets.token_hex(3)}"
    conn = await asyncpg.connect(server)
    await conn.execute(f"CREATE DATABASE {name}")
    await conn.close()
    dsn = server.rsplit("/", 1)[0] + f"/{name}"
    await migrate(dsn, settings)
    return name, dsn


async def _drop(server: str, name: str) -> None:
    conn = await asyncpg.connect(server)
    await conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
    await conn.close()


async def _copy_baseline(dsn: str, tenant_id: uuid.UUID, doc: RosterDocument) -> float:
    """Load the document's rows with COPY as the owner (superuser): no checks."""
    t = tenant_id
    school = {s.id: uuid.uuid4() for s in doc.schools}
    person = {p.id: uuid.uuid4() for p in doc.persons}
    group = {g.id: uuid.uuid4() for g in doc.groups}
    tables: dict[str, tuple[list[str], list[tuple[Any, ...]]]] = {
        "schools": (
            ["tenant_id", "id", "external_id", "name", "kind", "language"],
            [(t, school[s.id], s.id, s.name, s.kind, s.language) for s in doc.schools],
        ),
        "persons": (
            [
                "tenant_id",
                "id",
                "external_id",
                "given_name",
                "family_name",
                "language",
                "email",
                "phone",
                "street_address",
                "postal_code",
                "municipality",
                "protection_order",
                "birth_date",
                "guardians_may_see",
            ],
            [
                (
                    t,
                    person[p.id],
                    p.id,
                    p.given_name,
                    p.family_name,
                    p.language,
                    p.email,
                    p.phone,
                    p.address.street if p.address else None,
                    p.address.postal_code if p.address else None,
                    p.address.municipality if p.address else None,
                    p.protection_order,
                    p.birth_date,
                    p.guardians_may_see,
                )
                for p in doc.persons
            ],
        ),
        "person_roles": (
            ["tenant_id", "person_id", "school_id", "role"],
            [(t, person[p.id], school[r.school], r.role) for p in doc.persons for r in p.roles],
        ),
        "logins": (
            ["tenant_id", "provider", "subject", "person_id"],
            [(t, "reppu", p.username, person[p.id]) for p in doc.persons if p.username],
        ),
        "groups": (
            ["tenant_id", "id", "external_id", "school_id", "name", "kind", "grade", "subject"],
            [
                (t, group[g.id], g.id, school[g.school], g.name, g.kind, g.grade, g.subject)
                for g in doc.groups
            ],
        ),
        "group_learners": (
            ["tenant_id", "group_id", "learner_id"],
            [(t, group[g.id], person[x]) for g in doc.groups for x in g.learners],
        ),
        "group_teachers": (
            ["tenant_id", "group_id", "teacher_id"],
            [(t, group[g.id], person[x]) for g in doc.groups for x in g.teachers],
        ),
        "guardianships": (
            ["tenant_id", "guardian_id", "learner_id", "kind"],
            [(t, person[g.guardian], person[g.learner], g.kind) for g in doc.guardianships],
        ),
    }
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(
            "INSERT INTO tenants (id, slug, name, kind) VALUES "
            "($1, 'kuusikko', 'Kuusikko', 'municipality')",
            t,
        )
        started = time.perf_counter()
        async with conn.transaction():
            for table, (columns, rows) in tables.items():
                await conn.copy_records_to_table(table, columns=columns, records=rows)
        return time.perf_counter() - started
    finally:
        await conn.close()


async def run() -> str:
    settings = Settings.from_env({"REPPU_SECRET": "bench-" + "s" * 40})
    today = date(2026, 11, 24)
    started = time.perf_counter()
    doc = demo.generate(demo.DEMO_TENANT, "city", today=today)
    generate_s = time.perf_counter() - started
    rows = (
        len(doc.schools)
        + len(doc.persons)
        + sum(len(p.roles) for p in doc.persons)
        + sum(1 for p in doc.persons if p.username)
        + len(doc.groups)
        + sum(len(g.learners) + len(g.teachers) for g in doc.groups)
        + len(doc.guardianships)
    )

    name_a, dsn_a = await _fresh(ADMIN, settings)
    name_b, dsn_b = await _fresh(ADMIN, settings)
    try:
        db = await Database.connect(app_dsn(dsn_a, settings), min_size=1, max_size=2)
        try:
            started = time.perf_counter()
            tenant = await actions.ensure_tenant(db, "kuusikko", "Kuusikko", "municipality")
            await actions.import_roster(db, tenant, doc)
            import_s = time.perf_counter() - started
            started = time.perf_counter()
            await actions.import_roster(db, tenant, doc)
            reimport_s = time.perf_counter() - started
        finally:
            await db.close()
        copy_s = await _copy_baseline(dsn_b, actions.tenant_id_for("kuusikko"), doc)
    finally:
        await _drop(ADMIN, name_a)
        await _drop(ADMIN, name_b)

    learners = sum(1 for p in doc.persons if any(r.role == "learner" for r in p.roles))
    guardians = sum(1 for p in doc.persons if any(r.role == "guardian" for r in p.roles))
    staff_roles = {"teacher", "principal", "secretary", "staff"}
    staff = sum(1 for p in doc.persons if any(r.role in staff_roles for r in p.roles))
    total = generate_s + import_s
    verdict = "within" if total < CITY_SEED_LIMIT_S else "OVER"
    return f"""## Demo seed, city size (`reppu seed --size city`)

{len(doc.schools)} schools, {learners:,} learners, {guardians:,} guardians, {staff:,} staff,
{len(doc.groups):,} groups, {len(doc.guardianships):,} guardianships — {rows:,} rows in all
(a few teachers are also guardians and are counted in both).

| step | seconds | rows/s |
|---|---:|---:|
| generate the roster document (Faker fi_FI / sv_SE, fixed seed) | {generate_s:.1f} | |
| roster import: validate + upsert through the app role under RLS | {import_s:.1f} | {rows / import_s:,.0f} |
| the same document again (idempotent upsert, nothing changes) | {reimport_s:.1f} | {rows / reimport_s:,.0f} |
| baseline: raw `COPY` of the same rows as superuser, no checks | {copy_s:.1f} | {rows / copy_s:,.0f} |

Import / COPY = **{import_s / copy_s:.1f}×**. Generate + import = {total:.1f} s,
{verdict} the {CITY_SEED_LIMIT_S:.0f} s bound of the foundation issue.
"""
