"""The broker: the hub's fast path from the node that committed a message to
every node that holds a websocket for one of its recipients.

Guarantee: **at most once.** A payload published to a topic reaches each sink
that was subscribed to it — and whose subscription was `ready()` — before the
publish, at most once, and payloads published in sequence (each `publish`
awaited before the next) reach a sink in that order. A payload can be lost: a
node whose connection to the backend drops misses everything published until it
has re-subscribed, a sink that raises loses that payload, and a publish that
fails raises `BrokerUnavailable` after reaching some nodes or none. Nothing is
stored and nothing is retried.

That is enough because PostgreSQL is the source of truth (ARCHITECTURE.md,
invariants 1 and 2): every frame a consumer receives carries its recipient's
per-recipient `seq`, and a consumer that sees a gap, or reconnects, refetches
from the database. The consumer must also drop frames whose `seq` it already
has: the live stream and a refetch overlap. The order of a live session is

    sub = broker.subscribe(topic, sink)   # sink: put_nowait into a bounded queue
    await sub.ready()                     # from here on, publishes reach the sink
    rows = await fetch_since(last_seq)    # the backlog, from PostgreSQL
    ...                                   # then queued frames with seq > last sent

so that nothing committed after the backlog query can fall between the two.

Sinks are plain synchronous callables run on the event loop, once per payload.
They must not block: the intended sink puts the bytes into the session's own
bounded queue and, on overflow, marks the session for a refetch or closes it
(the broker never waits for a slow consumer, see websockets'
docs/topics/broadcast.rst). A sink that raises is logged at debug level and
counted in `BrokerStats.sink_errors`; the other sinks still get the payload.

Topics are opaque strings (the hub uses `u:<tenant-uuid>:<person-uuid>`).
Several subscriptions may share a topic on one node (a phone and a laptop):
each gets every payload. The implementations are `hub.broker_memory.MemoryBroker`
(one process) and `hub.broker_redis.RedisBroker` (several nodes); this module
holds the protocol and the bookkeeping they share, and does no I/O.

    BrokerError             503 broker_error
    ├── BrokerClosed        503 broker_closed        (not started, or stopped)
    └── BrokerUnavailable   503 broker_unavailable   (temporary: backend down)
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import Protocol, Self, runtime_checkable

from core.errors import ReppuError

log = logging.getLogger(__name__)

#: Receives `(topic, payload)` on the event loop; must not block or await.
Sink = Callable[[str, bytes], None]


class BrokerError(ReppuError):
    code = "broker_error"
    status = 503


class BrokerClosed(BrokerError):
    """The broker is not running (not started yet, or stopped), or the
    subscription was closed: a programming or shutdown condition, not retried."""

    code = "broker_closed"


class BrokerUnavailable(BrokerError):
    """The backend could not be reached; the publish may have reached some nodes."""

    code = "broker_unavailable"
    temporary = True


@dataclass(slots=True)
class BrokerStats:
    """Counters of one broker instance since it was created, for /metrics."""

    #: Payloads handed to the backend by `publish` / `publish_many`.
    published: int = 0
    #: Sink calls that returned normally (one payload to two sinks counts twice).
    delivered: int = 0
    #: Payloads that reached this node for a topic it no longer has a
    #: subscription for (closed while the payload was in flight).
    dropped: int = 0
    #: Sink calls that raised; that sink lost that payload.
    sink_errors: int = 0
    #: Connections to the backend re-established after a loss. Everything
    #: published to this node's topics while it was disconnected was lost.
    reconnects: int = 0


class Subscription(Protocol):
    """One sink's subscription to one topic on one node."""

    async def ready(self) -> None:
        """Return once the topic is active on the backend: from then on, every
        publish on any node reaches the sink (until the subscription is closed
        or the node's connection drops; after a drop, `ready()` waits again
        until the topic has been re-subscribed). Has no timeout of its own: wrap
        it in `asyncio.timeout`. Raises `BrokerClosed` if the subscription is
        or becomes closed (also by `Broker.stop`) before that."""
        ...

    def close(self) -> None:
        """Stop delivering to the sink, at once. Idempotent."""
        ...


@runtime_checkable
class KnowsAllSubscribers(Protocol):
    """An optional ability: a broker that sees every subscriber there is (one
    process) can say that nobody listens to a topic, so the publisher need
    not even build that frame."""

    def has_subscribers(self, topic: str) -> bool: ...


class Broker(Protocol):
    """At-most-once pub/sub of encoded frames between hub nodes (see the
    module docstring for the guarantee and how a consumer completes it).

    Lifecycle: `start()`, then publish and subscribe, then `stop()`, which closes
    every subscription; or `async with broker:`. A broker is not restartable."""

    stats: BrokerStats

    async def publish(self, topic: str, payload: bytes) -> None:
        """Send `payload` to every node subscribed to `topic`. Raises
        `BrokerClosed` when not running and `BrokerUnavailable` when the backend
        cannot be reached."""
        ...

    async def publish_many(self, items: Sequence[tuple[str, bytes]]) -> None:
        """`publish` for a fan-out, in one round trip to the backend (Redis: a
        pipeline). In order; a failure may leave a prefix published."""
        ...

    def subscribe(self, topic: str, sink: Sink) -> Subscription:
        """Deliver every later payload of `topic` to `sink` once the returned
        subscription is ready. Raises `BrokerClosed` when not running."""
        ...

    async def start(self) -> None: ...

    async def stop(self) -> None:
        """Close every subscription and the backend connections. Idempotent."""
        ...

    async def __aenter__(self) -> Self: ...

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...


# --- Bookkeeping shared by the implementations (no I/O) ---------------------


class LocalSubscription:
    """A `Subscription` held in a `TopicTable`."""

    __slots__ = ("_closed", "_entry", "_table", "_waiters", "sink")

    def __init__(self, table: TopicTable, entry: TopicEntry, sink: Sink) -> None:
        self._table = table
        self._entry = entry
        self._closed = False
        self._waiters: list[asyncio.Future[None]] = []
        self.sink = sink

    @property
    def topic(self) -> str:
        return self._entry.topic

    @property
    def closed(self) -> bool:
        return self._closed

    async def ready(self) -> None:
        if self._closed:
            raise BrokerClosed("subscription is closed")
        if self._entry.active:
            return
        waiter = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        try:
            await waiter
        finally:
            if waiter in self._waiters:
                self._waiters.remove(waiter)

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._table.discard(self)
        self._wake(BrokerClosed("subscription closed before it became active"))

    def _wake(self, error: BaseException | None = None) -> None:
        for waiter in self._waiters:
            if not waiter.done():
                if error is None:
                    waiter.set_result(None)
                else:
                    waiter.set_exception(error)
        self._waiters.clear()


class TopicEntry:
    """The local subscriptions of one topic, and whether the topic is active on
    the backend. An entry lives from its topic's first local subscription to the
    close of its last; a later subscription gets a new entry."""

    __slots__ = ("active", "subscriptions", "topic")

    def __init__(self, topic: str) -> None:
        self.topic = topic
        # A dict, not a set: delivery order follows subscription order.
        self.subscriptions: dict[LocalSubscription, None] = {}
        self.active = False

    def activate(self) -> None:
        self.active = True
        for sub in self.subscriptions:
            sub._wake()


class TopicTable:
    """Topic → local subscriptions of one node, and fan-out of a payload to
    their sinks, isolating sinks from each other's exceptions.

    `on_change(topic)` is called when a topic gets its first local subscription
    or loses its last one: the Redis broker then (un)subscribes on the server,
    which is how it holds one server-side subscription per topic per node."""

    __slots__ = ("_on_change", "entries", "stats")

    def __init__(self, stats: BrokerStats, on_change: Callable[[str], None] | None = None) -> None:
        self.entries: dict[str, TopicEntry] = {}
        self.stats = stats
        self._on_change = on_change

    def add(self, topic: str, sink: Sink) -> LocalSubscription:
        entry = self.entries.get(topic)
        created = entry is None
        if entry is None:
            entry = self.entries[topic] = TopicEntry(topic)
        sub = LocalSubscription(self, entry, sink)
        entry.subscriptions[sub] = None
        if created and self._on_change is not None:
            self._on_change(topic)
        return sub

    def discard(self, sub: LocalSubscription) -> None:
        entry = self.entries.get(sub.topic)
        if entry is None or sub not in entry.subscriptions:
            return
        del entry.subscriptions[sub]
        if not entry.subscriptions:
            del self.entries[sub.topic]
            if self._on_change is not None:
                self._on_change(sub.topic)

    def deliver(self, topic: str, payload: bytes) -> None:
        entry = self.entries.get(topic)
        if entry is None:
            self.stats.dropped += 1
            return
        # A snapshot: a sink may close its own or another subscription.
        for sub in tuple(entry.subscriptions):
            if sub.closed:
                continue
            try:
                sub.sink(topic, payload)
            except Exception:
                self.stats.sink_errors += 1
                log.debug("sink for topic %r raised; payload lost for it", topic, exc_info=True)
            else:
                self.stats.delivered += 1

    def close_all(self) -> None:
        """Close every subscription without `on_change` calls (the broker is
        stopping and drops its backend subscriptions wholesale)."""
        self._on_change = None
        for entry in tuple(self.entries.values()):
            for sub in tuple(entry.subscriptions):
                sub.close()
        self.entries.clear()
