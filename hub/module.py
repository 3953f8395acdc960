"""The hub as a module of `reppu serve`: routes, and the broker, hub and live
node that run while the app runs. The broker implementation is chosen here,
and only here: Redis when REDIS_URL is set (many nodes), memory otherwise."""

from __future__ import annotations

import functools
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any, ClassVar

from litestar import Litestar

from core.api import Services
from hub import api, live, page
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
    route_handlers: ClassVar[list[Any]] = [*api.ROUTES, *live.ROUTES, *page.ROUTES]

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
            _metrics(svc, node, broker)
            async with node.running():
                yield
        finally:
            await broker.stop()


module = HubModule()


def _metrics(svc: Services, node: live.LiveNode, broker: Broker) -> None:
    """Hub gauges in the app's registry, read when /metrics is scraped."""
    from prometheus_client import Gauge

    def gauge(name: str, doc: str, read: Callable[[], float]) -> None:
        Gauge(name, doc, registry=svc.registry).set_function(read)

    gauge(
        "reppu_live_sessions",
        "Open live websocket sessions on this node",
        lambda: len(node.sessions),
    )
    gauge(
        "reppu_live_frames_sent",
        "Frames sent to live sessions since start",
        lambda: node.frames_sent,
    )
    gauge(
        "reppu_live_slow_consumers_closed",
        "Sessions closed as slow consumers (4009)",
        lambda: node.slow_closed,
    )
    # every Broker keeps these counters (hub.broker.BrokerStats)
    for field in ("published", "delivered", "dropped", "sink_errors", "reconnects"):
        gauge(
            f"reppu_broker_{field}",
            f"Broker counter: {field.replace('_', ' ')}",
            functools.partial(_read_stat, broker.stats, field),
        )


def _read_stat(stats: object, name: str) -> float:
    return float(getattr(stats, name))
