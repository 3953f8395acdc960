"""Test services for the hub: a real Redis for every test session.

The machine's Redis is used when it answers PING (REPPU_TEST_REDIS_URL, by
default redis://127.0.0.1:6379/0); otherwise a `redis-server` from PATH is
started on a free port in a temporary directory for the session, keeping
nothing on disk; without one the Redis tests are skipped. (The PyPI package
`redis-server`, a wheel bundling the binary, has no build for Python 3.11: its
last release, 6.0.9 of 2020, ships only cp35-cp39 wheels.)

Every session uses its own channel prefix, so parallel runs against one server
do not see each other's payloads."""

from __future__ import annotations

import os
import secrets
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator

import pytest
import redis

DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"
#: Seconds for an embedded redis-server to answer PING after it was started.
EMBEDDED_START_TIMEOUT = 10.0


def _answers(url: str) -> bool:
    client = redis.Redis.from_url(url, socket_connect_timeout=1, socket_timeout=1)
    try:
        return bool(client.ping())
    except (redis.RedisError, OSError):
        return False
    finally:
        client.close()


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    """URL of a Redis server (machine's, else one started for the session)."""
    url = os.environ.get("REPPU_TEST_REDIS_URL", DEFAULT_REDIS_URL)
    if _answers(url):
        yield url
        return
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.skip(f"no Redis at {url} and no redis-server on PATH to start one")
    with tempfile.TemporaryDirectory(prefix="reppu-redis-") as tmp:
        port = _free_port()
        args = [binary, "--port", str(port), "--bind", "127.0.0.1", "--dir", tmp]
        args += ["--save", "", "--appendonly", "no", "--logfile", os.path.join(tmp, "log")]
        process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        url = f"redis://127.0.0.1:{port}/0"
        try:
            # A process start cannot be awaited: poll, bounded.
            deadline = time.monotonic() + EMBEDDED_START_TIMEOUT
            while not _answers(url):
                if process.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"redis-server on port {port} did not start (see {tmp}/log)")
                time.sleep(0.05)
            yield url
        finally:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


@pytest.fixture(scope="session")
def redis_prefix() -> str:
    """Channel prefix of this test session."""
    return f"reppu-test-{secrets.token_hex(4)}:"
