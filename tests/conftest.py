"""Test services: a real PostgreSQL for every test session.

The machine's PostgreSQL is used when reachable (REPPU_TEST_DATABASE_URL, by
default postgresql://postgres@127.0.0.1:5432/test); otherwise an embedded
server is started in a temporary directory. Each session creates its own
database, migrates it as the admin role, and connects the application pool as
the application role — exactly as `reppu serve` does."""

from __future__ import annotations

import asyncio
import os
import secrets
import tempfile
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import httpx
import msgspec
import pytest
from litestar import Litestar

from core.clock import FixedClock
from core.config import Settings
from core.db import Database, EmbeddedPostgres, app_dsn, migrate

DEFAULT_ADMIN = "postgresql://postgres@127.0.0.1:5432/test"
TEST_SECRET = "test-secret-" + "x" * 40
#: Tests run at a fixed instant: a school-day morning in Helsinki.
TEST_NOW = datetime(2026, 11, 24, 8, 0, tzinfo=UTC)


def _reachable(dsn: str) -> bool:
    async def probe() -> bool:
        try:
            conn = await asyncpg.connect(dsn, timeout=3)
        except (OSError, asyncpg.PostgresError, TimeoutError):
            return False
        await conn.close()
        return True

    return asyncio.run(probe())


@pytest.fixture(scope="session")
def server_dsn() -> Iterator[str]:
    """Admin DSN of a PostgreSQL server (machine's, else embedded)."""
    dsn = os.environ.get("REPPU_TEST_DATABASE_URL", DEFAULT_ADMIN)
    if _reachable(dsn):
        yield dsn
        return
    with tempfile.TemporaryDirectory(prefix="reppu-pg-") as tmp:
        embedded = EmbeddedPostgres(Path(tmp))
        embedded.start()
        asyncio.run(embedded.ensure_database())
        try:
            yield embedded.admin_dsn
        finally:
            embedded.stop()


def with_database(dsn: str, name: str) -> str:
    parts = urlsplit(dsn)
    return urlunsplit((parts.scheme, parts.netloc, f"/{name}", parts.query, parts.fragment))


@pytest.fixture(scope="session")
def settings() -> Settings:
    return Settings.from_env(
        {
            "REPPU_SECRET": TEST_SECRET,
            "REPPU_DEV_LOGIN": "true",
            "REPPU_PUBLIC_URL": "http://localhost:8000",
            "REPPU_DATA_DIR": tempfile.gettempdir(),
        }
    )


@pytest.fixture(scope="session")
async def admin_dsn(server_dsn: str, settings: Settings) -> AsyncIterator[str]:
    """A fresh, migrated database for this test session (dropped afterwards)."""
    name = f"reppu_test_{secrets.token_hex(4)}"
    conn = await asyncpg.connect(server_dsn)
    await conn.execute(f"CREATE DATABASE {name}")
    await conn.close()
    dsn = with_database(server_dsn, name)
    await migrate(dsn, settings)
    try:
        yield dsn
    finally:
        conn = await asyncpg.connect(server_dsn)
        await conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        await conn.close()


@pytest.fixture(scope="session")
async def db(admin_dsn: str, settings: Settings) -> AsyncIterator[Database]:
    database = await Database.connect(app_dsn(admin_dsn, settings), min_size=1, max_size=10)
    try:
        yield database
    finally:
        await database.close()


@pytest.fixture(scope="session")
def clock() -> FixedClock:
    return FixedClock(TEST_NOW)


@pytest.fixture(scope="session")
async def demo(db: Database) -> dict[str, list[str]]:
    """The small demo tenant and the second tenant, seeded once per session."""
    from core.cli import seed

    return await seed(db, size="small", seed_value=None, today=TEST_NOW.date())


def replace(settings: Settings, **changes: object) -> Settings:
    return msgspec.structs.replace(settings, **changes)


@pytest.fixture(scope="session")
def app(db: Database, settings: Settings, clock: FixedClock) -> Litestar:
    from core.api import Services, create_app

    return create_app(Services(settings, db, clock))


@pytest.fixture(scope="session")
async def client(app: Litestar, demo: object) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client for the app, in process and on the test loop, over the session's
    database (the demo tenants seeded)."""
    async with asgi_client(app) as c:
        yield c


def asgi_client(app: Litestar) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver")


class Who:
    """Finds demo people by what they are, through the app role (tenant set)."""

    def __init__(self, db: Database) -> None:
        self.db = db

    async def one(self, sql: str, *args: object, tenant: str = "kuusikko") -> asyncpg.Record:
        from core.actions import tenant_id_for

        async with self.db.tenant(tenant_id_for(tenant)) as conn:
            row = await conn.fetchrow(sql, *args)
        assert row is not None, sql
        return row


@pytest.fixture(scope="session")
def who(db: Database) -> Who:
    return Who(db)


async def login(client: httpx.AsyncClient, username: str) -> dict[str, str]:
    """Dev-login and return the Authorization header."""
    r = await client.post("/v1/auth/dev-login", json={"username": username})
    assert r.status_code == 200, r.text
    return {"Authorization": f"Bearer {r.json()['token']}"}
