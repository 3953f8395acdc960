"""`MemoryBroker`: the broker of a single node (no `REDIS_URL`).

Publishing calls the topic's sinks directly, before `publish` returns, so the
at-most-once guarantee of `hub.broker` holds trivially here and the only loss is
a sink that raises. A subscription is ready as soon as it exists."""

from __future__ import annotations

from collections.abc import Sequence
from types import TracebackType
from typing import Self

from hub.broker import BrokerClosed, BrokerStats, LocalSubscription, Sink, TopicTable


class MemoryBroker:
    """In-process `hub.broker.Broker`: topic → local subscriptions."""

    def __init__(self) -> None:
        self.stats = BrokerStats()
        self._table = TopicTable(self.stats)
        self._started = False
        self._stopped = False

    async def start(self) -> None:
        if self._stopped:
            raise BrokerClosed("broker was stopped; create a new one")
        self._started = True

    async def stop(self) -> None:
        self._stopped = True
        self._table.close_all()

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

    def _check_running(self) -> None:
        if self._stopped:
            raise BrokerClosed("broker was stopped")
        if not self._started:
            raise BrokerClosed("broker not started")

    async def publish(self, topic: str, payload: bytes) -> None:
        self._check_running()
        self._publish(topic, payload)

    async def publish_many(self, items: Sequence[tuple[str, bytes]]) -> None:
        self._check_running()
        for topic, payload in items:
            self._publish(topic, payload)

    def _publish(self, topic: str, payload: bytes) -> None:
        self.stats.published += 1
        # A topic nobody on this node listens to is not a drop: with Redis such a
        # payload would never reach the node either.
        if topic in self._table.entries:
            self._table.deliver(topic, payload)

    def has_subscribers(self, topic: str) -> bool:
        """Single process: no local subscription means nobody at all listens."""
        return topic in self._table.entries

    def subscribe(self, topic: str, sink: Sink) -> LocalSubscription:
        self._check_running()
        sub = self._table.add(topic, sink)
        self._table.entries[topic].active = True
        return sub
