"""After commit, frames go to the broker — the fast path (invariant 3:
nothing is published for a transaction that did not commit).

At most once: a frame lost here (a broker outage, a node restart) is not lost
for the user, because every frame with a seq is also a row in PostgreSQL and
the live session refetches what its sequence says it missed.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime
from uuid import UUID

from hub.broker import Broker, KnowsAllSubscribers
from hub.frames import envelope, message_frame, report_frame, state_frame, topic
from hub.model import InboxState

log = logging.getLogger("reppu.hub.fanout")


class Fanout:
    def __init__(self, broker: Broker) -> None:
        self.broker = broker

    async def message(
        self,
        tenant_id: UUID,
        message_id: UUID,
        message: bytes,
        deliveries: Sequence[tuple[UUID, int, Sequence[UUID]]],
    ) -> None:
        listening = (
            self.broker.has_subscribers if isinstance(self.broker, KnowsAllSubscribers) else None
        )
        items = []
        for person, seq, learners in deliveries:
            t = topic(tenant_id, person)
            if listening is not None and not listening(t):
                continue  # nobody is connected: the inbox row is all they need
            items.append((t, envelope(seq, message_frame(seq, message, learners), message_id)))
        await self._send(items)

    async def state(
        self, tenant_id: UUID, person_id: UUID, seq: int, message_id: UUID, state: InboxState
    ) -> None:
        await self._send(
            [(topic(tenant_id, person_id), envelope(seq, state_frame(seq, message_id, state)))]
        )

    async def reports(
        self, tenant_id: UUID, updates: Sequence[tuple[UUID, UUID, UUID, str, datetime]]
    ) -> None:
        """Delivery report updates (sender, message, recipient, event, at), each to
        its sender's devices, in one broker call however many there are."""
        if updates:
            await self._send(
                [
                    (topic(tenant_id, sender), envelope(0, report_frame(mid, person, event, at)))
                    for sender, mid, person, event, at in updates
                ]
            )

    async def signal(self, tenant_id: UUID, person_id: UUID, frame: bytes) -> None:
        """A transient frame (seq 0) to one person's devices."""
        await self._send([(topic(tenant_id, person_id), envelope(0, frame))])

    async def _send(self, items: list[tuple[str, bytes]]) -> None:
        try:
            await self.broker.publish_many(items)
        except Exception:  # the fast path failing must not fail a committed request
            log.warning(
                "broker publish failed for %d frames; clients will resync",
                len(items),
                exc_info=True,
            )
