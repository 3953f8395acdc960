"""`RedisBroker`: the broker of several nodes, on Redis pub/sub.

Same guarantee as `hub.broker`: at most once. Redis pub/sub stores nothing, so a
node misses whatever is published while its subscriber connection is down;
consumers close the gap from PostgreSQL by `seq`.

Each node holds two kinds of connection:

* one **subscriber connection**, owned by a supervisor task that runs a reader
  and a writer on it. Local subscriptions are reference-counted per topic (a
  `TopicTable`): the first one of a topic makes the writer send SUBSCRIBE, the
  close of the last one UNSUBSCRIBE, so a node holds exactly one server-side
  subscription per topic however many sockets it serves for it. Changes are
  coalesced and sent in batches, unsubscribes before subscribes; because Redis
  executes the commands of one connection in order, a subscription's `ready()`
  also proves that every close made before it has taken effect on the server.
* a **publisher pool** (`PUBLISH_POOL_SIZE` connections); `publish_many` is one
  non-transactional pipeline per `PUBLISH_BATCH` payloads.

`ready()` resolves when the SUBSCRIBE confirmation for the *latest* SUBSCRIBE
of its topic has been read from the subscriber connection — not when the
command was written, and not on the confirmation of an earlier SUBSCRIBE that
an UNSUBSCRIBE has since undone.

When the subscriber connection drops (an error, or `PUBSUB_SILENCE_LIMIT`
without a frame although the writer PINGs every `PUBSUB_PING_INTERVAL`), every
topic becomes inactive, and the supervisor reconnects after a capped,
jittered exponential backoff (`RECONNECT_BASE_DELAY` doubling up to
`RECONNECT_MAX_DELAY`) and re-subscribes every topic that still has a local
subscription. Publishing does not wait for that: a publish fails fast
(`PUBLISH_TIMEOUT`, no retry) with `BrokerUnavailable`.

Why not redis-py's `PubSub` object: it reconnects silently inside its reads,
re-subscribes from its own bookkeeping (also channels whose UNSUBSCRIBE was
still in flight), and cannot tell which SUBSCRIBE a confirmation answers. Why
not litestar's channels plugin: it drops events silently and has no notion of
readiness. The subscriber connection speaks RESP2 (`PUBSUB_PROTOCOL`), where
pub/sub frames are plain arrays: redis-py's RESP3 parser routes every push frame
through a handler that formats it into a debug log string."""

from __future__ import annotations

import asyncio
import logging
import random
import re
import secrets
from collections.abc import Iterable, Iterator, Sequence
from itertools import islice
from types import TracebackType
from typing import Any, Literal, Self, TypeVar

from redis.asyncio import BlockingConnectionPool, ConnectionPool, Redis
from redis.asyncio.connection import AbstractConnection
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError
from redis.exceptions import TimeoutError as RedisTimeoutError

from hub.broker import (
    BrokerClosed,
    BrokerError,
    BrokerStats,
    BrokerUnavailable,
    LocalSubscription,
    Sink,
    TopicTable,
)

log = logging.getLogger(__name__)

#: Redis channel name = CHANNEL_PREFIX + topic (overridable per broker).
CHANNEL_PREFIX = "reppu:"
#: CLIENT SETNAME of the connections, + node name: visible in CLIENT LIST.
PUBSUB_CLIENT_NAME_PREFIX = "reppu-pubsub-"
PUBLISH_CLIENT_NAME_PREFIX = "reppu-publish-"

#: Publisher connections per node; a publish waits for a free one at most
#: PUBLISH_TIMEOUT, then fails with BrokerUnavailable.
PUBLISH_POOL_SIZE = 16
#: Seconds for one publish or pipeline batch, including the wait for a pooled
#: connection and (re)connecting it.
PUBLISH_TIMEOUT = 2.0
#: PUBLISH commands per pipeline round trip in publish_many.
PUBLISH_BATCH = 10_000
#: Seconds to establish the subscriber connection (TCP, TLS, HELLO, CLIENT SETNAME).
CONNECT_TIMEOUT = 2.0
#: Seconds stop() waits for the subscriber task to end after cancelling it.
STOP_TIMEOUT = 5.0

#: Channels per SUBSCRIBE / UNSUBSCRIBE command (bounds one command's size
#: when thousands of topics are re-subscribed after a reconnect).
SUBSCRIBE_BATCH = 1_000
#: The writer PINGs the subscriber connection this often (seconds) ...
PUBSUB_PING_INTERVAL = 5.0
#: ... and declares it dead after this long without any frame from Redis.
PUBSUB_SILENCE_LIMIT = 3 * PUBSUB_PING_INTERVAL
#: Seconds a write to the subscriber connection may take.
PUBSUB_WRITE_TIMEOUT = 5.0
#: RESP version of the subscriber connection (see the module docstring).
PUBSUB_PROTOCOL = 2

#: Reconnect delays: RECONNECT_BASE_DELAY * 2**(failures - 1), capped at
#: RECONNECT_MAX_DELAY, each scaled by a random factor in [0.5, 1] so that the
#: nodes of a cluster do not reconnect in lockstep after a Redis restart.
RECONNECT_BASE_DELAY = 0.1
RECONNECT_MAX_DELAY = 5.0

_T = TypeVar("_T")
_NODE_NAME = re.compile(r"[A-Za-z0-9._-]{1,64}")


def reconnect_delay(failures: int) -> float:
    """Seconds to wait before connection attempt number `failures + 1`."""
    delay = min(RECONNECT_MAX_DELAY, RECONNECT_BASE_DELAY * 2.0 ** min(failures - 1, 32))
    return delay * random.uniform(0.5, 1.0)


def _batches(items: Sequence[_T], size: int) -> Iterator[Sequence[_T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _chunks(items: Iterable[str], size: int) -> Iterator[list[str]]:
    it = iter(items)
    while chunk := list(islice(it, size)):
        yield chunk


async def _close(conn: AbstractConnection) -> None:
    """Drop a connection that is being abandoned anyway; its errors are moot."""
    try:
        await conn.disconnect(nowait=True)
    except (RedisError, OSError) as exc:
        log.debug("closing a Redis connection failed: %s", exc)


def _broker_error(exc: RedisError | TimeoutError) -> BrokerError:
    if isinstance(exc, RedisConnectionError | RedisTimeoutError | TimeoutError):
        return BrokerUnavailable(f"Redis unavailable: {exc}")
    return BrokerError(f"Redis error: {exc}")


class RedisBroker:
    """`hub.broker.Broker` on Redis pub/sub (see the module docstring).

    `url` is a redis://, rediss:// or unix:// URL; `prefix` namespaces the
    channels (one deployment per prefix); `node` names this node's connections
    in CLIENT LIST (random by default)."""

    def __init__(self, url: str, prefix: str = CHANNEL_PREFIX, *, node: str | None = None) -> None:
        node = node if node is not None else secrets.token_hex(4)
        if not _NODE_NAME.fullmatch(node):
            raise ValueError(f"node name must match {_NODE_NAME.pattern}: {node!r}")
        self.node = node
        self.pubsub_client_name = PUBSUB_CLIENT_NAME_PREFIX + node
        self.stats = BrokerStats()
        self._url = url
        self._prefix = prefix.encode()
        self._state: Literal["new", "running", "stopped"] = "new"
        self._table = TopicTable(self.stats, self._on_change)
        self._redis: Redis | None = None
        self._supervisor: asyncio.Task[None] | None = None
        # The subscriber connection's factory: URL parsing and connection class
        # (TCP, TLS, unix) from redis-py; our own timeouts, no hidden retries.
        pool = ConnectionPool.from_url(url, protocol=PUBSUB_PROTOCOL)
        self._sub_class = pool.connection_class
        self._sub_kwargs: dict[str, Any] = {
            **pool.connection_kwargs,
            "protocol": PUBSUB_PROTOCOL,  # also over a protocol=3 in the URL
            "client_name": self.pubsub_client_name,
            "retry": Retry(NoBackoff(), 0),
            "socket_connect_timeout": CONNECT_TIMEOUT,
            # No socket_timeout: redis-py then wraps writes in asyncio.wait_for,
            # which on Python 3.11 can swallow a cancellation (gh-86296) and hang
            # stop(). The timeouts are ours, with asyncio.timeout.
            "socket_timeout": None,
            "health_check_interval": 0,
        }
        for key in ("maint_notifications_config", "maint_notifications_pool_handler"):
            # redis-py >= 7 with protocol=3 in the URL: RESP3-only pushes, off.
            if key in self._sub_kwargs:
                self._sub_kwargs[key] = None
        # State of the current subscriber connection, reset when it drops.
        # _wire: topics whose last command written was SUBSCRIBE.
        # _unconfirmed: topic -> SUBSCRIBEs written but not yet confirmed.
        # _dirty: topics whose local state changed since the writer last looked.
        self._wire: set[str] = set()
        self._unconfirmed: dict[str, int] = {}
        self._dirty: set[str] = set()
        self._wake = asyncio.Event()
        self._last_frame = 0.0
        self._frames = 0

    # --- lifecycle -----------------------------------------------------------

    async def start(self) -> None:
        """Connect the publisher (failing fast with `BrokerUnavailable` if Redis
        does not answer) and start the subscriber connection's supervisor, which
        connects in the background and keeps reconnecting until `stop()`."""
        if self._state == "stopped":
            raise BrokerClosed("broker was stopped; create a new one")
        if self._state == "running":
            return
        pool = BlockingConnectionPool.from_url(
            self._url,
            max_connections=PUBLISH_POOL_SIZE,
            timeout=PUBLISH_TIMEOUT,
            socket_timeout=None,  # see _sub_kwargs; publish() applies PUBLISH_TIMEOUT
            socket_connect_timeout=CONNECT_TIMEOUT,
            retry=Retry(NoBackoff(), 0),
            client_name=PUBLISH_CLIENT_NAME_PREFIX + self.node,
        )
        client = Redis.from_pool(pool)
        try:
            async with asyncio.timeout(PUBLISH_TIMEOUT):
                await client.ping()
        except (RedisError, TimeoutError) as exc:
            await client.aclose()
            raise _broker_error(exc) from exc
        self._redis = client
        self._state = "running"
        self._supervisor = asyncio.create_task(self._supervise(), name=f"reppu-broker-{self.node}")

    async def stop(self) -> None:
        """Close every subscription (pending `ready()` calls raise
        `BrokerClosed`), the subscriber connection and the publisher pool."""
        if self._state == "stopped":
            return
        self._state = "stopped"
        self._table.close_all()
        task, self._supervisor = self._supervisor, None
        if task is not None:
            task.cancel()
            done, _ = await asyncio.wait({task}, timeout=STOP_TIMEOUT)
            if not done:
                log.error("broker %s: subscriber task ignored cancellation; abandoned", self.node)
            elif not task.cancelled() and task.exception() is not None:
                log.error("broker %s: subscriber task failed", self.node, exc_info=task.exception())
        self._reset_connection_state()
        client, self._redis = self._redis, None
        if client is not None:
            await client.aclose()

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    # --- publishing ----------------------------------------------------------

    def _client(self) -> Redis:
        if self._state == "stopped":
            raise BrokerClosed("broker was stopped")
        if self._redis is None:
            raise BrokerClosed("broker not started")
        return self._redis

    def _channel(self, topic: str) -> bytes:
        return self._prefix + topic.encode()

    async def publish(self, topic: str, payload: bytes) -> None:
        client = self._client()
        try:
            async with asyncio.timeout(PUBLISH_TIMEOUT):
                await client.publish(self._channel(topic), payload)
        except (RedisError, TimeoutError) as exc:
            raise _broker_error(exc) from exc
        self.stats.published += 1

    async def publish_many(self, items: Sequence[tuple[str, bytes]]) -> None:
        client = self._client()
        for batch in _batches(items, PUBLISH_BATCH):
            try:
                async with (
                    asyncio.timeout(PUBLISH_TIMEOUT),
                    client.pipeline(transaction=False) as pipe,
                ):
                    for topic, payload in batch:
                        pipe.publish(self._channel(topic), payload)
                    await pipe.execute()
            except (RedisError, TimeoutError) as exc:
                raise _broker_error(exc) from exc
            self.stats.published += len(batch)

    # --- subscribing ---------------------------------------------------------

    def subscribe(self, topic: str, sink: Sink) -> LocalSubscription:
        self._client()  # raises BrokerClosed unless running
        return self._table.add(topic, sink)

    def _on_change(self, topic: str) -> None:
        """A topic got its first local subscription or lost its last one."""
        entry = self._table.entries.get(topic)
        if entry is not None and topic in self._wire and topic not in self._unconfirmed:
            # Still subscribed on the server: the close of the previous last
            # subscription has not been sent yet, and now it need not be.
            entry.activate()
        self._dirty.add(topic)
        self._wake.set()

    # --- the subscriber connection ------------------------------------------

    def _reset_connection_state(self) -> None:
        self._wire.clear()
        self._unconfirmed.clear()
        for entry in self._table.entries.values():
            entry.active = False
        self._dirty = set(self._table.entries)

    async def _supervise(self) -> None:
        """Connect, run a session until the connection fails, back off, repeat."""
        failures = 0
        connected_before = False
        while True:
            if failures:
                await asyncio.sleep(reconnect_delay(failures))
            conn: AbstractConnection | None = None
            try:
                conn = self._sub_class(**self._sub_kwargs)
                async with asyncio.timeout(CONNECT_TIMEOUT):
                    await conn.connect()  # type: ignore[no-untyped-call]  # unannotated in redis-py
            except Exception as exc:
                failures += 1
                level = logging.WARNING if failures == 1 else logging.DEBUG
                log.log(
                    level,
                    "broker %s: cannot connect to Redis (%s); retrying",
                    self.node,
                    exc,
                    exc_info=not isinstance(exc, RedisError | OSError),
                )
                if conn is not None:
                    await _close(conn)
                continue
            if connected_before:
                self.stats.reconnects += 1
                log.info(
                    "broker %s: reconnected; re-subscribing %d topics",
                    self.node,
                    len(self._table.entries),
                )
            connected_before = True
            self._frames = 0
            try:
                await self._session(conn)
            except* Exception as group:
                log.warning(
                    "broker %s: subscriber connection lost (%s); payloads lost until it is back",
                    self.node,
                    group.exceptions[0],
                    exc_info=not isinstance(group.exceptions[0], RedisError | OSError),
                )
            finally:
                self._reset_connection_state()
                await _close(conn)
            # A connection that answered nothing counts as a failed attempt, so
            # a server that accepts and drops connections is retried ever slower.
            failures = 1 if self._frames else failures + 1

    async def _session(self, conn: AbstractConnection) -> None:
        self._last_frame = asyncio.get_running_loop().time()
        async with asyncio.TaskGroup() as group:
            group.create_task(self._read(conn))
            group.create_task(self._write(conn))

    async def _read(self, conn: AbstractConnection) -> None:
        loop = asyncio.get_running_loop()
        skip = len(self._prefix)
        while True:
            # Blocks (no socket_timeout); liveness is the writer's PING and
            # PUBSUB_SILENCE_LIMIT.
            frame = await conn.read_response(disconnect_on_error=False)
            self._last_frame = loop.time()
            self._frames += 1
            kind = frame[0]
            if kind == b"message":
                self._table.deliver(frame[1][skip:].decode(), frame[2])
            elif kind == b"subscribe":
                self._confirmed(frame[1][skip:].decode())
            # b"unsubscribe" and b"pong" only prove the connection is alive.

    def _confirmed(self, topic: str) -> None:
        left = self._unconfirmed.get(topic, 0) - 1
        if left > 0:
            self._unconfirmed[topic] = left
            return
        self._unconfirmed.pop(topic, None)
        entry = self._table.entries.get(topic)
        if entry is not None and topic in self._wire and not entry.active:
            entry.activate()

    async def _write(self, conn: AbstractConnection) -> None:
        loop = asyncio.get_running_loop()
        next_ping = loop.time()  # PING at once: the first frame proves the connection
        while True:
            if self._dirty:
                await self._flush(conn)
                continue
            now = loop.time()
            if now >= next_ping:
                if now - self._last_frame > PUBSUB_SILENCE_LIMIT:
                    raise RedisTimeoutError(f"no frame from Redis for {PUBSUB_SILENCE_LIMIT} s")
                await self._send(conn, "PING")
                next_ping = now + PUBSUB_PING_INTERVAL
                continue
            self._wake.clear()
            try:
                async with asyncio.timeout(next_ping - now):
                    await self._wake.wait()
            except TimeoutError:
                pass

    async def _flush(self, conn: AbstractConnection) -> None:
        dirty, self._dirty = self._dirty, set()
        entries = self._table.entries
        drop = [t for t in dirty if t not in entries and t in self._wire]
        add = [t for t in dirty if t in entries and t not in self._wire]
        # The state of the whole batch first, then the writes: a subscription
        # made while they are awaited must see that its topic is about to be
        # dropped (or added) and not be taken for active. No confirmation can
        # come before its write, and this task is the only writer, so the
        # commands reach Redis in exactly this order.
        self._wire.difference_update(drop)
        self._wire.update(add)
        for topic in add:
            self._unconfirmed[topic] = self._unconfirmed.get(topic, 0) + 1
        for chunk in _chunks(drop, SUBSCRIBE_BATCH):
            await self._send(conn, "UNSUBSCRIBE", *map(self._channel, chunk))
        for chunk in _chunks(add, SUBSCRIBE_BATCH):
            await self._send(conn, "SUBSCRIBE", *map(self._channel, chunk))

    async def _send(self, conn: AbstractConnection, *args: str | bytes) -> None:
        # redis-py reconnects a closed connection inside send_command; that
        # would bypass the reset of the subscription state, so refuse instead.
        if not conn.is_connected:
            raise RedisConnectionError("subscriber connection closed")
        async with asyncio.timeout(PUBSUB_WRITE_TIMEOUT):
            await conn.send_command(*args, check_health=False)
