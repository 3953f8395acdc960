"""Tenant isolation in the database (ARCHITECTURE.md invariant 6)."""

from __future__ import annotations

import asyncio
import random
import uuid

import asyncpg
import pytest

from core import actions
from core.config import Settings
from core.db import Database, app_dsn

#: Tables without tenant rows, which the application role cannot touch at all.
GLOBAL_TABLES = {"schema_migrations"}


async def test_every_table_has_forced_rls_and_app_role_is_unprivileged(
    admin_dsn: str, settings: Settings
) -> None:
    """Catalog check: every table has RLS enabled and forced, a policy, and the app role is
    neither owner, superuser nor BYPASSRLS (a new table without RLS fails this test)."""
    conn = await asyncpg.connect(admin_dsn)
    try:
        tables = await conn.fetch(
            "SELECT c.relname, c.relrowsecurity, c.relforcerowsecurity, "
            "pg_get_userbyid(c.relowner) AS owner, "
            "(SELECT count(*) FROM pg_policy p WHERE p.polrelid = c.oid) AS policies "
            "FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p')"
        )
        role = await conn.fetchrow(
            "SELECT rolsuper, rolbypassrls, rolcreaterole, rolcreatedb, rolcanlogin "
            "FROM pg_roles WHERE rolname = $1",
            settings.app_role,
        )
        privileges = await conn.fetch(
            "SELECT table_name FROM information_schema.role_table_grants "
            "WHERE grantee = $1 AND table_name = ANY($2)",
            settings.app_role,
            sorted(GLOBAL_TABLES),
        )
    finally:
        await conn.close()
    assert len(tables) >= 10
    for t in tables:
        if t["relname"] in GLOBAL_TABLES:
            continue
        assert t["relrowsecurity"], f"{t['relname']}: row level security not enabled"
        assert t["relforcerowsecurity"], f"{t['relname']}: row level security not forced"
        assert t["policies"] >= 1, f"{t['relname']}: no policy"
        assert t["owner"] != settings.app_role, f"{t['relname']}: owned by the app role"
    assert role is not None
    assert role["rolcanlogin"]
    assert not role["rolsuper"] and not role["rolbypassrls"]
    assert not role["rolcreaterole"] and not role["rolcreatedb"]
    assert privileges == [], "the app role must not touch global tables"


async def test_app_connections_log_in_as_the_app_role(db: Database, settings: Settings) -> None:
    """The pool's session and current user are the app role, and RESET ROLE changes nothing."""
    async with db.pool.acquire() as conn:
        await conn.execute("RESET ROLE")
        who = await conn.fetchrow("SELECT session_user, current_user")
    assert who is not None
    assert who["session_user"] == settings.app_role
    assert who["current_user"] == settings.app_role


async def test_no_tenant_set_sees_nothing(db: Database, demo: object) -> None:
    """Without a tenant in the transaction, tenant-owned tables look empty."""
    async with db.global_tx() as conn:
        for table in ("tenants", "schools", "persons", "groups", "guardianships", "audit_log"):
            assert await conn.fetchval(f"SELECT count(*) FROM {table}") == 0, table
    async with db.pool.acquire() as conn:  # not even outside a transaction
        assert await conn.fetchval("SELECT count(*) FROM persons") == 0


async def test_cannot_write_into_another_tenant(db: Database, demo: object) -> None:
    """WITH CHECK refuses a row for a tenant other than the transaction's."""
    kuusikko = actions.tenant_id_for("kuusikko")
    koivula = actions.tenant_id_for("koivula")
    with pytest.raises(asyncpg.InsufficientPrivilegeError):
        async with db.tenant(kuusikko) as conn:
            await conn.execute(
                "INSERT INTO schools (tenant_id, external_id, name, kind, language) "
                "VALUES ($1, 'intruder', 'X', 'other', 'fi')",
                koivula,
            )


async def test_role_and_settings_cannot_be_escalated(db: Database) -> None:
    """The app role cannot become the owner or a superuser within its session."""
    async with db.pool.acquire() as conn:
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await conn.execute("SET ROLE postgres")
        with pytest.raises(asyncpg.PostgresError):
            await conn.execute("SET row_security = off; SELECT count(*) FROM persons")


async def test_thousands_of_alternating_transactions_never_leak(
    admin_dsn: str, settings: Settings, demo: object
) -> None:
    """3,000 transactions alternating tenants through a pool of two connections — some
    cancelled mid-way, some raising — only ever see their own tenant's rows."""
    tenants = [actions.tenant_id_for("kuusikko"), actions.tenant_id_for("koivula")]
    small = await Database.connect(app_dsn(admin_dsn, settings), min_size=2, max_size=2)
    rng = random.Random(7)
    outcomes = {"ok": 0, "raised": 0, "cancelled": 0}

    class Boom(Exception):
        pass

    async def one(i: int, mode: str, started: asyncio.Event) -> None:
        tenant = tenants[i % 2]
        async with small.tenant(tenant) as conn:
            rows = await conn.fetch("SELECT DISTINCT tenant_id FROM persons")
            assert [r["tenant_id"] for r in rows] == [tenant]
            assert await conn.fetchval("SELECT id FROM tenants") == tenant
            if mode == "raise":
                raise Boom
            if mode == "cancel":
                started.set()
                # still running on the server when the task is cancelled
                await conn.execute("SELECT pg_sleep(30)")
            seen = await conn.fetch("SELECT DISTINCT tenant_id FROM group_learners")
            assert [r["tenant_id"] for r in seen] == [tenant]

    async def run(i: int) -> None:
        mode = "cancel" if i % 5 == 4 else rng.choice(["ok", "ok", "ok", "raise"])
        started = asyncio.Event()
        task = asyncio.create_task(one(i, mode, started))
        if mode == "cancel":
            await started.wait()
            await asyncio.sleep(0.001)
            task.cancel()
        try:
            await task
            outcomes["ok"] += 1
        except Boom:
            outcomes["raised"] += 1
        except asyncio.CancelledError:
            outcomes["cancelled"] += 1

    try:
        batch = 50
        for start in range(0, 3000, batch):
            await asyncio.gather(*(run(i) for i in range(start, start + batch)))
        # after all that, a transaction with no tenant still sees nothing
        async with small.global_tx() as conn:
            assert await conn.fetchval("SELECT count(*) FROM persons") == 0
    finally:
        await small.close()
    assert sum(outcomes.values()) == 3000
    assert outcomes["raised"] > 100 and outcomes["cancelled"] > 100, outcomes


async def test_a_random_tenant_id_sees_nothing(db: Database, demo: object) -> None:
    """A tenant id that does not exist sees no rows at all."""
    async with db.tenant(uuid.uuid4()) as conn:
        assert await conn.fetchval("SELECT count(*) FROM persons") == 0
