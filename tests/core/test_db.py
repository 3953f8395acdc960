"""The application pool: what a connection carries from one use to the next."""

from __future__ import annotations

from collections.abc import AsyncIterator
from uuid import uuid4

import pytest

from core.config import Settings
from core.db import STATEMENT_TIMEOUT_MS, Database, app_dsn


@pytest.fixture
async def one(admin_dsn: str, settings: Settings) -> AsyncIterator[Database]:
    """A pool of one connection: every use is the same session."""
    database = await Database.connect(app_dsn(admin_dsn, settings), min_size=1, max_size=1)
    yield database
    await database.close()


async def test_statement_timeout_holds_on_every_use(one: Database) -> None:
    """STATEMENT_TIMEOUT_MS is the session's own default, not a SET that a reset on
    release would undo (asyncpg's default reset runs RESET ALL)."""
    for _ in range(3):
        async with one.tenant(uuid4()) as conn:
            ms = await conn.fetchval(
                "SELECT setting::int FROM pg_settings WHERE name = 'statement_timeout'"
            )
            assert ms == STATEMENT_TIMEOUT_MS


async def test_the_tenant_does_not_outlive_its_transaction(one: Database) -> None:
    """The tenant is transaction-local: the next use of the connection sees none, and
    a connection released inside an open transaction is rolled back first."""
    tenant = uuid4()
    async with one.tenant(tenant) as conn:
        assert await conn.fetchval("SELECT current_setting('reppu.tenant', true)") == str(tenant)
    async with one.pool.acquire() as conn:
        assert await conn.fetchval("SELECT current_setting('reppu.tenant', true)") in (None, "")
        await conn.execute(f"BEGIN; SELECT set_config('reppu.tenant', '{tenant}', true)")
        # released with the transaction open (as after a cancelled ROLLBACK)
    async with one.pool.acquire() as conn:
        assert not conn.is_in_transaction()
        assert await conn.fetchval("SELECT current_setting('reppu.tenant', true)") in (None, "")
