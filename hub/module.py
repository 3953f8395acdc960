"""The hub as a module of `reppu serve`: routes, and the broker, hub and live
node that run while the app runs. The broker implementation is chosen here,
and only here: Redis when REDIS_URL is set (many nodes), memory otherwise."""

from __future__ import annotations

import asyncio
import contextlib
import functools
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from typing import Any, ClassVar

from litestar import Litestar

from channels import vapid
from channels.email import EmailDeliverer, SmtpConfig
from channels.webpush import WebPushDeliverer
from core.api import Services
from core.config import Settings
from hub import api, live, page, prefs
from hub.actions import Hub
from hub.broker import Broker
from hub.delivery import Delivery
from hub.fanout import Fanout


def make_broker(svc: Services) -> Broker:
    if svc.settings.redis_url:
        from hub.broker_redis import RedisBroker

        return RedisBroker(svc.settings.redis_url)
    from hub.broker_memory import MemoryBroker

    return MemoryBroker()


class HubModule:
    name = "hub"
    route_handlers: ClassVar[list[Any]] = [
        *api.ROUTES,
        *live.ROUTES,
        *page.ROUTES,
        *prefs.ROUTES,
    ]

    def __init__(
        self,
        broker: Broker | None = None,
        limits: live.LiveLimits | None = None,
        *,
        run_worker: bool = True,
        push: WebPushDeliverer | None = None,
        email: Mapping[bool, EmailDeliverer] | None = None,
    ) -> None:
        """`run_worker=False`: no background job worker (tests drive
        `app.state["delivery"].run_due()` with their clock). `push`/`email`:
        deliverers to use instead of those built from the settings."""
        self._broker = broker
        self._limits = limits
        self._run_worker = run_worker
        self._push = push
        self._email = email

    @asynccontextmanager
    async def lifespan(self, app: Litestar, svc: Services) -> AsyncIterator[None]:
        # The one key pair every subscription is bound to: loaded (or made
        # once) before anything is served, so a bad VAPID_PRIVATE_KEY stops
        # the start-up.
        app.state["vapid"] = vapid.load_or_create(
            svc.settings.data_dir, svc.settings.vapid_private_key
        )
        broker = self._broker or make_broker(svc)
        await broker.start()
        try:
            fanout = Fanout(broker)
            hub = Hub(svc.db, svc.clock, fanout)
            node = live.LiveNode(svc, hub, broker, self._limits)
            live.direct_sends(app)
            if not fanout.batches:
                fanout.local = node.take_message
            push = self._push or WebPushDeliverer(app.state["vapid"], svc.settings.vapid_subject)
            delivery = Delivery(
                svc.db,
                svc.clock,
                svc.settings,
                fanout,
                hub.notify,
                push=push,
                email=self._email if self._email is not None else email_deliverers(svc.settings),
            )
            node.on_presence = delivery.record_presence
            app.state["hub"] = hub
            app.state["live"] = node
            app.state["delivery"] = delivery
            _metrics(svc, node, broker, delivery)
            worker = asyncio.create_task(delivery.worker.run()) if self._run_worker else None
            try:
                async with node.running():
                    yield
            finally:
                if worker is not None:
                    worker.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await worker
                if self._push is None:
                    await push.aclose()
        finally:
            await broker.stop()


def email_deliverers(settings: Settings) -> dict[bool, EmailDeliverer] | None:
    """From SMTP_URL: one deliverer per tenant choice of full text (False,
    True); None without SMTP_URL (no e-mail)."""
    if not settings.smtp_url:
        return None
    config = SmtpConfig.from_url(settings.smtp_url)
    return {
        full: EmailDeliverer(config, settings.mail_from, "Reppu", full_text=full)
        for full in (False, True)
    }


module = HubModule()


def _metrics(svc: Services, node: live.LiveNode, broker: Broker, delivery: Delivery) -> None:
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
    worker = delivery.worker
    for field in ("ran", "retried", "failed"):
        gauge(
            f"reppu_jobs_{field}",
            f"Delivery jobs {field} on this node since start",
            functools.partial(_read_stat, worker, field),
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
