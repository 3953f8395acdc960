"""Migrations under a non-superuser owner, as on a managed PostgreSQL service."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import msgspec
import pytest

from core import actions
from core.auth import DevLogin
from core.config import Settings
from core.db import Database, app_dsn, load_migrations, migrate
from tests.conftest import replace, with_database


@pytest.fixture
async def owner_db(server_dsn: str) -> AsyncIterator[str]:
    """A fresh database owned by a non-superuser role with CREATEROLE only."""
    owner = f"reppu_owner_{secrets.token_hex(3)}"
    name = f"reppu_owned_{secrets.token_hex(3)}"
    conn = await asyncpg.connect(server_dsn)
    await conn.execute(f"CREATE ROLE {owner} LOGIN CREATEROLE NOSUPERUSER NOBYPASSRLS")
    await conn.execute(f"CREATE DATABASE {name} OWNER {owner}")
    await conn.close()
    parts = urlsplit(with_database(server_dsn, name))
    host = parts.netloc.rpartition("@")[2]
    yield urlunsplit((parts.scheme, f"{owner}@{host}", parts.path, parts.query, ""))
    conn = await asyncpg.connect(server_dsn)
    await conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
    await conn.execute(f"DROP ROLE IF EXISTS {owner}_app")
    await conn.execute(f"DROP ROLE IF EXISTS {owner}")
    await conn.close()


async def test_non_superuser_owner_can_migrate_and_login_works(
    owner_db: str, settings: Settings
) -> None:
    """An owner without superuser migrates; RLS still binds the app role, and the login
    lookup (SECURITY DEFINER, owner policy) resolves a username across tenants."""
    owner = urlsplit(owner_db).username
    s = replace(settings, app_role=f"{owner}_app")
    assert await migrate(owner_db, s) == [m.version for m in load_migrations()]
    assert await migrate(owner_db, s) == []
    db = await Database.connect(app_dsn(owner_db, s), min_size=1, max_size=2)
    try:
        tenant = await actions.ensure_tenant(db, "omistaja", "Omistajan kunta", "municipality")
        doc = {
            "schools": [{"id": "s", "name": "Koulu", "kind": "primary"}],
            "persons": [
                {
                    "id": "t",
                    "given_name": "T",
                    "family_name": "T",
                    "username": "t@omistaja",
                    "roles": [{"school": "s", "role": "teacher"}],
                }
            ],
        }
        await actions.import_roster_bytes(db, tenant, msgspec.json.encode(doc))
        async with db.global_tx() as conn:
            login = await DevLogin().resolve(conn, "t@omistaja")
            assert await conn.fetchval("SELECT count(*) FROM persons") == 0
        assert login.tenant_id == tenant
    finally:
        await db.close()
    # the owner, too, is bound by the forced policies
    conn = await asyncpg.connect(owner_db)
    try:
        assert await conn.fetchval("SELECT count(*) FROM persons") == 0
    finally:
        await conn.close()
