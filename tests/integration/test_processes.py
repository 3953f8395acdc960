"""Real `reppu` processes: concurrent migrations, serve with clean shutdown, and the
embedded PostgreSQL default."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import httpx
import pytest

from core.config import Settings
from tests.conftest import TEST_SECRET, with_database

REPPU = [sys.executable, "-c", "import sys; from core.cli import main; sys.exit(main())"]
#: How long a process may take to become ready or to stop (generous: CI is shared).
START_TIMEOUT_S = 60


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def env(**extra: str) -> dict[str, str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("REPPU_", "DATABASE_"))}
    return {**base, "REPPU_SECRET": TEST_SECRET, **extra}


def wait_ready(url: str, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"process exited with {proc.returncode}")
        try:
            if httpx.get(f"{url}/ready", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)  # polling a process we do not control; nothing to await
    raise AssertionError("not ready in time")


@pytest.fixture
def fresh_db(server_dsn: str) -> Iterator[str]:
    """An empty database on the test server, dropped afterwards."""
    name = f"reppu_proc_{os.getpid()}_{time.monotonic_ns() % 10**8}"
    subprocess.run(
        [
            sys.executable,
            "-c",
            f"""
import asyncio, asyncpg
async def m():
    c = await asyncpg.connect({server_dsn!r}); await c.execute('CREATE DATABASE {name}')
asyncio.run(m())""",
        ],
        check=True,
    )
    yield with_database(server_dsn, name)
    subprocess.run(
        [
            sys.executable,
            "-c",
            f"""
import asyncio, asyncpg
async def m():
    c = await asyncpg.connect({server_dsn!r})
    await c.execute('DROP DATABASE IF EXISTS {name} WITH (FORCE)')
asyncio.run(m())""",
        ],
        check=True,
    )


def test_two_processes_migrate_at_once(fresh_db: str) -> None:
    """Two `reppu migrate` started together both succeed; each migration is applied once."""
    procs = [
        subprocess.Popen(
            [*REPPU, "migrate"],
            env=env(DATABASE_URL=fresh_db),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        for _ in range(2)
    ]
    outs = [p.communicate(timeout=START_TIMEOUT_S) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outs
    printed = sorted(o[0].decode().strip() for o in outs)
    assert printed[0].startswith("applied migrations: [1")
    assert printed[1] == "applied migrations: none (up to date)"


def test_serve_answers_and_stops_cleanly_on_sigterm(fresh_db: str) -> None:
    """`reppu serve` migrates, answers /ready and dev-login, and exits 0 on SIGTERM and SIGINT."""
    for sig in (signal.SIGTERM, signal.SIGINT):
        port = free_port()
        proc = subprocess.Popen(
            [*REPPU, "serve", "--port", str(port)],
            env=env(DATABASE_URL=fresh_db, REPPU_DEV_LOGIN="true"),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        try:
            wait_ready(f"http://127.0.0.1:{port}", proc)
            r = httpx.post(
                f"http://127.0.0.1:{port}/v1/auth/dev-login", json={"username": "nobody@kuusikko"}
            )
            assert r.status_code == 401 and r.json()["code"] == "unknown_login"
            proc.send_signal(sig)
            _, err = proc.communicate(timeout=START_TIMEOUT_S)
        finally:
            if proc.poll() is None:
                proc.kill()
        assert proc.returncode == 0, err.decode()[-2000:]
        assert b"reppu: stopped" in err or b"stopped" in err


def test_embedded_postgres_by_default(tmp_path: Path) -> None:
    """With no DATABASE_URL, reppu starts an embedded PostgreSQL under REPPU_DATA_DIR, keeps its
    data across restarts, and stops it on exit."""
    data = tmp_path / "data"
    e = env(REPPU_DATA_DIR=str(data))
    first = subprocess.run(
        [*REPPU, "migrate"], env=e, capture_output=True, timeout=120, check=False
    )
    assert first.returncode == 0, first.stderr.decode()[-2000:]
    assert first.stdout.decode().startswith("applied migrations: [1")
    assert (data / "postgres" / "PG_VERSION").exists()
    assert not _postgres_running(data / "postgres"), "embedded server left running"

    port = free_port()
    proc = subprocess.Popen(
        [*REPPU, "serve", "--port", str(port)],
        env=e,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        wait_ready(f"http://127.0.0.1:{port}", proc)
        assert _postgres_running(data / "postgres")
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=START_TIMEOUT_S)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0
    assert not _postgres_running(data / "postgres")

    again = subprocess.run(
        [*REPPU, "migrate"], env=e, capture_output=True, timeout=120, check=False
    )
    assert again.stdout.decode().strip() == "applied migrations: none (up to date)"


def _postgres_running(pgdata: Path) -> bool:
    pid_file = pgdata / "postmaster.pid"
    if not pid_file.exists():
        return False
    pid = int(pid_file.read_text().split()[0])
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


async def test_app_role_cannot_read_without_tenant_over_tcp(
    admin_dsn: str, settings: Settings
) -> None:
    """Logging in directly as the app role over TCP, a bare query sees no persons."""
    from core.db import app_dsn

    conn = await asyncpg.connect(app_dsn(admin_dsn, settings))
    try:
        assert await conn.fetchval("SELECT count(*) FROM persons") == 0
    finally:
        await conn.close()


def test_demo_seeds_prints_logins_and_they_work(fresh_db: str) -> None:
    """`reppu demo` seeds an empty database, prints logins of each role, and a dev login
    works for a learner, a guardian and a teacher; a restart prints logins again without
    seeding twice."""
    for attempt in range(2):
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        proc = subprocess.Popen(
            [*REPPU, "demo", "--port", str(port)],
            env=env(DATABASE_URL=fresh_db),
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        try:
            assert proc.stdout is not None
            printed = []
            for line in proc.stdout:  # the demo prints its logins before serving
                printed.append(line)
                if "curl" in line:
                    break
            text = "".join(printed)
            assert f"Reppu demo at {url}" in text
            assert ("seeded kuusikko" in text) == (attempt == 0), text
            logins = {
                line.split()[0]: line.split()[1].rstrip(",")
                for line in printed
                if line.startswith("  ") and "@kuusikko" in line and "curl" not in line
            }
            assert set(logins) == {"learner", "guardian", "teacher", "principal", "secretary"}
            wait_ready(url, proc)
            for role in ("learner", "guardian", "teacher"):
                r = httpx.post(f"{url}/v1/auth/dev-login", json={"username": logins[role]})
                assert r.status_code == 200, r.text
                token = r.json()["token"]
                me = httpx.get(f"{url}/v1/me", headers={"Authorization": f"Bearer {token}"})
                assert role in {x["role"] for x in me.json()["person"]["roles"]}
            proc.send_signal(signal.SIGTERM)
            proc.communicate(timeout=START_TIMEOUT_S)
            assert proc.returncode == 0
        finally:
            if proc.poll() is None:
                proc.kill()


def test_cli_seed_roster_import_and_token(fresh_db: str, tmp_path: Path) -> None:
    """`reppu seed`, then `reppu roster import` applies a good file and refuses a bad one
    whole (exit 1, every bad row on stderr); `reppu token` prints a service token."""
    e = env(DATABASE_URL=fresh_db)
    seeded = subprocess.run([*REPPU, "seed"], env=e, capture_output=True, text=True, check=False)
    assert seeded.returncode == 0, seeded.stderr[-2000:]
    assert "seeded kuusikko (small)" in seeded.stdout and "seeded koivula (small)" in seeded.stdout

    good = tmp_path / "good.json"
    good.write_text(
        '{"schools": [{"id": "sch-uusi", "name": "Uusi koulu", "kind": "primary"}],'
        ' "persons": [{"id": "p-uusi", "given_name": "Uuno", "family_name": "Uusi",'
        ' "username": "uuno@koivula", "roles": [{"school": "sch-uusi", "role": "teacher"}]}]}'
    )
    ok = subprocess.run(
        [*REPPU, "roster", "import", str(good), "--tenant", "koivula"],
        env=e,
        capture_output=True,
        text=True,
        check=False,
    )
    assert ok.returncode == 0, ok.stderr[-2000:]
    assert ok.stdout.strip() == "imported 1 schools, 1 persons, 0 groups, 0 guardianships"

    bad = tmp_path / "bad.json"
    bad.write_text(
        '{"persons": [{"id": "p-x", "given_name": "X", "family_name": "Y", "roles": []},'
        ' {"id": "p-y", "given_name": "", "family_name": "Y", "roles": []},'
        ' {"id": "p-z", "given_name": "Z", "family_name": "Y",'
        ' "roles": [{"school": "nope", "role": "staff"}]}]}'
    )
    refused = subprocess.run(
        [*REPPU, "roster", "import", str(bad), "--tenant", "koivula"],
        env=e,
        capture_output=True,
        text=True,
        check=False,
    )
    assert refused.returncode == 1
    assert "roster_invalid" in refused.stderr
    assert (
        "persons[1].given_name" in refused.stderr and "persons[2].roles[0].school" in refused.stderr
    )

    token = subprocess.run(
        [*REPPU, "token", "--tenant", "koivula", "--name", "sis", "--scope", "roster:import"],
        env=e,
        capture_output=True,
        text=True,
        check=False,
    )
    assert token.returncode == 0, token.stderr[-2000:]
    assert token.stdout.count(".") == 2
    missing = subprocess.run(
        [*REPPU, "roster", "import", str(good), "--tenant", "nowhere"],
        env=e,
        capture_output=True,
        text=True,
        check=False,
    )
    assert missing.returncode == 1 and "no tenant 'nowhere'" in missing.stderr
