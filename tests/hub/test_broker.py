"""The broker contract, run against every implementation (memory, Redis), and
what only the Redis broker does: several nodes, one server-side subscription per
topic, reconnecting.

Nothing here sleeps: tests await `ready()`, sinks that set events, and
`settle()`, which proves that everything published earlier has arrived (Redis
delivers one connection's messages in publication order, so a marker published
last arrives last)."""

from __future__ import annotations

import asyncio
import random
import secrets
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass

import pytest
import redis.asyncio as aioredis

from hub.broker import Broker, BrokerClosed, Subscription
from hub.broker_memory import MemoryBroker
from hub.broker_redis import RedisBroker

#: Seconds any awaited condition may take before the test fails.
TIMEOUT = 5.0


def new_topic() -> str:
    return f"u:{uuid.uuid4()}:{uuid.uuid4()}"


class Collector:
    """A sink that records what it gets and lets a test await the n-th payload."""

    def __init__(self) -> None:
        self.items: list[tuple[str, bytes]] = []
        self._changed = asyncio.Event()

    def __call__(self, topic: str, payload: bytes) -> None:
        self.items.append((topic, payload))
        self._changed.set()

    @property
    def payloads(self) -> list[bytes]:
        return [payload for _, payload in self.items]

    async def wait_for(self, count: int) -> None:
        async with asyncio.timeout(TIMEOUT):
            while len(self.items) < count:
                self._changed.clear()
                await self._changed.wait()


async def ready(*subs: Subscription) -> None:
    async with asyncio.timeout(TIMEOUT):
        await asyncio.gather(*(sub.ready() for sub in subs))


async def settle(subscriber: Broker, publisher: Broker | None = None) -> None:
    """Return once all that `publisher` published before reached `subscriber`'s sinks."""
    topic, marker = f"marker:{secrets.token_hex(8)}", Collector()
    sub = subscriber.subscribe(topic, marker)
    # For Redis this ready() also proves earlier closes took effect on the server.
    await ready(sub)
    await (publisher or subscriber).publish(topic, b"")
    await marker.wait_for(1)
    sub.close()


@dataclass
class Backend:
    name: str
    new: Callable[[], Broker]
    redis_url: str | None = None
    prefix: str = ""


@pytest.fixture(params=["memory", "redis"])
def backend(request: pytest.FixtureRequest) -> Backend:
    if request.param == "memory":
        return Backend("memory", MemoryBroker)
    url: str = request.getfixturevalue("redis_url")
    prefix: str = request.getfixturevalue("redis_prefix")
    return Backend("redis", lambda: RedisBroker(url, prefix), url, prefix)


@pytest.fixture
async def broker(backend: Backend) -> AsyncIterator[Broker]:
    async with backend.new() as started:
        yield started


@pytest.fixture
async def server_subscribers(
    backend: Backend,
) -> AsyncIterator[Callable[[str], Awaitable[int | None]]]:
    """Redis: PUBSUB NUMSUB of a topic's channel; memory: None."""
    if backend.redis_url is None:

        async def nothing(topic: str) -> int | None:
            return None

        yield nothing
        return
    client = aioredis.Redis.from_url(backend.redis_url)

    async def numsub(topic: str) -> int | None:
        [(_, count)] = await client.pubsub_numsub(backend.prefix + topic)
        return int(count)

    yield numsub
    await client.aclose()


# --- the contract, for every implementation ---------------------------------


async def test_publish_reaches_only_that_topics_subscribers_in_order(broker: Broker) -> None:
    """A publish reaches every subscriber of its topic, in order, and no one else."""
    first, second, quiet = new_topic(), new_topic(), new_topic()
    one, two, other, silent = Collector(), Collector(), Collector(), Collector()
    subs = [
        broker.subscribe(first, one),
        broker.subscribe(first, two),
        broker.subscribe(second, other),
        broker.subscribe(quiet, silent),
    ]
    await ready(*subs)

    for i in range(50):
        await broker.publish(first, b"1-%d" % i)
        await broker.publish(second, b"2-%d" % i)
    await settle(broker)

    assert one.items == [(first, b"1-%d" % i) for i in range(50)]
    assert two.items == one.items
    assert other.items == [(second, b"2-%d" % i) for i in range(50)]
    assert silent.items == []


async def test_local_subscriptions_share_one_topic_subscription(
    broker: Broker, server_subscribers: Callable[[str], Awaitable[int | None]]
) -> None:
    """Two local subscriptions both receive; a close stops only its sink; the last unsubscribes."""
    topic = new_topic()
    phone, laptop = Collector(), Collector()
    on_phone, on_laptop = broker.subscribe(topic, phone), broker.subscribe(topic, laptop)
    await ready(on_phone, on_laptop)
    assert await server_subscribers(topic) in (None, 1)

    await broker.publish(topic, b"both")
    await phone.wait_for(1)
    await laptop.wait_for(1)
    on_phone.close()
    on_phone.close()
    await broker.publish(topic, b"laptop only")
    await settle(broker)
    assert phone.payloads == [b"both"]
    assert laptop.payloads == [b"both", b"laptop only"]
    assert await server_subscribers(topic) in (None, 1)

    on_laptop.close()
    await settle(broker)
    assert await server_subscribers(topic) in (None, 0)
    dropped = broker.stats.dropped
    await broker.publish(topic, b"nobody")
    await settle(broker)
    assert laptop.payloads == [b"both", b"laptop only"]
    assert broker.stats.dropped == dropped  # the payload did not even reach this node


async def test_resubscribing_right_after_the_last_close_receives(
    broker: Broker, server_subscribers: Callable[[str], Awaitable[int | None]]
) -> None:
    """A subscription made while the last one's close is in flight gets ready and receives."""
    topic = new_topic()
    early = broker.subscribe(topic, Collector())
    early.close()
    sink = Collector()
    again = broker.subscribe(topic, sink)
    await ready(again)
    await broker.publish(topic, b"x")
    await sink.wait_for(1)
    assert sink.payloads == [b"x"]
    assert await server_subscribers(topic) in (None, 1)
    with pytest.raises(BrokerClosed):
        await early.ready()


async def test_publish_many_fans_out_to_1000_topics(broker: Broker) -> None:
    """publish_many to 1,000 topics delivers each payload to its topic's subscriber only."""
    topics = [new_topic() for _ in range(1000)]
    received: dict[str, list[bytes]] = {topic: [] for topic in topics}
    all_in = asyncio.Event()
    count = 0

    def sink(topic: str, payload: bytes) -> None:
        nonlocal count
        received[topic].append(payload)
        count += 1
        if count == len(topics):
            all_in.set()

    subs = [broker.subscribe(topic, sink) for topic in topics]
    await ready(*subs)
    await broker.publish_many([(topic, topic.encode()) for topic in topics])
    await asyncio.wait_for(all_in.wait(), TIMEOUT)
    await settle(broker)

    assert received == {topic: [topic.encode()] for topic in topics}
    for sub in subs:
        sub.close()


async def test_raising_sink_does_not_stop_the_others(broker: Broker) -> None:
    """A sink that raises is counted and skipped; the other sinks still receive."""
    topic = new_topic()
    before, after = Collector(), Collector()

    def broken(topic: str, payload: bytes) -> None:
        raise RuntimeError("consumer bug")

    subs = [
        broker.subscribe(topic, before),
        broker.subscribe(topic, broken),
        broker.subscribe(topic, after),
    ]
    await ready(*subs)
    errors = broker.stats.sink_errors

    await broker.publish(topic, b"a")
    await broker.publish_many([(topic, b"b")])
    await settle(broker)

    assert before.payloads == after.payloads == [b"a", b"b"]
    assert broker.stats.sink_errors == errors + 2


async def test_binary_payloads_round_trip_exactly(broker: Broker) -> None:
    """Arbitrary bytes, including non-UTF-8, empty and 1 MiB payloads, arrive unchanged."""
    topic = new_topic()
    sink = Collector()
    await ready(broker.subscribe(topic, sink))
    payloads = [
        b"",
        bytes(range(256)),
        b"\xff\xfe\x00\x80\xc3(",
        "Hyvää päivää €".encode("utf-16"),
        random.Random(7).randbytes(1 << 20),
    ]
    for payload in payloads:
        await broker.publish(topic, payload)
    await broker.publish_many([(topic, payload) for payload in payloads])
    await sink.wait_for(2 * len(payloads))

    assert sink.payloads == payloads + payloads
    assert all(type(payload) is bytes for payload in sink.payloads)


async def test_publish_after_stop_raises(backend: Backend) -> None:
    """A broker refuses use before start and after stop; stop closes its subscriptions."""
    broker = backend.new()
    with pytest.raises(BrokerClosed):
        await broker.publish(new_topic(), b"early")
    with pytest.raises(BrokerClosed):
        broker.subscribe(new_topic(), Collector())

    await broker.start()
    sub = broker.subscribe(new_topic(), Collector())
    await ready(sub)
    await broker.stop()
    await broker.stop()

    with pytest.raises(BrokerClosed, match="stopped"):
        await broker.publish(new_topic(), b"late")
    with pytest.raises(BrokerClosed):
        await broker.publish_many([(new_topic(), b"late")])
    with pytest.raises(BrokerClosed):
        broker.subscribe(new_topic(), Collector())
    with pytest.raises(BrokerClosed):
        await sub.ready()
    with pytest.raises(BrokerClosed):
        await broker.start()


# --- Redis only --------------------------------------------------------------


@pytest.fixture
async def nodes(
    redis_url: str, redis_prefix: str
) -> AsyncIterator[Callable[[], Awaitable[RedisBroker]]]:
    """Starts RedisBroker "nodes" on the session's Redis; stops them afterwards."""
    started: list[RedisBroker] = []

    async def start() -> RedisBroker:
        node = RedisBroker(redis_url, redis_prefix)
        await node.start()
        started.append(node)
        return node

    yield start
    for node in started:
        await node.stop()


@pytest.fixture
async def admin(redis_url: str) -> AsyncIterator[aioredis.Redis]:
    client = aioredis.Redis.from_url(redis_url)
    yield client
    await client.aclose()


async def test_node_receives_what_another_node_publishes(
    nodes: Callable[[], Awaitable[RedisBroker]],
) -> None:
    """Node A gets node B's publishes to A's topics and nothing for topics A does not hold."""
    a, b = await nodes(), await nodes()
    topic, elsewhere = new_topic(), new_topic()
    sink = Collector()
    await ready(a.subscribe(topic, sink))

    await b.publish(topic, b"from b")
    await sink.wait_for(1)
    assert sink.items == [(topic, b"from b")]

    delivered = a.stats.delivered
    await b.publish(elsewhere, b"not for a")
    await settle(a, b)
    assert a.stats.delivered == delivered + 1  # the marker, nothing else
    assert a.stats.dropped == 0
    assert (b.stats.delivered, b.stats.dropped) == (0, 0)


async def test_reconnects_and_resubscribes_after_the_connection_is_killed(
    nodes: Callable[[], Awaitable[RedisBroker]], admin: aioredis.Redis
) -> None:
    """After Redis kills its subscriber connection a node reconnects, re-subscribes, receives."""
    node = await nodes()
    topic = new_topic()
    sink = Collector()
    sub = node.subscribe(topic, sink)
    await ready(sub)
    await node.publish(topic, b"before")
    await sink.wait_for(1)

    [old_id] = [
        c["id"]
        for c in await admin.client_list(_type="pubsub")
        if c["name"] == node.pubsub_client_name
    ]
    assert await admin.client_kill_filter(_id=old_id) == 1

    # The killed connection can confirm nothing new, so a subscription made now
    # becomes ready only on a new connection, after all topics were re-sent.
    await ready(node.subscribe(new_topic(), Collector()))
    await ready(sub)
    assert node.stats.reconnects == 1
    [new_id] = [
        c["id"]
        for c in await admin.client_list(_type="pubsub")
        if c["name"] == node.pubsub_client_name
    ]
    assert new_id != old_id

    await node.publish(topic, b"after")
    await sink.wait_for(2)
    assert sink.payloads == [b"before", b"after"]
