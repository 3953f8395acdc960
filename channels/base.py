"""The one protocol every channel adapter implements (ARCHITECTURE.md,
invariant 8): take a rendered notification and a destination, try once,
return a typed result. Adapters never decide *whether* to deliver — that is
hub policy — and never retry on their own: the result says whether and when a
retry makes sense, and the hub's durable jobs do the retrying.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Generic, Literal, Protocol, TypeVar

import msgspec

Urgency = Literal["very-low", "low", "normal", "high"]


class Rendered(msgspec.Struct, frozen=True, kw_only=True):
    """What a person is told, already in their language and already
    minimised for the channel (no body unless the tenant allows it)."""

    title: str
    #: short text under the title; may be empty
    text: str
    #: where to open it in the web client
    url: str
    kind: str
    urgency: Urgency = "normal"
    #: a redelivery with the same topic replaces an undelivered earlier one
    topic: str | None = None
    #: how long the push service may keep it for an offline device
    ttl: timedelta = timedelta(hours=24)


class Delivered(msgspec.Struct, frozen=True, tag="delivered"):
    pass


class TemporaryFailure(msgspec.Struct, frozen=True, tag="temporary"):
    reason: str
    #: the earliest moment to try again (e.g. from Retry-After); None: backoff
    retry_after: timedelta | None = None


class PermanentFailure(msgspec.Struct, frozen=True, tag="permanent"):
    reason: str
    #: the destination is gone (push subscription 404/410, mailbox bounced):
    #: the hub deletes or marks it
    gone: bool = False


Result = Delivered | TemporaryFailure | PermanentFailure

D = TypeVar("D", contravariant=True)


class Deliverer(Protocol, Generic[D]):
    """One way out. `deliver` makes one attempt and never raises for the
    outcomes above (only for programming errors)."""

    async def deliver(self, notification: Rendered, destination: D) -> Result: ...
