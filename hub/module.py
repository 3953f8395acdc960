"""The hub as a module of `reppu serve`: routes, and the broker, hub and live
node that run while the app runs. The broker implementation is chosen here,
and only here: Redis when REDIS_URL is set (many nodes), memory otherwise."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any, ClassVar

from litestar import Litestar

from core.api import Services
from hub import api, live
from hub.actions import Hub
from hub.broker import Broker
from hub.fanout import Fanout


def make_broker(svc: Services) -> Broker:
    if svc.settings.redis_url:
        from hub.broker_redis import RedisBroker

        return RedisBroker(svc.settings.redis_url)
    from hub.broker_memory import MemoryBroker

    return MemoryBroker()


class HubModule:
    name = "hub"
    route_handlers: ClassVar[list[Any]] = [*api.ROUTES, *live.ROUTES]

    def __init__(self, broker: Broker | None = None, limits: live.LiveLimits | None = None) -> None:
        self._broker = broker
        self._limits = limits

    @asynccontextmanager
    async def lifespan(self, app: Litestar, svc: Services) -> AsyncIterator[None]:
        broker = self._broker or make_broker(svc)
        await broker.start()
        try:
            hub = Hub(svc.db, svc.clock, Fanout(broker))
            node = live.LiveNode(svc, hub, broker, self._limits)
            app.state["hub"] = hub
            app.state["live"] = node
            async with node.running():
                yield
        finally:
            await broker.stop()


module = HubModule()
