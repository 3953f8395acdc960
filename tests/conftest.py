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
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit
from uuid import UUID

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
    """The app with every module, as `reppu serve` builds it (memory broker)."""
    from core.api import Services, create_app
    from hub.module import HubModule
    from planning.module import PlanningModule
    from scheduling.module import SchedulingModule

    return create_app(
        Services(settings, db, clock),
        modules=[
            HubModule(run_worker=False),
            PlanningModule(run_worker=False),
            SchedulingModule(run_worker=False),
        ],
    )


@asynccontextmanager
async def serve(app: Litestar) -> AsyncIterator[str]:
    """Run `app` under uvicorn on a free loopback port, on this loop; yields its URL."""
    import socket

    import uvicorn

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(
        app,
        lifespan="on",
        log_config=None,
        ws="websockets-sansio",
        access_log=False,
        timeout_graceful_shutdown=5,
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    while not server.started:
        if task.done():
            task.result()
        await asyncio.sleep(0.01)  # uvicorn offers no startup event to await
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task
        sock.close()


@pytest.fixture(scope="session")
async def server_url(app: Litestar, demo: object) -> AsyncIterator[str]:
    """A real HTTP and websocket server for the session (demo tenants seeded)."""
    async with serve(app) as url:
        yield url


@pytest.fixture(scope="session")
async def client(server_url: str) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client of the session's server."""
    async with httpx.AsyncClient(base_url=server_url, timeout=30) as c:
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


@pytest.fixture(scope="session")
async def school(db: Database) -> dict[str, UUID]:
    """The `lukkari` school with its published timetable (tests/scheduling/daily_school.py),
    set up once per session: the timetable tests and the page's share it."""
    from tests.scheduling import daily_school

    return await daily_school.setup(db)


async def login(client: httpx.AsyncClient, username: str) -> dict[str, str]:
    """Dev-login and return the Authorization header."""
    r = await client.post("/v1/auth/dev-login", json={"username": username})
    assert r.status_code == 200, r.text
    return {"Authorization": f"Bearer {r.json()['token']}"}


@pytest.fixture(scope="session")
async def family(db: Database) -> dict[str, UUID]:
    """The hand-made tenant `perhe`; returns external id -> person/group/school id."""
    from tests.family import FAMILY, FAMILY_ROSTER, import_tenant

    _, ids = await import_tenant(db, FAMILY, "Perheen kunta", FAMILY_ROSTER)
    return ids
