"""After commit, frames go to the broker — the fast path (invariant 3:
nothing is published for a transaction that did not commit).

At most once: a frame lost here (a broker outage, a node restart) is not lost
for the user, because every frame with a seq is also a row in PostgreSQL and
the live session refetches what its sequence says it missed.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection, Mapping, Sequence
from datetime import datetime
from typing import Protocol
from uuid import UUID

from hub.broker import Broker, KnowsAllSubscribers
from hub.frames import (
    BATCH_MIN,
    batch_topic,
    encode_batch,
    envelope,
    message_frame,
    report_frame,
    state_frame,
    topic,
)
from hub.model import InboxState

log = logging.getLogger("reppu.hub.fanout")


class ForLearners(Protocol):
    @property
    def for_learners(self) -> Collection[UUID]: ...


def batches(broker: Broker) -> bool:
    """Does a large message go to the nodes as one batch (`frames.encode_batch`)?
    Not with a broker that sees every subscriber (one process): it skips the
    recipients nobody listens for and hands the rest their frames directly."""
    return not isinstance(broker, KnowsAllSubscribers)


#: Takes a message's deliveries on this node (`LiveNode.take_message`).
LocalSink = Callable[
    [UUID, UUID, bytes, Sequence[tuple[UUID, int]], Mapping[UUID, ForLearners]], None
]


class Fanout:
    def __init__(self, broker: Broker) -> None:
        self.broker = broker
        self.batches = batches(broker)
        #: With a broker of one process (no batches), the node's own live
        #: sessions, handed each message's deliveries directly: the frames of
        #: the recipients connected here are built there and nowhere else.
        self.local: LocalSink | None = None

    async def message(
        self,
        tenant_id: UUID,
        message_id: UUID,
        message: bytes,
        deliveries: Sequence[tuple[UUID, int]],
        recipients: Mapping[UUID, ForLearners],
    ) -> None:
        """A message's frame to each recipient's devices: `deliveries` are
        (person, seq); `recipients` says which learners each copy is for. More
        than BATCH_MIN recipients on a broker of several nodes: one payload to
        the tenant's batch topic, which each node's live sessions unpack."""
        if self.local is not None:
            try:
                self.local(tenant_id, message_id, message, deliveries, recipients)
            except Exception:  # as in _send: the fast path must not fail a committed request
                log.warning("local fan-out failed; clients will resync", exc_info=True)
            return
        if self.batches and len(deliveries) > BATCH_MIN:
            batch = encode_batch(
                message_id,
                message,
                ((p, seq, recipients[p].for_learners) for p, seq in deliveries),
            )
            await self._send([(batch_topic(tenant_id), batch)])
            return
        listening = (
            self.broker.has_subscribers if isinstance(self.broker, KnowsAllSubscribers) else None
        )
        items = []
        for person, seq in deliveries:
            t = topic(tenant_id, person)
            if listening is not None and not listening(t):
                continue  # nobody is connected: the inbox row is all they need
            frame = message_frame(seq, message, recipients[person].for_learners)
            items.append((t, envelope(seq, frame, message_id)))
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
